"""The reader thread: the only code that reads a glove's transport.

It loops: read what the transport has (waking as soon as bytes come, or after
``READ_TIMEOUT_S`` of silence), hand the bytes and their receive time to the owner, let the
owner look at the clock (a hung glove sends nothing, so silence must be noticed here too), and
when the transport fails, tell the owner and retry opening it as the owner's reconnect policy
says. What the bytes mean is the owner's business (:class:`GloveClient`): this loop knows
nothing of frames, so it runs as well over a fake owner in a test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from glovecoach.link.transport import LinkLost, Transport

# One read takes whatever the port holds, up to this; a glove at full rate sends ~40 kB/s.
READ_CHUNK = 65536
# Longest wait for bytes before the loop checks for a stall or a stop request: bounds how late
# a stall is noticed and how long close() waits for the thread.
READ_TIMEOUT_S = 0.05


@dataclass(frozen=True)
class ReaderCallbacks:
    """What the reader tells its owner, and asks it (all called on the reader thread)."""

    link_is_up: Callable[[], bool]
    reopen: Callable[[], bool]                    # True when the transport is open again
    before_read: Callable[[float], None]          # may write (the INFO after a reconnect)
    on_bytes: Callable[[bytes, float], None]      # data, monotonic receive time
    on_idle: Callable[[float], None]              # every pass, bytes or not
    on_lost: Callable[[str], None]                # the transport failed: why


class ReaderThread:
    def __init__(self, transport: Transport, owner: ReaderCallbacks, *, reconnect: bool,
                 reconnect_interval: float) -> None:
        self.transport = transport
        self.owner = owner
        self.reconnect = reconnect
        self.reconnect_interval = reconnect_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"glove-reader {transport.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        owner, transport, stop = self.owner, self.transport, self._stop
        clock = time.monotonic
        while not stop.is_set():
            if not owner.link_is_up():
                if not self.reconnect:
                    return
                if not owner.reopen():
                    stop.wait(self.reconnect_interval)
                    continue
            try:
                owner.before_read(clock())
                data = transport.read(READ_CHUNK, READ_TIMEOUT_S)
            except LinkLost as exc:
                owner.on_lost(str(exc))
                continue
            now = clock()
            if data:
                owner.on_bytes(data, now)
            owner.on_idle(now)
