"""One station session in several files (the classroom app restarted mid-class), joined as one:
each device's later part placed on its own clock, exactly where the device kept its boot.

The parts are made here as a device makes them: one sample counter running through both
files (the part's own index starts at 0 in the second), frames stamped with the device's
30-bit microsecond clock up to most of a period late, as the firmware stamps a busy loop, and
received on the host's clock with a latency of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glovecoach.recording import FRAME_DTYPE, StationRecordingWriter, open_station_recording
from glovecoach.recording.format import T_US_MODULUS
from glovecoach.recording.parts import (
    CONTINUES_KEY,
    NOT_RECORDED,
    PartsError,
    continued_parts,
    join_station_parts,
    open_station_session,
)
from glovecoach.vocabulary.station import StationLayout

RATE = 200
SPF = 8                     # samples a frame
LAYOUT = StationLayout.full()
WALL0 = 1_790_000_000.0     # the host's clock (Unix seconds) at each device's sample 0


def values(role: str, device_samples: np.ndarray) -> np.ndarray:
    """A device's raw rows, a function of its own sample counter: a row put anywhere but its
    place differs from what should be there."""
    k = len(LAYOUT.device(role).channels)
    base = {"left_glove": 0, "right_glove": 1500, "spine_strip": 3000}[role]
    return ((device_samples[:, None] * 7 + np.arange(k) * 131 + base) % 4096).astype(np.uint16)


class Device:
    def __init__(self, role: str, seed: int, t0_us: int, boot_id: int) -> None:
        self.role, self.t0_us, self.boot_id = role, t0_us, boot_id
        self.rng = np.random.default_rng(seed)

    def write(self, writer: StationRecordingWriter, first_sample: int, n: int, index_of_first: int) -> None:
        """Device samples first_sample .. +n, at part index index_of_first onwards."""
        dev = writer.device(self.role)
        for at in range(0, n, SPF):
            d = first_sample + at
            m = min(SPF, n - at)
            late = self.rng.uniform(0, 0.9) * 1e6 / RATE if self.rng.random() < 0.7 else 0.0
            frames = np.zeros(1, FRAME_DTYPE)
            frames["sample_index"] = index_of_first + at
            frames["t_us"] = int(self.t0_us + d * 1e6 / RATE + late) % T_US_MODULUS
            frames["host_time"] = WALL0 + d / RATE + 0.004 + self.rng.uniform(0, 0.03)
            dev.write_samples(index_of_first + at, values(self.role, np.arange(d, d + m)), frames)


def make_part(path: Path, devices: list[Device], first_sample: int, n: int, *, station: str = "table 1",
              continues: list[str] | None = None, close: bool = True, notes: list[tuple] = (),
              origin: float | None = None) -> Path:
    metadata = {"room": "lab", "station": station, "devices": {d.role: f"GC-{d.role}" for d in devices}}
    if continues:
        metadata[CONTINUES_KEY] = continues
    writer = StationRecordingWriter(path, LAYOUT, RATE, metadata)
    for d in devices:
        writer.device(d.role).set_device_info({"glove_id": f"GC-{d.role}", "boot_id": d.boot_id, "streaming": True},
                                              host_time=WALL0 + first_sample / RATE)
        d.write(writer, first_sample, n, 0)
    writer.set_station_origin(WALL0 + first_sample / RATE + 0.02 if origin is None else origin)
    for kind, payload in notes:
        writer.note(kind, payload)
    if close:
        writer.close(station_samples=n)
    else:
        writer.flush()
    return path


def station_devices(seed: int = 1, t0_us: int = 5_000_000, boot: int = 7) -> list[Device]:
    return [Device(role, seed + k, t0_us + 3_000 * k, boot + k) for k, role in enumerate(LAYOUT.roles)]


@pytest.mark.parametrize("gap_samples, t0_us", [(1_000, 5_000_000),            # 5 s, no wrap
                                                  (3, T_US_MODULUS - 40_000),    # a few samples, across a wrap
                                                  (240_017, 123_456)])           # 20 min: t_us wraps over the gap
def test_a_later_part_continues_each_device_exactly_where_its_clock_says(tmp_path, gap_samples, t0_us):
    devices = station_devices(t0_us=t0_us)
    a = make_part(tmp_path / "a.gcrec", devices, 0, 2_400, close=False)   # the app was killed
    b = make_part(tmp_path / "b.gcrec", devices, 2_400 + gap_samples, 1_600, continues=["a.gcrec"])
    joined = open_station_session(continued_parts(b))
    assert joined.metadata["parts"] == ["a.gcrec", "b.gcrec"]
    for role, rec in joined.devices.items():
        # every row at its device's own place, the gap between the parts exact and counted
        assert np.array_equal(rec.raw, values(role, rec.sample_index)), role
        assert rec.samples == 4_000 and rec.n_total == 4_000 + gap_samples
        between = [g for g in rec.gaps if g.reason == NOT_RECORDED]
        assert [(g.first_index, g.n_samples, g.exact) for g in between] == [(2_400, gap_samples, True)]
        assert rec.lost_samples == gap_samples
        assert int(rec.frames["sample_index"].max()) >= 2_400 + gap_samples
    assert joined.station_origin == open_station_recording(a).station_origin
    assert joined.station_samples == pytest.approx(4_000 + gap_samples, abs=2)


def test_a_device_that_rebooted_between_the_parts_is_placed_by_the_host_clock_and_says_so(tmp_path):
    devices = station_devices()
    a = make_part(tmp_path / "a.gcrec", devices, 0, 1_000)
    devices[1].boot_id += 100          # the right glove rebooted: its clock and counter began again
    b = make_part(tmp_path / "b.gcrec", devices, 1_500, 1_000)
    joined = join_station_parts([open_station_recording(b), open_station_recording(a)])  # any order
    right = joined.devices["right_glove"]
    (between,) = [g for g in right.gaps if g.reason == NOT_RECORDED]
    assert not between.exact and abs(between.n_samples - 500) <= 8    # host latency jitter, up to 30 ms
    left = joined.devices["left_glove"]
    assert [(g.n_samples, g.exact) for g in left.gaps if g.reason == NOT_RECORDED] == [(500, True)]


def test_parts_on_one_origin_join_in_the_order_they_were_begun(tmp_path):
    """The classroom's later part goes on with the session's origin: the parts are told apart
    by when each began, whatever order they are given in."""
    devices = station_devices()
    a = make_part(tmp_path / "a.gcrec", devices, 0, 1_000)
    time.sleep(0.01)          # begun later (the file's start time has milliseconds)
    b = make_part(tmp_path / "b.gcrec", devices, 1_400, 1_000, origin=WALL0 + 0.02)
    joined = join_station_parts([open_station_recording(b), open_station_recording(a)])
    assert joined.metadata["parts"] == ["a.gcrec", "b.gcrec"]
    for role, rec in joined.devices.items():
        assert np.array_equal(rec.raw, values(role, rec.sample_index)), role
        assert [(g.n_samples, g.exact) for g in rec.gaps if g.reason == NOT_RECORDED] == [(400, True)]


def test_marks_and_notes_of_a_later_part_keep_their_moment_in_the_session(tmp_path):
    devices = station_devices()
    a = make_part(tmp_path / "a.gcrec", devices, 0, 1_000, notes=[("mark", {"at_s": 1.0, "station_index": 200,
                                                                            "text": "early"})])
    b = make_part(tmp_path / "b.gcrec", devices, 3_000, 1_000,
                  notes=[("mark", {"at_s": 2.0, "station_index": 400, "text": "late"}),
                         ("instructor_message", {"text": "lighter", "host_time": WALL0 + 16.02})])
    joined = join_station_parts([open_station_recording(a), open_station_recording(b)])
    notes = joined.instructor_notes()
    assert [(m["text"], m["at_s"], m["station_index"]) for m in notes["instructor_marks"]] == [
        ("early", 1.0, 200), ("late", pytest.approx(17.0), 3_400)]
    assert notes["instructor_messages"][0]["at_s"] == pytest.approx(16.0)
    assert len(joined.notes_of("station_origin")) == 1        # the first part's: the session's own


def test_files_of_other_sessions_are_refused_by_name(tmp_path):
    devices = station_devices()
    a = make_part(tmp_path / "a.gcrec", devices, 0, 1_000)
    other = make_part(tmp_path / "other.gcrec", station_devices(seed=9), 2_000, 500, station="table 2")
    with pytest.raises(PartsError, match=r"other.gcrec is not a part of the session of a.gcrec: station"):
        join_station_parts([open_station_recording(a), open_station_recording(other)])
    overlapping = make_part(tmp_path / "overlap.gcrec", station_devices(), 600, 1_000)
    with pytest.raises(PartsError, match="the parts overlap"):
        join_station_parts([open_station_recording(a), open_station_recording(overlapping)])


def test_a_part_whose_earlier_part_is_missing_says_which(tmp_path):
    devices = station_devices()
    b = make_part(tmp_path / "b.gcrec", devices, 2_000, 500, continues=["a.gcrec"])
    with pytest.raises(PartsError, match=r"a.gcrec, which is not there"):
        continued_parts(b)
    alone = make_part(tmp_path / "alone.gcrec", station_devices(), 0, 500)
    assert continued_parts(alone) == [alone]


def glovecoach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", *args], capture_output=True, text=True, timeout=120)


def test_analyze_takes_the_parts_as_one_session_or_says_why_not(tmp_path):
    devices = station_devices()
    a = make_part(tmp_path / "a.gcrec", devices, 0, 2_000, close=False)
    b = make_part(tmp_path / "b.gcrec", devices, 3_000, 2_000, continues=["a.gcrec"])
    by_itself = glovecoach("analyze", str(b), "--json")           # finds its earlier part beside it
    named = glovecoach("analyze", str(a), str(b), "--json")
    for out in (by_itself, named):
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["parts"] == [str(a), str(b)]
        assert report["duration_s"] == pytest.approx(25.0, abs=0.1)    # 10 s, 5 s not recorded, 10 s
    (tmp_path / "csv.csv").write_text("time_s,x\n0,1\n")
    for args, words in [((str(a), str(a)), "given twice"),
                        ((str(a), str(tmp_path / "csv.csv")), "give .gcrec recordings only"),
                        ((str(a), str(tmp_path / "nope.gcrec")), "no such file")]:
        out = glovecoach("analyze", *args)
        assert out.returncode != 0 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
    a.rename(tmp_path / "moved.gcrec")
    out = glovecoach("analyze", str(b))
    assert out.returncode != 0 and "a.gcrec, which is not there" in out.stderr, out.stderr


def test_a_picked_up_class_station_goes_on_from_its_session_so_far_or_says_why_not(tmp_path):
    from types import SimpleNamespace

    from glovecoach.classroom.hub import Classroom
    from glovecoach.vocabulary.station import StationGap, StationSamples

    a = make_part(tmp_path / "a.gcrec", station_devices(), 0, 2_000)
    b = make_part(tmp_path / "b.gcrec", station_devices(), 3_000, 2_000, continues=["a.gcrec"])
    room = SimpleNamespace(rate_hz=RATE)
    resume, problem = Classroom._session_so_far(room, "table 1", [a, b])
    assert problem is None
    assert resume.origin_host_s == open_station_recording(a).station_origin
    assert resume.start_slot == pytest.approx(5_000, abs=10)          # 10 s, 5 s not recorded, 10 s
    at = 0
    for block in resume.blocks:                                       # every slot so far, in order
        assert isinstance(block, StationSamples | StationGap) and block.first_index == at
        at = block.first_index + block.n_samples
    assert at == resume.start_slot
    recorded = sum(blk.n_samples for blk in resume.blocks if isinstance(blk, StationSamples))
    # (b's run aligned its devices afresh on its own origin, 0.02 s after its first samples:
    # those it left out, its replay leaves out too)
    assert recorded == pytest.approx(4_000, abs=25)
    # restarted a minute into the session: the slots up to a second before are a gap coached at
    # once, so the aligner starts near the live stream
    later, _ = Classroom._session_so_far(room, "table 1", [a, b], resume.origin_host_s + 60.0)
    assert later.start_slot == 59 * RATE
    assert [(x.first_index, x.n_samples) for x in later.blocks[:-1]] == [(x.first_index, x.n_samples)
                                                                         for x in resume.blocks]
    assert later.blocks[-1] == StationGap(resume.start_slot, 59 * RATE - resume.start_slot, NOT_RECORDED)
    other = make_part(tmp_path / "other.gcrec", station_devices(), 0, 1_000, station="table 2")
    resume, problem = Classroom._session_so_far(room, "table 1", [other, b])
    assert resume is None
    assert "begins again at the restart" in problem and "station 'table 1' against 'table 2'" in problem
    assert Classroom._session_so_far(room, "table 1", []) == (None, None)


def test_a_picked_up_session_coached_in_slices_reports_as_one_coached_at_once(tmp_path):
    """The window shows at once while a picked-up session's earlier part is coached a slice per
    pump: the slices, or an end that comes before they are done, give the one session's report."""
    from types import SimpleNamespace

    from glovecoach.classroom.hub import Classroom
    from glovecoach.pipeline.station_session import StationPipeline
    from glovecoach.protocols import default_protocol

    a = make_part(tmp_path / "a.gcrec", station_devices(), 0, 90 * RATE)
    b = make_part(tmp_path / "b.gcrec", station_devices(), 100 * RATE, 60 * RATE, continues=["a.gcrec"])
    resume, _ = Classroom._session_so_far(SimpleNamespace(rate_hz=RATE), "table 1", [a, b],
                                          open_station_recording(a).station_origin + 170.0)

    def pipeline() -> StationPipeline:
        return StationPipeline({}, LAYOUT, RATE, protocol=default_protocol(), with_state=True, coach_hold_s=0.4,
                               defer_coaching=True, resume=resume)

    whole = pipeline()
    assert whole.resuming and whole.resumed_fraction == 0.0
    assert whole.resume_some(None) and not whole.resuming
    expected = json.dumps(whole.finish().to_dict(), sort_keys=True)

    sliced = pipeline()
    done = []
    while not sliced.resume_some(0.0):      # one block per call
        done.append(sliced.resumed_fraction)
        assert sliced.resuming and sliced.coaching_due == 0     # nothing live is coached meanwhile
    assert len(done) >= 30 and done == sorted(done) and 0 < done[0] and done[-1] < 1
    assert sliced.resumed_fraction == 1.0 and sliced.coaching.defer, "live coaching deferred again"
    assert json.dumps(sliced.finish().to_dict(), sort_keys=True) == expected

    cut_short = pipeline()
    assert not cut_short.resume_some(0.0)
    assert json.dumps(cut_short.finish().to_dict(), sort_keys=True) == expected    # the rest coached first


