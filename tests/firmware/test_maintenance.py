"""MAINTENANCE (protocol 0x87) and the maintenance boot, in the real firmware on the unix port.

Every test runs a copy of firmware/ in a temp dir: the command leaves a flag file next to
main.py, and none may ever be left in the repository's firmware folder.
"""

from __future__ import annotations

import os
import select
import shutil
import time
from pathlib import Path

import pytest

from fwharness import CMD_MAINTENANCE, CMD_PING, FIRMWARE, SENSOR_MAP

FLAG = "maintenance.flag"
RESET_EXIT_STATUS = 3          # hal_sim.RESET_EXIT_STATUS: the unix port's stand-in for a reset
BOOT_LINE = "glovecoach: maintenance mode"
ERR_NOT_ALLOWED = 5


@pytest.fixture
def firmware_copy(tmp_path) -> Path:
    root = tmp_path / "fs"
    shutil.copytree(FIRMWARE, root, ignore=shutil.ignore_patterns("__pycache__", FLAG))
    return root


@pytest.fixture
def boot(glove_factory, firmware_copy):
    def start():
        return glove_factory(env={"GLOVECOACH_SENSOR_MAP": str(SENSOR_MAP)}, firmware=firmware_copy)
    return start


def read_until_exit(glove, timeout: float = 10.0) -> bytes:
    """Everything the firmware writes until it exits (EIO/EOF on the pty master)."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([glove.fd_in], [], [], 0.1)
        if r:
            try:
                data = os.read(glove.fd_in, 4096)
            except OSError:
                data = b""
            if not data:
                break
            out += data
        elif glove.proc.poll() is not None:
            break
    glove.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    return out


def test_maintenance_is_acked_leaves_the_flag_and_resets(boot, firmware_copy):
    glove = boot()
    glove.wait_for(lambda m: m["type"] == "HELLO")
    assert not (firmware_copy / FLAG).exists()
    reply = glove.request(CMD_MAINTENANCE, 0x0300)
    assert reply["type"] == "ACK" and reply["command"] == CMD_MAINTENANCE, reply
    assert reply["detail"] == {}
    assert glove.proc.wait(timeout=5) == RESET_EXIT_STATUS, glove.stderr_text()
    assert (firmware_copy / FLAG).is_file()
    assert not (FIRMWARE / FLAG).exists()


def test_boot_with_the_flag_frees_the_repl_once_then_boots_normally(boot, firmware_copy):
    (firmware_copy / FLAG).write_text("left by MAINTENANCE\n")
    quiet = boot()
    out = read_until_exit(quiet)
    # No boot delimiter, so no frame of any kind (HELLO, LOG, STATUS): just the text line,
    # after which main.py returns (to the REPL on a board; the unix port then exits).
    assert b"\x00" not in out, out
    assert out.decode().strip().startswith(BOOT_LINE), out
    assert quiet.proc.returncode == 0, quiet.stderr_text()
    assert not (firmware_copy / FLAG).exists()

    normal = boot()
    normal.wait_for(lambda m: m["type"] == "HELLO")
    status = normal.wait_for(lambda m: m["type"] == "STATUS", timeout=3)
    assert status["rate_hz"] == 200
    assert normal.proc.poll() is None


def test_a_flag_that_cannot_be_written_is_refused_and_the_glove_keeps_running(boot, firmware_copy):
    (firmware_copy / FLAG).mkdir()          # open(FLAG, "w") fails, as on a full filesystem
    glove = boot()                          # (and a directory is no flag: a normal boot)
    glove.wait_for(lambda m: m["type"] == "HELLO")
    reply = glove.request(CMD_MAINTENANCE, 11)
    assert reply["type"] == "ERROR" and reply["code"] == ERR_NOT_ALLOWED, reply
    assert FLAG in reply["message"]
    pong = glove.request(CMD_PING, 12, (7).to_bytes(4, "little"))
    assert pong["type"] == "ACK" and pong["detail"]["nonce"] == 7
    assert glove.proc.poll() is None


def test_maintenance_with_arguments_is_a_bad_frame(boot, firmware_copy):
    glove = boot()
    glove.wait_for(lambda m: m["type"] == "HELLO")
    reply = glove.request(CMD_MAINTENANCE, 13, b"\x01")
    assert reply["type"] == "ERROR" and reply["code"] == 1, reply
    assert not (firmware_copy / FLAG).exists()
    assert glove.proc.poll() is None
