"""`glovecoach deploy --virtual`: the deployed file set, booted in the real MicroPython unix port."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from glovecoach.deploy import DeployError, build_plan, deploy_virtual
from glovecoach.vocabulary.resources import firmware_dir


def glovecoach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", *args],
                          capture_output=True, text=True, timeout=60)


def test_virtual_deploy_copies_the_firmware_tree_and_boots_it(tmp_path):
    target = tmp_path / "device"
    result = glovecoach("deploy", "--virtual", "--target", str(target), "--glove-id", "GC-0042")
    assert result.returncode == 0, result.stderr
    assert "glove GC-0042" in result.stdout and "20 channels" in result.stdout
    source = firmware_dir()
    expected = {p.relative_to(source).as_posix() for p in source.rglob("*.py")
                if "__pycache__" not in p.parts and not any(part.startswith(".") for part in p.parts)}
    deployed = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert deployed == expected | {"sensor_map.json", "glove_id.txt"}
    for rel in expected:
        assert (target / rel).read_bytes() == (source / rel).read_bytes()


def test_a_firmware_tree_missing_a_module_does_not_boot(tmp_path):
    broken = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), broken, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    (broken / "glove" / "sampler.py").unlink()
    plan = build_plan("virtual", firmware_root=broken)
    with pytest.raises(DeployError, match="did not boot"):
        deploy_virtual(plan, tmp_path / "device")


def test_virtual_deploy_refuses_options_that_need_a_chip(tmp_path):
    result = glovecoach("deploy", "--virtual", "--flash", str(tmp_path / "image.bin"))
    assert result.returncode == 2
    assert "virtual glove has none" in result.stderr
    result = glovecoach("deploy", "--port", "/dev/ttyUSB0", "--target", str(tmp_path))
    assert result.returncode == 2 and "--target is for --virtual" in result.stderr
