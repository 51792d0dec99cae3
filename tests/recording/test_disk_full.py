"""A disk that fills up mid-recording: one clear error, and everything written before it reads back.

The first test fills a real, tiny tmpfs (mounted in a private user and mount namespace, so no
privileges are needed where `unshare -Urm` works); the second injects ENOSPC at the one place
the writer touches the OS, its raw file's write(), so it runs everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from glovecoach.recording import RecordingError, RecordingWriter, open_recording
from recording_helpers import CHANNELS, HELLO, FillingDisk, frames_for, pattern

HERE = Path(__file__).resolve().parent

CHILD = textwrap.dedent("""
    import json, shutil, sys
    sys.path.insert(0, sys.argv[3])
    from recording_helpers import CHANNELS, HELLO, frames_for, pattern
    from glovecoach.recording import RecordingError, RecordingWriter

    path = sys.argv[1] + "/full.gcrec"
    writer = RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS)
    first, errors = 0, []
    try:
        while first < 200 * 3600:        # far more than 256 KiB: the disk fills long before
            writer.write_samples(first, pattern(first, 50), frames_for(first, 50))
            first += 50
            writer.flush()
    except RecordingError as exc:
        errors.append(str(exc))
    try:
        writer.close()                   # must not repeat the error
    except RecordingError as exc:
        errors.append(str(exc))
    shutil.copy(path, sys.argv[2])
    print(json.dumps({"errors": errors, "handed_over": first}))
""")


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform != "linux" or not _unshare_works(),
                    reason="needs Linux user namespaces (unshare -Urm) to mount a tiny tmpfs")
def test_a_real_full_disk_gives_one_clear_error_and_a_readable_file(tmp_path: Path) -> None:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    copy = tmp_path / "copy.gcrec"
    run = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs -o size=256k tmpfs "$1" && shift && exec "$@"', "sh",
         str(mount_point), sys.executable, "-c", CHILD, str(mount_point), str(copy), str(HERE)],
        capture_output=True, text=True, timeout=50,
    )
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    assert len(outcome["errors"]) == 1, outcome["errors"]
    message = outcome["errors"][0]
    assert "stopped: the disk is full" in message and "Traceback" not in message
    rec = open_recording(copy)
    # The message says exactly what is in the file, and the file is a clean prefix.
    assert f"the {rec.samples} samples up to session index {rec.samples} " in message
    assert 0 < rec.samples < outcome["handed_over"]
    assert not rec.closed_cleanly and rec.problems == [], rec.problems
    np.testing.assert_array_equal(rec.raw, pattern(0, rec.samples))
    assert copy.stat().st_size <= 256 * 1024


@pytest.mark.parametrize("who_writes", ["flush", "background"])
def test_enospc_at_the_os_edge_gives_one_clear_error_and_a_readable_file(tmp_path: Path, who_writes: str) -> None:
    path = tmp_path / "s.gcrec"
    writer = RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, flush_interval_s=0.05)
    writer.write_samples(0, pattern(0, 400), frames_for(0, 400))
    writer.flush()
    writer._file = FillingDisk(writer._file, room=5000)   # the next records only partly fit
    errors = []
    deadline = time.monotonic() + 10
    first = 400
    while not errors and time.monotonic() < deadline:
        try:
            writer.write_samples(first, pattern(first, 100), frames_for(first, 100))
            first += 100
            if who_writes == "flush":
                writer.flush()
            else:
                time.sleep(0.02)      # the flusher thread meets the full disk
        except RecordingError as exc:
            errors.append(str(exc))
    writer.close()                     # the owner was told already: close() is quiet
    assert len(errors) == 1
    rec = open_recording(path)
    assert errors[0] == (f"recording to {path} stopped: the disk is full; the {rec.samples} samples up to "
                         f"session index {rec.samples} ({rec.samples / 200:.1f} s) are in the file and readable")
    assert rec.samples >= 400 and rec.problems == [] and not rec.closed_cleanly
    np.testing.assert_array_equal(rec.raw, pattern(0, rec.samples))
    # Later calls keep failing (nothing more is written), with the same message.
    with pytest.raises(RecordingError, match="stopped: the disk is full"):
        writer.write_samples(first, pattern(first, 4))


def test_close_reports_a_full_disk_nobody_was_told_about(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    writer = RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, flush_interval_s=60)
    writer.write_samples(0, pattern(0, 400))
    writer._file = FillingDisk(writer._file, room=100)
    with pytest.raises(RecordingError, match="stopped: the disk is full; the 0 samples"):
        writer.close()
    writer.close()   # idempotent, and quiet the second time
    rec = open_recording(path)
    assert rec.samples == 0 and rec.problems == [] and not rec.closed_cleanly


def test_non_finite_values_are_refused_or_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
        with pytest.raises(ValueError, match="host_time must be a finite number"):
            writer.write_status(float("nan"), {"seq": 1})
        # a one-frame table (the live case) and a longer one are held to the same checks
        for n in (4, 12):
            for field, bad in (("host_time", np.inf), ("host_time", np.nan), ("sample_index", -4),
                               ("t_us", 1 << 30)):
                frames = frames_for(0, n)
                frames[field][0] = bad
                with pytest.raises(ValueError, match="finite host_time, sample_index >= 0 and a 30-bit t_us"):
                    writer.write_samples(0, pattern(0, n), frames)
        # A NaN statistic inside a free-form note is stored as null, not a lost note.
        writer.write_note("report", {"peak_n": float("nan"), "mean": np.float32("inf"), "ok": 1.5})
    rec = open_recording(path)
    assert rec.notes[0].payload == {"peak_n": None, "mean": None, "ok": 1.5} and rec.problems == []
