"""`GloveClient`: one glove, as a stream of events on the session timeline.

The client coordinates pieces that each do one job and are tested alone:

* :class:`~glovecoach.link.reader.ReaderThread` reads the transport on a background thread
  (a transport that pushes its bytes, one room's shared MQTT connection, gets a
  :class:`~glovecoach.link.reader.PushedReader` instead)
  and hands the bytes over; the client decodes them (:class:`StreamDecoder`) there;
* :class:`~glovecoach.link.session_layout.SessionLayout` checks every SAMPLES frame against the
  session's HELLO (channels, ADC range);
* :class:`~glovecoach.link.session_timeline.SessionTimeline` places samples on the **session
  timeline** (session sample index, continuous across reconnects and device reboots), sizes
  the gaps and fits the device clock;
* :class:`~glovecoach.link.commands.CommandMatcher` matches ACK/ERROR replies to the commands
  (``command``, ``start``, ``stop``, ``tare``, ``ping``) sent from the caller's thread;
* :class:`~glovecoach.link.reconnect.Reconnection` and
  :class:`~glovecoach.link.reconnect.StallWatch` follow the link's health.

Events go to a queue; the consumer calls :meth:`GloveClient.poll`, which never blocks; a slow
consumer never stalls the reader (the queue is unbounded: a consumer that stops polling for
minutes holds the samples in memory rather than losing them).

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
import logging
import queue
import threading
import time
from typing import Any

from glovecoach.link.commands import CommandMatcher, DeviceCommandError
from glovecoach.link.device_clock import ClockFit
from glovecoach.link.events import (
    DeviceLog,
    DeviceProblem,
    Event,
    GapDetected,
    InstructorNote,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkStats,
    LinkUp,
    SamplesReceived,
    StatusReceived,
    printable,
)
from glovecoach.link.reader import READ_CHUNK, READ_TIMEOUT_S, PushedReader, ReaderCallbacks, ReaderThread, start_reader
from glovecoach.link.reconnect import Reconnection, ReconnectPolicy, StallWatch
from glovecoach.link.session_layout import REQUIRED_HELLO_KEYS, SessionLayout
from glovecoach.link.session_timeline import SessionTimeline
from glovecoach.link.transport import LinkLost, Transport, make_transport
from glovecoach.wire.continuity import ContinuityTracker
from glovecoach.wire.decoder import StreamDecoder
from glovecoach.wire.messages import (
    Ack,
    Command,
    ErrorReply,
    Hello,
    Log,
    SampleBatch,
    Status,
    encode_command,
)

__all__ = [
    "DeviceCommandError", "DeviceLog", "DeviceProblem", "Event", "GapDetected", "GloveClient", "LinkDown",
    "LinkResumed", "LinkStalled", "LinkStats", "LinkUp", "SamplesReceived", "StatusReceived", "printable",
    "READ_CHUNK", "READ_TIMEOUT_S", "REQUIRED_HELLO_KEYS", "STALL_TIMEOUT_S", "PROBLEM_REPEAT_S",
]

log = logging.getLogger(__name__)

# A glove sends a SAMPLES frame about every 20 ms at every rate, and the virtual glove's worst
# scheduling hiccup is 250 ms: a second without samples is a stall, not jitter.
STALL_TIMEOUT_S = 1.0
# The same problem from the same device is reported at most this often (each report carries
# how many times it happened), so a broken device cannot flood the consumer.
PROBLEM_REPEAT_S = 5.0
# Token of the INFO the reader sends after a reconnect (the matcher never hands it out).
_RECONNECT_INFO_TOKEN = 0xFFFE


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
        # an instructor's marks and messages, where the transport brings them (a broker's)
        self.transport.on_note = lambda kind, payload: self._emit(
            InstructorNote(kind, payload, self.host_time(time.monotonic())))
        self.transport.on_problem = self._problem
        self._io_lock = threading.Lock()        # open/close/write of the transport
        self._hello_changed = threading.Condition()
        self._commands = CommandMatcher()
        self._reader: ReaderThread | PushedReader | None = None
        self._link = Reconnection(ReconnectPolicy(hello_retry_s=hello_retry_s))
        self._hello: Hello | None = None
        self._hello_serial = 0
        self._last_status: Status | None = None
        # Host time: monotonic for every computation, reported as Unix time (anchored once).
        self._wall_minus_mono = time.time() - time.monotonic()
        # Reader-thread state.
        self._decoder = StreamDecoder()
        self._boot_id: int | None = None
        self._layout = SessionLayout()
        self._timeline = SessionTimeline(self._wall_minus_mono)
        self._stall = StallWatch(stall_timeout, time.monotonic())
        self._problems: dict[str, tuple[float, int]] = {}
        self.last_problem: DeviceProblem | None = None
        self._stats = LinkStats()
        self._corrupt_before = 0  # corrupt frames counted by decoders replaced on reconnect
        # Session intent, restored after a reconnect.
        self._want_streaming = False
        self._rate_hz: int | None = None
        self._restarting = threading.Event()   # a restart of the stream is on its way

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> GloveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the transport and start the reader thread (``connect`` does this)."""
        if self._reader is not None:
            return
        with self._io_lock:
            self.transport.open()
        self._link.opened()
        callbacks = ReaderCallbacks(link_is_up=lambda: self._link.link_up, reopen=self._reopen,
                                    before_read=self._before_read, on_bytes=self._receive,
                                    on_idle=self._check_stall, on_lost=self._lose_link)
        self._reader = start_reader(self.transport, callbacks, reconnect=self.reconnect,
                                    reconnect_interval=self.reconnect_interval)

    def close(self) -> None:
        """Stop the reader and close the transport (does not send STOP: the caller decides)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()
        with self._io_lock:
            self.transport.close()
        self._commands.fail_all(LinkLost("client closed"))

    # -- state -----------------------------------------------------------------------------
    @property
    def hello(self) -> Hello | None:
        return self._hello

    @property
    def link_up(self) -> bool:
        return self._link.link_up

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
        return self._layout.channels

    @property
    def link_state(self) -> str:
        """``"down"`` (reconnecting), ``"connecting"`` (waiting for HELLO), ``"stalled"`` (up,
        but no samples although streaming was asked for) or ``"up"``."""
        state = self._link.state
        if state == "up" and self._stall.stalled_at is not None:
            return "stalled"
        return state

    @property
    def reader_alive(self) -> bool:
        """Whether the reader thread is running (it survives anything a device sends)."""
        return self._reader is not None and self._reader.alive

    @property
    def samples_received(self) -> int:
        return self._timeline.samples

    @property
    def reconnects(self) -> int:
        return self._link.reconnects

    @property
    def stats(self) -> LinkStats:
        """A snapshot of the session's :class:`LinkStats`."""
        timeline = self._timeline
        return dataclasses.replace(
            self._stats, duplicates=timeline.duplicates, out_of_order=timeline.out_of_order,
            lost_frames=timeline.lost_frames,
            corrupt_frames=self._corrupt_before + self._decoder.stats.corrupt_frames,
            reconnects=self.reconnects)

    @property
    def decoder_stats(self):
        return self._decoder.stats

    @property
    def continuity(self) -> ContinuityTracker:
        """Loss counters (frames lost, samples missing, restarts) of the current boot."""
        return self._timeline.tracker

    def clock_fit(self) -> ClockFit | None:
        """Current device→host clock fit (monotonic host seconds)."""
        return self._timeline.clock.fit()

    def measured_rate_hz(self) -> float | None:
        """Sample rate in host-clock terms: nominal rate / fitted clock slope (None until fit)."""
        clock = self._timeline.clock
        fit = clock.fit()
        if fit is None or self._rate_hz is None or fit.span_s < clock.min_span_s:
            return None
        return self._rate_hz / fit.slope

    def host_time(self, monotonic_s: float) -> float:
        """Unix time of a monotonic host time."""
        return monotonic_s + self._wall_minus_mono

    # -- events ----------------------------------------------------------------------------
    def poll(self) -> list[Event]:
        """Every event since the last call, in order; never blocks."""
        if self._events.empty():
            return []   # most polls of a room's 36 clients every 10 ms: no exception raised and caught
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
        if self._reader is None:
            raise LinkLost("not connected: call connect() first")
        pending = self._commands.register(Command(cmd))
        try:
            self._write(encode_command(pending.command, pending.token, **args))
        except BaseException:
            self._commands.release(pending)
            raise
        return self._commands.wait(pending, timeout, self.transport.name)

    def connect(self, timeout: float = 5.0) -> Hello:
        """Open the link if needed and return a fresh HELLO (sends INFO until one arrives)."""
        self.open()
        deadline = time.monotonic() + timeout
        with self._hello_changed:
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
            with self._hello_changed:
                self._hello_changed.wait_for(lambda: self._hello_serial > serial_before,
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
        self._stall.reset(time.monotonic())
        self._want_streaming = True
        self._timeline.stream_wanted()
        ack = self.command(Command.START, timeout=timeout)
        self._stall.restart_clock(time.monotonic())  # the stall clock starts now
        return ack

    def join_stream(self) -> int:
        """Make the device's running stream this session's own without restarting it (another
        screen started it; a START would restart it under that screen): from now on streaming
        is wanted, as after `start`, so silence counts as a stall and a reboot or a reconnect
        that finds the stream stopped restarts it, even once the other screen has gone.
        Returns the stream's rate; ValueError if the last HELLO says it is not streaming."""
        hello = self._hello
        if hello is None or not hello.info.get("streaming") or not hello.info.get("rate_hz"):
            raise ValueError(f"{self._device_name()} is not streaming (its last HELLO says so): "
                             f"start it instead of joining")
        rate = int(hello.info["rate_hz"])
        if self._rate_hz is not None and rate != self._rate_hz and self.samples_received:
            raise ValueError(f"this session records at {self._rate_hz} Hz; the device streams at {rate} Hz")
        self._rate_hz = rate
        self._want_streaming = True
        self._timeline.stream_wanted()
        self._stall.restart_clock(time.monotonic())
        return rate

    def stop(self, timeout: float = 1.0) -> Ack:
        """STOP the stream. The frames already on their way are still placed; a stream another
        screen of the same device starts after this is not this session's, so it is not placed
        (until `start` or `join_stream` again)."""
        self._want_streaming = False
        self._timeline.stream_stopped()
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
            if not self._link.link_up or not self.transport.is_open:
                raise LinkLost(f"{self.transport.name}: link is down")
            self.transport.write(data)

    def _emit(self, event: Event) -> None:
        self._events.put(event)

    # -- the reader thread's calls (ReaderCallbacks) -----------------------------------------
    def _reopen(self) -> bool:
        try:
            with self._io_lock:
                self.transport.open()
        except LinkLost:
            return False
        self._corrupt_before += self._decoder.stats.corrupt_frames
        self._decoder = StreamDecoder()  # bytes before the first delimiter are a fresh start
        self._link.reopened()
        return True

    def _before_read(self, now: float) -> None:
        if self._link.info_due(now):
            # After a reconnect, ask who is there (the boot HELLO may have been missed).
            with self._io_lock:
                self.transport.write(encode_command(Command.INFO, _RECONNECT_INFO_TOKEN))

    def _lose_link(self, reason: str) -> None:
        with self._io_lock:
            self._link.lost()
            self.transport.close()
        self._stall.clear()
        self._timeline.forget_stall()
        self._emit(LinkDown(reason))
        self._commands.fail_all(LinkLost(reason))

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

    def _check_stall(self, now: float) -> None:
        watching = self._want_streaming and self._link.state == "up"
        silent = self._stall.check(now, watching)
        if silent is None:
            return
        first_index = self._timeline.stall_began()
        self._stats.stalls += 1
        status = self._last_status
        # A heuristic for the user: STATUS comes once a second, so one may or may not have
        # arrived since the last frame even from a live glove.
        if self._timeline.rejected_since_taken:
            reason = "samples arrive but are refused: see the device problem reported"
        elif not self._stall.status_since_progress:
            reason = "no samples and no STATUS: the glove's firmware may have stopped"
        elif status is not None and not status.streaming:
            reason = "no samples: the glove stopped streaming by itself"
        else:
            reason = "the glove sends STATUS but no samples: its sampling is stuck"
        log.warning("%s: stalled: %s", self._device_name(), reason)
        self._emit(LinkStalled(first_index, silent, reason))

    # -- internals: messages ------------------------------------------------------------------
    def _device_name(self) -> str:
        glove = self._layout.glove_id
        return f"glove {glove} on {self.transport.name}" if glove else self.transport.name

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

    def _handle(self, message: Any, received: float) -> None:
        if isinstance(message, SampleBatch):
            if self._link.reconnecting:
                # Until HELLO says which boot this is, we cannot place these samples.
                self._link.hold(message, received)
            elif self._layout.channels is not None:
                self._on_samples(message, received)
            # else: before the first HELLO there is no session layout to check them against
        elif isinstance(message, (Ack, ErrorReply)):
            self._commands.resolve(message)
        elif isinstance(message, Hello):
            self._on_hello(message)
        elif isinstance(message, Status):
            # A reboot seen in STATUS while the link stays up (a watchdog reset). After a
            # reconnect the HELLO decides, so that the gap's reason is set in one place.
            awaiting = self._link.awaiting_hello
            if self._boot_id is not None and message.boot_id != self._boot_id and not awaiting:
                self._new_boot(message.boot_id)
            self._last_status = message
            self._stall.status_seen()
            if not awaiting:
                self._timeline.add_status_stamp(message.t_us, received)
                if (not message.streaming and self._want_streaming and self.samples_received
                        and not self._restarting.is_set()):
                    # Stopped under us (another screen of the same device sent STOP, as a
                    # trainee's screen does when it closes): this session still wants the
                    # stream, so it starts it again; the samples missed are one counted gap.
                    self._timeline.stream_restarting("stopped_elsewhere")
                    self._restart_streaming_async()
            self._emit(StatusReceived(message, self.host_time(received)))
        elif isinstance(message, Log):
            self._emit(DeviceLog(int(message.level), printable(message.message)))

    def _new_boot(self, boot_id: int) -> None:
        """The device rebooted: its counters and clock restarted; ours must too."""
        self._boot_id = boot_id
        self._last_status = None
        self._timeline.new_boot()
        if self._want_streaming and not self._link.awaiting_hello:
            self._restart_streaming_async()

    def _on_hello(self, hello: Hello) -> None:
        usable, problem = self._layout.check_hello(hello)
        if problem is not None:
            self._problem(*problem)
        if not usable:
            return
        rebooted = self._boot_id is not None and hello.boot_id != self._boot_id
        if self._boot_id is None:
            self._boot_id = hello.boot_id
        elif rebooted:
            self._new_boot(hello.boot_id)
        was_awaiting, reconnected, held = self._link.hello_received()
        with self._hello_changed:
            self._hello = hello
            self._hello_serial += 1
            self._hello_changed.notify_all()
        if was_awaiting:
            self._stall.reset(time.monotonic())
            self._emit(LinkUp(hello, reconnected))
        if reconnected:
            still_streaming = (not rebooted and bool(hello.info.get("streaming"))
                               and hello.info.get("rate_hz") == self._rate_hz)
            if still_streaming:
                # Same boot, still streaming: the device's counters tell exactly what we missed.
                self._timeline.resuming_after_link_loss()
                for batch, received in held:
                    self._on_samples(batch, received)
            elif self._want_streaming:
                if not rebooted:
                    self._timeline.stream_restarting()
                self._restart_streaming_async()
        # A reboot without a reconnect: _new_boot already restarted the stream.

    def _restart_streaming_async(self) -> None:
        rate = self._rate_hz or 200
        self._restarting.set()

        def restart() -> None:
            try:
                for _ in range(3):
                    try:
                        self.start(rate)
                        return
                    except (TimeoutError, DeviceCommandError) as exc:
                        log.warning("restarting the stream after reconnect: %s", exc)
                    except LinkLost:
                        return  # the next reconnect tries again
                self._emit(DeviceLog(2, f"host: could not restart streaming at {rate} Hz"))
            finally:
                self._restarting.clear()

        threading.Thread(target=restart, name="glove-restart", daemon=True).start()

    def _on_samples(self, batch: SampleBatch, received: float) -> None:
        # What the device sends must fit the session before it is placed: the HELLO's channels,
        # values within the ADC's range. A frame that does not is dropped whole and reported.
        kept, rejection = self._layout.check_samples(batch)
        if rejection is not None:
            self._stats.rejected_frames += rejection[0]
            self._timeline.frames_rejected()
            self._problem(rejection[1], rejection[2])
        if kept is None:
            return
        if self._rate_hz is None:
            # Streaming we did not start (a device already streaming): take its rate.
            self._rate_hz = int(self._hello.info.get("rate_hz", 200)) if self._hello else 200
        stall = self._stall
        for event in self._timeline.place(kept, received, self._rate_hz, stall.stalled_at is not None):
            if type(event) is SamplesReceived:
                silent = stall.progress(received)
                if silent is not None:
                    self._emit(LinkResumed(silent))
            self._emit(event)
