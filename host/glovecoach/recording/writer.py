"""Append-only, crash-safe writers for `.gcrec` session files: `RecordingWriter` for one
device (format version 1), `StationRecordingWriter` for a station's devices (version 2).

The caller's thread only validates and copies into memory; a background thread writes the
buffered records and fsyncs every `flush_interval_s`. So the acquisition path never waits on
the disk (an fsync can take hundreds of milliseconds on a busy or slow drive), and after a
crash at most the last interval is missing. Contiguous sample blocks written between two
flushes are merged into one SAMPLES record, which keeps the per-record overhead (40 bytes for SAMPLES)
small even when the caller writes one 4-sample wire frame at a time.
"""

from __future__ import annotations

import atexit
import errno
import math
import os
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from glovecoach import __version__
from glovecoach.output_files import fsync_directory
from glovecoach.recording.format import (
    FORMAT_VERSION,
    FRAME_DTYPE,
    MAX_CHANNEL_ID_CHARS,
    MAX_CHANNELS,
    MAX_SESSION_S,
    MAX_STREAMS,
    RAW_DTYPE,
    STATION_FORMAT_VERSION,
    STATION_ORIGIN_NOTE,
    T_US_MODULUS,
    Kind,
    RecordingError,
    encode_json,
    encode_record,
    encode_samples,
    file_header,
)

if TYPE_CHECKING:   # imported where a station's file is written: one glove's recording does without it
    from glovecoach.vocabulary.station import StationLayout

# Wake the flusher early once this much is buffered, and cap one SAMPLES record's raw block
# (bounded memory for the reader's per-record work; 1 MiB is ~26 s at 200 Hz x 20 channels).
_EARLY_FLUSH_BYTES = 1 << 20
_MAX_BLOCK_BYTES = 1 << 20

_open_writers: weakref.WeakSet[_RecordFile] = weakref.WeakSet()


@atexit.register
def _flush_open_writers_at_exit() -> None:
    # A program that exits without close() still gets its buffered samples on disk (no END
    # record, since nobody closed the session).
    for writer in list(_open_writers):
        if writer._owner_pid != os.getpid():
            continue  # a forked child must not append its copy of the parent's buffer
        try:
            writer.flush()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


_BAD_FRAME_VALUES = "frames must have finite host_time, sample_index >= 0 and a 30-bit t_us"


def _frame_rows(frames: np.ndarray) -> list[tuple[int, int, float]]:
    """The rows of a frame table as (sample_index, t_us, host_time) tuples, checked. Rows are
    kept as tuples until a SAMPLES record is sealed: one array made from a few hundred tuples
    costs far less than joining as many one-row structured arrays."""
    frames = np.asarray(frames)
    if frames.dtype == FRAME_DTYPE and frames.shape == (1,):
        # The live case, a frame a block (1,800 a second in a classroom): the same checks on
        # the one row as Python numbers, without the table's copies and reductions.
        row = frames.item(0)   # the fields as Python numbers, in one call (a copy)
        index, t_us, host = row
        if not (math.isfinite(host) and index >= 0 and 0 <= t_us < T_US_MODULUS):
            raise ValueError(_BAD_FRAME_VALUES)
        return [row]
    names = frames.dtype.names or ()
    missing = [name for name in FRAME_DTYPE.names or () if name not in names]
    if missing or frames.ndim != 1:
        raise ValueError(
            f"frames must be a 1-D structured array with fields {FRAME_DTYPE.names}; "
            f"got dtype {frames.dtype} with shape {frames.shape} (missing {missing})"
        )
    out = np.empty(len(frames), dtype=FRAME_DTYPE)
    for name in FRAME_DTYPE.names or ():
        out[name] = frames[name]
    # The reader drops entries no device or clock can produce; refuse them here instead.
    if len(out) and not (np.isfinite(out["host_time"]).all() and (out["sample_index"] >= 0).all()
                         and (np.asarray(frames["t_us"]) < T_US_MODULUS).all()
                         and (np.asarray(frames["t_us"]) >= 0).all()):
        raise ValueError(_BAD_FRAME_VALUES)
    return out.tolist()


def _finite_time(host_time: Any) -> float:
    value = float(host_time)
    if not math.isfinite(value):
        raise ValueError(f"host_time must be a finite number of seconds, got {host_time!r}")
    return value


