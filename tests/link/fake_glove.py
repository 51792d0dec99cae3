"""A glove on a real pseudo-terminal, spoken by a Python thread, for fault injection.

The host side is the real thing: pyserial opens the pty's slave path and the GloveClient reads
it. The device side writes real framed bytes made by the project's own encoders
(``glovecoach.wire``) on the master side and answers the host's commands, like the firmware
does; on top of that a test can make it misbehave in ways the real firmware cannot be made to
on demand: send a frame twice, send two frames in the wrong order, flip a bit, hang, reboot,
change its HELLO mid-session, send values out of range or any bytes at all.

Every sample carries its own position on one global grid (shared by all streams and boots, as
the device clock is the host's CLOCK_MONOTONIC, like the virtual glove's): channels 0..2 hold
the slot number in 12 + 12 + 8 bits, channel 3 a check value. So a test can tell for every
sample it received where it truly belongs.
"""

from __future__ import annotations

import math
import os
import random
import select
import threading
import time
import tty

import numpy as np

from glovecoach.wire import (
    DELIMITER,
    STATUS_STREAMING,
    UNKNOWN_TOKEN,
    Command,
    CommandFormatError,
    ErrorCode,
    FrameError,
    decode_command,
    decode_frame,
    encode_ack,
    encode_error,
    encode_frame,
    encode_hello,
    encode_samples,
    encode_status,
    samples_per_frame,
)
from glovecoach.wire.continuity import TICKS_MASK

CHANNELS = ["c0", "c1", "c2", "c3"]


def slot_values(first: int, n: int, channels: int = 4) -> np.ndarray:
    """Rows for global slots ``first .. first + n - 1``: they name their own slot."""
    g = np.arange(first, first + n, dtype=np.int64)
    rows = np.zeros((n, channels), dtype=np.uint16)
    rows[:, 0] = g & 0xFFF
    rows[:, 1] = (g >> 12) & 0xFFF
    rows[:, 2] = (g >> 24) & 0xFF
    rows[:, 3] = (g * 7) % 4096
    for c in range(4, channels):
        rows[:, c] = (g * c) % 4096
    return rows


def slots_of(raw: np.ndarray) -> np.ndarray:
    """Global slot of every row made by :func:`slot_values`; raises if a row was altered."""
    raw = raw.astype(np.int64)
    g = raw[:, 0] | raw[:, 1] << 12 | raw[:, 2] << 24
    assert np.array_equal(raw[:, 3], (g * 7) % 4096), "a sample's values were altered"
    return g


