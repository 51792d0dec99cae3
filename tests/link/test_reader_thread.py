"""ReaderThread alone: an in-memory transport (the physical edge) and an owner that records
what it is told."""

from __future__ import annotations

import queue
import threading
import time

from glovecoach.link.reader import ReaderCallbacks, ReaderThread
from glovecoach.link.transport import LinkLost, Transport


class ScriptedTransport(Transport):
    """Gives the scripted chunks (an exception entry is raised), then silence."""

    name = "scripted://"

    def __init__(self, script) -> None:
        self.script = queue.SimpleQueue()
        for item in script:
            self.script.put(item)
        self.opened = 0
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self.opened += 1
        self._open = True

    def close(self) -> None:
        self._open = False

    def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            item = self.script.get_nowait()
        except queue.Empty:
            time.sleep(timeout)
            return b""
        if isinstance(item, BaseException):
            raise item
        return item

    def write(self, data: bytes) -> None: ...


class Owner:
    def __init__(self, transport: ScriptedTransport, reopen_after: int = 1) -> None:
        self.transport = transport
        self.up = True
        self.calls: list[tuple] = []
        self.reopen_attempts = 0
        self.reopen_after = reopen_after
        self.idle = threading.Event()

    def callbacks(self) -> ReaderCallbacks:
        return ReaderCallbacks(self.link_is_up, self.reopen, self.before_read, self.on_bytes,
                               self.on_idle, self.on_lost)

    def link_is_up(self) -> bool:
        return self.up

    def reopen(self) -> bool:
        self.reopen_attempts += 1
        if self.reopen_attempts < self.reopen_after:
            return False
        self.transport.open()
        self.up = True
        self.calls.append(("reopened",))
        return True

    def before_read(self, now: float) -> None: ...

    def on_bytes(self, data: bytes, received: float) -> None:
        self.calls.append(("bytes", data))

    def on_idle(self, now: float) -> None:
        self.idle.set()

    def on_lost(self, reason: str) -> None:
        self.up = False
        self.calls.append(("lost", reason))


def test_bytes_in_order_a_loss_and_a_reopen_by_the_policy():
    transport = ScriptedTransport([b"ab", b"cd", LinkLost("unplugged"), b"ef"])
    owner = Owner(transport, reopen_after=3)  # the port comes back on the third try
    reader = ReaderThread(transport, owner.callbacks(), reconnect=True, reconnect_interval=0.01)
    reader.start()
    deadline = time.monotonic() + 5
    while ("bytes", b"ef") not in owner.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.stop()
    assert not reader.alive
    assert owner.calls == [("bytes", b"ab"), ("bytes", b"cd"), ("lost", "unplugged"), ("reopened",),
                           ("bytes", b"ef")]
    assert owner.reopen_attempts == 3 and owner.idle.is_set()


def test_without_reconnect_the_thread_ends_when_the_link_is_lost():
    transport = ScriptedTransport([LinkLost("gone")])
    owner = Owner(transport)
    reader = ReaderThread(transport, owner.callbacks(), reconnect=False, reconnect_interval=0.01)
    reader.start()
    deadline = time.monotonic() + 2
    while reader.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not reader.alive and owner.calls == [("lost", "gone")] and owner.reopen_attempts == 0


def test_stop_ends_a_silent_reader_within_a_read_timeout():
    transport = ScriptedTransport([])
    reader = ReaderThread(transport, Owner(transport).callbacks(), reconnect=True, reconnect_interval=0.01)
    reader.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    reader.stop()
    assert not reader.alive and time.monotonic() - t0 < 0.5
