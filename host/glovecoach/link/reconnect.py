"""Link health: when to retry a lost link, what to ask once it is back, and when a live link
has gone silent. State and decisions only; times are passed in, so it is tested without a
device (tests/link/test_reconnect_state.py).

:class:`Reconnection` follows one link through down → connecting (reopened, waiting for a
HELLO, asking INFO every ``hello_retry_s``) → up. Samples that arrive between the reopen and
the HELLO are held: until the HELLO says which boot this is they cannot be placed.

:class:`StallWatch` notices a glove that stops sending samples while the link stays up
(firmware hung, or it stopped streaming by itself): no samples for ``timeout`` seconds while
streaming was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReconnectPolicy:
    # Whether and how often to reopen the transport is the reader thread's business
    # (link/reader.py); this is what the session waits for once it is open again.
    hello_retry_s: float = 0.5  # between INFO commands while waiting for a HELLO


@dataclass
class Reconnection:
    policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    link_up: bool = False
    awaiting_hello: bool = False
    reconnects: int = 0
    held: list[tuple[Any, float]] = field(default_factory=list)  # (SampleBatch, received)
    _next_info: float = 0.0

    @property
    def state(self) -> str:
        if not self.link_up:
            return "down"
        return "connecting" if self.awaiting_hello else "up"

    @property
    def reconnecting(self) -> bool:
        """Reopened after a loss and no HELLO yet: samples must be held."""
        return self.awaiting_hello and self.reconnects > 0

    def opened(self) -> None:
        """The first open: wait for a HELLO (``connect`` asks for it)."""
        self.link_up = True
        self.awaiting_hello = True

    def lost(self) -> None:
        self.link_up = False

    def reopened(self) -> None:
        self.link_up = True
        self.awaiting_hello = True
        self.held.clear()
        self.reconnects += 1
        self._next_info = 0.0

    def info_due(self, now: float) -> bool:
        """Whether to send INFO now (after a reconnect the boot HELLO may have been missed)."""
        if not self.reconnecting or now < self._next_info:
            return False
        self._next_info = now + self.policy.hello_retry_s
        return True

    def hold(self, batch: Any, received: float) -> None:
        self.held.append((batch, received))

    def hello_received(self) -> tuple[bool, bool, list[tuple[Any, float]]]:
        """(was waiting for it, it ends a reconnect, the samples held meanwhile)."""
        was_awaiting, reconnected = self.awaiting_hello, self.reconnecting
        self.awaiting_hello = False
        held: list[tuple[Any, float]] = []
        if reconnected:
            held, self.held = self.held, []
        return was_awaiting, reconnected, held


class StallWatch:
    """No samples for ``timeout`` seconds while streaming is wanted and the link is up."""

    def __init__(self, timeout: float, now: float) -> None:
        self.timeout = timeout
        self.progress_at = now                 # last sign of a healthy stream
        self.stalled_at: float | None = None   # set while a stall is reported
        self.status_since_progress = False

    def progress(self, at: float) -> float | None:
        """Samples were taken at ``at``; returns how long the stream was silent if this ends a
        reported stall."""
        resumed = None
        if self.stalled_at is not None:
            resumed = at - self.stalled_at
            self.stalled_at = None
        self.progress_at = max(self.progress_at, at)
        self.status_since_progress = False
        return resumed

    def restart_clock(self, now: float) -> None:
        """Streaming was (re)requested or the link came back: the silence counts from now."""
        self.progress_at = max(self.progress_at, now)

    def reset(self, now: float) -> None:
        self.progress_at = now

    def status_seen(self) -> None:
        self.status_since_progress = True

    def clear(self) -> None:
        """The link went down: that says more than the stall did."""
        self.stalled_at = None

    def check(self, now: float, watching: bool) -> float | None:
        """The silence in seconds if a stall begins now (reported once until samples resume)."""
        if self.stalled_at is not None or not watching:
            return None
        silent = now - self.progress_at
        if silent < self.timeout:
            return None
        self.stalled_at = self.progress_at
        return silent
