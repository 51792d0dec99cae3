"""What a :class:`~glovecoach.link.client.GloveClient` tells its consumer: the session's
messages (defined in `glovecoach.vocabulary.stream`, shared with recordings played back) and
the link's running totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from glovecoach.vocabulary.stream import (
    DeviceLog,
    DeviceProblem,
    Event,
    GapDetected,
    InstructorNote,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
    SamplesReceived,
    SessionGap,
    StatusReceived,
)

__all__ = ["DeviceLog", "DeviceProblem", "Event", "GapDetected", "InstructorNote", "LinkDown", "LinkResumed",
           "LinkStalled", "LinkStats", "LinkUp", "SamplesReceived", "SessionGap", "StatusReceived", "printable"]


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
