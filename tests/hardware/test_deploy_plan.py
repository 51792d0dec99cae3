"""`glovecoach deploy`: the step list built from the files on disk, and its refusals.

Every test runs the real CLI in a subprocess (or the real planner) against real files; the
--mpy test runs the real mpy-cross.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glovecoach.deploy import DeployError, build_plan, firmware_files, run_plan
from glovecoach.deploy.plan import KEEP_AS_SOURCE
from glovecoach.vocabulary.resources import firmware_dir, sensor_map_path

GLOVECOACH = [sys.executable, "-m", "glovecoach"]


def run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 60.0):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(GLOVECOACH + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def make_firmware_tree(root: Path) -> dict[str, bytes]:
    """A firmware tree with nested packages, a data file and things deploy must skip."""
    files = {
        "main.py": b"import glove.device\n",
        "boot.py": b"# boot\n",
        "glove/__init__.py": b"",
        "glove/device.py": b"def main():\n    return 1\n",
        "glove/drivers/adc.py": b"X = 3\n",
        "glove/tables/curve.bin": b"\x00\x01\x02",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "glove" / "__pycache__").mkdir()
    (root / "glove" / "__pycache__" / "device.cpython-311.pyc").write_bytes(b"junk")
    (root / "glove" / "stale.pyc").write_bytes(b"junk")
    (root / ".hidden").write_text("x")
    return files


def copy_destinations(stdout: str) -> dict[str, str]:
    """`copy A -> :B` plan lines to {device path: host path in the command}."""
    dests = {}
    lines = stdout.splitlines()
    for k, line in enumerate(lines):
        if ". copy " in line:
            command = lines[k + 1]
            assert " fs cp " in command, command
            host_path, device_path = command.split(" fs cp ", 1)[1].rsplit(" ", 1)
            dests[device_path] = host_path
    return dests


def test_dry_run_lists_every_firmware_file_with_its_destination(tmp_path):
    fw = tmp_path / "firmware"
    files = make_firmware_tree(fw)
    result = run_cli("deploy", "--port", "/dev/ttyUSB7", "--dry-run", "--glove-id", "GC-0042",
                     env_extra={"GLOVECOACH_FIRMWARE": str(fw)})
    assert result.returncode == 0, result.stderr
    dests = copy_destinations(result.stdout)
    expected = {f":{rel}": str(fw / rel) for rel in files}
    expected[":sensor_map.json"] = str(sensor_map_path())
    assert dests == expected
    assert "__pycache__" not in result.stdout and ".pyc" not in result.stdout
    assert ".hidden" not in result.stdout
    # Sub-directories are made, parents before children, before anything is copied.
    prepare = result.stdout.index("prepare directories")
    assert prepare < result.stdout.index(". copy ")
    assert '["glove", "glove/drivers", "glove/tables"]' in result.stdout
    assert "write glove id GC-0042 -> :glove_id.txt" in result.stdout
    assert "connect /dev/ttyUSB7" in result.stdout
    assert "esptool" not in result.stdout          # no --flash: nothing is erased
    assert result.stdout.rstrip().splitlines()[-1].endswith("mpremote connect /dev/ttyUSB7 reset")


def test_dry_run_covers_the_real_firmware_tree():
    root = firmware_dir()
    result = run_cli("deploy", "--port", "/dev/ttyUSB0", "--dry-run")
    assert result.returncode == 0, result.stderr
    dests = copy_destinations(result.stdout)
    on_disk = {
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }
    assert on_disk, "the firmware tree is empty"
    assert {d[1:] for d in dests} == on_disk | {"sensor_map.json"}


@pytest.mark.parametrize("chip,chip_id,offset", [("esp32", 0, "0x1000"), ("esp32s3", 9, "0x0")])
def test_flash_steps_erase_then_write_at_the_chip_offset(tmp_path, chip, chip_id, offset):
    image = tmp_path / f"{chip}.bin"
    image.write_bytes(bytes([0xE9, 3, 2, 0x20]) + bytes(8) + chip_id.to_bytes(2, "little")
                      + bytes(1000))
    result = run_cli("deploy", "--port", "/dev/ttyUSB0", "--chip", chip, "--flash", str(image),
                     "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    erase = out.index("erase")
    write = out.index(f"write MicroPython image {image.name} at {offset}")
    probe = out.index("check that MicroPython answers")
    assert erase < write < probe
    assert f"--chip {chip} --port /dev/ttyUSB0" in out
    assert f" {offset} {image}" in out
    # After a fresh flash the first boot formats the filesystem: the probe is retried.
    plan = build_plan("/dev/ttyUSB0", chip=chip, flash_image=image)
    assert [s.attempts for s in plan.steps if "answers" in s.name] == [4]


def test_flash_image_for_the_other_chip_is_refused_before_anything_runs(tmp_path):
    image = tmp_path / "s3.bin"
    image.write_bytes(bytes([0xE9, 3, 2, 0x20]) + bytes(8) + (9).to_bytes(2, "little") + bytes(64))
    result = run_cli("deploy", "--port", "/dev/ttyUSB0", "--chip", "esp32", "--flash", str(image))
    assert result.returncode == 2
    assert "built for esp32s3, not esp32" in result.stderr
    assert "erase" not in result.stdout


def test_file_that_is_not_an_esp_image_is_refused(tmp_path):
    image = tmp_path / "notes.bin"
    image.write_text("hello, this is not firmware")
    result = run_cli("deploy", "--port", "/dev/ttyUSB0", "--flash", str(image), "--dry-run")
    assert result.returncode == 2
    assert f"{image} is not an ESP firmware image" in result.stderr
    missing = run_cli("deploy", "--port", "/dev/ttyUSB0", "--flash", str(tmp_path / "nope.bin"),
                      "--dry-run")
    assert missing.returncode == 2 and "nope.bin" in missing.stderr


def test_missing_port_is_a_clear_error_before_any_step(tmp_path):
    gone = tmp_path / "ttyUSB9"
    result = run_cli("deploy", "--port", str(gone))
    assert result.returncode == 2
    assert f"serial port {gone} does not exist" in result.stderr
    assert "[1/" not in result.stdout                 # no step was started
    no_port = run_cli("deploy", "--dry-run")
    assert no_port.returncode == 2 and "--port" in no_port.stderr


def test_bad_glove_id_is_refused():
    result = run_cli("deploy", "--port", "/dev/ttyUSB0", "--glove-id", "GC 1'); import os",
                     "--dry-run")
    assert result.returncode == 2
    assert "glove id" in result.stderr


def test_mpy_compiles_every_module_except_boot_and_main(tmp_path):
    fw = tmp_path / "firmware"
    files = make_firmware_tree(fw)
    staging = tmp_path / "staging"
    plan = build_plan("/dev/ttyUSB0", mpy=True, firmware_root=fw, staging_dir=staging)
    device_paths = {f.device_path for f in plan.files}
    for rel in files:
        name = Path(rel).name
        if rel.endswith(".py") and name not in KEEP_AS_SOURCE:
            assert rel[:-3] + ".mpy" in device_paths and rel not in device_paths
        else:
            assert rel in device_paths
    # A .py left on the board from an earlier source deploy would shadow the new .mpy.
    prepare = next(s for s in plan.steps if s.name.startswith("prepare"))
    assert '"glove/device.py"' in prepare.argv[-1]

    # Run only the host-side steps: the real mpy-cross must produce loadable .mpy files.
    local = [s for s in plan.steps if s.local]
    assert len(local) == sum(1 for r in files if r.endswith(".py")
                             and Path(r).name not in KEEP_AS_SOURCE)
    run_plan(type(plan)(port=plan.port, chip=plan.chip, files=plan.files, steps=tuple(local)),
             out=open(os.devnull, "w"))
    for f in plan.files:
        if f.device_path.endswith(".mpy"):
            assert f.source.read_bytes()[:2] == b"M\x06", f.device_path


def test_mpy_compile_error_names_the_file(tmp_path):
    fw = tmp_path / "firmware"
    make_firmware_tree(fw)
    (fw / "glove" / "broken.py").write_text("def oops(:\n")
    plan = build_plan("/dev/ttyUSB0", mpy=True, firmware_root=fw, staging_dir=tmp_path / "s")
    local = tuple(s for s in plan.steps if s.local)
    with pytest.raises(DeployError) as err:
        run_plan(type(plan)(port=plan.port, chip=plan.chip, files=plan.files, steps=local),
                 out=open(os.devnull, "w"))
    assert "compile glove/broken.py" in str(err.value)
    assert "on the host" in str(err.value)


def test_firmware_files_skips_caches_and_rejects_empty_trees(tmp_path):
    fw = tmp_path / "fw"
    files = make_firmware_tree(fw)
    assert [rel for _, rel in firmware_files(fw)] == sorted(files)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeployError, match="holds no files"):
        firmware_files(empty)
    with pytest.raises(DeployError, match="does not exist"):
        firmware_files(tmp_path / "absent")