@pytest.mark.parametrize("same_origin", [True, False])
def test_joined_parts_align_each_part_as_the_run_that_recorded_it_did(tmp_path, same_origin):
    """A picked-up session's live run fitted each device's clock afresh at the restart and
    counted its samples from 0, so the joined parts' replay aligns each part as that run did:
    every slot of each part is where that part's own run put it (one aligner over the joined
    streams put samples a slot away now and then). Parts on one origin (a picked-up class) and
    a part aligned afresh on its own origin both."""
    from glovecoach.station.replay import align_recording, align_station_recording

    a = make_part(tmp_path / "a.gcrec", station_devices(), 0, 3_000)
    origin = open_station_recording(a).station_origin
    b = make_part(tmp_path / "b.gcrec", station_devices(), 4_000, 3_000, continues=["a.gcrec"],
                  origin=origin if same_origin else None)
    joined = align_station_recording(open_station_session([a, b]))
    alone_a = align_station_recording(open_station_recording(a))
    part_b = open_station_recording(b)
    alone_b = align_recording(part_b.devices, part_b.layout, RATE, part_b.station_origin)
    offset = round((part_b.station_origin - origin) * RATE)
    n = alone_a.n_total
    assert joined.origin_host_s == origin
    assert np.array_equal(joined.present[:n], alone_a.present) and np.array_equal(joined.raw[:n], alone_a.raw)
    first_b = int(np.flatnonzero(alone_b.present.any(axis=1))[0])
    assert first_b + offset > n
    span = alone_b.n_total - first_b
    assert span > 2_900 and joined.n_total == offset + alone_b.n_total
    at = slice(first_b + offset, offset + alone_b.n_total)
    assert np.array_equal(joined.present[at], alone_b.present[first_b:])
    assert np.array_equal(joined.raw[at], alone_b.raw[first_b:])
    assert not joined.present[n:first_b + offset].any()        # the gap between the parts holds nothing
    for role, stats in joined.devices.items():                  # each device's counts over both parts
        assert stats.samples == alone_a.devices[role].samples + alone_b.devices[role].samples
        assert stats.clock_ppm == alone_b.devices[role].clock_ppm
