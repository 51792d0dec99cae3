"""Damage in a station recording costs the stream it hit, never the other devices' streams."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from station_recording_helpers import LAYOUT, expected_index, write_station

from glovecoach.recording import RecordingError, open_station_recording
from glovecoach.recording.format import RECORD_HEADER, Kind, encode_json, encode_record

STREAM_OF = {role: k for k, role in enumerate(LAYOUT.roles, start=1)}


def records(data: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, kind, stream, payload length) of every record."""
    out, pos = [], 16
    while pos + 16 <= len(data):
        _sync, kind, _flags, stream, length, _crc = RECORD_HEADER.unpack_from(data, pos)
        out.append((pos, kind, stream, length))
        pos += 16 + length + 4
    return out


@pytest.fixture
def station_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.gcrec"
    write_station(path, flush_each=True)   # many small SAMPLES records, interleaved by device
    return path


def _samples_record(data: bytes, role: str, nth: int) -> tuple[int, int, int]:
    """(offset, first_index, n) of the device's nth SAMPLES record."""
    found = [(pos, length) for pos, kind, stream, length in records(data)
             if kind == Kind.SAMPLES and stream == STREAM_OF[role]]
    pos, _length = found[nth]
    first, n = struct.unpack_from("<qI", data, pos + 16)
    return pos, first, n


def _assert_intact(station, roles) -> None:
    for role in roles:
        rec = station.devices[role]
        np.testing.assert_array_equal(rec.sample_index, expected_index(role))
        assert rec.problems == [] and rec.skipped == [], role


def test_a_corrupt_samples_record_of_one_device_costs_only_its_samples(station_file: Path) -> None:
    data = bytearray(station_file.read_bytes())
    pos, first, n = _samples_record(bytes(data), "right_glove", 10)
    data[pos + 16 + 30] ^= 0xFF                  # in the raw values: checksum mismatch, length intact
    station_file.write_bytes(bytes(data))
    station = open_station_recording(station_file)

    right = station.devices["right_glove"]
    length = {p: size for p, _kind, _stream, size in records(bytes(data))}[pos]
    message = (f"corrupt right_glove SAMPLES record at byte {pos} (checksum mismatch): skipped "
               f"{16 + length + 4} bytes, resumed at the record at byte {pos + 16 + length + 4}")
    assert len(right.problems) == 1 and right.problems[0].startswith(message)
    assert right.problems[0].endswith(f"; it held samples {first}..{first + n - 1}")
    assert station.problems == right.problems and station.truncated
    lost = [g for g in right.gaps if g.first_index == first]
    assert lost and lost[0].n_samples == n and f"corrupt SAMPLES record at byte {pos}" in lost[0].reason
    assert right.samples == len(expected_index("right_glove")) - n
    assert right.skipped[0].kind == "SAMPLES" and right.skipped[0].samples == (first, n)
    _assert_intact(station, ["left_glove", "spine_strip"])
    assert station.closed_cleanly and right.closed_cleanly


def test_a_torn_tail_in_one_stream_leaves_the_others_whole(tmp_path: Path) -> None:
    path = tmp_path / "torn.gcrec"
    writer = write_station(path, close=False, flush_each=True)
    writer.flush()
    writer._stop = True                           # stop as a crash would: no END, no more flushes
    writer._wake.set()
    writer._thread.join()
    writer._file.close()
    data = path.read_bytes()
    pos, first, _n = _samples_record(data, "spine_strip", -1)
    length = {p: size for p, _kind, _stream, size in records(data)}[pos]
    path.write_bytes(data[: pos + 16 + 50])      # the file ends inside the strip's last SAMPLES record
    station = open_station_recording(path)
    strip = station.devices["spine_strip"]
    assert strip.problems == [f"torn record at byte {pos}: a spine_strip SAMPLES record of {length} bytes "
                              f"but the file ends 50 bytes into it (the writer was interrupted, e.g. a crash)"]
    written = expected_index("spine_strip")
    np.testing.assert_array_equal(strip.sample_index, written[written < first])
    # Everything of the other devices written before the strip's last record is there.
    for role in ("left_glove", "right_glove"):
        rec = station.devices[role]
        assert rec.problems == [] and not rec.closed_cleanly
        assert rec.samples > 0 and np.all(np.isin(rec.sample_index, expected_index(role)))
    assert station.problems == strip.problems and not station.closed_cleanly


