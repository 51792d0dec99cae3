"""A station recording (format version 2) written and read back, on real files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from station_recording_helpers import HELLOS, LAYOUT, PLAN, device_frames, expected_index, rows, write_station

from glovecoach.recording import (
    FRAME_DTYPE,
    Recording,
    RecordingError,
    StationRecording,
    StationRecordingWriter,
    open_any_recording,
    open_recording,
    open_station_recording,
)
from glovecoach.recording.format import RECORD_HEADER, Kind
from glovecoach.vocabulary.station import StationDevice, StationLayout
from recording_helpers import FillingDisk, write_session

HERE = Path(__file__).resolve().parent


def test_three_devices_with_their_own_gaps_and_lengths_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "station.gcrec"
    write_station(path)
    station = open_station_recording(path)

    assert station.format_version == 2 and station.rate_hz == 200
    assert station.layout == LAYOUT and station.roles == ("left_glove", "right_glove", "spine_strip")
    assert station.metadata["trainee"] == "Bo"
    assert station.closed_cleanly and not station.truncated and station.problems == []
    assert station.station_origin == 999.5 and station.station_samples == 610
    assert station.duration_s == pytest.approx(610 / 200)
    assert [n.kind for n in station.notes] == ["station_origin", "checklist"]
    assert station.alignment == {"left_glove": {"offset_s": -0.002, "ppm": 12.0},
                                 "right_glove": {"offset_s": 0.0123, "ppm": -41.5}, "spine_strip": None}

    for role, rec in station.devices.items():
        index = expected_index(role)
        assert isinstance(rec, Recording) and rec.role == role and rec.format_version == 2
        assert rec.channels == LAYOUT.device(role).channels
        np.testing.assert_array_equal(rec.sample_index, index)
        np.testing.assert_array_equal(rec.raw, rows(role, 0, int(index[-1]) + 1)[index])
        # Every frame's device stamp and host arrival time, as written: the alignment can be
        # recomputed from the file.
        expected_frames = np.concatenate([device_frames(role, f, n) for kind, f, n, *_ in PLAN[role]
                                          if kind == "samples"])
        assert rec.frames.dtype == FRAME_DTYPE
        np.testing.assert_array_equal(rec.frames, expected_frames)
        assert rec.device_info == HELLOS[role]     # the first HELLO, as a v1 file's SESSION holds
        assert rec.closed_cleanly and rec.problems == [] and rec.started_at == station.started_at

    right = station.devices["right_glove"]
    assert [(g.first_index, g.n_samples, g.reason, g.exact) for g in right.gaps] == [
        (120, 8, "link: 2 frames lost", True), (328, 40, "device rebooted", False)]
    assert (right.samples, right.lost_samples, right.n_total) == (552, 48, 600)
    assert right.statuses == [{"seq": 5, "dropped_samples": 0, "host_time": 1001.0}]
    strip = station.devices["spine_strip"]
    assert (strip.samples, strip.lost_samples, strip.n_total) == (300, 100, 400)
    assert strip.gaps[0].reason == "joined late" and not strip.gaps[0].exact
    left = station.devices["left_glove"]
    assert (left.samples, left.lost_samples) == (600, 0) and left.gaps == []
    assert left.notes_of("transport")[0].payload == {"transport": "usb", "port": "/dev/ttyACM0"}
    assert right.end_info["end_index"] == 600 and strip.end_info["samples"] == 300


def test_each_record_carries_its_stream_number_in_the_covered_header_field(tmp_path: Path) -> None:
    path = tmp_path / "station.gcrec"
    write_station(path)
    data = path.read_bytes()
    assert struct.unpack_from("<H", data, 8)[0] == 2          # file header: format version 2
    streams: dict[int, list[int]] = {}
    pos = 16
    while pos < len(data):
        _sync, kind, _flags, stream, length, _crc = RECORD_HEADER.unpack_from(data, pos)
        streams.setdefault(stream, []).append(kind)
        pos += 16 + length + 4
    assert set(streams) == {0, 1, 2, 3}
    assert streams[0][0] == Kind.SESSION and streams[0][-1] == Kind.END
    for k in (1, 2, 3):  # each device stream: its SESSION, its HELLO, ..., its END
        assert streams[k][:2] == [Kind.SESSION, Kind.HELLO] and streams[k][-1] == Kind.END
    # One-frame writes were merged between flushes: a few SAMPLES records, not one per frame.
    assert streams[1].count(Kind.SAMPLES) < 10


def test_the_readers_say_which_function_reads_which_version(tmp_path: Path) -> None:
    station_path = tmp_path / "station.gcrec"
    write_station(station_path)
    with pytest.raises(RecordingError, match="a station recording .*open it with open_station_recording") as info:
        open_recording(station_path)
    assert str(station_path) in str(info.value)
    one = write_session(tmp_path / "one.gcrec", [(0, 40)])
    with pytest.raises(RecordingError, match=r"a one-device recording \(.gcrec format version 1\).*open_recording"):
        open_station_recording(one)
    assert isinstance(open_any_recording(station_path), StationRecording)
    assert isinstance(open_any_recording(one), Recording) and open_any_recording(one).samples == 40


def test_a_kit_alone_and_a_device_that_never_connects(tmp_path: Path) -> None:
    path = tmp_path / "kit.gcrec"
    kit = StationLayout.kit()
    with StationRecordingWriter(path, kit, 200) as writer:
        writer.device("kit").write_samples(0, np.full((8, 20), 300, np.uint16))
    rec = open_station_recording(path).devices["kit"]
    assert rec.channels == kit.columns and rec.samples == 8 and rec.device_info == {}

    path = tmp_path / "absent.gcrec"
    with StationRecordingWriter(path, StationLayout.for_roles(["left_glove", "spine_strip"]), 100) as writer:
        writer.device("spine_strip").write_samples(0, np.zeros((4, 8), np.uint16))
    station = open_station_recording(path)
    left = station.devices["left_glove"]
    assert (left.samples, left.n_total, left.gaps, left.device_info) == (0, 0, [], {})
    assert left.raw.shape == (0, 12) and station.closed_cleanly


def test_the_writer_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="layout must be a StationLayout"):
        StationRecordingWriter(tmp_path / "a.gcrec", ["left_glove"], 200)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate_hz must be a positive integer"):
        StationRecordingWriter(tmp_path / "b.gcrec", LAYOUT, 0)
    wide = StationLayout((StationDevice("left_glove", "left", tuple(f"c{k}" for k in range(300))),))
    with pytest.raises(ValueError, match="left_glove: at most 256 channels"):
        StationRecordingWriter(tmp_path / "d.gcrec", wide, 200)
    assert not any(tmp_path.iterdir())
    with StationRecordingWriter(tmp_path / "c.gcrec", LAYOUT, 200) as writer:
        with pytest.raises(KeyError, match="no kit .*left_glove, right_glove, spine_strip"):
            writer.device("kit")
        with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
            writer.device("spine_strip").write_samples(0, np.zeros((4, 12), np.uint16))
        writer.device("left_glove").write_samples(0, rows("left_glove", 0, 8))
        with pytest.raises(ValueError, match="overlap what is already recorded"):
            writer.device("left_glove").write_samples(4, rows("left_glove", 4, 8))
        # Each device has its own index: the strip may start at 0 after the glove reached 8.
        writer.device("spine_strip").write_samples(0, rows("spine_strip", 0, 4))
        with pytest.raises(TypeError, match="right_glove: device_info must be a dict"):
            writer.device("right_glove").set_device_info(["not", "a", "dict"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot store object"):
            writer.device("right_glove").set_alignment({"clock": object()})
        with pytest.raises(ValueError, match="host_time must be a finite"):
            writer.set_station_origin(float("nan"))
    with pytest.raises(FileExistsError, match="never overwritten"):
        StationRecordingWriter(tmp_path / "c.gcrec", LAYOUT, 200)


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, sys.argv[2])
    from station_recording_helpers import write_station
    writer = write_station(sys.argv[1], close=False, flush_interval_s=0.05)
    writer.device("left_glove").write_note("last", {})
    if sys.argv[3] == "kill":
        time.sleep(0.5)      # more than the flush interval: the background flusher wrote it all
        os.kill(os.getpid(), signal.SIGKILL)
    # "exit": leave without close(); the atexit hook flushes what is buffered
""")


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_a_killed_or_unclosed_station_recording_keeps_every_stream(tmp_path: Path, how: str) -> None:
    path = tmp_path / "crash.gcrec"
    run = subprocess.run([sys.executable, "-c", CHILD, str(path), str(HERE), how], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == (-9 if how == "kill" else 0), run.stderr
    station = open_station_recording(path)
    assert not station.closed_cleanly and station.problems == []
    for role, rec in station.devices.items():
        np.testing.assert_array_equal(rec.sample_index, expected_index(role))
        assert not rec.closed_cleanly and rec.device_info == HELLOS[role]
    assert station.devices["left_glove"].notes[-1].kind == "last"
    assert station.station_origin == 999.5      # from its NOTE: there is no END
    assert station.alignment == {role: None for role in station.roles}


def test_a_full_disk_stops_the_station_with_one_message_saying_what_each_device_kept(tmp_path: Path) -> None:
    path = tmp_path / "full.gcrec"
    writer = StationRecordingWriter(path, LAYOUT, 200, flush_interval_s=60)
    left, strip = writer.device("left_glove"), writer.device("spine_strip")
    left.write_samples(0, rows("left_glove", 0, 40))
    strip.write_samples(0, rows("spine_strip", 0, 20))
    writer.flush()
    writer._file = FillingDisk(writer._file, room=100)
    left.write_samples(40, rows("left_glove", 40, 400))
    with pytest.raises(RecordingError) as info:
        writer.flush()
    assert str(info.value) == (
        f"recording to {path} stopped: the disk is full; in the file and readable: left_glove: 40 samples up to "
        f"its index 40 (0.2 s); right_glove: 0 samples up to its index 0 (0.0 s); spine_strip: 20 samples up to "
        f"its index 20 (0.1 s)")
    with pytest.raises(RecordingError, match="stopped: the disk is full"):
        strip.write_samples(20, rows("spine_strip", 20, 4))
    writer.close()                     # the owner was told already: close() is quiet
    station = open_station_recording(path)
    assert station.problems == [] and not station.closed_cleanly   # cut back to the last whole record
    assert station.devices["left_glove"].samples == 40 and station.devices["spine_strip"].samples == 20