class FakeGlove:
    """Context manager; ``port`` is the pty slave path for pyserial / GloveClient."""

    def __init__(self, *, glove_id: str = "GC-FAKE-0001", channels: list[str] | None = None) -> None:
        self.glove_id = glove_id
        self.channels = list(channels or CHANNELS)
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rx = bytearray()
        self.boot_id = random.getrandbits(32)
        self.rate_hz = 200
        self.spf = samples_per_frame(self.rate_hz)
        self.streaming = False
        self._origin: float | None = None  # time of global slot 0 (the first START)
        self._stream_t0 = 0.0
        self._stream_g0 = 0                # global slot of this stream's slot 0
        self._k = 0                        # next slot of this stream to send
        self._seq = 0
        self._first_frame = False
        self._next_status = time.monotonic() + 1.0
        # Faults the device thread applies to the next frames (set through the methods below).
        self._duplicate_next = 0
        self._swap_next = False
        self._held_frame: bytes | None = None
        self._flip_next = False
        self._bad_value_next = False
        self._hung_until = 0.0
        self._status_while_hung = False
        self._flush_partial = False
        self._wrong_layout_frames = 0
        self._wrong_channels: list[str] = []
        self._announce_layout = False
        # What happened, in global slots, for the test to check against.
        self.sent: list[tuple[int, int]] = []       # (first global slot, n) of every intact frame sent
        self.spoiled: list[tuple[int, int]] = []    # frames that must not be taken (flipped, late, refused)
        self.skipped: list[tuple[int, int]] = []    # slots never sent (the device hung)
        self.duplicates_sent = 0
        self.late_sent = 0
        self.starts = 0
        self.stream_starts: list[int] = []  # global slot of each stream's slot 0
        self._thread = threading.Thread(target=self._run, name="fake-glove", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> FakeGlove:
        self._write(DELIMITER + self._hello())  # boot delimiter and boot HELLO
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- faults (called from the test thread) -----------------------------------------------
    def duplicate(self, frames: int = 1) -> None:
        """Each of the next ``frames`` frames is sent twice (a retransmitting link)."""
        with self._lock:
            self._duplicate_next += frames

    def swap(self) -> None:
        """The next two frames go out in the wrong order (a reordering link)."""
        with self._lock:
            self._swap_next = True

    def flip_bit(self) -> None:
        """One bit of the next frame is flipped on the way."""
        with self._lock:
            self._flip_next = True

    def bad_value(self) -> None:
        """The next frame holds a value above adc_max (CRC fine: a firmware bug)."""
        with self._lock:
            self._bad_value_next = True

    def hang(self, seconds: float, status: bool = False, flush_partial: bool = False) -> None:
        """Send nothing for ``seconds`` (the firmware hung), or only STATUS with ``status``;
        then go on along the same grid, skipping the slots missed meanwhile. ``flush_partial``:
        on waking, first send the frame being filled early with one sample, as the firmware
        does when it skips."""
        with self._lock:
            self._hung_until = time.monotonic() + seconds
            self._status_while_hung = status
            self._flush_partial = flush_partial

    def change_hello(self, channels: list[str], frames: int) -> None:
        """Announce ``channels`` in a HELLO (same boot), send ``frames`` frames laid out that
        way, then announce the original channels again and go on."""
        with self._lock:
            self._wrong_channels = list(channels)
            self._wrong_layout_frames = frames
            self._announce_layout = True
            self._write(self._hello(self._wrong_channels))

    def wrong_samples(self, channels: int, frames: int) -> None:
        """The next ``frames`` SAMPLES frames carry ``channels`` columns, unlike the HELLO."""
        with self._lock:
            self._wrong_channels = [f"x{k}" for k in range(channels)]
            self._wrong_layout_frames = frames
            self._announce_layout = False

    def reboot(self) -> None:
        """Reset while the link stays up: boot delimiter, a HELLO with a new boot_id, not
        streaming until the host sends START again."""
        with self._lock:
            self.boot_id = random.getrandbits(32)
            self.streaming = False
            self._held_frame = None
            self._write(DELIMITER + self._hello())

    def send(self, data: bytes) -> None:
        """Any bytes at all."""
        with self._lock:
            self._write(data)

    # -- device ------------------------------------------------------------------------------
    def _hello(self, channels: list[str] | None = None) -> bytes:
        return encode_hello({
            "protocol": 1, "firmware": "fake 1", "glove_id": self.glove_id, "board": "fake",
            "boot_id": self.boot_id, "rate_hz": self.rate_hz, "samples_per_frame": self.spf,
            "adc_bits": 12, "adc_max": 4095, "channels": channels or self.channels,
            "streaming": self.streaming, "link_bytes_per_s": None, "tare": None,
        })

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return  # the test is over
            view = view[n:]

    def _now_us(self) -> int:
        return int(time.monotonic() * 1e6) & TICKS_MASK

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.002)
            except (OSError, ValueError):
                return
            now = time.monotonic()
            with self._lock:
                hung = now < self._hung_until
                if ready:
                    try:
                        data = os.read(self._master, 4096)
                    except OSError:
                        return
                    if not hung:
                        self._commands(data)
                if hung and not self._status_while_hung:
                    continue
                if now >= self._next_status:
                    self._next_status = now + 1.0
                    self._write(encode_status(STATUS_STREAMING if self.streaming else 0, self.rate_hz,
                                              self._now_us(), self.boot_id, self._seq))
                if hung or not self.streaming:
                    continue
                if now < self._stream_t0:
                    continue
                due = int((now - self._stream_t0) * self.rate_hz) + 1  # slots taken by now
                if due - self._k > self.rate_hz // 4:
                    # Woke up a quarter second late or more (hung): like the firmware's deadline
                    # schedule, skip the missed slots; the slot taken now starts the next frame.
                    if self._flush_partial:
                        self._flush_partial = False
                        self._send_frame(1)
                    self.skipped.append((self._stream_g0 + self._k, due - 1 - self._k))
                    self._k = due - 1
                while self._k + self.spf <= due:  # shorter delays: catch up frame by frame
                    self._send_frame()

    def _commands(self, data: bytes) -> None:
        self._rx += data
        while DELIMITER in self._rx:
            chunk, _, rest = bytes(self._rx).partition(DELIMITER)
            self._rx = bytearray(rest)
            if not chunk:
                continue
            try:
                command, token, args = decode_command(decode_frame(chunk))
            except FrameError:
                self._write(encode_error(UNKNOWN_TOKEN, 0, ErrorCode.BAD_FRAME, "bad frame"))
                continue
            except CommandFormatError as exc:
                self._write(encode_error(exc.token, exc.command, exc.code, exc.message))
                continue
            self._answer(command, token, args)

    def _answer(self, command: Command, token: int, args: dict[str, int]) -> None:
        if command is Command.INFO:
            self._write(encode_ack(token, command, {}) + self._hello())
        elif command is Command.SET_RATE:
            if self.streaming:
                self._write(encode_error(token, command, ErrorCode.NOT_ALLOWED, "streaming"))
                return
            self.rate_hz = args["rate_hz"]
            self.spf = samples_per_frame(self.rate_hz)
            self._write(encode_ack(token, command, {"rate_hz": self.rate_hz, "samples_per_frame": self.spf}))
        elif command is Command.START:
            now = time.monotonic()
            if self._origin is None:
                self._origin = now
            # The new stream's slot 0 on the global grid (the first slot not yet past).
            self._stream_g0 = math.ceil((now - self._origin) * self.rate_hz)
            self._stream_t0 = self._origin + self._stream_g0 / self.rate_hz
            self._k = 0
            self._seq = 0
            self._first_frame = True
            self.streaming = True
            self.starts += 1
            self.stream_starts.append(self._stream_g0)
            self._write(encode_ack(token, command, {"rate_hz": self.rate_hz, "samples_per_frame": self.spf}))
        elif command is Command.STOP:
            self.streaming = False
            self._write(encode_ack(token, command, {}))
        elif command is Command.PING:
            self._write(encode_ack(token, command, {"nonce": args["nonce"], "t_us": self._now_us()}))
        else:
            self._write(encode_error(token, command, ErrorCode.NOT_ALLOWED, "not in the fake"))

    def _send_frame(self, n: int | None = None) -> None:
        n = n or self.spf
        first = self._stream_g0 + self._k
        t_us = int((self._stream_t0 + self._k / self.rate_hz) * 1e6) & TICKS_MASK
        n_channels = len(self._wrong_channels) if self._wrong_layout_frames else len(self.channels)
        raw = slot_values(first, n, n_channels)
        spoiled = False
        if self._bad_value_next:
            raw[0, 3] = 5000
            self._bad_value_next = False
            spoiled = True
        if self._wrong_layout_frames:
            spoiled = True
        wire = encode_samples(self._seq, self._k, t_us, raw, 1 if self._first_frame else 0)
        if self._flip_next:
            self._flip_next = False
            spoiled = True
            flipped = bytearray(wire)
            flipped[len(wire) // 2] ^= 0x08  # inside the frame, never its delimiter
            wire = bytes(flipped)
        self._first_frame = False
        self._seq += 1
        self._k += n
        (self.spoiled if spoiled else self.sent).append((first, n))
        if self._wrong_layout_frames:
            self._wrong_layout_frames -= 1
            if not self._wrong_layout_frames and self._announce_layout:
                wire += self._hello()  # back to the session's layout
        if self._held_frame is not None:  # the swapped pair: later frame first, then this one
            self._write(wire + self._held_frame)
            self._held_frame = None
            return
        if self._swap_next:
            self._swap_next = False
            self._held_frame = wire
            # This frame will arrive after the next one: the host must drop it as out of order.
            self.sent.pop()
            self.spoiled.append((first, n))
            self.late_sent += 1
            return
        if self._duplicate_next:
            self._duplicate_next -= 1
            self.duplicates_sent += 1
            wire += wire
        self._write(wire)


def raw_frame(payload: bytes) -> bytes:
    """A CRC-correct frame around any payload (the device meant to send it)."""
    return encode_frame(payload)
