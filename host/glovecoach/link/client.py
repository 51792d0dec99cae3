"""`GloveClient`: one glove, as a stream of events on the session timeline.

A background reader thread owns the transport's read side. It decodes frames, checks
continuity, maps device time to host time, places every sample on the **session timeline**
(session sample index, continuous across reconnects and device reboots) and pushes events to
a queue. The consumer calls :meth:`GloveClient.poll`, which never blocks; a slow consumer
never stalls the reader (the queue is unbounded: a consumer that stops polling for minutes
holds the samples in memory rather than losing them).

Commands (``command``, ``start``, ``stop``, ``tare``, ``ping``) are sent from the caller's
thread and wait for the matching ACK/ERROR by token.

Reconnection: when the link is lost the reader emits :class:`LinkDown`, retries opening the
same transport every ``reconnect_interval`` seconds, sends INFO until a HELLO comes back,
emits :class:`LinkUp`, restarts streaming at the session's rate if it was streaming, and
emits one :class:`GapDetected` covering the samples the session did not get. See
docs/link.md for how the gap is sized.

Faults that do not take the link down are handled here too (docs/reliability.md): a frame
received twice or out of order is dropped and counted (:class:`LinkStats`); a glove that stops
sending samples while the link stays up is reported as :class:`LinkStalled` within
``stall_timeout`` seconds; anything invalid a device sends is dropped and reported as a
:class:`DeviceProblem` naming the device and the field, and the reader keeps going.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from glovecoach.clock import ClockFit, ClockMapper, DeviceClockUnwrapper
from glovecoach.link.transport import LinkLost, Transport, make_transport
from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.wire.continuity import ContinuityTracker, Gap, StaleFrame, StreamRestart
from glovecoach.wire.decoder import StreamDecoder
from glovecoach.wire.messages import (
    SAMPLES_FIRST_AFTER_START,
    Ack,
    Command,
    ErrorReply,
    Hello,
    Log,
    SampleBatch,
    Status,
    encode_command,
    shorten,
)

log = logging.getLogger(__name__)

READ_CHUNK = 16384
READ_TIMEOUT_S = 0.05
# A glove sends a SAMPLES frame about every 20 ms at every rate, and the virtual glove's worst
# scheduling hiccup is 250 ms: a second without samples is a stall, not jitter.
STALL_TIMEOUT_S = 1.0
# The same problem from the same device is reported at most this often (each report carries
# how many times it happened), so a broken device cannot flood the consumer.
PROBLEM_REPEAT_S = 5.0
# Keys of a HELLO the host cannot do without (docs/protocol.md 3.1).
REQUIRED_HELLO_KEYS = ("glove_id", "boot_id", "channels")


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SamplesReceived:
    """Rows ``first_index .. first_index + len(raw) - 1`` of the session timeline."""

    first_index: int
    raw: np.ndarray     # (n, channels) uint16
    frames: np.ndarray  # FRAME_DTYPE, one row per wire frame (session index, t_us, host receive time)


@dataclass(frozen=True)
class GapDetected:
    """Session samples ``first_index .. first_index + n_samples - 1`` were not received."""

    first_index: int
    n_samples: int
    reason: str   # "lost_frames", "device_skipped", "link_lost", "device_reset", "stream_restart"
    exact: bool   # False when sized from the host clock rather than device sample counters


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


class DeviceCommandError(Exception):
    """The device answered a command with ERROR."""

    def __init__(self, command: Command | int, code: int, message: str) -> None:
        name = command.name if isinstance(command, Command) else f"0x{int(command):02x}"
        code_name = getattr(code, "name", str(code))
        super().__init__(f"{name} refused by the device: {code_name}: {message}")
        self.command = command
        self.code = code
        self.message = message


class _Pending:
    __slots__ = ("command", "done", "reply")

    def __init__(self, command: Command) -> None:
        self.command = command
        self.done = threading.Event()
        self.reply: Ack | ErrorReply | BaseException | None = None


# ----------------------------------------------------------------------------- client


class GloveClient:
    """Talks to one glove through a transport URL (or an already built :class:`Transport`).

    Typical use::

        with GloveClient("virtual://") as glove:
            hello = glove.connect()
            glove.start(rate_hz=200)
            while ...:
                for event in glove.poll(): ...
    """

    def __init__(self, url_or_transport: str | Transport, *, reconnect: bool = True,
                 reconnect_interval: float = 0.3, hello_retry_s: float = 0.5,
                 stall_timeout: float = STALL_TIMEOUT_S) -> None:
        if isinstance(url_or_transport, Transport):
            self.transport = url_or_transport
        else:
            self.transport = make_transport(url_or_transport)
        self.reconnect = reconnect
        self.reconnect_interval = reconnect_interval
        self.hello_retry_s = hello_retry_s
        self.stall_timeout = stall_timeout
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._io_lock = threading.Lock()        # open/close/write of the transport
        self._state = threading.Condition()     # hello, link state, pending commands
        self._pending: dict[int, _Pending] = {}
        self._tokens = itertools.cycle(range(1, 0xFFFF))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._link_up = False
        self._hello: Hello | None = None
        self._hello_serial = 0
        self._last_status: Status | None = None
        # Host time: monotonic for every computation, reported as Unix time (anchored once).
        self._wall_minus_mono = time.time() - time.monotonic()
        # Reader-thread state.
        self._decoder = StreamDecoder()
        self._boot_id: int | None = None
        self._tracker = ContinuityTracker()
        self._unwrapper = DeviceClockUnwrapper()
        self._clock = ClockMapper()
        self._awaiting_hello = False
        self._held: list[tuple[SampleBatch, float]] = []
        self._next_index = 0          # session index after the last sample emitted
        self._offset: int | None = None  # session index = device sample_index + offset
        self._last_sample_host: float | None = None  # monotonic host time of that last sample
        self._restart_reason: str | None = None
        self._grid_origin_us: float | None = None  # device time of slot 0 of the current stream
        self._gap_reason = "lost_frames"
        # Session layout, fixed by the first valid HELLO: samples that do not fit it are refused.
        self._channels: tuple[str, ...] | None = None
        self._glove_id: str | None = None
        self._adc_max = 0xFFFF
        self._layout_problem: tuple[str, str] | None = None  # (field, message) while a HELLO differs
        self._rejected_since_taken = False
        # Stall watch: monotonic time of the last sign of a healthy stream (samples taken,
        # streaming (re)requested, link back up); set when a LinkStalled was emitted.
        self._progress_at = time.monotonic()
        self._stalled_at: float | None = None
        # Session index where the last stall began, until the gap it caused is reported: a
        # glove that wakes up may first flush the frame it was filling, then skip the slots it
        # slept through, so the gap can come a frame after samples resumed.
        self._stall_from: int | None = None
        self._status_since_progress = False
        self._problems: dict[str, tuple[float, int]] = {}
        self.last_problem: DeviceProblem | None = None
        self._stats = LinkStats()
        self._corrupt_before = 0  # corrupt frames counted by decoders replaced on reconnect
        # Session intent, restored after a reconnect.
        self._want_streaming = False
        self._rate_hz: int | None = None
        self.samples_received = 0
        self.reconnects = 0

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> GloveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the transport and start the reader thread (``connect`` does this)."""
        if self._thread is not None:
            return
        with self._io_lock:
            self.transport.open()
        self._link_up = True
        self._awaiting_hello = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"glove-reader {self.transport.name}",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the reader and close the transport (does not send STOP: the caller decides)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
        with self._io_lock:
            self.transport.close()
        self._fail_pending(LinkLost("client closed"))

    # -- state -----------------------------------------------------------------------------
    @property
    def hello(self) -> Hello | None:
        return self._hello

    @property
    def link_up(self) -> bool:
        return self._link_up

    @property
    def rate_hz(self) -> int | None:
        """The session's sample rate (set by the first ``start``)."""
        return self._rate_hz

    @property
    def last_status(self) -> Status | None:
        return self._last_status

    @property
    def channels(self) -> tuple[str, ...] | None:
        """The session's channel ids (from the first valid HELLO); samples must match them."""
        return self._channels

    @property
    def link_state(self) -> str:
        """``"down"`` (reconnecting), ``"connecting"`` (waiting for HELLO), ``"stalled"`` (up,
        but no samples although streaming was asked for) or ``"up"``."""
        if not self._link_up:
            return "down"
        if self._awaiting_hello:
            return "connecting"
        return "stalled" if self._stalled_at is not None else "up"

    @property
    def stats(self) -> LinkStats:
        """A snapshot of the session's :class:`LinkStats`."""
        stats = dataclasses.replace(self._stats)
        stats.corrupt_frames = self._corrupt_before + self._decoder.stats.corrupt_frames
        stats.reconnects = self.reconnects
        return stats

    @property
    def decoder_stats(self):
        return self._decoder.stats

    @property
    def continuity(self) -> ContinuityTracker:
        """Loss counters (frames lost, samples missing, restarts) of the current boot."""
        return self._tracker

    def clock_fit(self) -> ClockFit | None:
        """Current device→host clock fit (monotonic host seconds)."""
        return self._clock.fit()

    def measured_rate_hz(self) -> float | None:
        """Sample rate in host-clock terms: nominal rate / fitted clock slope (None until fit)."""
        fit = self._clock.fit()
        if fit is None or self._rate_hz is None or fit.span_s < self._clock.min_span_s:
            return None
        return self._rate_hz / fit.slope

    def host_time(self, monotonic_s: float) -> float:
        """Unix time of a monotonic host time."""
        return monotonic_s + self._wall_minus_mono

    # -- events ----------------------------------------------------------------------------
    def poll(self) -> list[Event]:
        """Every event since the last call, in order; never blocks."""
        out: list[Event] = []
        try:
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            return out

    def wait_event(self, timeout: float) -> Event | None:
        """The next event, waiting up to ``timeout`` (for simple consumers and tests)."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    # -- commands --------------------------------------------------------------------------
    def command(self, cmd: Command, timeout: float = 1.0, **args: int) -> Ack:
        """Send one command and wait for its ACK.

        Raises :class:`DeviceCommandError` on ERROR, :class:`TimeoutError` if no reply comes
        within ``timeout``, :class:`LinkLost` if the link is down or drops meanwhile.
        """
        if self._thread is None:
            raise LinkLost("not connected: call connect() first")
        cmd = Command(cmd)
        pending = _Pending(cmd)
        with self._state:
            token = next(self._tokens)
            while token in self._pending:
                token = next(self._tokens)
            self._pending[token] = pending
        try:
            self._write(encode_command(cmd, token, **args))
            if not pending.done.wait(timeout):
                raise TimeoutError(f"{cmd.name}: no reply from {self.transport.name} within {timeout:.2f} s")
        finally:
            with self._state:
                self._pending.pop(token, None)
        reply = pending.reply
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ErrorReply):
            raise DeviceCommandError(cmd, reply.code, reply.message)
        assert isinstance(reply, Ack)
        return reply

    def connect(self, timeout: float = 5.0) -> Hello:
        """Open the link if needed and return a fresh HELLO (sends INFO until one arrives)."""
        self.open()
        deadline = time.monotonic() + timeout
        with self._state:
            serial_before = self._hello_serial
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                said = (f"; it sent an invalid message: {self.last_problem.field}: {self.last_problem.message}"
                        if self.last_problem is not None else "")
                raise TimeoutError(f"no HELLO from {self.transport.name} within {timeout:.1f} s "
                                   f"(is it a glovecoach glove? is the firmware running?){said}")
            try:
                # A booting glove may not read its input yet: retry INFO until it answers.
                self.command(Command.INFO, timeout=min(self.hello_retry_s, remaining))
            except TimeoutError:
                pass
            with self._state:
                self._state.wait_for(lambda: self._hello_serial > serial_before,
                                     timeout=max(0.0, min(0.5, deadline - time.monotonic())))
                if self._hello_serial > serial_before:
                    assert self._hello is not None
                    return self._hello

    def start(self, rate_hz: int = 200, timeout: float = 1.0) -> Ack:
        """Stream at ``rate_hz`` (SET_RATE then START; stops a running stream first)."""
        if self._rate_hz is not None and rate_hz != self._rate_hz and self.samples_received:
            raise ValueError(f"this session records at {self._rate_hz} Hz; a session has one rate "
                             f"(start a new client for {rate_hz} Hz)")
        status = self._last_status
        hello = self._hello
        streaming = (status.streaming if status is not None
                     else bool(hello and hello.info.get("streaming")))
        if streaming:
            self.command(Command.STOP, timeout=timeout)
        self.command(Command.SET_RATE, timeout=timeout, rate_hz=rate_hz)
        self._rate_hz = rate_hz
        self._progress_at = time.monotonic()
        self._want_streaming = True
        ack = self.command(Command.START, timeout=timeout)
        self._progress_at = max(self._progress_at, time.monotonic())  # the stall clock starts now
        return ack

    def stop(self, timeout: float = 1.0) -> Ack:
        self._want_streaming = False
        return self.command(Command.STOP, timeout=timeout)

    def tare(self, n: int = 64, timeout: float = 3.0) -> Ack:
        return self.command(Command.TARE, timeout=timeout, n=n)

    def ping(self, nonce: int | None = None, timeout: float = 1.0) -> tuple[Ack, float]:
        """PING; returns the ACK and the round-trip time in seconds."""
        nonce = int(time.monotonic_ns() & 0xFFFFFFFF) if nonce is None else nonce
        t0 = time.monotonic()
        ack = self.command(Command.PING, timeout=timeout, nonce=nonce)
        return ack, time.monotonic() - t0

    # -- internals: writing ------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        with self._io_lock:
            if not self._link_up or not self.transport.is_open:
                raise LinkLost(f"{self.transport.name}: link is down")
            self.transport.write(data)

    def _fail_pending(self, exc: BaseException) -> None:
        with self._state:
            for pending in self._pending.values():
                pending.reply = exc
                pending.done.set()

    def _emit(self, event: Event) -> None:
        self._events.put(event)

    # -- internals: reader thread ------------------------------------------------------------
    def _run(self) -> None:
        next_info = 0.0
        while not self._stop.is_set():
            if not self._link_up:
                if not self.reconnect or not self._try_reopen():
                    if not self.reconnect:
                        return
                    self._stop.wait(self.reconnect_interval)
                    continue
                next_info = 0.0
            try:
                if self._awaiting_hello and self.reconnects and time.monotonic() >= next_info:
                    # After a reconnect, ask who is there (the boot HELLO may have been missed).
                    with self._io_lock:
                        self.transport.write(encode_command(Command.INFO, 0xFFFE))
                    next_info = time.monotonic() + self.hello_retry_s
                data = self.transport.read(READ_CHUNK, READ_TIMEOUT_S)
            except LinkLost as exc:
                self._lose_link(str(exc))
                continue
            if data:
                self._receive(data, time.monotonic())
            # Every pass, data or not: a hung glove sends nothing, so silence must be noticed here.
            self._check_stall(time.monotonic())

    def _receive(self, data: bytes, received: float) -> None:
        try:
            messages = self._decoder.feed(data)
        except Exception:  # a decoder bug must not kill the reader: log, drop, go on
            log.exception("decoder failed on %d bytes", len(data))
            return
        for error in self._decoder.take_device_errors():
            self._problem(error.field or error.reason.value, error.detail)
        for message in messages:
            try:
                self._handle(message, received)
            except Exception as exc:  # a host bug must not kill the reader either; say so
                log.exception("failed to handle %r", message)
                self._problem(type(message).__name__, f"could not be handled: {type(exc).__name__}: {exc}")

    def _device_name(self) -> str:
        return f"glove {self._glove_id} on {self.transport.name}" if self._glove_id else self.transport.name

    def _problem(self, field: str, message: str) -> None:
        """Count and report something invalid the device sent (at most every PROBLEM_REPEAT_S
        per field, with the number of times since the last report)."""
        self._stats.device_errors += 1
        now = time.monotonic()
        last = self._problems.get(field)
        if last is not None and now - last[0] < PROBLEM_REPEAT_S:
            self._problems[field] = (last[0], last[1] + 1)
            return
        problem = DeviceProblem(self._device_name(), field, printable(message), 1 + (last[1] if last else 0))
        self._problems[field] = (now, 0)
        self.last_problem = problem
        log.warning("%s", problem)
        self._emit(problem)

    def _check_stall(self, now: float) -> None:
        if (self._stalled_at is not None or not self._want_streaming or not self._link_up
                or self._awaiting_hello):
            return
        silent = now - self._progress_at
        if silent < self.stall_timeout:
            return
        self._stalled_at = self._progress_at
        self._stall_from = self._next_index
        self._stats.stalls += 1
        status = self._last_status
        # A heuristic for the user: STATUS comes once a second, so one may or may not have
        # arrived since the last frame even from a live glove.
        if self._rejected_since_taken:
            reason = "samples arrive but are refused: see the device problem reported"
        elif not self._status_since_progress:
            reason = "no samples and no STATUS: the glove's firmware may have stopped"
        elif status is not None and not status.streaming:
            reason = "no samples: the glove stopped streaming by itself"
        else:
            reason = "the glove sends STATUS but no samples: its sampling is stuck"
        log.warning("%s: stalled: %s", self._device_name(), reason)
        self._emit(LinkStalled(self._next_index, silent, reason))

    def _lose_link(self, reason: str) -> None:
        with self._io_lock:
            self._link_up = False
            self.transport.close()
        self._stalled_at = self._stall_from = None  # the link being down says more than the stall did
        self._emit(LinkDown(reason))
        self._fail_pending(LinkLost(reason))

    def _try_reopen(self) -> bool:
        try:
            with self._io_lock:
                self.transport.open()
                self._link_up = True
        except LinkLost:
            return False
        self._corrupt_before += self._decoder.stats.corrupt_frames
        self._decoder = StreamDecoder()  # bytes before the first delimiter are a fresh start
        self._awaiting_hello = True
        self._held.clear()
        self.reconnects += 1
        return True

    def _handle(self, message: Any, received: float) -> None:
        if isinstance(message, SampleBatch):
            if self._awaiting_hello and self.reconnects:
                # Until HELLO says which boot this is, we cannot place these samples.
                self._held.append((message, received))
            elif self._channels is not None:
                self._on_samples(message, received)
            # else: before the first HELLO there is no session layout to check them against
        elif isinstance(message, (Ack, ErrorReply)):
            with self._state:
                pending = self._pending.get(message.token)
            if pending is not None:
                pending.reply = message
                pending.done.set()
        elif isinstance(message, Hello):
            self._on_hello(message)
        elif isinstance(message, Status):
            # A reboot seen in STATUS while the link stays up (a watchdog reset). After a
            # reconnect the HELLO decides, so that the gap's reason is set in one place.
            if (self._boot_id is not None and message.boot_id != self._boot_id
                    and not self._awaiting_hello):
                self._new_boot(message.boot_id)
            self._last_status = message
            self._status_since_progress = True
            if not self._awaiting_hello:
                stamp = self._unwrapper.unwrap(message.t_us)
                self._clock.add(stamp / 1e6, np.array([received]))
            self._emit(StatusReceived(message, self.host_time(received)))
        elif isinstance(message, Log):
            self._emit(DeviceLog(int(message.level), printable(message.message)))

    def _new_boot(self, boot_id: int) -> None:
        """The device rebooted: its counters and clock restarted; ours must too."""
        self._boot_id = boot_id
        self._last_status = None
        self._tracker = ContinuityTracker()
        self._unwrapper = DeviceClockUnwrapper()
        self._clock = ClockMapper()
        self._restart_reason = "device_reset"
        if self._want_streaming and not self._awaiting_hello:
            self._restart_streaming_async()

    def _check_layout(self, hello: Hello) -> bool:
        """Whether ``hello`` can be used; fixes the session layout from the first one and
        notes when a later one differs (its samples are then refused)."""
        missing = [key for key in REQUIRED_HELLO_KEYS if key not in hello.info]
        if missing:
            self._problem(missing[0], f"HELLO has no {missing[0]!r} (ignored)")
            return False
        channels, glove = tuple(hello.channels), hello.glove_id
        if self._channels is None:
            self._channels, self._glove_id = channels, glove
            self._adc_max = int(hello.info.get("adc_max") or 0xFFFF)
            return True
        if glove != self._glove_id:
            self._layout_problem = ("glove_id", f"HELLO names glove {shorten(glove)}, but this session records "
                                                f"glove {self._glove_id}: its samples are refused")
        elif channels != self._channels:
            self._layout_problem = ("channels", f"HELLO lists {len(channels)} channels {shorten(list(channels))}, "
                                                f"this session records {len(self._channels)}: samples are refused "
                                                "until the glove reports the session's channels again")
        else:
            self._layout_problem = None
        if self._layout_problem is not None:
            self._problem(*self._layout_problem)
        return True

    def _on_hello(self, hello: Hello) -> None:
        if not self._check_layout(hello):
            return
        rebooted = self._boot_id is not None and hello.boot_id != self._boot_id
        reconnected = self._awaiting_hello and self.reconnects > 0
        first = self._boot_id is None
        if first:
            self._boot_id = hello.boot_id
        elif rebooted:
            self._new_boot(hello.boot_id)
        was_awaiting = self._awaiting_hello
        self._awaiting_hello = False
        with self._state:
            self._hello = hello
            self._hello_serial += 1
            self._state.notify_all()
        if was_awaiting:
            self._progress_at = time.monotonic()
            self._emit(LinkUp(hello, reconnected))
        if reconnected:
            held, self._held = self._held, []
            still_streaming = (not rebooted and bool(hello.info.get("streaming"))
                               and hello.info.get("rate_hz") == self._rate_hz)
            if still_streaming:
                # Same boot, still streaming: the device's counters tell exactly what we missed.
                self._gap_reason = "link_lost"
                for batch, received in held:
                    self._on_samples(batch, received)
            elif self._want_streaming:
                if not rebooted:
                    self._restart_reason = self._restart_reason or "stream_restart"
                self._restart_streaming_async()
        elif rebooted and self._want_streaming:
            pass  # _new_boot already restarted the stream

    def _restart_streaming_async(self) -> None:
        rate = self._rate_hz or 200

        def restart() -> None:
            for _ in range(3):
                try:
                    self.start(rate)
                    return
                except (TimeoutError, DeviceCommandError) as exc:
                    log.warning("restarting the stream after reconnect: %s", exc)
                except LinkLost:
                    return  # the next reconnect tries again
            self._emit(DeviceLog(2, f"host: could not restart streaming at {rate} Hz"))

        threading.Thread(target=restart, name="glove-restart", daemon=True).start()

    def _reject(self, n_frames: int, field: str, message: str) -> None:
        self._stats.rejected_frames += n_frames
        self._rejected_since_taken = True
        self._problem(field, message)

    def _on_samples(self, batch: SampleBatch, received: float) -> None:
        # What the device sends must fit the session before it is placed: the HELLO's channels,
        # values within the ADC's range. A frame that does not is dropped whole and reported.
        assert self._channels is not None
        if self._layout_problem is not None:
            self._reject(batch.n_frames, *self._layout_problem)
            return
        if batch.n_channels != len(self._channels):
            self._reject(batch.n_frames, "n_channels", f"SAMPLES with {batch.n_channels} channels, but the HELLO "
                                                       f"listed {len(self._channels)}: dropped")
            return
        if batch.n_samples and int(batch.raw.max()) > self._adc_max:
            frame_max = np.maximum.reduceat(batch.raw.max(axis=1), batch.frame_rows)
            bad = frame_max > self._adc_max
            self._reject(int(bad.sum()), "raw", f"value {int(frame_max.max())} above adc_max {self._adc_max} "
                                                f"in {int(bad.sum())} SAMPLES frame(s): dropped")
            batch = batch.select(~bad)
            if batch.n_frames == 0:
                return
        found = self._tracker.update(batch)
        stale = [f for f in found if isinstance(f, StaleFrame)]
        findings = [f for f in found if not isinstance(f, StaleFrame)]
        if stale:
            # Received twice, or overtaken by later frames: their slots are already placed (or
            # already declared a gap). Placing them again would shift every later sample.
            duplicates = sum(f.duplicate for f in stale)
            self._stats.duplicates += duplicates
            self._stats.out_of_order += len(stale) - duplicates
            keep = np.ones(batch.n_frames, dtype=bool)
            keep[[f.frame for f in stale]] = False
            position = np.cumsum(keep) - 1
            findings = [dataclasses.replace(f, frame=int(position[f.frame])) for f in findings]
            batch = batch.select(keep)
            if batch.n_frames == 0:
                return
        # Split the batch into runs of consecutive grid slots of one stream (a START or a
        # lost frame inside a batch breaks it), so every SamplesReceived is contiguous.
        index = batch.sample_index.astype(np.int64)
        breaks = (index[1:] != index[:-1] + batch.n_per_frame[:-1]) | (
            (batch.flags[1:] & SAMPLES_FIRST_AFTER_START) != 0)
        at: dict[int, list[Gap | StreamRestart]] = {}
        for finding in findings:
            at.setdefault(finding.frame, []).append(finding)
        cuts = set((np.flatnonzero(breaks) + 1).tolist()) | (set(at) - {0})
        bounds = [0, *sorted(cuts), batch.n_frames]
        for a, b in zip(bounds[:-1], bounds[1:]):
            part = batch if (a, b) == (0, batch.n_frames) else batch.frames(a, b)
            self._on_stream_part(part, received, at.get(a, []))

    def _on_stream_part(self, part: SampleBatch, received: float,
                        findings: list[Gap | StreamRestart]) -> None:
        if self._rate_hz is None:
            # Streaming we did not start (a device already streaming): take its rate.
            self._rate_hz = int(self._hello.info.get("rate_hz", 200)) if self._hello else 200
        rate = self._rate_hz
        period_us = 1e6 / rate
        new_stream = (self._offset is None or bool(part.flags[0] & SAMPLES_FIRST_AFTER_START)
                      or any(isinstance(f, StreamRestart) for f in findings)
                      # Slots already placed (a tracker reset by a new boot_id, then frames of the
                      # old stream): never overlap the timeline; place them by the host clock.
                      or int(part.sample_index[0]) + self._offset < self._next_index)
        # Device time of each sample = its slot on the device's grid. The firmware samples on a
        # deadline schedule and stamps a frame with the time its first sample was actually
        # taken: never before the slot's deadline, sometimes up to a period after it. So the
        # grid origin is the smallest (stamp - slot * period) seen in this stream; using the
        # raw stamps instead would put late-stamped pairs below the clock's true envelope.
        t_first = self._unwrapper.unwrap(part.t_us).astype(np.float64)
        slots = part.sample_index.astype(np.float64)
        origin = float(np.min(t_first - slots * period_us))
        if new_stream or self._grid_origin_us is None or origin < self._grid_origin_us:
            self._grid_origin_us = origin
        due_first = self._grid_origin_us + slots * period_us
        due_last = due_first + (part.n_per_frame.astype(np.float64) - 1) * period_us
        # A frame is sent once its last sample is taken: (due_last, received) bounds the clock.
        self._clock.add(due_last / 1e6, np.full(part.n_frames, received))
        first_device = int(part.sample_index[0])
        if new_stream:
            if self._offset is None and self._last_sample_host is None:
                self._offset = -first_device  # the session starts with the first sample seen
            else:
                first_host = float(self._clock.to_host(due_first[0] / 1e6))
                assert self._last_sample_host is not None
                missing = max(0, int(round((first_host - self._last_sample_host) * rate)) - 1)
                self._offset = self._next_index + missing - first_device
                if missing:
                    self._emit(GapDetected(self._next_index, missing,
                                           self._restart_reason or "stream_restart", exact=False))
            self._restart_reason = None
            self._stall_from = None  # a new stream: the gap above says why
        else:
            assert self._offset is not None
            lost_frames = sum(f.lost_frames for f in findings if isinstance(f, Gap))
            self._stats.lost_frames += lost_frames
            # The gap is whatever lies between the last sample placed and this one, on the
            # device's own slot counter (exact). Taken from the timeline rather than from the
            # tracker's findings, so that no hole is left unreported even where the tracker
            # was reset in between (a boot_id change seen in STATUS).
            missing = first_device + self._offset - self._next_index
            if missing > 0:
                if self._stall_from is not None:
                    reason = "stalled"  # the glove went silent and came back: exact from its slots
                    self._stall_from = None
                elif self._gap_reason == "link_lost":
                    reason = "link_lost"
                elif self._rejected_since_taken:
                    reason = "rejected_frames"
                else:
                    reason = "lost_frames" if lost_frames else "device_skipped"
                self._emit(GapDetected(self._next_index, missing, reason, exact=True))
        self._gap_reason = "lost_frames"
        self._rejected_since_taken = False
        offset = self._offset
        frames = np.empty(part.n_frames, dtype=FRAME_DTYPE)
        frames["sample_index"] = part.sample_index.astype(np.int64) + offset
        frames["t_us"] = part.t_us
        frames["host_time"] = received + self._wall_minus_mono
        first_index = first_device + offset
        if self._stalled_at is not None:
            self._emit(LinkResumed(received - self._stalled_at))
            self._stalled_at = None
        elif self._stall_from is not None and first_index - self._stall_from > rate:
            self._stall_from = None  # a second of samples after the stall and no gap: none to label
        self._progress_at = max(self._progress_at, received)
        self._status_since_progress = False
        self._emit(SamplesReceived(first_index, part.raw, frames))
        self._next_index = int(frames["sample_index"][-1]) + int(part.n_per_frame[-1])
        self._last_sample_host = float(self._clock.to_host(due_last[-1] / 1e6))
        self.samples_received += part.n_samples
