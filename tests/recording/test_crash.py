"""A writer process killed with SIGKILL mid-session leaves a readable file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from glovecoach.recording import open_recording
from recording_helpers import pattern

HERE = Path(__file__).resolve().parent

# Writes 200 Hz x 20 channels in real time, one 4-sample wire frame every 20 ms, with the
# default flush interval, until it is killed.
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from recording_helpers import CHANNELS, HELLO, frames_for, pattern
    from glovecoach.recording import RecordingWriter

    writer = RecordingWriter(sys.argv[1], device_info=HELLO, rate_hz=200, channels=CHANNELS,
                             metadata={"trainee": "crash test"})
    writer.write_note("checklist", {"warm_hands": True})
    t0 = time.monotonic()
    print("ready", flush=True)
    written = 0
    next_status = 1.0
    while True:
        now = time.monotonic() - t0
        due = int(now * 200) // 4 * 4
        while written < due:
            writer.write_samples(written, pattern(written, 4), frames_for(written, 4))
            written += 4
        if now >= next_status:
            writer.write_status(now, {"seq": written // 4})
            next_status += 1.0
        time.sleep(0.02)
""")


@pytest.mark.timeout(30)
def test_sigkill_mid_session_keeps_all_but_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "killed.gcrec"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(HERE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "ready", f"child failed to start: {line!r} {child.stderr.read() if child.stderr else ''}"
        ready_at = time.monotonic()
        time.sleep(3.0)
        os.kill(child.pid, signal.SIGKILL)
        elapsed = time.monotonic() - ready_at
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    rec = open_recording(path)
    assert not rec.closed_cleanly
    assert rec.metadata == {"trainee": "crash test"}
    assert rec.samples >= (elapsed - 1.0) * 200, f"{rec.samples} samples after {elapsed:.2f} s"
    assert rec.samples <= (elapsed + 0.1) * 200
    # What is there is exactly what was written, contiguous from index 0.
    np.testing.assert_array_equal(rec.sample_index, np.arange(rec.samples))
    np.testing.assert_array_equal(rec.raw, pattern(0, rec.samples))
    assert rec.lost_samples == 0
    np.testing.assert_array_equal(rec.frames["sample_index"], np.arange(0, rec.samples, 4))
    assert [note.kind for note in rec.notes] == ["checklist"]
    assert len(rec.statuses) >= 1
    # A kill between write() calls leaves whole records; a torn tail would be reported, not hidden.
    if rec.truncated:
        assert "torn" in (rec.truncation_reason or "")


def test_exit_without_close_still_saves_buffered_samples(tmp_path: Path) -> None:
    # A long flush interval: only the exit-time flush can have put these samples on disk.
    path = tmp_path / "exited.gcrec"
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[2])
        from recording_helpers import CHANNELS, HELLO, pattern
        from glovecoach.recording import RecordingWriter
        writer = RecordingWriter(sys.argv[1], device_info=HELLO, rate_hz=200, channels=CHANNELS,
                                 flush_interval_s=600)
        writer.write_samples(0, pattern(0, 300))
        sys.exit(3)
    """)
    result = subprocess.run([sys.executable, "-c", script, str(path), str(HERE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    rec = open_recording(path)
    assert rec.samples == 300 and not rec.closed_cleanly and not rec.truncated
    np.testing.assert_array_equal(rec.raw, pattern(0, 300))