def test_unreadable_bytes_belong_to_no_device_and_show_as_holes(station_file: Path) -> None:
    data = bytearray(station_file.read_bytes())
    pos, first, n = _samples_record(bytes(data), "left_glove", 5)
    data[pos: pos + 16] = bytes(16)                # its header: no stream can be named
    station_file.write_bytes(bytes(data))
    station = open_station_recording(station_file)
    assert len(station.problems) == 1 and station.problems[0].startswith(f"unreadable data at byte {pos}: skipped")
    left = station.devices["left_glove"]
    assert left.problems == []                     # nothing says the damage was the left glove's ...
    hole = [g for g in left.gaps if g.first_index == first][0]   # ... but its samples are missing, counted
    assert hole.n_samples == n and hole.reason.startswith("no samples for these indices")
    _assert_intact(station, ["right_glove", "spine_strip"])


def test_a_damaged_device_session_costs_nothing_as_the_layout_says_how_to_read_the_stream(station_file: Path) -> None:
    data = bytearray(station_file.read_bytes())
    pos = [p for p, kind, stream, _ in records(bytes(data)) if kind == Kind.SESSION and stream == 2][0]
    data[pos + 16 + 2] ^= 0x01
    station_file.write_bytes(bytes(data))
    station = open_station_recording(station_file)
    right = station.devices["right_glove"]
    assert right.problems[0].startswith(f"corrupt right_glove SESSION record at byte {pos} (checksum mismatch)")
    np.testing.assert_array_equal(right.sample_index, expected_index("right_glove"))
    assert right.device_info["glove_id"] == "GR-0002"


def test_a_damaged_station_session_is_fatal(station_file: Path) -> None:
    data = bytearray(station_file.read_bytes())
    data[16 + 16 + 5] ^= 0xFF
    station_file.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="not a readable SESSION record"):
        open_station_recording(station_file)


def _insert_before_end(path: Path, record: bytes) -> None:
    data = path.read_bytes()
    end = [p for p, kind, stream, _ in records(data) if kind == Kind.END and stream == 0][0]
    path.write_bytes(data[:end] + record + data[end:])


def test_records_that_no_writer_makes_are_named_and_skipped(station_file: Path) -> None:
    _insert_before_end(station_file, encode_record(Kind.NOTE, encode_json({"kind": "x", "payload": {}}), 9))
    station = open_station_recording(station_file)
    assert len(station.problems) == 1
    assert "bad stream-9 NOTE record at byte" in station.problems[0]
    assert "stream 9 is none of the station's 3 devices; skipped it" in station.problems[0]
    _assert_intact(station, LAYOUT.roles)


def test_a_device_session_that_contradicts_the_layout_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.gcrec"
    write_station(path)
    _insert_before_end(path, encode_record(Kind.SAMPLES, b"\0" * 20, 0))
    station = open_station_recording(path)
    assert station.problems and "bad station SAMPLES record" in station.problems[0]
    assert "the station's stream holds no samples" in station.problems[0]

    data = path.read_bytes()
    pos, _kind, _stream, length = [r for r in records(data) if r[1] == Kind.SESSION and r[2] == 3][0]
    session = json.loads(data[pos + 16: pos + 16 + length])
    forged = encode_json({**session, "channels": session["channels"][:-1]})
    head = struct.pack("<4sBBHI", b"\xa7GCr", Kind.SESSION, 0, 3, len(forged))
    record = head + struct.pack("<I", zlib.crc32(head)) + forged + struct.pack("<I", zlib.crc32(forged))
    path.write_bytes(data[:pos] + record + data[pos + 16 + length + 4:])
    station = open_station_recording(path)
    strip = station.devices["spine_strip"]
    assert any("bad spine_strip SESSION record" in p and "disagrees with the station layout" in p
               for p in strip.problems)
    np.testing.assert_array_equal(strip.sample_index, expected_index("spine_strip"))


def test_any_single_byte_flip_opens_or_raises_only_recording_error(station_file: Path, tmp_path: Path) -> None:
    data = station_file.read_bytes()
    rng = np.random.default_rng(12)
    target = tmp_path / "flip.gcrec"
    for at in rng.integers(16, len(data), 150):
        flipped = bytearray(data)
        flipped[at] ^= int(rng.integers(1, 256))
        target.write_bytes(bytes(flipped))
        try:
            station = open_station_recording(target)
        except RecordingError:
            continue
        # A flip outside the station SESSION damages one record: at most one device loses samples.
        damaged = [role for role, rec in station.devices.items()
                   if not np.array_equal(rec.sample_index, expected_index(role))]
        assert len(damaged) <= 1, (int(at), damaged, station.problems)
