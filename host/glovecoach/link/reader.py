"""The reader thread: the only code that reads a glove's transport.

It loops: read what the transport has (waking as soon as bytes come, or after
``READ_TIMEOUT_S`` of silence), hand the bytes and their receive time to the owner, let the
owner look at the clock (a hung glove sends nothing, so silence must be noticed here too), and
when the transport fails, tell the owner and retry opening it as the owner's reconnect policy
says. What the bytes mean is the owner's business (:class:`GloveClient`): this loop knows
nothing of frames, so it runs as well over a fake owner in a test.

A transport whose bytes already arrive on a thread of their own (`PushTransport`: a room's
shared MQTT connection) gets a `PushedReader` instead: the same calls to the owner, the bytes
on the transport's thread and the clock on one `ReaderTicker` for all of the connection's
devices, so a room of 36 devices does not keep 36 threads waking 50 times a second.
"""

from __future__ import annotations

import abc
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


class PushTransport(Transport):
    """A transport whose bytes arrive on a thread it already has (one network connection shared
    by a room's devices): it hands them over as they come instead of being read. A thread per
    device waiting on `read` cost a room of 36 devices 14 % of a core in wake-ups alone
    (benchmarks/bench_classroom.py), for bytes the network thread already held."""

    @abc.abstractmethod
    def set_receiver(self, receiver: Callable[[bytes, float], None] | None) -> None:
        """From now on, call ``receiver(data, monotonic receive time)`` on the transport's own
        thread for every chunk (None: keep chunks for `read` again)."""

    @abc.abstractmethod
    def lost_reason(self) -> str | None:
        """Why the link failed (as `read` would raise it), or None while it is fine."""

    @property
    @abc.abstractmethod
    def ticker(self) -> ReaderTicker:
        """The thread that looks at the clock for every reader of this transport's connection."""


class PushedReader:
    """The reader of a `PushTransport`: the same calls to the owner as `ReaderThread`, in the
    same order for one device, made on the transport's thread (bytes) and on a `ReaderTicker`
    shared by the connection's devices (the clock, reconnecting). One lock per device keeps
    the owner's calls one at a time, as on a reader thread of its own."""

    def __init__(self, transport: PushTransport, owner: ReaderCallbacks, *, reconnect: bool,
                 reconnect_interval: float) -> None:
        self.transport = transport
        self.owner = owner
        self.reconnect = reconnect
        self.reconnect_interval = reconnect_interval
        # Reentrant: an owner that stops its reader from inside a callback does not wait on itself.
        self._lock = threading.RLock()
        self._running = False
        self._next_reopen = 0.0

    def start(self) -> None:
        self._running = True
        self.transport.set_receiver(self._receive)
        self.transport.ticker.add(self)

    def stop(self, timeout: float = 2.0) -> None:
        self._running = False
        self.transport.ticker.remove(self)
        self.transport.set_receiver(None)
        # A delivery or tick in progress finishes before stop returns, as a joined thread would.
        if self._lock.acquire(timeout=timeout):
            self._lock.release()

    @property
    def alive(self) -> bool:
        return self._running

    def _receive(self, data: bytes, received: float) -> None:
        with self._lock:
            if self._running and self.owner.link_is_up():
                self.owner.on_bytes(data, received)
            # bytes while the link is down are dropped, as a closed port's would be

    def tick(self, now: float) -> None:
        with self._lock:
            if not self._running:
                return
            owner = self.owner
            if not owner.link_is_up():
                if not self.reconnect:
                    self._running = False
                    return
                if now < self._next_reopen:
                    return
                if not owner.reopen():
                    self._next_reopen = now + self.reconnect_interval
                    return
            lost = self.transport.lost_reason()
            if lost is not None:
                owner.on_lost(lost)
                return
            try:
                owner.before_read(now)
            except LinkLost as exc:
                owner.on_lost(str(exc))
                return
            owner.on_idle(now)


class ReaderTicker:
    """One thread ticking every `PushedReader` of a connection each READ_TIMEOUT_S: a silent
    device's stall is noticed as soon as with a reader thread of its own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._readers: list[PushedReader] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, reader: PushedReader) -> None:
        with self._lock:
            self._readers.append(reader)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"glove-ticker {self.name}", daemon=True)
                self._thread.start()

    def remove(self, reader: PushedReader) -> None:
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)

    def _run(self) -> None:
        clock = time.monotonic
        while True:
            with self._lock:
                readers = list(self._readers)
                if not readers:
                    self._thread = None
                    return
            for reader in readers:
                reader.tick(clock())
            time.sleep(READ_TIMEOUT_S)


def start_reader(transport: Transport, owner: ReaderCallbacks, *, reconnect: bool,
                 reconnect_interval: float) -> ReaderThread | PushedReader:
    """The reader a transport needs: pushed bytes for a `PushTransport`, else a thread."""
    cls = PushedReader if isinstance(transport, PushTransport) else ReaderThread
    reader = cls(transport, owner, reconnect=reconnect, reconnect_interval=reconnect_interval)
    reader.start()
    return reader
