"""Torn, corrupted and foreign files: keep everything readable, say exactly what is wrong."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from glovecoach.recording import FRAME_DTYPE, RecordingError, RecordingWriter, open_recording
from glovecoach.recording.format import FILE_HEADER, RECORD_HEADER_SIZE, SYNC
from recording_helpers import CHANNELS, HELLO, pattern, write_session

BLOCKS = [(0, 100), (100, 100), (200, 100), (300, 100)]


def record_offsets(data: bytes) -> list[int]:
    """Start of every record (12-bit sample data cannot contain the sync marker)."""
    offsets, pos = [], data.find(SYNC)
    while pos >= 0:
        offsets.append(pos)
        pos = data.find(SYNC, pos + 1)
    return offsets


def unclosed_session(path: Path) -> Path:
    """Four SAMPLES records and a note, flushed, never closed (as after a crash)."""
    writer = RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS)
    for first, n in BLOCKS:
        writer.write_samples(first, pattern(first, n))
        writer.flush()
    writer.write_note("alert", {"text": "x"})
    writer.flush()
    # Simulate the process dying: stop the flusher without writing END.
    writer._stop = True
    writer._wake.set()
    writer._thread.join()
    writer._file.close()
    return path


def test_every_torn_tail_keeps_the_prefix(tmp_path: Path) -> None:
    full_path = unclosed_session(tmp_path / "full.gcrec")
    data = full_path.read_bytes()
    offsets = record_offsets(data)
    boundaries = set(offsets[1:]) | {len(data)}  # cutting here leaves whole records only
    session_end = offsets[1]
    cuts = sorted(cut for cut in (
        set(range(session_end, len(data), 53)) | boundaries | {b - 1 for b in boundaries}
        | {b + k for b in offsets[1:] for k in (1, 4, 5, 12, 15, 16, 17)}
    ) if session_end <= cut <= len(data))
    cut_path = tmp_path / "cut.gcrec"
    previous_samples = 0
    for cut in cuts:
        cut_path.write_bytes(data[:cut])
        rec = open_recording(cut_path)
        assert not rec.closed_cleanly
        np.testing.assert_array_equal(rec.raw, pattern(0, rec.samples))
        np.testing.assert_array_equal(rec.sample_index, np.arange(rec.samples))
        assert rec.samples >= previous_samples  # a longer file never yields less
        previous_samples = rec.samples
        if cut in boundaries:
            assert not rec.truncated, (cut, rec.problems)
        else:
            assert rec.truncated, cut
            assert "torn record at byte" in (rec.truncation_reason or ""), (cut, rec.problems)
            torn_at = max(o for o in offsets if o < cut)
            assert f"byte {torn_at}" in (rec.truncation_reason or "")
    assert previous_samples == 400
    # Cut inside the SESSION record: nothing to interpret the samples with.
    cut_path.write_bytes(data[: session_end - 1])
    with pytest.raises(RecordingError, match="ends before a complete SESSION record"):
        open_recording(cut_path)


def test_corrupt_payload_byte_loses_only_that_record(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = bytearray(path.read_bytes())
    second_samples = record_offsets(bytes(data))[2]
    data[second_samples + RECORD_HEADER_SIZE + 500] ^= 0x40
    path.write_bytes(bytes(data))

    rec = open_recording(path)
    assert rec.truncated and rec.closed_cleanly
    assert f"corrupt SAMPLES record at byte {second_samples}" in (rec.truncation_reason or "")
    np.testing.assert_array_equal(rec.sample_index, np.r_[0:100, 200:400])
    np.testing.assert_array_equal(rec.raw, pattern(0, 400)[rec.sample_index])
    assert rec.lost_samples == 100
    assert [(g.first_index, g.n_samples) for g in rec.gaps] == [(100, 100)]


def test_corrupt_header_byte_resyncs_at_the_next_record(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    data[offsets[2] + 9] ^= 0x01  # a bit of the length field
    path.write_bytes(bytes(data))

    rec = open_recording(path)
    assert rec.truncated and rec.closed_cleanly
    reason = rec.truncation_reason or ""
    assert f"unreadable data at byte {offsets[2]}" in reason
    assert f"resumed at the record at byte {offsets[3]}" in reason
    np.testing.assert_array_equal(rec.sample_index, np.r_[0:100, 200:400])
    np.testing.assert_array_equal(rec.raw, pattern(0, 400)[rec.sample_index])


def test_garbage_tail_after_a_crash_is_reported(tmp_path: Path) -> None:
    # Some file systems leave zero-filled blocks at the end after a power cut.
    path = unclosed_session(tmp_path / "s.gcrec")
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(bytes(4096))
    rec = open_recording(path)
    assert rec.samples == 400 and rec.notes[0].kind == "alert"
    reason = rec.truncation_reason or ""
    assert rec.truncated
    assert f"unreadable data at byte {size}" in reason
    assert "4096 bytes to the end of the file could not be read" in reason


def test_bytes_after_end_are_reported(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", BLOCKS)
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"trailing junk")
    rec = open_recording(path)
    assert rec.samples == 400 and rec.closed_cleanly
    assert rec.problems == [f"13 bytes after the END record (byte {size}) ignored"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file, not a glovecoach recording"),
        (b"time_s,thumb_tip\n0.0,12\n", "not a glovecoach recording (no .gcrec magic"),
        (b"\x89GCREC\r\n\x01", "file ends inside the 16-byte header (9 bytes)"),
        (FILE_HEADER.pack(b"\x89GCREC\r\n", 3, 16, 0) + b"\0" * 64,
         "format version 3 is not supported (this glovecoach reads versions 1 and 2)"),
        (FILE_HEADER.pack(b"\x89GCREC\r\n", 1, 16, 0), "the file ends before a complete SESSION record"),
    ],
    ids=["empty", "csv", "short-header", "version-3", "header-only"],
)
def test_files_that_are_not_recordings_get_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.gcrec"
    path.write_bytes(content)
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        open_recording(tmp_path / "nope.gcrec")
    with pytest.raises(RecordingError, match="is a directory"):
        open_recording(tmp_path)


def test_corrupt_session_record_is_fatal(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", BLOCKS)
    data = bytearray(path.read_bytes())
    data[FILE_HEADER.size + RECORD_HEADER_SIZE + 3] ^= 0xFF  # inside the SESSION JSON
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="not a readable SESSION record"):
        open_recording(path)


def test_unknown_record_kinds_from_a_newer_writer_are_skipped(tmp_path: Path) -> None:
    from glovecoach.recording.format import encode_record

    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    cut = record_offsets(data)[2]
    path.write_bytes(data[:cut] + encode_record(200, struct.pack("<I", 7)) + data[cut:])
    rec = open_recording(path)
    assert rec.samples == 400 and not rec.truncated and rec.closed_cleanly


def test_well_framed_but_malformed_records_are_skipped_and_named(tmp_path: Path) -> None:
    from glovecoach.recording.format import Kind, encode_record

    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    cut = record_offsets(data)[2]
    bad = encode_record(Kind.SAMPLES, b"\x01\x02") + encode_record(Kind.NOTE, b"not json")
    path.write_bytes(data[:cut] + bad + data[cut:])
    rec = open_recording(path)
    assert rec.samples == 400 and rec.closed_cleanly
    assert len(rec.problems) == 2
    assert rec.problems[0].startswith(f"bad SAMPLES record at byte {cut}:")
    assert rec.problems[1].startswith(f"bad NOTE record at byte {cut + 22}:")


def test_overlapping_blocks_from_a_foreign_writer_are_reported(tmp_path: Path) -> None:
    from glovecoach.recording.format import Kind, encode_record, encode_samples

    path = write_session(tmp_path / "s.gcrec", [(0, 100), (100, 100)], flush_each=True)
    data = path.read_bytes()
    end = record_offsets(data)[-1]
    overlapping = encode_record(Kind.SAMPLES, encode_samples(150, pattern(150, 100), np.empty(0, FRAME_DTYPE)))
    path.write_bytes(data[:end] + overlapping + data[end:])
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.sample_index, np.arange(250))
    np.testing.assert_array_equal(rec.raw, pattern(0, 250))
    assert rec.problems == ["sample blocks overlap; kept one row per sample index"]


# ----------------------------------------------------------------------------- lost or added bytes

def _damaged(data: bytes, at: int, how: str) -> bytes:
    if how == "delete":
        return data[:at] + data[at + 1:]
    return data[:at] + b"\x5a" + data[at:]


@pytest.mark.parametrize("how", ["delete", "insert"])
def test_a_lost_or_added_byte_costs_only_the_damaged_record(tmp_path: Path, how: str) -> None:
    # Before the fix the reader trusted the damaged record's length, landed one byte off the
    # next header, and its resync scan started past that header: the next record was lost too.
    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    offsets = record_offsets(data)   # SESSION, 4 x SAMPLES, END
    assert len(offsets) == 6
    damaged_path = tmp_path / "damaged.gcrec"
    for k, (first, n) in enumerate(BLOCKS, start=1):
        start, end = offsets[k], offsets[k + 1]
        # In the SAMPLES header, in the raw data, in the frame table, in the payload CRC.
        for at in (start + RECORD_HEADER_SIZE + 5, start + 900, end - 30, end - 2):
            damaged_path.write_bytes(_damaged(data, at, how))
            rec = open_recording(damaged_path)
            lost = np.r_[first:first + n]
            np.testing.assert_array_equal(rec.sample_index, np.setdiff1d(np.arange(400), lost),
                                          err_msg=f"{how} at {at}")
            np.testing.assert_array_equal(rec.raw, pattern(0, 400)[rec.sample_index])
            assert rec.closed_cleanly and rec.lost_samples == n
            assert [(g.first_index, g.n_samples) for g in rec.gaps] == [(first, n)]
            # One problem, naming the record, where it was and how much was skipped.
            assert len(rec.problems) == 1 and len(rec.skipped) == 1, rec.problems
            skipped = rec.skipped[0]
            assert skipped.byte == start and skipped.kind == "SAMPLES"
            resumed = end + (-1 if how == "delete" else 1)
            assert skipped.n_bytes == resumed - start
            assert rec.problems[0].startswith(f"corrupt SAMPLES record at byte {start}")
            assert f"skipped {resumed - start} bytes, resumed at the record at byte {resumed}" in rec.problems[0]
            if at > start + RECORD_HEADER_SIZE + 20:  # the record's own SAMPLES header is intact
                assert skipped.samples == (first, n)
                assert f"it held samples {first}..{first + n - 1}" in rec.problems[0]
                assert rec.gaps[0].reason == f"lost to file damage (corrupt SAMPLES record at byte {start})"


def test_a_lost_byte_in_a_record_header_costs_only_that_record(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    offsets = record_offsets(data)
    path.write_bytes(_damaged(data, offsets[2] + 9, "delete"))   # the second block's length field
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.sample_index, np.r_[0:100, 200:400])
    assert rec.skipped[0].byte == offsets[2] and rec.skipped[0].kind is None
    assert rec.problems == [f"unreadable data at byte {offsets[2]}: skipped {offsets[3] - 1 - offsets[2]} bytes, "
                            f"resumed at the record at byte {offsets[3] - 1}"]


def test_many_bytes_lost_from_the_last_record_is_damage_not_a_torn_tail(tmp_path: Path) -> None:
    # The record claims more bytes than the file has left, yet a valid END follows inside
    # them: that is a record that lost bytes, and END must still be read.
    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    offsets = record_offsets(data)
    cut = offsets[4] + 1000
    path.write_bytes(data[:cut] + data[cut + 300:])
    rec = open_recording(path)
    assert rec.closed_cleanly and rec.samples == 300
    assert rec.problems[0].startswith(f"corrupt SAMPLES record at byte {offsets[4]} (shorter than its header says")
    assert rec.skipped[0].samples == (300, 100)


def test_damage_before_any_fault_keeps_the_torn_tail_readable(tmp_path: Path) -> None:
    # A deleted byte early on and a crash at the end: both handled, the rest is intact.
    path = unclosed_session(tmp_path / "s.gcrec")
    data = path.read_bytes()
    offsets = record_offsets(data)
    torn = data[: len(data) - 3]            # the crash tore the NOTE record
    damaged = _damaged(torn, offsets[1] + 700, "delete")
    path.write_bytes(damaged)
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.sample_index, np.r_[100:400])
    assert len(rec.problems) == 2
    assert rec.problems[0].startswith(f"corrupt SAMPLES record at byte {offsets[1]}")
    assert rec.problems[1].startswith(f"torn record at byte {offsets[5] - 1}")


def test_a_record_missing_a_field_is_named(tmp_path: Path) -> None:
    from glovecoach.recording.format import Kind, encode_record

    path = write_session(tmp_path / "s.gcrec", BLOCKS, flush_each=True)
    data = path.read_bytes()
    cut = record_offsets(data)[2]
    path.write_bytes(data[:cut] + encode_record(Kind.GAP, b'{"n_samples": 4, "reason": "x"}') + data[cut:])
    rec = open_recording(path)
    assert rec.samples == 400
    assert rec.problems == [f"bad GAP record at byte {cut}: missing field 'first_index'; skipped it"]
