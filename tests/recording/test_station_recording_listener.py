"""`StationRecorderListener`: a station's DeviceMessages written to each device's stream, exactly as
`RecorderListener` writes a one-device session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from station_recording_helpers import HELLOS, LAYOUT, device_frames, rows

from glovecoach.pipeline import Notifier
from glovecoach.pipeline.recorder import RecorderListener, StationRecorderListener
from glovecoach.recording import RecordingWriter, StationRecordingWriter, open_recording, open_station_recording
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout, StationSamples
from glovecoach.vocabulary.stream import (
    DeviceLog,
    DeviceProblem,
    GapDetected,
    InstructorNote,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
    SamplesReceived,
    StatusReceived,
)
from glovecoach.wire.messages import Hello, Status


class ListSource:
    def __init__(self, *batches):
        self.batches = list(batches)

    def poll(self):
        return self.batches.pop(0) if self.batches else []


def _status(seq: int) -> Status:
    return Status(flags=1, rate_hz=200, t_us=seq * 1_000_000, boot_id=7, seq=seq, dropped_samples=0,
                  saturated_mask=0, open_mask=0, loop_max_us=900)


def device_story(role: str) -> list:
    """One device's link events: connects, streams, loses frames, stalls, reconnects."""
    hello = Hello(1, HELLOS[role])
    samples = [SamplesReceived(f, rows(role, f, 4), device_frames(role, f, 4)) for f in range(0, 40, 4)]
    later = [SamplesReceived(f, rows(role, f, 4), device_frames(role, f, 4)) for f in range(52, 80, 4)]
    return [LinkUp(hello, reconnected=False), *samples, StatusReceived(_status(1), 1000.5),
            GapDetected(40, 12, "lost_frames", True), LinkStalled(52, 1.25, "silent"), LinkResumed(1.25),
            DeviceProblem(f"glove {role}", "SAMPLES", "bad length", 2), DeviceLog(2, "wifi rssi -61"),
            LinkDown("unplugged"), LinkUp(hello, reconnected=True), *later]


class Clock:
    def __init__(self) -> None:
        self.now = 2000.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def test_each_device_stream_holds_what_a_one_device_recording_of_it_would(tmp_path: Path) -> None:
    roles = LAYOUT.roles
    stories = {role: device_story(role) for role in roles}
    # The devices' events interleaved as a station pipeline delivers them, plus station slots.
    batches = []
    for step in range(max(len(s) for s in stories.values())):
        batch = [DeviceMessage(role, stories[role][step]) for role in roles if step < len(stories[role])]
        batches.append(batch + [StationSamples(step * 4, np.zeros((4, len(LAYOUT.columns)), np.uint16),
                                               (True, True, True))])
    batches.append([StationGap(len(batches) * 4, 6, "no device")])

    path = tmp_path / "station.gcrec"
    with StationRecordingWriter(path, LAYOUT, 200) as writer:
        listener = StationRecorderListener(writer, 200, clock=Clock())
        notifier = Notifier(ListSource(*batches), [listener], join_samples=False)
        while notifier.pump():
            pass
    assert listener.station_end_index == len(batches) * 4 - 4 + 6
    station = open_station_recording(path)

    for role in roles:
        # The same events through RecorderListener into a one-device file.
        one = tmp_path / f"{role}.gcrec"
        with RecordingWriter(one, device_info=HELLOS[role], rate_hz=200, channels=LAYOUT.device(role).channels) as w:
            single = RecorderListener(w, 200, clock=Clock())
            for event in stories[role]:
                single.on_message(event)
        expected, got = open_recording(one), station.devices[role]
        np.testing.assert_array_equal(got.raw, expected.raw)
        np.testing.assert_array_equal(got.sample_index, expected.sample_index)
        np.testing.assert_array_equal(got.frames, expected.frames)
        assert got.gaps == expected.gaps and got.statuses == expected.statuses
        assert [(n.kind, n.payload) for n in got.notes] == [(n.kind, n.payload) for n in expected.notes]
        assert [n.kind for n in got.notes] == ["link_up", "link_stalled", "link_resumed", "device_problem",
                                               "device_log", "link_down", "link_up"]
        assert got.device_info == HELLOS[role]          # from the first LinkUp's HELLO
        assert listener.devices[role].samples == 68 and listener.devices[role].lost == 12


