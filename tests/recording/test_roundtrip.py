"""Writing and reading back every record kind through real files."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from glovecoach.recording import (
    FRAME_DTYPE,
    Note,
    RecordingError,
    RecordingWriter,
    SessionGap,
    open_recording,
)
from glovecoach.recording.format import SYNC
from recording_helpers import CHANNELS, HELLO, frames_for, pattern, write_session


def test_every_record_kind_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    rng = np.random.default_rng(7)
    # Full uint16 range, not just 12 bits: the file must store whatever arrived, unchanged.
    first_block = rng.integers(0, 65536, size=(37, 20), dtype=np.uint16)
    second_block = rng.integers(0, 4096, size=(5, 20), dtype=np.uint16)
    first_frames = frames_for(0, 37)
    metadata = {"trainee": "Ana", "protocol": "default", "nested": {"a": [1, 2.5, None]}}
    before = datetime.now().astimezone()
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, metadata=metadata) as writer:
        writer.write_samples(0, first_block, first_frames)
        writer.write_status(1001.25, {"streaming": True, "dropped_samples": np.uint32(3), "seq": 12})
        writer.write_gap(37, 8, "link: 2 frames lost", exact=True)
        writer.write_note("screening", {"answers": {"pain": "no"}, "ok": True}, host_time=1002.0)
        writer.write_samples(45, second_block)
        writer.write_gap(50, 100, "device rebooted", exact=False)
        writer.write_note("alert", {"text": "too much pressure", "channel": "spine_3"})
    rec = open_recording(path)

    assert rec.device_info == HELLO
    assert rec.rate_hz == 200 and rec.channels == CHANNELS
    assert rec.metadata == metadata
    started = datetime.fromisoformat(rec.started_at)
    assert abs((started - before).total_seconds()) < 5
    assert rec.raw.dtype == np.uint16 and rec.raw.shape == (42, 20)
    np.testing.assert_array_equal(rec.raw[:37], first_block)
    np.testing.assert_array_equal(rec.raw[37:], second_block)
    np.testing.assert_array_equal(rec.sample_index, np.r_[0:37, 45:50])
    assert rec.frames.dtype == FRAME_DTYPE
    np.testing.assert_array_equal(rec.frames, first_frames)
    assert rec.gaps == [
        SessionGap(37, 8, "link: 2 frames lost", True),
        SessionGap(50, 100, "device rebooted", False),
    ]
    assert rec.statuses == [{"streaming": True, "dropped_samples": 3, "seq": 12, "host_time": 1001.25}]
    assert rec.notes == [
        Note("screening", {"answers": {"pain": "no"}, "ok": True}, 1002.0),
        Note("alert", {"text": "too much pressure", "channel": "spine_3"}, None),
    ]
    assert rec.closed_cleanly and not rec.truncated and rec.truncation_reason is None
    assert rec.samples == 42 and rec.lost_samples == 108
    assert rec.duration_s == pytest.approx(150 / 200)


def test_small_writes_are_merged_into_few_records(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, flush_interval_s=60) as writer:
        for first in range(0, 4000, 4):  # one wire frame at a time, as the live link delivers them
            writer.write_samples(first, pattern(first, 4), frames_for(first, 4))
    data = path.read_bytes()
    # 12-bit data cannot contain the sync marker, so this counts records: SESSION, SAMPLES, END.
    assert data.count(SYNC) == 3
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.raw, pattern(0, 4000))
    assert len(rec.frames) == 1000


def test_background_flush_puts_samples_on_disk_without_close(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    writer = RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, flush_interval_s=0.1)
    try:
        writer.write_samples(0, pattern(0, 100))
        deadline = time.monotonic() + 5
        while open_recording(path).samples < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        rec = open_recording(path)
        assert rec.samples == 100 and not rec.closed_cleanly and not rec.truncated
        np.testing.assert_array_equal(rec.raw, pattern(0, 100))
    finally:
        writer.close()
    assert open_recording(path).closed_cleanly


def test_caller_may_reuse_its_array_after_writing(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    block = pattern(0, 10)
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
        writer.write_samples(0, block)
        block[:] = 0
        writer.write_samples(10, block)
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.raw[:10], pattern(0, 10))
    assert not rec.raw[10:].any()


def test_empty_and_single_sample_recordings_open(tmp_path: Path) -> None:
    empty = write_session(tmp_path / "empty.gcrec", [])
    rec = open_recording(empty)
    assert rec.samples == 0 and rec.raw.shape == (0, 20) and rec.duration_s == 0
    assert rec.lost_samples == 0 and rec.gaps == [] and rec.closed_cleanly
    assert rec.time_s().shape == (0,)

    one = write_session(tmp_path / "one.gcrec", [(0, 1)])
    rec = open_recording(one)
    assert rec.samples == 1 and rec.duration_s == pytest.approx(1 / 200)
    np.testing.assert_array_equal(rec.raw, pattern(0, 1))
    np.testing.assert_array_equal(rec.time_s(), [0.0])


def test_gaps_and_time_line_up(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with RecordingWriter(path, device_info=HELLO, rate_hz=250, channels=CHANNELS) as writer:
        writer.write_samples(0, pattern(0, 100))
        writer.write_gap(100, 20, "link")
        writer.write_samples(120, pattern(120, 50))
        # 30 samples nobody accounted for: the reader must still report them as a gap.
        writer.write_samples(200, pattern(200, 10))
    rec = open_recording(path)
    assert rec.samples == 160 and rec.lost_samples == 50
    assert sum(g.n_samples for g in rec.gaps) == rec.lost_samples
    assert [(g.first_index, g.n_samples) for g in rec.gaps] == [(100, 20), (170, 30)]
    assert "no samples" in rec.gaps[1].reason
    assert rec.duration_s == pytest.approx(210 / 250)
    # Every recorded row sits at its own session index, around the gaps.
    recorded = np.setdiff1d(np.arange(210), np.r_[100:120, 170:200])
    np.testing.assert_array_equal(rec.sample_index, recorded)
    np.testing.assert_array_equal(rec.raw, pattern(0, 210)[recorded])

    time_s = rec.time_s()
    np.testing.assert_allclose(time_s, rec.sample_index / 250)
    assert time_s[100] == pytest.approx(120 / 250)  # the first row after the gap keeps its own time


def test_writer_rejects_bad_calls_without_damaging_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
        writer.write_samples(0, pattern(0, 10))
        with pytest.raises(ValueError, match="overlap"):
            writer.write_samples(5, pattern(5, 10))
        with pytest.raises(ValueError, match=r"shape \(n, 20\)"):
            writer.write_samples(10, np.zeros((4, 19), np.uint16))
        with pytest.raises(ValueError, match="integer ADC counts"):
            writer.write_samples(10, np.zeros((4, 20), np.float32))
        with pytest.raises(ValueError, match="fit in uint16"):
            writer.write_samples(10, np.full((4, 20), 70000, np.int64))
        with pytest.raises(ValueError, match="overlap"):
            writer.write_gap(8, 4, "late gap")
        with pytest.raises(ValueError, match="frames must be"):
            writer.write_samples(10, pattern(10, 4), np.zeros(1, dtype=[("sample_index", "<i8")]))
        with pytest.raises(TypeError, match="note 'bad'"):
            writer.write_note("bad", {"x": object()})
        # In-range integers of another dtype are fine.
        writer.write_samples(10, pattern(10, 4).astype(np.int32))
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.raw, pattern(0, 14))
    assert rec.notes == [] and not rec.truncated
    with pytest.raises(RecordingError, match="closed"):
        writer.write_samples(14, pattern(14, 1))


def test_an_existing_recording_is_not_overwritten(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", [(0, 8)])
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS)
    assert path.read_bytes() == before
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, overwrite=True) as writer:
        writer.write_samples(0, pattern(0, 3))
    assert open_recording(path).samples == 3


def test_unstorable_metadata_fails_before_creating_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with pytest.raises(TypeError, match="cannot store"):
        RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS, metadata={"x": object()})
    assert not path.exists()
    with pytest.raises(ValueError, match="rate_hz"):
        RecordingWriter(path, device_info=HELLO, rate_hz=0, channels=CHANNELS)
    with pytest.raises(ValueError, match="duplicate channel"):
        RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=("a", "a"))
    assert not path.exists()


def test_exception_in_with_block_still_closes_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    with pytest.raises(RuntimeError, match="boom"):
        with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
            writer.write_samples(0, pattern(0, 12))
            raise RuntimeError("boom")
    rec = open_recording(path)
    assert rec.closed_cleanly and rec.samples == 12
    assert rec.end_info is not None and rec.end_info["exception"] == "RuntimeError: boom"
