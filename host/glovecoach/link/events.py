"""What a :class:`~glovecoach.link.client.GloveClient` tells its consumer: the events on the
session timeline and the link's running totals.

Plain frozen dataclasses with no behaviour, so the pieces of the link (the session timeline,
the reader, the coordinator) and everything above it share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from glovecoach.recording.reader import SessionGap
from glovecoach.wire.messages import Hello, Status

# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SamplesReceived:
    """Rows ``first_index .. first_index + len(raw) - 1`` of the session timeline."""

    first_index: int
    raw: np.ndarray     # (n, channels) uint16
    frames: np.ndarray  # FRAME_DTYPE, one row per wire frame (session index, t_us, host receive time)


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


Event = Union[SamplesReceived, GapDetected, StatusReceived, LinkDown, LinkUp, DeviceLog,
              LinkStalled, LinkResumed, DeviceProblem]


@dataclass
class LinkStats:
    """Session totals of what the client dropped or noticed (docs/reliability.md)."""

    duplicates: int = 0       # SAMPLES frames received twice (same seq): dropped
    out_of_order: int = 0     # late frames overtaken by later ones: dropped (their slots are a gap)
    corrupt_frames: int = 0   # frames that failed COBS/CRC/length/content checks
    lost_frames: int = 0      # frames missing in seq (lost on the link)
    rejected_frames: int = 0  # SAMPLES frames refused: wrong channel count, values over adc_max,
                              # layout changed mid-session
    device_errors: int = 0    # invalid things the device sent (each also a DeviceProblem)
    stalls: int = 0           # LinkStalled events
    reconnects: int = 0


def printable(text: str) -> str:
    """``text`` with control characters escaped (a device could send terminal escapes); line
    breaks and tabs stay, for a firmware traceback."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)
