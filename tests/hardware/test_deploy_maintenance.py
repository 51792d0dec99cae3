"""`glovecoach deploy` against a glove that is running the firmware: the MAINTENANCE route.

The glove is the real firmware in MicroPython's unix port behind a pty (VirtualGlove), run
from a COPY of firmware/ because MAINTENANCE leaves a flag file next to main.py. What the
unix port cannot do is the second half: after its stand-in for a reset (exit status 3) no
MicroPython REPL takes over the pty, so the probe after maintenance fails here by design;
on a board the REPL answers it (not testable without one).
"""

from __future__ import annotations

import dataclasses
import io
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glovecoach.deploy import DeployError, build_plan, enter_maintenance_mode, run_plan
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.vocabulary.resources import firmware_dir, sensor_map_path

FLAG = "maintenance.flag"
SIM_RESET_EXIT_STATUS = 3      # firmware/glove/hal_sim.py RESET_EXIT_STATUS
SHORT_PROBE_S = 3.0            # nothing answers the probe here; keep the test short


@pytest.fixture
def firmware_copy(tmp_path) -> Path:
    root = tmp_path / "fs"
    shutil.copytree(firmware_dir(), root, ignore=shutil.ignore_patterns("__pycache__", FLAG))
    return root


def wait_exit(glove: VirtualGlove, timeout: float = 5.0) -> int | None:
    deadline = time.monotonic() + timeout
    while glove.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return glove.exit_code()


def read_port_until_quiet(port: str, quiet_s: float = 1.0) -> bytes:
    fd = os.open(port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    out = b""
    try:
        while select.select([fd], [], [], quiet_s)[0]:
            try:
                out += os.read(fd, 4096)
            except BlockingIOError:
                continue
    finally:
        os.close(fd)
    return out


@pytest.mark.timeout(60)
def test_enter_maintenance_mode_sends_the_command_and_sees_the_glove_reset(firmware_copy):
    out = io.StringIO()
    with VirtualGlove(glove_id="GC-MAINT-1", firmware=firmware_copy,
                      sensor_map=sensor_map_path()) as glove:
        time.sleep(0.3)
        assert enter_maintenance_mode(glove.port, out) == "GC-MAINT-1"
        assert wait_exit(glove) == SIM_RESET_EXIT_STATUS, glove.firmware_log()
        assert (firmware_copy / FLAG).is_file()
        assert "sending MAINTENANCE to glove GC-MAINT-1" in out.getvalue()
        assert "has reset for maintenance" in out.getvalue()

        # Power it up again, as the reset would: the maintenance boot sends no frames, says
        # so in one line and frees the REPL (on the unix port: returns, the process ends).
        glove.unplug()
        glove.plug()
        assert wait_exit(glove) == 0, glove.firmware_log()
        text = read_port_until_quiet(glove.port)
        assert b"\x00" not in text, text
        assert b"glovecoach: maintenance mode" in text
        assert not (firmware_copy / FLAG).exists()
    assert not (firmware_dir() / FLAG).exists()


@pytest.mark.timeout(60)
def test_firmware_without_maintenance_is_reported_and_keeps_running(firmware_copy):
    commands = firmware_copy / "glove" / "commands.py"
    source = commands.read_text()
    assert "\n             CMD_MAINTENANCE: 0}" in source
    commands.write_text(source.replace("\n             CMD_MAINTENANCE: 0}", "}"))  # an older build
    with VirtualGlove(firmware=firmware_copy, sensor_map=sensor_map_path()) as glove:
        time.sleep(0.3)
        with pytest.raises(DeployError, match="refused MAINTENANCE.*unknown command 0x87"):
            enter_maintenance_mode(glove.port, io.StringIO())
        assert glove.exit_code() is None
    assert not (firmware_copy / FLAG).exists()


@pytest.mark.timeout(90)
def test_deploy_to_a_running_glove_puts_it_into_maintenance_then_probes_again(firmware_copy):
    out = io.StringIO()
    with VirtualGlove(glove_id="GC-DEPLOY-7", firmware=firmware_copy,
                      sensor_map=sensor_map_path()) as glove:
        plan = build_plan(glove.port, firmware_root=firmware_copy)
        probe = plan.steps[0]
        assert probe.maintenance_fallback and "check that MicroPython answers" in probe.name
        plan = dataclasses.replace(plan, steps=(dataclasses.replace(probe, timeout_s=SHORT_PROBE_S),)
                                   + plan.steps[1:])
        time.sleep(0.3)
        with pytest.raises(DeployError) as err:
            run_plan(plan, out=out)
        assert wait_exit(glove) == SIM_RESET_EXIT_STATUS
    log = out.getvalue()
    message = str(err.value)
    # identify_running_glove names the glove if a HELLO passes while it listens, else not.
    assert ("the glovecoach firmware of glove GC-DEPLOY-7 is running there" in log
            or "the glovecoach firmware is running there" in log)
    assert "putting it into maintenance mode" in log
    assert "sending MAINTENANCE to glove GC-DEPLOY-7" in log
    assert f"[1/{len(plan.steps)}] {probe.name} (after maintenance)" in log
    assert f"[2/{len(plan.steps)}]" not in log                      # nothing ran after the probe
    assert "took the MAINTENANCE command and reset, but no MicroPython REPL answered" in message
    assert "no answer within 3 s" in message
    assert "--flash" in message
    assert (firmware_copy / FLAG).is_file()      # the unix port has no next boot by itself


def test_dry_run_lists_the_maintenance_fallback_under_the_probe():
    result = subprocess.run([sys.executable, "-m", "glovecoach", "deploy", "--port", "/dev/ttyUSB0",
                             "--dry-run"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    probe = next(i for i, ln in enumerate(lines) if "check that MicroPython answers" in ln)
    assert lines[probe + 1].lstrip().startswith("$ ") and "mpremote" in lines[probe + 1]
    assert "maintenance mode" in lines[probe + 2] and "MAINTENANCE" in lines[probe + 2]
    assert sum("MAINTENANCE" in ln for ln in lines) == 1