def test_limits_and_devices_the_recording_has_no_stream_for(tmp_path: Path) -> None:
    path = tmp_path / "two.gcrec"
    layout = StationLayout.for_roles(["right_glove", "spine_strip"])
    with StationRecordingWriter(path, layout, 200) as writer:
        listener = StationRecorderListener(writer, 200, limit_samples=10, clock=Clock())
        for first in range(0, 16, 4):
            listener.on_message(DeviceMessage("right_glove", SamplesReceived(
                first, rows("right_glove", first, 4), device_frames("right_glove", first, 4))))
        for _ in range(2):
            listener.on_message(DeviceMessage("left_glove", SamplesReceived(0, rows("left_glove", 0, 4),
                                                                            device_frames("left_glove", 0, 4))))
    station = open_station_recording(path)
    assert station.devices["right_glove"].samples == 10          # cut at the limit, as RecorderListener does
    assert station.devices["spine_strip"].samples == 0
    assert [(n.kind, n.payload["role"]) for n in station.notes] == [("unrecorded_device", "left_glove")]


def test_an_instructors_notes_are_stored_once_at_the_stations_own_time(tmp_path: Path) -> None:
    """A classroom instructor's mark and message come on each device's topic (the station's
    screen subscribes to its devices'): one station note each, at the session time the
    recording had reached, read back as the debrief's section. A note of a kind this version
    does not know is not stored."""
    path = tmp_path / "station.gcrec"
    mark = {"at_s": 99.0, "station_index": 19800, "text": "good rhythm", "host_time": 1.7e9}
    message = {"text": "lighter, please", "host_time": 1.7e9 + 1}
    with StationRecordingWriter(path, LAYOUT, 200) as writer:
        listener = StationRecorderListener(writer, 200, clock=Clock())
        listener.on_message(StationSamples(0, np.zeros((400, len(LAYOUT.columns)), np.uint16), (True,) * 3))
        for role in LAYOUT.roles:
            listener.on_message(DeviceMessage(role, InstructorNote("mark", dict(mark))))
        listener.on_message(StationSamples(400, np.zeros((200, len(LAYOUT.columns)), np.uint16), (True,) * 3))
        for role in reversed(LAYOUT.roles):
            listener.on_message(DeviceMessage(role, InstructorNote("message", dict(message))))
            listener.on_message(DeviceMessage(role, InstructorNote("applause", {"text": "?"})))
    station = open_station_recording(path)
    assert [n.kind for n in station.notes] == ["mark", "instructor_message"]
    assert station.instructor_notes() == {
        "instructor_marks": [{"text": "good rhythm", "host_time": 1.7e9, "at_s": 2.0, "via": LAYOUT.roles[0]}],
        "instructor_messages": [{"text": "lighter, please", "host_time": 1.7e9 + 1, "at_s": 3.0,
                                 "via": LAYOUT.roles[-1]}]}
    assert all(not rec.notes for rec in station.devices.values())     # not a device's own story


def test_an_instructors_note_is_placed_by_when_it_came_not_by_how_far_the_pipeline_had_got(tmp_path: Path) -> None:
    """A screen behind a backlog (a busy machine: two seconds of frames and the note in one
    poll) reaches the note before the slots that came with it: the note keeps the host time it
    arrived, and the reader places it by that against the station origin."""
    path = tmp_path / "station.gcrec"
    origin = 1.79e9
    with StationRecordingWriter(path, LAYOUT, 200) as writer:
        writer.set_station_origin(origin)
        listener = StationRecorderListener(writer, 200, clock=Clock())
        for role in LAYOUT.roles:    # no slot emitted yet when it is taken in
            listener.on_message(DeviceMessage(role, InstructorNote("mark", {"text": "", "host_time": 5.0},
                                                                   received_host_s=origin + 2.25)))
        listener.on_message(StationSamples(0, np.zeros((600, len(LAYOUT.columns)), np.uint16), (True,) * 3))
    (mark,) = open_station_recording(path).instructor_notes()["instructor_marks"]
    assert mark["at_s"] == 2.25 and mark["received_host_s"] == origin + 2.25
