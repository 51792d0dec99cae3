"""`glovecoach deploy` against a serial port where no MicroPython board answers.

A pseudo-terminal whose other end nobody reads stands in for a port with the wrong device (or
a board whose firmware ignores the REPL): the real mpremote waits forever there, so the deploy
must give up on its own, name the failing step and the port, and run nothing after it.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest

from glovecoach.deploy import PROBE_TIMEOUT_S


@pytest.fixture
def silent_port():
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    yield name
    os.close(slave)
    os.close(master)


@pytest.mark.timeout(60)
def test_deploy_to_a_port_where_nothing_answers_fails_at_the_probe(silent_port):
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "glovecoach", "deploy", "--port", silent_port, "--glove-id", "GC-1"],
        capture_output=True, text=True, timeout=PROBE_TIMEOUT_S + 30)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = result.stderr
    assert "check that MicroPython answers on " + silent_port in message
    assert f"on port {silent_port}" in message
    assert f"no answer within {PROBE_TIMEOUT_S:g} s" in message
    assert "mpremote connect " + silent_port in message          # the command that failed
    # The probe is step 1; nothing after it was started.
    assert "[1/" in result.stdout and "[2/" not in result.stdout
    assert elapsed < PROBE_TIMEOUT_S + 20


@pytest.mark.timeout(120)
def test_flashing_through_a_port_with_no_chip_fails_at_the_erase(silent_port, tmp_path):
    image = tmp_path / "esp32.bin"
    image.write_bytes(bytes([0xE9, 3, 2, 0x20]) + bytes(12) + bytes(256))
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "glovecoach", "deploy", "--port", silent_port, "--flash", str(image)],
        capture_output=True, text=True, timeout=110)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "step 1/" in result.stderr and "'erase the esp32 flash' failed" in result.stderr
    assert f"on port {silent_port}" in result.stderr
    assert "write MicroPython image" not in result.stdout    # never got to writing
    assert elapsed < 100


@pytest.mark.timeout(90)
def test_deploy_to_a_glove_running_firmware_older_than_maintenance_says_how_to_recover(tmp_path):
    """The real firmware (MicroPython unix port behind a pty) ignores the REPL as on a board.

    A build from before the MAINTENANCE command cannot be asked for its REPL, so the error
    must say so and point to --flash. The route that works is in test_deploy_maintenance.py.
    It runs on a copy of firmware/, because a glove that accepts MAINTENANCE leaves a flag
    file next to main.py.
    """
    import shutil

    from glovecoach.link.virtual_glove import VirtualGlove
    from glovecoach.vocabulary.resources import firmware_dir, sensor_map_path

    fw = tmp_path / "fs"
    shutil.copytree(firmware_dir(), fw, ignore=shutil.ignore_patterns("__pycache__", "maintenance.flag"))
    commands = fw / "glove" / "commands.py"
    old = commands.read_text().replace("\n             CMD_MAINTENANCE: 0}", "}")
    assert old != commands.read_text(), "commands.py changed: update how this test drops MAINTENANCE"
    commands.write_text(old)
    with VirtualGlove(glove_id="GC-DEPLOY-7", firmware=fw, sensor_map=sensor_map_path()) as glove:
        port = glove.plug()
        time.sleep(0.5)
        result = subprocess.run(
            [sys.executable, "-m", "glovecoach", "deploy", "--port", port],
            capture_output=True, text=True, timeout=60)
        assert glove.exit_code() is None           # still running: nothing reset it
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "check that MicroPython answers" in result.stderr
    assert "the glovecoach firmware of glove GC-DEPLOY-7 is running there" in result.stderr \
        or "the glovecoach firmware is running there" in result.stderr
    assert "sending MAINTENANCE to glove GC-DEPLOY-7" in result.stdout
    assert "refused MAINTENANCE" in result.stderr and "unknown command 0x87" in result.stderr
    assert "--flash" in result.stderr
    assert "(after maintenance)" not in result.stdout      # no second probe: it never reset
    assert not (fw / "maintenance.flag").exists()
