"""`MessageBudget`: how much one device may send before the rest is dropped unread.

A room's devices all come in on one connection (`SharedMqttConnection`), and the broker's ACL
keeps each login on its own topics but does not limit its rate (Mosquitto 2.0 has no per-client
rate limit). A glove whose firmware runs wild, or a login in the wrong hands, could send
valid-looking frames many times faster than any glove, and every one would be decoded, checked
and placed by the instructor's process, at the cost of every other station's alerts. So each
device has a budget, checked before anything is decoded (under a microsecond a message): a
token bucket of messages and one of bytes. What exceeds it is dropped and counted; the frames
it held are a sequence gap like any other, counted in the device's lost samples.

The budget is generous on purpose, because bursts are legitimate: the broker hands over at once
whatever queued while this host did not read (a window held up, a class being picked up took
up to ~30 s), and a glove may have batched frames. Only a device sending several times what any
glove sends, for longer than a burst lasts, is cut back to the sustained rate.
"""

from __future__ import annotations

import dataclasses

# A glove sends one message per 20 ms SAMPLES frame at any rate (samples_per_frame is rate/50,
# firmware/glove/mqtt_link.py), a STATUS a second and the odd ACK or LOG: about 52 a second.
GLOVE_MESSAGES_PER_S = 52
# The widest frames the firmware can send: 1000 Hz and 20 channels, ~830 bytes per 20 ms.
GLOVE_MAX_BYTES_PER_S = 42_000


@dataclasses.dataclass(frozen=True)
class FloodLimits:
    """Sustained rates allowed (four times a glove's), and how many seconds of them may come
    at once: five minutes of a glove's own messages (a burst after the host did not read)."""

    messages_per_s: float = 4 * GLOVE_MESSAGES_PER_S
    bytes_per_s: float = 4 * GLOVE_MAX_BYTES_PER_S
    burst_s: float = 5 * 60 / 4

    def describe(self) -> str:
        return (f"{self.messages_per_s:.0f} messages and {self.bytes_per_s / 1000:.0f} kB a second, "
                f"after a burst of {self.burst_s * self.messages_per_s:.0f} messages")


GLOVE_FLOOD_LIMITS = FloodLimits()


class MessageBudget:
    """One device's two token buckets. ``admit(size, now)``: True if a message of ``size``
    bytes arriving at ``now`` (seconds, any monotonic clock) is within the budget; a message
    refused takes nothing from it."""

    __slots__ = ("limits", "_messages", "_bytes", "_at", "refused", "refused_bytes")

    def __init__(self, limits: FloodLimits = GLOVE_FLOOD_LIMITS) -> None:
        self.limits = limits
        self._messages = limits.messages_per_s * limits.burst_s
        self._bytes = limits.bytes_per_s * limits.burst_s
        self._at: float | None = None
        self.refused = 0          # messages dropped unread, in all
        self.refused_bytes = 0

    def admit(self, size: int, now: float) -> bool:
        limits = self.limits
        if self._at is not None and now > self._at:
            elapsed = now - self._at
            self._messages = min(limits.messages_per_s * limits.burst_s,
                                 self._messages + elapsed * limits.messages_per_s)
            self._bytes = min(limits.bytes_per_s * limits.burst_s, self._bytes + elapsed * limits.bytes_per_s)
        self._at = now if self._at is None else max(now, self._at)
        if self._messages >= 1 and self._bytes >= size:
            self._messages -= 1
            self._bytes -= size
            return True
        self.refused += 1
        self.refused_bytes += size
        return False
