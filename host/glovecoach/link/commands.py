"""Commands and their replies: each command gets a token, and the ACK or ERROR carrying that
token answers it (docs/protocol.md 3.2).

:class:`CommandMatcher` is the bookkeeping only: the caller's thread registers a command and
waits; the reader thread hands every ACK/ERROR it decodes to :meth:`CommandMatcher.resolve`.
Replies may come in any order (each finds its command by token), a reply that comes after
its command gave up is ignored, and a lost reply is a :class:`TimeoutError` naming the
command. No I/O here: the coordinator writes the bytes, so this is tested alone
(tests/link/test_commands.py).
"""

from __future__ import annotations

import itertools
import threading

from glovecoach.wire.messages import Ack, Command, ErrorReply

# Token 0xFFFF is what a device uses when it cannot read the command's token (a frame too damaged
# to decode), and 0xFFFE is the reader's own INFO after a reconnect: neither is handed out here.
_TOKENS = range(1, 0xFFFE)


class DeviceCommandError(Exception):
    """The device answered a command with ERROR."""

    def __init__(self, command: Command | int, code: int, message: str) -> None:
        name = command.name if isinstance(command, Command) else f"0x{int(command):02x}"
        code_name = getattr(code, "name", str(code))
        super().__init__(f"{name} refused by the device: {code_name}: {message}")
        self.command = command
        self.code = code
        self.message = message


class PendingCommand:
    """One command waiting for its reply."""

    __slots__ = ("command", "token", "done", "reply")

    def __init__(self, command: Command, token: int) -> None:
        self.command = command
        self.token = token
        self.done = threading.Event()
        self.reply: Ack | ErrorReply | BaseException | None = None

    def settle(self, reply: Ack | ErrorReply | BaseException) -> None:
        self.reply = reply
        self.done.set()


class CommandMatcher:
    """Tokens for commands in flight, and the reply that settles each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, PendingCommand] = {}
        self._tokens = itertools.cycle(_TOKENS)

    def register(self, command: Command) -> PendingCommand:
        """A fresh token for ``command`` (never one still in flight)."""
        with self._lock:
            token = next(self._tokens)
            while token in self._pending:
                token = next(self._tokens)
            pending = PendingCommand(Command(command), token)
            self._pending[token] = pending
            return pending

    def resolve(self, reply: Ack | ErrorReply) -> bool:
        """Settle the command ``reply`` answers; False if none waits for its token (a reply
        that came after its command timed out, or one meant for another host)."""
        with self._lock:
            pending = self._pending.get(reply.token)
        if pending is None:
            return False
        pending.settle(reply)
        return True

    def wait(self, pending: PendingCommand, timeout: float, device: str = "the device") -> Ack:
        """The ACK of ``pending``; raises :class:`DeviceCommandError` on ERROR,
        :class:`TimeoutError` when no reply comes within ``timeout``, and whatever exception
        :meth:`fail_all` settled it with. The token is released in every case."""
        try:
            if not pending.done.wait(timeout):
                raise TimeoutError(f"{pending.command.name}: no reply from {device} within {timeout:.2f} s")
        finally:
            self.release(pending)
        reply = pending.reply
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ErrorReply):
            raise DeviceCommandError(pending.command, reply.code, reply.message)
        assert isinstance(reply, Ack)
        return reply

    def release(self, pending: PendingCommand) -> None:
        with self._lock:
            if self._pending.get(pending.token) is pending:
                del self._pending[pending.token]

    def fail_all(self, exc: BaseException) -> None:
        """Settle every command in flight with ``exc`` (the link went down: no reply will come)."""
        with self._lock:
            pending = list(self._pending.values())
        for p in pending:
            p.settle(exc)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)
