"""The pipeline owner: Notifier order and derived messages, the recorder and link monitor
listeners on real files, and a recording played back through RecordingSource."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.pipeline import Listener, Notifier
from glovecoach.pipeline.coaching import CoachingListener, CoachingUpdate
from glovecoach.pipeline.link_monitor import LinkMonitor
from glovecoach.pipeline.notifier import join_sample_runs
from glovecoach.pipeline.recorder import RecorderListener
from glovecoach.pipeline.recording_source import RecordingSource
from glovecoach.protocols import default_protocol
from glovecoach.recording import RecordingWriter, open_recording
from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.recording.runs import contiguous_blocks
from glovecoach.simulate import simulate
from glovecoach.simulate.files import write_recording
from glovecoach.vocabulary.sensors import ALL_CHANNELS
from glovecoach.vocabulary.stream import (
    DeviceLog,
    DeviceProblem,
    GapDetected,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
    SamplesReceived,
)

CH = len(ALL_CHANNELS)


def samples(first: int, n: int, value: int = 100) -> SamplesReceived:
    frames = np.zeros(1, dtype=FRAME_DTYPE)
    frames["sample_index"] = first
    return SamplesReceived(first, np.full((n, CH), value, dtype=np.uint16), frames)


class ListSource:
    def __init__(self, *batches):
        self.batches = list(batches)

    def poll(self):
        return self.batches.pop(0) if self.batches else []


class Tape(Listener):
    """Writes down every message it is given, in order."""

    def __init__(self, answer=None):
        self.seen = []
        self.answer = answer

    def on_message(self, message):
        self.seen.append(message)
        return self.answer(message) if self.answer else None


def test_derived_messages_go_only_to_the_listeners_after_the_one_that_made_them():
    first, deriver, last = Tape(), Tape(answer=lambda m: [("derived", m.first_index)]
                                        if isinstance(m, SamplesReceived) else None), Tape()
    notifier = Notifier(ListSource([samples(0, 5), LinkDown("unplugged")]), [first, deriver, last])
    assert notifier.pump() == 2
    assert [type(m) for m in first.seen] == [SamplesReceived, LinkDown]
    assert ("derived", 0) not in first.seen and ("derived", 0) not in deriver.seen
    # order kept: the derived message follows its cause and precedes the next message
    assert [m if isinstance(m, tuple) else type(m) for m in last.seen] == [SamplesReceived, ("derived", 0), LinkDown]


def test_consecutive_blocks_are_joined_but_never_across_a_jump_or_another_message():
    msgs = [samples(0, 3, 1), samples(3, 2, 2), samples(10, 4, 3), DeviceLog(1, "x"), samples(14, 1, 4)]
    out = join_sample_runs(msgs)
    assert [(m.first_index, len(m.raw)) if isinstance(m, SamplesReceived) else "log" for m in out] == \
        [(0, 5), (10, 4), "log", (14, 1)]
    assert out[0].raw[:, 0].tolist() == [1, 1, 1, 2, 2] and len(out[0].frames) == 2
    tape = Tape()
    Notifier(ListSource(msgs), [tape], join_samples=False).pump()
    assert len(tape.seen) == len(msgs)


def test_contiguous_blocks_never_span_a_gap_and_respect_the_size():
    index = np.r_[np.arange(0, 7), np.arange(20, 23), [40]]
    starts, stops = contiguous_blocks(index, 3)
    assert list(zip(starts.tolist(), stops.tolist())) == [(0, 3), (3, 6), (6, 7), (7, 10), (10, 11)]
    for a, b in zip(starts, stops):
        assert np.all(np.diff(index[a:b]) == 1) and b - a <= 3
    starts, stops = contiguous_blocks(index, 100, start_row=2, stop_row=8)
    assert list(zip(starts.tolist(), stops.tolist())) == [(2, 7), (7, 8)]
    with pytest.raises(ValueError, match="max_rows"):
        contiguous_blocks(index, 0)


def test_recorder_writes_one_story_of_the_link_and_stops_at_its_limit(tmp_path):
    path = tmp_path / "r.gcrec"
    with RecordingWriter(path, device_info={"glove_id": "g"}, rate_hz=100, channels=ALL_CHANNELS) as writer:
        recorder, monitor = RecorderListener(writer, 100, limit_samples=25), LinkMonitor()
        notifier = Notifier(ListSource(
            [samples(0, 10), LinkStalled(10, 1.5, "silent"), GapDetected(10, 5, "device_skipped", True)],
            [LinkResumed(1.5), samples(15, 20), DeviceProblem("glove g", "SAMPLES", "bad length", 3)],
        ), [recorder, monitor])
        notifier.pump()
        assert monitor.state == "stalled" and monitor.stalls == 1
        notifier.pump()
        assert monitor.state == "up"
    assert (recorder.samples, recorder.lost, recorder.end_index) == (20, 5, 25)
    assert monitor.device_problems == 3 and monitor.link_is_up
    rec = open_recording(path)
    assert rec.samples == 20 and rec.n_total == 25          # the 10 samples past the limit were cut
    stalled = rec.notes_of("link_stalled")[0].payload
    assert stalled == {"first_index": 10, "silent_s": 1.5, "reason": "silent", "at_s": 0.1}
    assert rec.notes_of("device_problem")[0].payload["count"] == 3
    assert rec.notes_of("link_resumed")[0].payload["at_s"] == 0.15


def test_link_monitor_tells_a_stall_from_an_unplugged_cable():
    monitor = LinkMonitor()
    monitor.on_message(LinkStalled(0, 1.0, "silent"))
    assert (monitor.state, monitor.link_is_up, monitor.delivering) == ("stalled", True, False)
    monitor.on_message(LinkDown("unplugged"))
    assert (monitor.state, monitor.link_is_up, monitor.drops) == ("down", False, 1)
    monitor.on_message(LinkUp(hello=None, reconnected=True))
    assert monitor.state == "up" and monitor.delivering


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    session = simulate("excessive_force_kneading", 5)
    path = write_recording(session, tmp_path_factory.mktemp("pipe") / "s.gcrec")
    return session, path


def _coach(recording, block_rows, stops):
    coaching = CoachingListener(protocol=default_protocol(), calibration=Calibration.nominal_for(recording.channels),
                                channels=recording.channels, rate_hz=recording.rate_hz,
                                device_info=dict(recording.device_info))
    tape = Tape()
    source = RecordingSource(recording, block_rows)
    notifier = Notifier(source, [coaching, tape], join_samples=False)
    for stop in stops:
        source.advance_to(stop)
        notifier.pump()
    return coaching.finish(), tape.seen


def test_a_recording_coached_in_any_steps_gives_the_same_report(session_file):
    _, path = session_file
    rec = open_recording(path)
    whole, seen = _coach(rec, 6000, [rec.n_total])
    updates = [m for m in seen if isinstance(m, CoachingUpdate)]
    assert sum(u.n_samples for u in updates) == rec.n_total
    assert all(u.block is not None and u.block.n_samples <= 6000 for u in updates)
    rng = np.random.default_rng(3)
    stops = np.sort(rng.integers(0, rec.n_total, 25)).tolist() + [rec.n_total]
    stepped, _ = _coach(rec, 777, stops)
    assert stepped.to_dict() == whole.to_dict()


def test_gaps_in_a_recording_reach_the_coaching_as_gaps(tmp_path):
    rate = 100
    with RecordingWriter(tmp_path / "g.gcrec", device_info={"glove_id": "g"}, rate_hz=rate, channels=ALL_CHANNELS) as w:
        w.write_gap(0, 30, "link_lost", exact=False)
        w.write_samples(30, np.full((50, CH), 100, np.uint16), np.zeros(0, FRAME_DTYPE))
        w.write_samples(100, np.full((20, CH), 100, np.uint16), np.zeros(0, FRAME_DTYPE))
        w.write_gap(120, 10, "device_skipped", exact=True)
    rec = open_recording(tmp_path / "g.gcrec")
    source = RecordingSource(rec, 1000)
    source.advance_to_end()
    kinds = [(type(m).__name__, m.first_index, m.n_samples if isinstance(m, GapDetected) else len(m.raw))
             for m in source.poll()]
    assert kinds == [("GapDetected", 0, 30), ("SamplesReceived", 30, 50), ("GapDetected", 80, 20),
                     ("SamplesReceived", 100, 20), ("GapDetected", 120, 10)]
    assert source.poll() == []   # nothing twice


def test_the_app_and_record_write_the_same_note_keys(tmp_path):
    """One recorder for both: a link_up note carries the same keys whoever records."""
    hello = dataclasses.make_dataclass("H", [("info", dict)])({"glove_id": "g"})
    with RecordingWriter(tmp_path / "n.gcrec", device_info={"glove_id": "g"}, rate_hz=100,
                         channels=ALL_CHANNELS) as writer:
        RecorderListener(writer, 100).on_message(LinkUp(hello=hello, reconnected=True))
    payload = open_recording(tmp_path / "n.gcrec").notes_of("link_up")[0].payload
    assert payload == {"hello": {"glove_id": "g"}, "reconnected": True, "at_s": 0.0}
