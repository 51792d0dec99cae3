"""``replay://``: a transport whose device plays back a ``.gcrec`` recording, in process.

Like BrainFlow's playback board, it behaves as a glove: it says HELLO, answers
START/STOP/INFO/PING (and SET_RATE to the recorded rate), sends STATUS once a second and, while
streaming, SAMPLES frames paced at the recording's rate times ``speed``. Everything it sends is
produced by the wire encoders and everything the host receives goes through the same
StreamDecoder → ContinuityTracker → GloveClient path as a live glove, so replaying a session
exercises exactly the live code.

The device's ``sample_index`` is the recording's session index, so gaps in the recording come
back as gaps (the device skipped those slots). Playback ends after the last recorded sample:
the device sends a LOG "end of recording", stops streaming and stays connected.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import numpy as np

from glovecoach.link.transport import LinkLost, Transport, url_number, url_parts
from glovecoach.recording import Recording, RecordingError, open_recording
from glovecoach.recording.runs import contiguous_blocks
from glovecoach.wire import (
    DELIMITER,
    STATUS_STREAMING,
    UNKNOWN_TOKEN,
    Command,
    CommandFormatError,
    ErrorCode,
    FrameError,
    LogLevel,
    decode_command,
    decode_frame,
    encode_ack,
    encode_error,
    encode_hello,
    encode_log,
    encode_samples,
    encode_status,
    samples_per_frame,
)
from glovecoach.wire.continuity import TICKS_MASK

BOARD = "replay"


class RecordingPlayer:
    """The device side of a replay: bytes in (commands), bytes out (messages), paced by a clock."""

    def __init__(self, recording: Recording, *, speed: float = 1.0, clock=time.monotonic) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.recording = recording
        self.speed = speed
        self._clock = clock
        self.rate_hz = int(recording.rate_hz)
        self.samples_per_frame = samples_per_frame(self.rate_hz)
        self.boot_id = random.getrandbits(32)
        self._t0 = clock()
        self._rx = bytearray()
        self._streaming = False
        self._tx = bytearray(DELIMITER)  # the boot delimiter, as the firmware sends
        self._tx += self._hello()
        self._seq = 0
        self._next_frame = 0          # index into the frame table
        self._stream_t0_us = 0        # device time of slot 0 of the current playback
        self._next_status_us = 1_000_000
        self.finished = False
        # Frame table: runs of consecutive recorded rows cut into frames of samples_per_frame
        # (a frame never spans a gap), the same cutting every reader of a recording uses.
        index = np.asarray(recording.sample_index, dtype=np.int64)
        self._frame_rows, self._frame_ends = contiguous_blocks(index, self.samples_per_frame)
        self._index = index
        # Each frame's last slot, in µs after the stream's slot 0 (the frame is due then):
        # computed once, so finding the due frames is a search, not a pass over the rest.
        self._frame_due_us = np.round(index[self._frame_ends - 1] * 1e6 / self.rate_hz) if index.size \
            else np.zeros(0)

    # -- device clock ------------------------------------------------------------------------
    def now_us(self) -> int:
        return int((self._clock() - self._t0) * self.speed * 1e6)

    def _slot_time_us(self, slot: int) -> int:
        return self._stream_t0_us + int(round(slot * 1e6 / self.rate_hz))

    # -- messages ----------------------------------------------------------------------------
    def _hello(self) -> bytes:
        info = dict(self.recording.device_info or {})
        info.update({
            "protocol": 1, "board": BOARD, "boot_id": self.boot_id, "rate_hz": self.rate_hz,
            "samples_per_frame": self.samples_per_frame, "channels": list(self.recording.channels),
            "streaming": self._streaming, "link_bytes_per_s": None,
            "replay_of": str(self.recording.path),
        })
        info.setdefault("firmware", "replay")
        info.setdefault("glove_id", "GC-REPLAY")
        info.setdefault("adc_bits", 12)
        info.setdefault("adc_max", 4095)
        info.setdefault("tare", None)
        return encode_hello(info)

    def receive(self, data: bytes) -> None:
        """Bytes the host wrote: parse complete command frames and answer them."""
        self._rx += data
        while True:
            end = self._rx.find(DELIMITER)
            if end < 0:
                return
            chunk = bytes(self._rx[:end])
            del self._rx[:end + 1]
            if not chunk:
                continue
            try:
                command, token, args = decode_command(decode_frame(chunk))
            except FrameError as exc:
                self._tx += encode_error(UNKNOWN_TOKEN, 0, ErrorCode.BAD_FRAME, str(exc))
                continue
            except CommandFormatError as exc:
                self._tx += encode_error(exc.token, exc.command, exc.code, exc.message)
                continue
            self._answer(command, token, args)

    def _answer(self, command: Command, token: int, args: dict[str, int]) -> None:
        if command == Command.START:
            self._streaming = True
            self.finished = False
            self._seq = 0
            self._next_frame = 0
            self._stream_t0_us = self.now_us()
            first = int(self._index[0]) if self._index.size else 0
            self._stream_t0_us -= int(round(first * 1e6 / self.rate_hz))
            self._tx += encode_ack(token, command, {"rate_hz": self.rate_hz,
                                                    "samples_per_frame": self.samples_per_frame})
        elif command == Command.STOP:
            self._streaming = False
            self._tx += encode_ack(token, command, {})
        elif command == Command.SET_RATE:
            if self._streaming:
                self._tx += encode_error(token, command, ErrorCode.NOT_ALLOWED,
                                         "SET_RATE while streaming")
            elif args["rate_hz"] != self.rate_hz:
                self._tx += encode_error(token, command, ErrorCode.BAD_ARGUMENT,
                                         f"rate_hz: a replay plays at the recorded {self.rate_hz} Hz")
            else:
                self._tx += encode_ack(token, command, {"rate_hz": self.rate_hz,
                                                        "samples_per_frame": self.samples_per_frame})
        elif command == Command.PING:
            self._tx += encode_ack(token, command, {"nonce": args["nonce"],
                                                    "t_us": self.now_us() & TICKS_MASK})
        elif command == Command.INFO:
            self._tx += encode_ack(token, command, {})
            self._tx += self._hello()
        else:  # TARE, MAINTENANCE: a recording has no sensors to zero and no board to reset
            self._tx += encode_error(token, command, ErrorCode.NOT_ALLOWED,
                                     f"{command.name} is not possible on a replay")

    def due_in(self) -> float:
        """Host seconds until the next frame or STATUS is due (0 if something is due now)."""
        now = self.now_us()
        due = self._next_status_us
        if self._streaming and self._next_frame < self._frame_rows.size:
            row = int(self._frame_ends[self._next_frame] - 1)
            due = min(due, self._slot_time_us(int(self._index[row])))
        return max(0.0, (due - now) / 1e6 / self.speed)

    def produce(self) -> None:
        """Append every frame and STATUS due by now to the output."""
        now = self.now_us()
        if self._streaming:
            rows, ends = self._frame_rows, self._frame_ends
            # A frame is sent once its last sample's slot time has passed.
            n_due = int(np.searchsorted(self._frame_due_us, now - self._stream_t0_us, side="right")) - self._next_frame
            n_due = max(0, n_due)
            raw = self.recording.raw
            for f in range(self._next_frame, self._next_frame + n_due):  # per frame, not sample
                a, b = int(rows[f]), int(ends[f])
                slot = int(self._index[a])
                self._tx += encode_samples(self._seq, slot, self._slot_time_us(slot) & TICKS_MASK,
                                           raw[a:b], flags=1 if self._seq == 0 else 0)
                self._seq += 1
            self._next_frame += n_due
            if self._next_frame >= rows.size:
                self._streaming = False
                self.finished = True
                self._tx += encode_log(LogLevel.INFO, "end of recording")
        while now >= self._next_status_us:
            self._tx += encode_status(STATUS_STREAMING if self._streaming else 0, self.rate_hz,
                                      self._next_status_us & TICKS_MASK, self.boot_id, self._seq)
            self._next_status_us += 1_000_000

    def take(self, max_bytes: int) -> bytes:
        out = bytes(self._tx[:max_bytes])
        del self._tx[:max_bytes]
        return out

    @property
    def pending_bytes(self) -> int:
        return len(self._tx)


class RecordingTransport(Transport):
    """Transport whose other end is a :class:`RecordingPlayer` (no thread: paced by ``read``)."""

    def __init__(self, path: str | os.PathLike, *, speed: float = 1.0) -> None:
        self.path = Path(path)
        self.speed = speed
        self.name = f"replay://{self.path}"
        self._device: RecordingPlayer | None = None
        self._recording: Recording | None = None
        self._lock = threading.Lock()
        self._closed_event = threading.Event()

    @property
    def device(self) -> RecordingPlayer | None:
        return self._device

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def open(self) -> None:
        if self._device is not None:
            return
        if self._recording is None:
            try:
                self._recording = open_recording(self.path)
            except (OSError, RecordingError) as exc:
                raise LinkLost(f"{self.name}: cannot replay: {exc}") from exc
        self._closed_event.clear()
        self._device = RecordingPlayer(self._recording, speed=self.speed)

    def close(self) -> None:
        self._device = None
        self._closed_event.set()

    def read(self, max_bytes: int, timeout: float) -> bytes:
        device = self._device
        if device is None:
            raise LinkLost(f"{self.name} is not open")
        with self._lock:
            device.produce()
            if device.pending_bytes:
                return device.take(max_bytes)
            wait = min(timeout, device.due_in())
        if self._closed_event.wait(wait):
            raise LinkLost(f"{self.name} closed")
        with self._lock:
            device.produce()
            return device.take(max_bytes)

    def write(self, data: bytes) -> None:
        device = self._device
        if device is None:
            raise LinkLost(f"{self.name} is not open")
        with self._lock:
            device.receive(bytes(data))


def transport_from_url(url: str) -> RecordingTransport:
    """``replay://PATH?speed=1.0``."""
    path, params = url_parts(url)
    if not path:
        raise ValueError(f"{url}: no recording path")
    speed = url_number(params, "speed", float, 1.0, url)
    if not speed > 0:
        raise ValueError(f"{url}: speed must be > 0, got {speed}")
    return RecordingTransport(path, speed=speed)


__all__ = ["RecordingPlayer", "RecordingTransport", "transport_from_url"]
