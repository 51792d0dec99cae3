"""What flows down a session's pipeline, whoever produced it: sample blocks on the session
timeline, the gaps between them, STATUS, and what happened to the device link.

The device client (glovecoach.link) makes these live, `RecordingSource` (glovecoach.pipeline)
makes them from a recording, and every listener takes them; they live here, low in the stack,
so that reading a recording never needs the link. Plain frozen dataclasses, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:   # only as annotations: the vocabulary imports nothing above it
    from glovecoach.wire.messages import Hello, Status

# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SamplesReceived:
    """Rows ``first_index .. first_index + len(raw) - 1`` of the session timeline."""

    first_index: int
    raw: np.ndarray     # (n, channels) uint16
    frames: np.ndarray  # recording.format.FRAME_DTYPE, one row per wire frame (session index, t_us, host time)


@dataclass(frozen=True)
class SessionGap:
    """Session indices [first_index, first_index + n_samples) that hold no samples."""

    first_index: int
    n_samples: int
    reason: str
    exact: bool = True

    @property
    def end_index(self) -> int:
        return self.first_index + self.n_samples


@dataclass(frozen=True)
class GapDetected(SessionGap):
    """Session samples ``first_index .. first_index + n_samples - 1`` were not received.

    The same hole in the session timeline as a recording's :class:`SessionGap` (the recorder
    writes one per event), seen live. ``reason`` is one of "lost_frames", "device_skipped",
    "link_lost", "device_reset", "stream_restart", "stalled", "rejected_frames"; ``exact`` is
    False when the gap was sized from the host clock rather than the device's sample counters.
    """


@dataclass(frozen=True)
class StatusReceived:
    status: Status
    host_time: float  # Unix seconds


@dataclass(frozen=True)
class LinkDown:
    reason: str


@dataclass(frozen=True)
class LinkUp:
    hello: Hello
    reconnected: bool


@dataclass(frozen=True)
class DeviceLog:
    level: int
    message: str  # control characters escaped: safe to print


@dataclass(frozen=True)
class LinkStalled:
    """The link is up and streaming was asked for, but no samples came for ``silent_s`` seconds
    (firmware hung, or the device stopped streaming by itself). Samples from ``first_index`` on
    are missing until :class:`LinkResumed`; the gap follows as a :class:`GapDetected`."""

    first_index: int
    silent_s: float
    reason: str


@dataclass(frozen=True)
class LinkResumed:
    """Samples flow again after a :class:`LinkStalled` (the gap was emitted just before)."""

    silent_s: float


@dataclass(frozen=True)
class DeviceProblem:
    """The device sent something invalid (it was dropped): ``field`` names what, ``message``
    says how. ``count`` is how many times since the last report of the same field."""

    device: str
    field: str
    message: str
    count: int = 1

    def __str__(self) -> str:
        times = f" ({self.count} times)" if self.count > 1 else ""
        return f"{self.device}: {self.field}: {self.message}{times}"


@dataclass(frozen=True)
class InstructorNote:
    """What a classroom's instructor sent the station a device belongs to, as it came on that
    device's ``marks`` or ``messages`` topic (docs/classroom.md, Topics): ``kind`` is "mark" or
    "message", ``payload`` the instructor's JSON object ({"text", "host_time", ...})."""

    kind: str
    payload: dict
    # When it reached this host (Unix seconds, the clock of the frames' host times): where it
    # falls in this station's session, however long the pipeline takes to get to it.
    received_host_s: float | None = None

    @property
    def text(self) -> str:
        return str(self.payload.get("text") or "")

    @property
    def identity(self) -> tuple[str, object, str]:
        """The same note however many of the station's devices it came on (each brings it)."""
        return (self.kind, self.payload.get("host_time"), self.text)


Event = (SamplesReceived | GapDetected | StatusReceived | LinkDown | LinkUp | DeviceLog
         | LinkStalled | LinkResumed | DeviceProblem | InstructorNote)
