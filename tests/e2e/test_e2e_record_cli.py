"""`glovecoach record --virtual` as a user runs it: a real subprocess, killed or interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from glovecoach.link.virtual_glove import remove_stale_glove_dirs
from glovecoach.recording import open_recording

GLOVECOACH = [sys.executable, "-m", "glovecoach"]


def _start(out: Path, seconds: float = 60) -> subprocess.Popen:
    return subprocess.Popen(
        [*GLOVECOACH, "record", "--virtual", "--seconds", str(seconds), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_recording_to_start(proc: subprocess.Popen) -> None:
    line = proc.stderr.readline()  # "recording GC-SIM-0001 ... Ctrl-C stops"
    assert line.startswith("recording "), line + proc.stderr.read()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_kill_9_keeps_what_was_recorded(tmp_path):
    out = tmp_path / "killed.gcrec"
    proc = _start(out)
    try:
        _wait_for_recording_to_start(proc)
        time.sleep(4.0)
        firmware = _children(proc.pid)
        assert firmware, "the virtual glove's firmware process should be a child"
        proc.kill()
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rec = open_recording(out)
    assert not rec.closed_cleanly  # no END record: it really was killed
    print(f"\nkilled after 4 s of recording: {rec.samples} samples readable ({rec.samples / rec.rate_hz:.2f} s)")
    assert rec.samples >= 3.0 * rec.rate_hz, rec  # all but the last flush interval (0.5 s)
    assert rec.raw.shape[1] == 20 and rec.glove_id == "GC-SIM-0001"
    # The orphaned firmware sees its pty hang up and exits by itself.
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in firmware) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in firmware)
    for pid in firmware:  # (if the assertion above failed, do not leave it running)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    # kill -9 gave the host no chance to remove its temp dir; the next virtual glove does.
    stale = [d for d in Path(tempfile.gettempdir()).glob("glovecoach-vglove-*")
             if (d / "owner.pid").exists() and (d / "owner.pid").read_text() == str(proc.pid)]
    assert len(stale) == 1
    assert remove_stale_glove_dirs() >= 1
    assert not stale[0].exists()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path):
    out = tmp_path / "interrupted.gcrec"
    proc = _start(out)
    try:
        _wait_for_recording_to_start(proc)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "interrupted:" in stdout and "thumb_tip" in stdout and "spine_8" in stdout
    assert f"wrote {out}" in stdout
    rec = open_recording(out)
    assert rec.closed_cleanly and not rec.truncated
    assert rec.samples >= 1.5 * rec.rate_hz
    assert len(rec.statuses) >= 1
