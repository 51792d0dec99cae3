"""`RecorderListener`: every message that matters afterwards, written to a `.gcrec` as it comes;
`StationRecorderListener`: the same for each device of a station, into its own stream.

The one place that decides what a recording holds and the keys of its notes, so a recording
made by `record` and one made by the app read the same, and a station's device streams hold
what a one-device recording holds (docs/recording-format.md).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from glovecoach.pipeline.listener import Derived, Listener
from glovecoach.recording.format import INSTRUCTOR_MESSAGE_NOTE, MARK_NOTE
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationSamples
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


class RecorderListener(Listener):
    """Writes samples, gaps, STATUS and the link's story (as notes) to `writer`.

    `limit_samples` stops the timeline there (a `record --seconds N` session): later samples
    and gaps are cut at the limit, never written past it. `at_s` in every note is the session
    time the recording had reached when the event came.
    """

    def __init__(self, writer: Any, rate_hz: float, *, limit_samples: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.rate_hz = float(rate_hz)
        self.limit = limit_samples
        self.clock = clock
        self.end_index = 0          # one past the last sample or gap written
        self.samples = 0
        self.lost = 0
        self.lost_by_reason: dict[str, int] = {}

    @property
    def at_s(self) -> float:
        return round(self.end_index / self.rate_hz, 3)

    def _room(self, first_index: int, n: int) -> int:
        return n if self.limit is None else max(0, min(n, self.limit - first_index))

    def on_samples(self, message: SamplesReceived) -> None:
        keep = self._room(message.first_index, len(message.raw))
        if keep <= 0:
            return
        raw, frames = message.raw, message.frames
        if keep < len(raw):
            raw = raw[:keep]
            frames = frames[frames["sample_index"] < message.first_index + keep]
        self.writer.write_samples(message.first_index, raw, frames)
        self.samples += keep
        self.end_index = max(self.end_index, message.first_index + keep)

    def on_gap(self, message: GapDetected) -> None:
        n = self._room(message.first_index, message.n_samples)
        if n <= 0:
            return
        self.write_gap(message.first_index, n, message.reason, message.exact)

    def write_gap(self, first_index: int, n: int, reason: str, exact: bool) -> None:
        self.writer.write_gap(first_index, n, reason, exact=exact)
        self.lost += n
        self.lost_by_reason[reason] = self.lost_by_reason.get(reason, 0) + n
        self.end_index = max(self.end_index, first_index + n)

    def on_status(self, message: StatusReceived) -> None:
        self.writer.write_status(message.host_time, dataclasses.asdict(message.status))

    def note(self, kind: str, payload: dict) -> None:
        self.writer.write_note(kind, {**payload, "at_s": self.at_s}, self.clock())

    def on_link_down(self, message: LinkDown) -> None:
        self.note("link_down", {"reason": message.reason})

    def on_link_up(self, message: LinkUp) -> None:
        self.note("link_up", {"hello": message.hello.info, "reconnected": message.reconnected})

    def on_link_stalled(self, message: LinkStalled) -> None:
        self.note("link_stalled", {"first_index": message.first_index,
                                   "silent_s": round(message.silent_s, 3), "reason": message.reason})

    def on_link_resumed(self, message: LinkResumed) -> None:
        self.note("link_resumed", {"silent_s": round(message.silent_s, 3)})

    def on_device_problem(self, message: DeviceProblem) -> None:
        self.note("device_problem", {"device": message.device, "field": message.field,
                                     "message": message.message, "count": message.count})

    def on_device_log(self, message: DeviceLog) -> None:
        self.note("device_log", {"level": message.level, "message": message.message})


class _DeviceRecorder(RecorderListener):
    """`RecorderListener` on one device's stream of a station recording, which also stores
    each HELLO as the device's own (a station's devices connect after the file is created)."""

    def on_link_up(self, message: LinkUp) -> None:
        self.writer.set_device_info(message.hello.info, self.clock())
        super().on_link_up(message)


class StationRecorderListener(Listener):
    """Writes each `DeviceMessage(role, event)` to that device's stream of `writer` (a
    `StationRecordingWriter`), exactly as `RecorderListener` writes a one-device session:
    samples, gaps, STATUS and the same link notes, on the device's own session index.

    `limit_samples` caps each device's own index (as in `RecorderListener`). Station slots seen
    in `StationSamples`/`StationGap` are counted in `station_end_index`, for the owner to pass
    to `writer.close(station_samples=...)`. A message from a role the recording has no stream
    for is not written; the first one of each such role is said in a station note. A classroom
    instructor's mark or message (`InstructorNote`, on every device's link) is one station note.
    """

    def __init__(self, writer: Any, rate_hz: float, *, limit_samples: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.clock = clock
        self.devices = {role: _DeviceRecorder(stream, rate_hz, limit_samples=limit_samples, clock=clock)
                        for role, stream in writer.devices.items()}
        self.rate_hz = float(rate_hz)
        self.station_end_index = 0
        self._unknown_roles: set[str] = set()
        self._notes_seen: set[tuple] = set()

    def on_other(self, message: Any) -> Derived:
        if isinstance(message, DeviceMessage) and isinstance(message.message, InstructorNote):
            self.on_instructor_note(message.role, message.message)
        elif isinstance(message, DeviceMessage):
            recorder = self.devices.get(message.role)
            if recorder is not None:
                return recorder.on_message(message.message)
            if message.role not in self._unknown_roles:
                self._unknown_roles.add(message.role)
                self.writer.note("unrecorded_device", {
                    "role": message.role, "reason": "not in the station layout the recording was made for",
                    "recorded": list(self.devices)}, self.clock())
        elif isinstance(message, StationSamples):
            self.station_end_index = max(self.station_end_index, message.first_index + message.n_samples)
        elif isinstance(message, StationGap):
            self.station_end_index = max(self.station_end_index, message.end_index)
        return None

    def on_instructor_note(self, role: str, note: InstructorNote) -> None:
        """The classroom instructor's mark or message, stored as the station note the
        instructor's own recording of this station holds. It comes once on each of the
        station's devices and is stored once, at the session time it reached this station
        (the instructor's ``at_s`` counts on the instructor's own alignment of the devices,
        which this one need not share)."""
        kind = {"mark": MARK_NOTE, "message": INSTRUCTOR_MESSAGE_NOTE}.get(note.kind)
        if kind is None or note.identity in self._notes_seen:
            return
        self._notes_seen.add(note.identity)
        payload = {"text": note.text, "host_time": note.payload.get("host_time"),
                   "at_s": round(self.station_end_index / self.rate_hz, 3), "via": role}
        if note.received_host_s is not None:
            # the reader places it by this against the station origin: ``at_s`` above is only
            # as far as this pipeline had got, which lags behind a backlog
            payload["received_host_s"] = note.received_host_s
        self.writer.note(kind, payload, self.clock())