class _RecordFile:
    """One `.gcrec` file being written: the file, the buffer every stream appends its encoded
    records to, the background flusher and the handling of a failed write. `RecordingWriter`
    (one device, format version 1) and `StationRecordingWriter` (a station, version 2) are
    this plus their streams, so both get the same crash-safety guarantees from one place."""

    path: Path
    rate_hz: int
    flush_interval_s: float
    started_at: str

    def _init_file(self, path: str | os.PathLike[str], rate_hz: Any, flush_interval_s: float) -> None:
        if isinstance(rate_hz, bool) or not float(rate_hz).is_integer() or int(rate_hz) <= 0:
            raise ValueError(f"rate_hz must be a positive integer, got {rate_hz!r}")
        if not (flush_interval_s > 0 and math.isfinite(flush_interval_s)):
            raise ValueError(f"flush_interval_s must be a positive number of seconds, got {flush_interval_s!r}")
        self.path = Path(path)
        self.rate_hz = int(rate_hz)
        self.flush_interval_s = float(flush_interval_s)
        self.started_at = _utc_now_iso()
        self._lock = threading.Lock()      # guards the in-memory state of the file and its streams
        self._io_lock = threading.Lock()   # one writer to the file at a time
        self._buffer = bytearray()
        self._streams: list[_StreamWriter] = []
        self._closed = False
        self._error: BaseException | None = None
        self._error_reported = False       # the owner was told once; close() does not repeat it
        self._durable_size = 0             # file size after the last complete write
        self._owner_pid = os.getpid()

    def _open_file(self, head: bytes, overwrite: bool) -> None:
        """Create the file with `head` (file header and the SESSION record(s)), durable at once,
        and start the flusher."""
        try:
            self._file = open(self.path, "wb" if overwrite else "xb", buffering=0)
        except FileExistsError:
            raise FileExistsError(
                f"{self.path} already exists; a recording is never overwritten unless asked "
                f"(overwrite=True)"
            ) from None
        try:
            self._write_all(head)
            os.fsync(self._file.fileno())
            fsync_directory(self.path.parent)   # the new file's directory entry, durable too
        except BaseException:
            self._file.close()
            raise
        self._durable_size = len(head)

        self._stop = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name=f"gcrec-flush {self.path.name}", daemon=True)
        self._thread.start()
        _open_writers.add(self)

    # ------------------------------------------------------------------ public API

    def flush(self) -> None:
        """Write everything buffered and fsync it, now, in the calling thread."""
        with self._lock:
            if self._closed:
                return
            self._check_usable()
        try:
            self._drain()
        except RecordingError:
            self._error_reported = True
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exception=exc)

    # ------------------------------------------------------------------ for subclasses

    def _append_end_records(self, exception: BaseException | None) -> None:
        """Append the END record(s); called once, with self._lock held, when closing."""
        raise NotImplementedError

    def _kept(self) -> str:
        """What is safely in the file after the last complete write (for the failure message)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ internals

    def _close(self, exception: BaseException | None) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop = True
        self._wake.set()
        self._thread.join()
        _open_writers.discard(self)
        try:
            if self._error is None:
                with self._lock:
                    self._append_end_records(exception)
                try:
                    self._drain()
                except RecordingError:
                    self._error_reported = True
                    raise
        finally:
            self._file.close()
        if self._error is not None and not self._error_reported:
            self._error_reported = True
            raise RecordingError(self._failure_message()) from self._error

    def _check_usable(self) -> None:
        # Called with self._lock held.
        if self._error is not None:
            self._error_reported = True
            raise RecordingError(self._failure_message()) from self._error
        if self._closed:
            raise RecordingError(f"recording {self.path} is closed")

    def _drain(self) -> None:
        with self._io_lock:
            if self._error is not None:
                return
            with self._lock:
                for stream in self._streams:
                    stream._seal_pending()
                data, self._buffer = self._buffer, bytearray()
                reached = [(stream._end_index, stream._samples_written) for stream in self._streams]
            if not data:
                return
            try:
                self._write_all(data)
                os.fsync(self._file.fileno())
            except BaseException as exc:
                self._error = exc
                self._cut_back_to_last_record()
                raise RecordingError(self._failure_message()) from exc
            self._durable_size += len(data)
            for stream, (end_index, samples) in zip(self._streams, reached, strict=True):
                stream._durable_end_index, stream._durable_samples = end_index, samples

    def _cut_back_to_last_record(self) -> None:
        # A write that failed part-way (disk full) leaves part of a record at the end. Cutting
        # it off (truncating needs no free space) leaves a file that ends on a whole record, so
        # it reads back as a clean, if unclosed, session. If even that fails the reader still
        # copes: it reports the partial record as a torn tail.
        try:
            os.ftruncate(self._file.fileno(), self._durable_size)
            os.fsync(self._file.fileno())
        except OSError:
            pass

    def _failure_message(self) -> str:
        exc = self._error
        code = getattr(exc, "errno", None)
        if code in (errno.ENOSPC, errno.EDQUOT):
            why = "the disk is full" if code == errno.ENOSPC else "the disk quota is used up"
        elif code == errno.EFBIG:
            why = "the file reached the largest size this file system allows"
        elif isinstance(exc, OSError):
            why = f"cannot write: {exc.strerror or exc}"
        else:
            why = f"{type(exc).__name__}: {exc}"
        return f"recording to {self.path} stopped: {why}; {self._kept()}"

    def _write_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0:]

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._stop:
                return
            try:
                self._drain()
            except RecordingError:
                return  # self._error is set; the next call from the owner raises it


class _StreamWriter:
    """The writing methods of one stream of a file: its samples (merged into SAMPLES records
    between flushes), gaps, STATUS and notes, each record tagged with the stream's number.
    Everything is appended to the file's one buffer under the file's one lock, so the records
    of a stream reach the disk in call order."""

    channels: tuple[str, ...]

    def _init_stream(self, sink: _RecordFile, number: int, channels: tuple[str, ...]) -> None:
        self._sink = sink
        self._stream_no = number
        self.channels = channels
        self._pending_raw: list[np.ndarray] = []
        self._pending_frames: list[tuple[int, int, float]] = []   # (sample_index, t_us, host_time)
        self._pending_first = 0
        self._pending_rows = 0
        self._end_index = 0                # first session index not yet covered by samples/gaps
        self._samples_written = 0
        self._durable_end_index = 0        # session index after the samples/gaps on disk
        self._durable_samples = 0
        sink._streams.append(self)

    @property
    def end_index(self) -> int:
        """The first session sample index after everything written so far (samples and gaps)."""
        return self._end_index

    def write_samples(self, first_index: int, raw: np.ndarray, frames: np.ndarray | None = None) -> None:
        """Append raw ADC rows `raw` (n, channels) whose first row is session index `first_index`."""
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != len(self.channels):
            raise ValueError(
                f"raw must have shape (n, {len(self.channels)}) for channels {self.channels[:3]}...; "
                f"got shape {raw.shape}"
            )
        if raw.dtype != RAW_DTYPE:
            if raw.dtype.kind not in "ui":
                raise ValueError(f"raw must hold integer ADC counts (uint16), got dtype {raw.dtype}")
            if raw.size and (raw.min() < 0 or raw.max() > 0xFFFF):
                raise ValueError(
                    f"raw values must fit in uint16, got range {raw.min()}..{raw.max()}"
                )
        frame_rows = _frame_rows(frames) if frames is not None else []
        first_index = self._check_index(first_index, "first_index")
        n = raw.shape[0]
        block = np.array(raw, dtype=RAW_DTYPE, order="C", copy=True)  # the caller may reuse its array
        sink = self._sink
        with sink._lock:
            sink._check_usable()
            if first_index < self._end_index:
                raise ValueError(
                    f"samples starting at index {first_index} overlap what is already recorded "
                    f"(everything before index {self._end_index})"
                )
            if n == 0 and not frame_rows:
                return
            contiguous = self._pending_rows and first_index == self._pending_first + self._pending_rows
            if not contiguous or (self._pending_rows + n) * block.shape[1] * 2 > _MAX_BLOCK_BYTES:
                self._seal_pending()
                self._pending_first = first_index
            self._pending_raw.append(block)
            self._pending_frames.extend(frame_rows)
            self._pending_rows += n
            self._end_index = first_index + n
            self._samples_written += n
            buffered = len(sink._buffer) + self._pending_rows * block.shape[1] * 2
        if buffered > _EARLY_FLUSH_BYTES:
            sink._wake.set()

    def write_gap(self, first_index: int, n_samples: int, reason: str, exact: bool = True) -> None:
        """Record that session indices [first_index, first_index + n_samples) were lost.

        `exact=False` when the count is an estimate (e.g. the device rebooted and its sample
        index restarted, so the host inferred the count from its own clock).
        """
        first_index = self._check_index(first_index, "first_index")
        n_samples = self._check_index(n_samples, "n_samples")
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, got {type(reason).__name__}")
        payload = encode_json({
            "first_index": first_index, "n_samples": n_samples, "reason": reason, "exact": bool(exact),
        })
        with self._sink._lock:
            self._sink._check_usable()
            if first_index < self._end_index:
                raise ValueError(
                    f"gap starting at index {first_index} overlaps what is already recorded "
                    f"(everything before index {self._end_index})"
                )
            self._append_record(Kind.GAP, payload)
            self._end_index = first_index + n_samples

    def write_status(self, host_time: float, status: dict) -> None:
        """Store one device STATUS (as a dict) with the host time it was received."""
        if not isinstance(status, dict):
            raise TypeError(f"status must be a dict, got {type(status).__name__}")
        self._append_checked(Kind.STATUS, encode_json({"host_time": _finite_time(host_time), "status": status},
                                                      nonfinite_to_null=True))

    def write_note(self, kind: str, payload: dict, host_time: float | None = None) -> None:
        """Store a free-form note (screening answers, checklist, alert, calibration reference...)."""
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"note kind must be a non-empty str, got {kind!r}")
        if not isinstance(payload, dict):
            raise TypeError(f"note {kind!r}: payload must be a dict, got {type(payload).__name__}")
        try:
            encoded = encode_json({
                "kind": kind, "host_time": None if host_time is None else _finite_time(host_time), "payload": payload,
            }, nonfinite_to_null=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"note {kind!r}: {exc}") from exc
        self._append_checked(Kind.NOTE, encoded)

    @staticmethod
    def _check_index(value: int, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        return int(value)

    def _append_checked(self, kind: Kind, payload: bytes) -> None:
        with self._sink._lock:
            self._sink._check_usable()
            self._append_record(kind, payload)

    def _append_record(self, kind: Kind, payload: bytes) -> None:
        # Called with the file's lock held. Records stay in call order: pending samples go first.
        self._seal_pending()
        self._sink._buffer += encode_record(kind, payload, self._stream_no)

    def _seal_pending(self) -> None:
        # Called with the file's lock held.
        if not self._pending_raw:
            return
        raw = self._pending_raw[0] if len(self._pending_raw) == 1 else np.concatenate(self._pending_raw)
        frames = np.array(self._pending_frames, dtype=FRAME_DTYPE)
        self._sink._buffer += encode_record(Kind.SAMPLES, encode_samples(self._pending_first, raw, frames),
                                            self._stream_no)
        self._pending_raw.clear()
        self._pending_frames.clear()
        self._pending_rows = 0

    def _end_record(self, extra: dict[str, Any]) -> None:
        # Called with the file's lock held, when the file closes.
        end = {"ended_at": _utc_now_iso(), "end_index": self._end_index, "samples": self._samples_written, **extra}
        self._append_record(Kind.END, encode_json(end, nonfinite_to_null=True))


def _check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    channels = tuple(channels)
    if not channels or not all(isinstance(c, str) and c for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of channel ids, got {channels!r}")
    duplicates = sorted({c for c in channels if channels.count(c) > 1})
    if duplicates:
        raise ValueError(f"duplicate channel ids: {duplicates}")
    return channels


def _check_metadata(metadata: dict | None) -> dict:
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    return metadata or {}


class RecordingWriter(_RecordFile, _StreamWriter):
    """Writes one device's session to `path` (a new file unless `overwrite`), format version 1."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device_info: dict,
        rate_hz: int,
        channels: Sequence[str],
        metadata: dict | None = None,
        flush_interval_s: float = 0.5,
        overwrite: bool = False,
    ) -> None:
        channels = _check_channels(channels)
        if not isinstance(device_info, dict):
            raise TypeError(f"device_info must be a dict (the HELLO message), got {type(device_info).__name__}")
        metadata = _check_metadata(metadata)
        self._init_file(path, rate_hz, flush_interval_s)
        self._init_stream(self, 0, channels)
        # Encoded before the file exists, so unstorable metadata does not leave an empty file.
        session = encode_json({
            "format_version": FORMAT_VERSION,
            "device_info": device_info,
            "rate_hz": self.rate_hz,
            "channels": list(channels),
            "started_at": self.started_at,
            "started_at_unix": time.time(),
            "metadata": metadata,
            "writer": f"glovecoach {__version__}",
        })
        self._open_file(file_header() + encode_record(Kind.SESSION, session), overwrite)

    def close(self) -> None:
        """Flush, write the END record and close the file. Idempotent."""
        self._close(exception=None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<RecordingWriter {str(self.path)!r} {state}, {self._samples_written} samples>"

    def _append_end_records(self, exception: BaseException | None) -> None:
        self._end_record({} if exception is None else {"exception": f"{type(exception).__name__}: {exception}"})

    def _kept(self) -> str:
        return (f"the {self._durable_samples} samples up to session index {self._durable_end_index} "
                f"({self._durable_end_index / self.rate_hz:.1f} s) are in the file and readable")


class DeviceStreamWriter(_StreamWriter):
    """One device's stream in a station recording (`StationRecordingWriter.device(role)`):
    the writing methods of `RecordingWriter`, on the device's own session index, plus its HELLO
    and the summary of how its clock was aligned to the station's."""

    def __init__(self, sink: StationRecordingWriter, number: int, role: str, channels: tuple[str, ...]) -> None:
        self.role = role
        self.stream = number
        self._alignment: dict | None = None
        self._init_stream(sink, number, channels)

    def set_device_info(self, device_info: dict, host_time: float | None = None) -> None:
        """Store the device's HELLO (as a dict), each time it (re)connects."""
        if not isinstance(device_info, dict):
            raise TypeError(f"{self.role}: device_info must be a dict (the HELLO message), "
                            f"got {type(device_info).__name__}")
        self._append_checked(Kind.HELLO, encode_json(
            {"host_time": None if host_time is None else _finite_time(host_time), "device_info": device_info},
            nonfinite_to_null=True))

    def set_alignment(self, summary: dict) -> None:
        """How this device's clock maps to the station's (an opaque dict, e.g. offset and ppm),
        stored in the device's END record when the file is closed; the last one given wins."""
        if not isinstance(summary, dict):
            raise TypeError(f"{self.role}: the alignment summary must be a dict, got {type(summary).__name__}")
        encode_json(summary, nonfinite_to_null=True)  # refuse what cannot be stored now, not at close
        self._alignment = dict(summary)

    def __repr__(self) -> str:
        return f"<DeviceStreamWriter {self.role} (stream {self.stream}), {self._samples_written} samples>"


class StationRecordingWriter(_RecordFile):
    """Writes a station's session to `path` (format version 2): every device's raw stream on
    its own index with its own gaps (`device(role)`), and station-level notes, the station
    origin and, at close, each device's alignment summary. One file, one background flusher."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        layout: StationLayout,
        rate_hz: int,
        metadata: dict | None = None,
        *,
        flush_interval_s: float = 0.5,
        overwrite: bool = False,
    ) -> None:
        from glovecoach.vocabulary.station import StationLayout

        if not isinstance(layout, StationLayout):
            raise TypeError(f"layout must be a StationLayout, got {type(layout).__name__}")
        if not layout.devices:
            raise ValueError("a station recording needs at least one device in its layout")
        if len(layout.devices) > MAX_STREAMS:
            raise ValueError(f"a station recording holds at most {MAX_STREAMS} devices, got {len(layout.devices)}")
        for device in layout.devices:
            # What the reader accepts of a layout, refused now rather than making a file it cannot open.
            if len(device.channels) > MAX_CHANNELS or any(len(c) > MAX_CHANNEL_ID_CHARS for c in device.channels):
                raise ValueError(f"{device.role}: at most {MAX_CHANNELS} channels with ids of at most "
                                 f"{MAX_CHANNEL_ID_CHARS} characters")
        metadata = _check_metadata(metadata)
        self._init_file(path, rate_hz, flush_interval_s)
        self.layout = layout
        self._station = _StreamWriter()
        self._station._init_stream(self, 0, ())
        self._devices = {d.role: DeviceStreamWriter(self, k, d.role, _check_channels(d.channels))
                         for k, d in enumerate(layout.devices, start=1)}
        self._station_origin: float | None = None
        self._station_samples: int | None = None
        # The station SESSION, then one SESSION per device stream: all on disk before the first
        # sample, so every stream of the file can be interpreted whatever happens later.
        head = [file_header(STATION_FORMAT_VERSION), encode_record(Kind.SESSION, encode_json({
            "format_version": STATION_FORMAT_VERSION,
            "rate_hz": self.rate_hz,
            "layout": layout.describe(),
            "started_at": self.started_at,
            "started_at_unix": time.time(),
            "metadata": metadata,
            "writer": f"glovecoach {__version__}",
        }))]
        for device in layout.devices:
            stream = self._devices[device.role].stream
            head.append(encode_record(Kind.SESSION, encode_json(
                {"role": device.role, "hand": device.hand, "channels": list(device.channels)}), stream))
        self._open_file(b"".join(head), overwrite)

    # ------------------------------------------------------------------ public API

    @property
    def devices(self) -> dict[str, DeviceStreamWriter]:
        return dict(self._devices)

    def device(self, role: str) -> DeviceStreamWriter:
        """The stream of the device with this role."""
        try:
            return self._devices[role]
        except KeyError:
            raise KeyError(f"this station recording has no {role} (it has {', '.join(self._devices)})") from None

    def note(self, kind: str, payload: dict, host_time: float | None = None) -> None:
        """A station-level note (what concerns the whole session, not one device)."""
        self._station.write_note(kind, payload, host_time)

    def set_station_origin(self, host_s: float) -> None:
        """The host time (seconds, the clock of the frames' host_time) of station index 0, as
        whoever aligns the devices decided it. Written at once as a station NOTE
        ("station_origin") so it survives a crash, and again in the station END."""
        origin = _finite_time(host_s)
        self._station.write_note(STATION_ORIGIN_NOTE, {"host_s": origin})
        self._station_origin = origin

    def close(self, *, alignment: dict[str, dict] | None = None, station_samples: int | None = None) -> None:
        """Flush, write each device's END (with its alignment summary, from `alignment` or
        `set_alignment`) and the station END (with the station origin and, if given, how many
        station slots the session had), and close the file. Idempotent."""
        for role, summary in (alignment or {}).items():
            self.device(role).set_alignment(summary)
        if station_samples is not None:
            station_samples = _StreamWriter._check_index(station_samples, "station_samples")
            if station_samples > self.rate_hz * MAX_SESSION_S:  # the reader would refuse the END
                raise ValueError(f"station_samples {station_samples} is more than {MAX_SESSION_S // 3600} h "
                                 f"at {self.rate_hz} Hz")
            self._station_samples = station_samples
        self._close(exception=None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        counts = ", ".join(f"{role} {d._samples_written}" for role, d in self._devices.items())
        return f"<StationRecordingWriter {str(self.path)!r} {state}, samples: {counts}>"

    # ------------------------------------------------------------------ internals

    def _append_end_records(self, exception: BaseException | None) -> None:
        for device in self._devices.values():
            device._end_record({} if device._alignment is None else {"alignment": device._alignment})
        end: dict[str, Any] = {"ended_at": _utc_now_iso()}
        if self._station_origin is not None:
            end["station_origin"] = self._station_origin
        if self._station_samples is not None:
            end["station_samples"] = self._station_samples
        if exception is not None:
            end["exception"] = f"{type(exception).__name__}: {exception}"
        self._station._append_record(Kind.END, encode_json(end, nonfinite_to_null=True))

    def _kept(self) -> str:
        each = "; ".join(f"{role}: {d._durable_samples} samples up to its index {d._durable_end_index} "
                         f"({d._durable_end_index / self.rate_hz:.1f} s)" for role, d in self._devices.items())
        return f"in the file and readable: {each}"
