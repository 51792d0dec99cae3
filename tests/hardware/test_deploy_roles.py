"""`glovecoach deploy --role`: the role file in the plan, and a virtual deploy that boots in
its role (the real firmware in the MicroPython unix port reads the deployed role.txt)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from glovecoach.deploy import DeployError, build_plan, deploy_virtual, firmware_files
from glovecoach.link import GloveClient
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.vocabulary.resources import firmware_dir
from glovecoach.vocabulary.sensors import device_map


def glovecoach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_virtual_deploy_as_a_left_glove_boots_and_announces_it(tmp_path):
    target = tmp_path / "device"
    result = glovecoach("deploy", "--virtual", "--target", str(target), "--role", "left_glove",
                        "--glove-id", "GC-L-01")
    assert result.returncode == 0, result.stderr
    assert "glove GC-L-01 (left_glove)" in result.stdout and "12 channels" in result.stdout
    assert (target / "role.txt").read_text() == "left_glove"


def test_a_later_deploy_without_role_keeps_the_boards_role(tmp_path):
    target = tmp_path / "device"
    info = deploy_virtual(build_plan("virtual", role="spine_strip"), target)
    assert (info["role"], info["hand"]) == ("spine_strip", None)
    assert info["channels"] == list(device_map("spine_strip").ids)
    info = deploy_virtual(build_plan("virtual"), target)
    assert info["role"] == "spine_strip" and len(info["channels"]) == 8


def test_virtual_deploy_without_role_is_the_kit(tmp_path):
    info = deploy_virtual(build_plan("virtual"), tmp_path / "device")
    assert (info["role"], info["hand"], len(info["channels"])) == ("kit", "right", 20)


def test_the_plan_writes_the_role_file_after_the_firmware(tmp_path):
    plan = build_plan("/dev/ttyUSB0", role="right_glove")
    names = [s.name for s in plan.steps]
    write = names.index("write role right_glove -> :role.txt")
    assert write > max(k for k, n in enumerate(names) if n.startswith("copy "))
    assert names[-1].startswith("reset the board")
    step = plan.steps[write]
    assert step.expect == "glovecoach-role" and 'f.write("right_glove")' in step.argv[-1]
    assert not any("role" in n for n in [s.name for s in build_plan("/dev/ttyUSB0").steps])
    result = glovecoach("deploy", "--port", "/dev/ttyUSB0", "--role", "left_glove", "--dry-run")
    assert result.returncode == 0 and "write role left_glove -> :role.txt" in result.stdout


def test_an_unknown_role_is_refused_before_any_step():
    with pytest.raises(DeployError, match="unknown role 'elbow'.*left_glove"):
        build_plan("/dev/ttyUSB0", role="elbow")
    result = glovecoach("deploy", "--virtual", "--role", "elbow")
    assert result.returncode == 2 and "unknown role 'elbow'" in result.stderr


def test_a_role_file_left_in_a_firmware_tree_is_not_deployed(tmp_path):
    tree = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), tree, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    (tree / "role.txt").write_text("left_glove")
    (tree / "glove_id.txt").write_text("GC-STRAY")
    assert not {"role.txt", "glove_id.txt"} & {rel for _, rel in firmware_files(tree)}


def test_virtual_glove_takes_a_role():
    with VirtualGlove(role="spine_strip") as glove, GloveClient(glove.port, reconnect=False) as client:
        hello = client.connect(timeout=10)
    assert (hello.role, hello.hand) == ("spine_strip", None)
    assert list(hello.channels) == list(device_map("spine_strip").ids)
    with pytest.raises(ValueError, match="unknown role 'tail'"):
        VirtualGlove(role="tail")


def test_virtual_url_takes_a_role():
    from glovecoach.link.virtual_glove import transport_from_url

    with GloveClient(transport_from_url("virtual://?role=left_glove"), reconnect=False) as client:
        hello = client.connect(timeout=10)
    assert (hello.role, hello.hand, len(hello.channels)) == ("left_glove", "left", 12)
