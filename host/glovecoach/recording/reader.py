"""Reads `.gcrec` files, keeping everything readable from damaged ones: `open_recording` for a
one-device file (version 1), `open_station_recording` for a station's (version 2, one stream
per device), `open_any_recording` for either.

The whole file is read into memory and walked record by record (a handful of records per
second of session, since the writer merges sample blocks); sample blocks become numpy views
that are concatenated once at the end.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glovecoach.recording.format import (
    FILE_HEADER,
    FORMAT_VERSION,
    FRAME_DTYPE,
    INSTRUCTOR_MESSAGE_NOTE,
    MAGIC,
    MARK_NOTE,
    MAX_CHANNEL_ID_CHARS,
    MAX_CHANNELS,
    MAX_RATE_HZ,
    MAX_RECORD_PAYLOAD,
    MAX_SESSION_S,
    MAX_STREAMS,
    RAW_DTYPE,
    READABLE_VERSIONS,
    RECORD_HEADER,
    RECORD_HEADER_SIZE,
    RECORD_TRAILER_SIZE,
    SAMPLES_HEADER,
    STATION_FORMAT_VERSION,
    STATION_ORIGIN_NOTE,
    SYNC,
    T_US_MODULUS,
    Kind,
    RecordingError,
    decode_json,
)
from glovecoach.vocabulary.stream import SessionGap

if TYPE_CHECKING:   # imported where a station's file is read: one glove's recording does without it
    from glovecoach.vocabulary.station import StationLayout

_MISSING_REASON = "no samples for these indices in the file (never written, or lost to file damage)"


@dataclass(frozen=True)
class Skipped:
    """A stretch of the file the reader could not use (see `Recording.skipped`)."""

    byte: int                 # file offset where the unusable bytes start
    n_bytes: int              # how many bytes were skipped
    kind: str | None          # the damaged record's kind when its header was readable, else None
    reason: str
    samples: tuple[int, int] | None = None  # (first_index, n_samples) a damaged SAMPLES record held

    @property
    def n_samples(self) -> int:
        return self.samples[1] if self.samples else 0


@dataclass(frozen=True)
class Note:
    kind: str
    payload: dict
    host_time: float | None = None


@dataclass(eq=False)
class Recording:
    """One session as read from disk. `raw` holds only the rows that were recorded."""

    path: Path
    format_version: int
    device_info: dict
    rate_hz: int
    channels: tuple[str, ...]
    metadata: dict
    started_at: str
    raw: np.ndarray
    sample_index: np.ndarray
    frames: np.ndarray
    gaps: list[SessionGap]
    notes: list[Note]
    statuses: list[dict]
    problems: list[str] = field(default_factory=list)
    closed_cleanly: bool = False
    ended_at: str | None = None
    end_info: dict | None = None  # the END record: ended_at, end_index, samples, exception if any
    n_total: int = 0  # length of the timeline: one past the last index covered by samples or gaps
    skipped: list[Skipped] = field(default_factory=list)  # damaged stretches, in file order
    role: str | None = None  # the device's role in a station recording; None in a version 1 file
    hellos: list[dict] = field(default_factory=list)  # every HELLO of a station device, in order

    @property
    def truncated(self) -> bool:
        """True if part of the file could not be read (torn tail after a crash, or damage)."""
        return bool(self.problems)

    @property
    def truncation_reason(self) -> str | None:
        return _first_problem(self.problems)

    @property
    def samples(self) -> int:
        return int(self.raw.shape[0])

    @property
    def lost_samples(self) -> int:
        return self.n_total - self.samples

    @property
    def duration_s(self) -> float:
        return self.n_total / self.rate_hz

    @property
    def glove_id(self) -> str | None:
        return self.device_info.get("glove_id")

    @property
    def firmware(self) -> str | None:
        return self.device_info.get("firmware")

    def time_s(self) -> np.ndarray:
        """Session time of every recorded row: sample_index / rate_hz."""
        return self.sample_index / float(self.rate_hz)

    def notes_of(self, kind: str) -> list[Note]:
        return [note for note in self.notes if note.kind == kind]

    def __repr__(self) -> str:
        return (
            f"<Recording {str(self.path)!r}: {self.samples} samples x {len(self.channels)} ch "
            f"at {self.rate_hz} Hz, {self.lost_samples} lost, "
            f"{'closed cleanly' if self.closed_cleanly else 'not closed'}"
            f"{', truncated' if self.truncated else ''}>"
        )


@dataclass(eq=False)
class StationRecording:
    """A station's session as read from disk: one `Recording` per device (its own stream, on
    its own session index, with its own gaps), and what concerns the whole station."""

    path: Path
    format_version: int
    layout: StationLayout
    rate_hz: int
    metadata: dict
    started_at: str
    devices: dict[str, Recording]       # by role, in layout order
    notes: list[Note]                   # station-level notes
    problems: list[str] = field(default_factory=list)  # everything wrong in the file, each device's too
    closed_cleanly: bool = False
    ended_at: str | None = None
    end_info: dict | None = None        # the station END record
    station_origin: float | None = None  # host seconds of station index 0, if the caller set it
    skipped: list[Skipped] = field(default_factory=list)  # every damaged stretch, in file order
    # The parts of a session recorded in several files (glovecoach.recording.parts), in session
    # order, each as read; empty for a one-file session. Each part's samples are placed on the
    # station index as the run that recorded it placed them (station.replay).
    parts: tuple[StationRecording, ...] = ()

    @property
    def truncated(self) -> bool:
        return bool(self.problems)

    @property
    def truncation_reason(self) -> str | None:
        return _first_problem(self.problems)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.devices)

    @property
    def station_samples(self) -> int | None:
        """Station slots of the session, if the writer was told at close."""
        return None if self.end_info is None else self.end_info.get("station_samples")

    @property
    def n_total(self) -> int:
        """The station slots if known, else the longest device timeline."""
        if self.station_samples is not None:
            return int(self.station_samples)
        return max((rec.n_total for rec in self.devices.values()), default=0)

    @property
    def duration_s(self) -> float:
        return self.n_total / self.rate_hz

    @property
    def alignment(self) -> dict[str, dict | None]:
        """Each device's alignment summary from its END record (None if not given or not closed)."""
        return {role: (rec.end_info or {}).get("alignment") for role, rec in self.devices.items()}

    def notes_of(self, kind: str) -> list[Note]:
        return [note for note in self.notes if note.kind == kind]

    def instructor_notes(self) -> dict[str, list[dict]]:
        """The classroom instructor's marks and messages this recording holds, for the
        debrief, each with its session time ``at_s``. A message stored without one (the
        instructor's recording stores the host's clock) takes it from the station origin."""
        marks, messages = [], []
        for note in self.notes_of(MARK_NOTE) + self.notes_of(INSTRUCTOR_MESSAGE_NOTE):
            entry = dict(note.payload)
            received = entry.get("received_host_s")   # a trainee's recording: when it came
            host = entry.get("host_time", note.host_time)
            if self.station_origin is not None and isinstance(received, (int, float)):
                entry["at_s"] = round(max(0.0, float(received) - self.station_origin), 3)
            elif entry.get("at_s") is None and self.station_origin is not None and host is not None:
                entry["at_s"] = max(0.0, float(host) - self.station_origin)
            (marks if note.kind == MARK_NOTE else messages).append(entry)
        return {"instructor_marks": marks, "instructor_messages": messages}

    def __repr__(self) -> str:
        each = ", ".join(f"{role} {rec.samples} samples ({rec.lost_samples} lost)"
                         for role, rec in self.devices.items())
        state = "closed cleanly" if self.closed_cleanly else "not closed"
        return (f"<StationRecording {str(self.path)!r} at {self.rate_hz} Hz: {each}, "
                f"{state}{', truncated' if self.truncated else ''}>")


def _first_problem(problems: list[str]) -> str | None:
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return problems[0] + more


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a one-device `.gcrec` file (format version 1). Raises RecordingError if it is not
    a readable recording at all, or is a station recording; a damaged or torn file opens, with
    `truncated` set and the damage listed in `problems`."""
    path, data, version, start = _read(path)
    if version == STATION_FORMAT_VERSION:
        raise RecordingError(
            f"{path}: a station recording (.gcrec format version 2: several devices, each its own "
            f"stream); open it with open_station_recording, or open_any_recording for either kind"
        )
    return _Parser(path, data, start, version).run().recording()


def open_station_recording(path: str | os.PathLike[str]) -> StationRecording:
    """Read a station `.gcrec` file (format version 2). Damage costs the stream it hit, never
    the other devices' streams; it is listed in `problems` (and in the device's own)."""
    path, data, version, start = _read(path)
    if version != STATION_FORMAT_VERSION:
        raise RecordingError(
            f"{path}: a one-device recording (.gcrec format version {version}), not a station's; "
            f"open it with open_recording, or open_any_recording for either kind"
        )
    return _Parser(path, data, start, version).run().station_recording()


def open_any_recording(path: str | os.PathLike[str]) -> Recording | StationRecording:
    """A one-device file as a `Recording`, a station file as a `StationRecording`."""
    path, data, version, start = _read(path)
    parser = _Parser(path, data, start, version).run()
    return parser.station_recording() if version == STATION_FORMAT_VERSION else parser.recording()


# ---------------------------------------------------------------------- parsing


def _read(path: str | os.PathLike[str]) -> tuple[Path, bytes, int, int]:
    """The file's bytes, format version and where its records start, or RecordingError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not data:
        raise RecordingError(f"{path}: empty file, not a glovecoach recording")
    if len(data) < FILE_HEADER.size or data[: len(MAGIC)] != MAGIC:
        if data[: len(MAGIC)] == MAGIC[: len(data)]:
            raise RecordingError(f"{path}: file ends inside the {FILE_HEADER.size}-byte header ({len(data)} bytes)")
        raise RecordingError(f"{path}: not a glovecoach recording (no .gcrec magic at the start)")
    _, version, header_size, _ = FILE_HEADER.unpack_from(data, 0)
    if version not in READABLE_VERSIONS:
        raise RecordingError(
            f"{path}: .gcrec format version {version} is not supported "
            f"(this glovecoach reads versions {' and '.join(map(str, READABLE_VERSIONS))})"
        )
    if header_size < FILE_HEADER.size or header_size > len(data):
        raise RecordingError(f"{path}: bad header size {header_size}")
    return path, data, version, header_size


def _whole(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer field within [lo, hi]; JSON from a foreign writer may spell it 200.0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a whole number, got {type(value).__name__}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value!r} outside {lo}..{hi}")
    return int(value)


def _object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def _finite_or_none(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _channel_ids(channels: Any) -> tuple[str, ...]:
    if not isinstance(channels, list) or not 1 <= len(channels) <= MAX_CHANNELS:
        raise ValueError(f"channels must be a list of 1..{MAX_CHANNELS} channel ids")
    if not all(isinstance(c, str) and 0 < len(c) <= MAX_CHANNEL_ID_CHARS for c in channels):
        raise ValueError(f"channel ids must be strings of 1..{MAX_CHANNEL_ID_CHARS} characters")
    if len(set(channels)) != len(channels):
        raise ValueError("duplicate channel ids")
    return tuple(channels)


def _layout(value: Any) -> StationLayout:
    devices = _object(value, "layout").get("devices")
    if not isinstance(devices, list) or not 1 <= len(devices) <= MAX_STREAMS:
        raise ValueError(f"layout devices must be a list of 1..{MAX_STREAMS} devices")
    for device in devices:
        device = _object(device, "layout device")
        if not isinstance(device.get("role"), str) or not isinstance(device.get("hand"), (str, type(None))):
            raise ValueError("a layout device needs a role and a hand (a string or null)")
        _channel_ids(device.get("channels"))
    from glovecoach.vocabulary.station import StationLayout

    return StationLayout.from_description(value)  # refuses repeated roles, hands and columns


class _Stream:
    """What the records of one stream say: the whole file in version 1; in version 2 the
    station (stream 0, notes and END only) or one device."""

    def __init__(self, problems: list[str], skipped: list[Skipped], role: str | None = None) -> None:
        self.role = role                     # None: version 1's only stream, or the station's
        self.channels: tuple[str, ...] = ()
        self.rate_hz = 0
        self.max_index = 0
        self.raw_blocks: list[memoryview] = []
        self.index_blocks: list[tuple[int, int]] = []
        self.frame_blocks: list[memoryview] = []
        self.recorded_gaps: list[SessionGap] = []
        self.notes: list[Note] = []
        self.statuses: list[dict] = []
        self.hellos: list[dict] = []
        self.has_session = False             # a device's own SESSION was read (version 2)
        self.problems = problems
        self.skipped = skipped
        self.end: dict | None = None

    def set_timeline(self, rate_hz: int, channels: tuple[str, ...]) -> None:
        self.rate_hz = rate_hz
        self.channels = channels
        self.max_index = rate_hz * MAX_SESSION_S

    def handle(self, kind: int, payload: memoryview) -> None:
        if kind == Kind.SAMPLES:
            self._handle_samples(payload)
        elif kind == Kind.GAP:
            gap = _object(decode_json(payload), "GAP")
            first = _whole(gap["first_index"], "first_index", 0, self.max_index)
            n = _whole(gap["n_samples"], "n_samples", 0, self.max_index - first)
            reason, exact = gap["reason"], gap.get("exact", True)
            if not isinstance(reason, str) or not isinstance(exact, bool):
                raise ValueError("reason must be a string and exact true or false")
            self.recorded_gaps.append(SessionGap(first, n, reason, exact))
        elif kind == Kind.STATUS:
            status = _object(decode_json(payload), "STATUS")
            host_time = _finite_or_none(status["host_time"], "host_time")
            if host_time is None:
                raise ValueError("host_time is missing")
            self.statuses.append({**_object(status["status"], "status"), "host_time": host_time})
        elif kind == Kind.NOTE:
            note = _object(decode_json(payload), "NOTE")
            note_kind = note["kind"]
            if not isinstance(note_kind, str) or not note_kind:
                raise ValueError(f"note kind must be a non-empty string, got {note_kind!r}")
            host_time = _finite_or_none(note.get("host_time"), "host_time")
            self.notes.append(Note(note_kind, _object(note["payload"], "payload"), host_time))
        elif kind == Kind.END:
            end = _object(decode_json(payload), "END")
            if not isinstance(end.get("ended_at"), (str, type(None))):
                raise ValueError(f"ended_at must be a string, got {end['ended_at']!r}")
            for key in ("end_index", "samples"):
                if key in end:
                    _whole(end[key], key, 0, self.max_index)
            self.end = end
        elif kind == Kind.SESSION:
            raise ValueError("a second SESSION record")
        elif kind == Kind.HELLO and self.role is not None:
            hello = _object(decode_json(payload), "HELLO")
            _finite_or_none(hello.get("host_time"), "host_time")
            self.hellos.append(_object(hello["device_info"], "device_info"))
        # Any other kind is a newer writer's record: skipped on purpose.

    def _handle_samples(self, payload: memoryview) -> None:
        first, n, ch, _reserved, n_frames = SAMPLES_HEADER.unpack_from(payload, 0)
        expected = SAMPLES_HEADER.size + 2 * n * ch + FRAME_DTYPE.itemsize * n_frames
        if len(payload) != expected:
            raise ValueError(f"length {len(payload)} does not match {n} samples x {ch} channels + {n_frames} frames")
        if ch != len(self.channels):
            raise ValueError(f"{ch} channels but the session has {len(self.channels)}")
        if not 0 <= first <= first + n <= self.max_index:
            raise ValueError(f"samples {first}..{first + n - 1} outside the session's 0..{self.max_index - 1} "
                             f"({MAX_SESSION_S // 3600} h at {self.rate_hz} Hz)")
        raw_start = SAMPLES_HEADER.size
        frames_start = raw_start + 2 * n * ch
        # Keep byte slices; they are joined and converted once in result() (per-record numpy
        # calls would dominate for files with many small records).
        self.raw_blocks.append(payload[raw_start:frames_start])
        self.index_blocks.append((first, n))
        self.frame_blocks.append(payload[frames_start:])

    def claimed_samples(self, data: bytes, payload_start: int, length: int) -> tuple[int, int] | None:
        """(first_index, n) from a damaged SAMPLES record's own header, if it is consistent with
        the record's (checksummed) length; only used to name what was lost."""
        if length < SAMPLES_HEADER.size or payload_start + SAMPLES_HEADER.size > len(data):
            return None
        first, n, ch, _reserved, n_frames = SAMPLES_HEADER.unpack_from(data, payload_start)
        expected = SAMPLES_HEADER.size + 2 * n * ch + FRAME_DTYPE.itemsize * n_frames
        if expected != length or ch != len(self.channels) or n == 0 or not 0 <= first < first + n <= self.max_index:
            return None
        return first, n

    def result(self, path: Path, format_version: int, device_info: dict, metadata: dict, started_at: str,
               label: str = "") -> Recording:
        channels = self.channels
        # Blocks are in index order when written by RecordingWriter; sort defensively in case a
        # damaged file or a foreign writer disagrees.
        firsts = np.array([first for first, _ in self.index_blocks], dtype=np.int64)
        lengths = np.array([n for _, n in self.index_blocks], dtype=np.int64)
        order = np.argsort(firsts, kind="stable")
        if len(order) and np.any(order != np.arange(len(order))):
            self.raw_blocks = [self.raw_blocks[k] for k in order]
            firsts, lengths = firsts[order], lengths[order]
        # bytearray.join: one copy, and the arrays built on it are writable.
        raw = np.frombuffer(bytearray().join(self.raw_blocks), dtype=RAW_DTYPE).reshape(-1, len(channels))
        # Row r of block b has index firsts[b] + (r - rows before block b).
        rows_before = np.cumsum(lengths) - lengths
        sample_index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(firsts - rows_before, lengths)
        frames = np.frombuffer(bytearray().join(self.frame_blocks), dtype=FRAME_DTYPE)
        # Frame-table entries are checked once here, as one array: a value no writer can produce
        # (a non-finite host time, an index outside the session, a t_us wider than 30 bits).
        bad = ~np.isfinite(frames["host_time"]) | (frames["sample_index"] < 0) \
            | (frames["sample_index"] >= self.max_index) | (frames["t_us"] >= T_US_MODULUS)
        if bad.any():
            frames = frames[~bad]
            self.problems.append(f"{label}{int(bad.sum())} frame-table entries with impossible values dropped")
        if len(sample_index) > 1 and np.any(np.diff(sample_index) <= 0):
            # Overlapping blocks can only come from a foreign or buggy writer: keep one row per
            # index (from the block that starts first) and say so.
            sample_index, first_pos = np.unique(sample_index, return_index=True)
            raw = raw[first_pos]
            self.problems.append(f"{label}sample blocks overlap; kept one row per sample index")

        # The timeline also reaches the writer's own end (END) and any samples a damaged record
        # held, so samples lost at the very end still count as lost.
        n_total = max(
            [int(sample_index[-1]) + 1 if len(sample_index) else 0]
            + [gap.end_index for gap in self.recorded_gaps]
            + [int(self.end.get("end_index", 0)) if self.end else 0]
            + [s.samples[0] + s.samples[1] for s in self.skipped if s.samples]
        )
        gaps = _gaps_with_holes(self.index_blocks, self.recorded_gaps, n_total, self.skipped)
        return Recording(
            path=path,
            format_version=format_version,
            device_info=device_info,
            rate_hz=self.rate_hz,
            channels=channels,
            metadata=metadata,
            started_at=started_at,
            raw=raw,
            sample_index=sample_index,
            frames=frames,
            gaps=gaps,
            notes=self.notes,
            statuses=self.statuses,
            problems=self.problems,
            closed_cleanly=self.end is not None,
            ended_at=self.end.get("ended_at") if self.end else None,
            end_info=self.end,
            n_total=n_total,
            skipped=self.skipped,
            role=self.role,
            hellos=self.hellos,
        )


class _Parser:
    """Walks the records of a file of either version, handing each to its stream.

    The walk (framing, checksums, damage) is the same for both versions. In version 2 every
    problem whose record header was readable is also filed with that record's stream, so a
    device's `Recording` lists the damage that cost it samples; damage whose header is
    unreadable belongs to no stream and is listed only for the station.
    """

    def __init__(self, path: Path, data: bytes, start: int, version: int) -> None:
        self.path = path
        self.data = data
        self.view = memoryview(data)
        self.pos = start
        self.version = version
        self.problems: list[str] = []
        self.skipped: list[Skipped] = []
        self.session: dict | None = None             # v1's SESSION, or v2's station SESSION
        self.station = _Stream(self.problems, self.skipped)
        self.devices: dict[int, _Stream] = {}        # v2: stream number -> device
        self.layout: StationLayout | None = None

    # Walk the records. Damage costs only the damaged record: a record whose payload checksum
    # fails is skipped by its length only if a valid record header (itself checksummed) starts
    # right where that length says; otherwise bytes were lost or added inside it, and the walk
    # resumes at the next valid header found by scanning, which may be before that point.
    def run(self) -> _Parser:
        size = len(self.data)
        while self.pos < size:
            start = self.pos
            header = self._header_at(start)
            if header is None:
                if size - start < RECORD_HEADER_SIZE and self.data.startswith(SYNC[: size - start], start):
                    self._problem(None, f"torn record at byte {start}: the file ends inside a record header "
                                        f"(the writer was interrupted, e.g. a crash)")
                    return self
                self._require_session(f"unreadable data at byte {start}")
                self._skip(start, self._next_header(start + 1), None, None, f"unreadable data at byte {start}")
                continue
            kind, length, stream = header
            what = self._what(kind, stream)
            payload_start = start + RECORD_HEADER_SIZE
            record_end = payload_start + length + RECORD_TRAILER_SIZE
            if record_end > size:
                resume = self._next_header(payload_start)
                if resume is None:
                    self._problem(stream, f"torn record at byte {start}: a {what} record of {length} bytes "
                                          f"but the file ends {size - payload_start} bytes into it "
                                          f"(the writer was interrupted, e.g. a crash)")
                    return self
                # A valid record starts inside what this one claims: bytes went missing in it.
                self._require_session(f"damaged record at byte {start}")
                self._skip(start, resume, kind, stream,
                           f"corrupt {what} record at byte {start} (shorter than its header "
                           f"says: bytes lost inside it)", self._claimed_samples(kind, stream, payload_start, length))
                continue
            payload = self.view[payload_start: payload_start + length]
            (stored_crc,) = struct.unpack_from("<I", self.data, payload_start + length)
            if zlib.crc32(payload) != stored_crc:
                self._require_session(f"corrupt record at byte {start}")
                claim = self._claimed_samples(kind, stream, payload_start, length)
                if record_end == size or self._header_at(record_end) is not None:
                    # Damaged in place (same length): the header's length is right.
                    self._skip(start, record_end, kind, stream,
                               f"corrupt {what} record at byte {start} (checksum mismatch)", claim)
                else:
                    resume = self._next_header(payload_start)
                    # With nothing readable after it (e.g. a zero-filled tail after a power cut)
                    # there is no telling whether bytes went missing: say only what is known.
                    how = "checksum mismatch" if resume is None else \
                        "checksum mismatch, and no record starts where its length ends: bytes lost or added inside it"
                    self._skip(start, resume, kind, stream, f"corrupt {what} record at byte {start} ({how})", claim)
                continue
            try:
                self._handle(kind, stream, payload)
            except (ValueError, KeyError, TypeError, OverflowError, struct.error) as exc:
                why = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                if self.session is None:
                    raise RecordingError(f"{self.path}: bad SESSION record at byte {start}: {why}") from exc
                self._problem(stream, f"bad {what} record at byte {start}: {why}; skipped it")
            self._require_session("")
            self.pos = record_end
            if self.station.end is not None and self.pos < size:
                self._problem(None, f"{size - self.pos} bytes after the END record (byte {self.pos}) ignored")
                return self
        return self

    def _what(self, kind: int, stream: int) -> str:
        """How a problem names a record: its kind, and in version 2 whose it is."""
        if self.version == FORMAT_VERSION:
            return _kind_name(kind)
        owner = self.devices[stream].role if stream in self.devices else "station" if stream == 0 \
            else f"stream-{stream}"
        return f"{owner} {_kind_name(kind)}"

    def _problem(self, stream: int | None, message: str) -> None:
        self.problems.append(message)
        if stream in self.devices:
            self.devices[stream].problems.append(message)

    def _require_session(self, what: str) -> None:
        # Without SESSION nothing after it can be interpreted: damage there is fatal.
        if self.session is None:
            raise RecordingError(
                f"{self.path}: the first record (byte {self.pos}) is not a readable SESSION record"
                + (f" ({what})" if what else "")
            )

    def _header_at(self, pos: int) -> tuple[int, int, int] | None:
        if pos + RECORD_HEADER_SIZE > len(self.data):
            return None
        sync, kind, _flags, stream, length, header_crc = RECORD_HEADER.unpack_from(self.data, pos)
        if sync != SYNC or zlib.crc32(self.view[pos: pos + 12]) != header_crc or length > MAX_RECORD_PAYLOAD:
            return None
        return kind, length, stream

    def _next_header(self, search: int) -> int | None:
        """Offset of the first valid record header at or after `search`, or None."""
        while True:
            found = self.data.find(SYNC, search)
            if found < 0:
                return None
            if self._header_at(found) is not None:
                return found
            search = found + 1

    def _skip(self, start: int, resume: int | None, kind: int | None, stream: int | None, what: str,
              samples: tuple[int, int] | None = None) -> None:
        """Note the unusable bytes [start, resume) and carry on at `resume` (None: the end)."""
        size = len(self.data)
        end = size if resume is None else resume
        if resume is None:
            message = f"{what}: {end - start} bytes to the end of the file could not be read " \
                      f"(a crash while writing, or damage)"
        else:
            message = f"{what}: skipped {end - start} bytes, resumed at the record at byte {end}"
        if samples is not None:
            message += f"; it held samples {samples[0]}..{samples[0] + samples[1] - 1}"
        self._problem(stream, message)
        skipped = Skipped(start, end - start, None if kind is None else _kind_name(kind), what, samples)
        self.skipped.append(skipped)
        if stream in self.devices:
            self.devices[stream].skipped.append(skipped)
        self.pos = end

    def _claimed_samples(self, kind: int, stream: int, payload_start: int, length: int) -> tuple[int, int] | None:
        if kind != Kind.SAMPLES or self.session is None:
            return None
        owner = self.station if self.version == FORMAT_VERSION else self.devices.get(stream)
        return None if owner is None else owner.claimed_samples(self.data, payload_start, length)

    def _handle(self, kind: int, stream: int, payload: memoryview) -> None:
        if self.session is None:
            if kind != Kind.SESSION or stream != 0:
                raise RecordingError(f"{self.path}: the first record is {self._what(kind, stream)}, not SESSION")
            if self.version == FORMAT_VERSION:
                self._handle_session(payload)
            else:
                self._handle_station_session(payload)
            return
        if self.version == FORMAT_VERSION:
            self.station.handle(kind, payload)
        elif stream == 0:
            if kind in (Kind.SAMPLES, Kind.GAP, Kind.STATUS, Kind.HELLO):
                raise ValueError("the station's stream holds no samples, gaps, STATUS or HELLO")
            if kind == Kind.END:
                end = _object(decode_json(payload), "END")
                _finite_or_none(end.get("station_origin"), "station_origin")
                if "station_samples" in end:
                    _whole(end["station_samples"], "station_samples", 0, self.station.max_index)
            self.station.handle(kind, payload)
        elif stream not in self.devices:
            raise ValueError(f"stream {stream} is none of the station's {len(self.devices)} devices")
        elif kind == Kind.SESSION:
            self._handle_device_session(self.devices[stream], payload)
        else:
            if kind == Kind.END:
                end = _object(decode_json(payload), "END")
                if end.get("alignment") is not None:
                    _object(end["alignment"], "alignment")
            self.devices[stream].handle(kind, payload)

    def _handle_session(self, payload: memoryview) -> None:
        session = _object(decode_json(payload), "SESSION")
        rate = _whole(session.get("rate_hz"), "rate_hz", 1, MAX_RATE_HZ)
        channels = _channel_ids(session.get("channels"))
        for key in ("device_info", "metadata"):
            if session.get(key) is not None:
                _object(session[key], key)
        if not isinstance(session.get("started_at", ""), str):
            raise ValueError("started_at must be a string")
        self.session = session
        self.station.set_timeline(rate, channels)

    def _handle_station_session(self, payload: memoryview) -> None:
        session = _object(decode_json(payload), "SESSION")
        rate = _whole(session.get("rate_hz"), "rate_hz", 1, MAX_RATE_HZ)
        layout = _layout(session.get("layout"))
        if session.get("metadata") is not None:
            _object(session["metadata"], "metadata")
        if not isinstance(session.get("started_at", ""), str):
            raise ValueError("started_at must be a string")
        self.session = session
        self.layout = layout
        self.station.set_timeline(rate, ())
        # Stream k is the layout's k-th device: the station SESSION alone says how to read every
        # stream, so a damaged device SESSION costs nothing.
        for number, device in enumerate(layout.devices, start=1):
            self.devices[number] = _Stream([], [], device.role)
            self.devices[number].set_timeline(rate, device.channels)

    def _handle_device_session(self, state: _Stream, payload: memoryview) -> None:
        if state.has_session:
            raise ValueError("a second SESSION record")
        session = _object(decode_json(payload), "SESSION")
        state.has_session = True
        if session.get("role") != state.role or tuple(session.get("channels") or ()) != state.channels:
            raise ValueError(f"role {session.get('role')!r} with {len(session.get('channels') or ())} channels "
                             f"disagrees with the station layout ({state.role}, {len(state.channels)} channels); "
                             f"the layout is used")

    def recording(self) -> Recording:
        self._require_complete_session()
        session = self.session or {}
        return self.station.result(self.path, FORMAT_VERSION, dict(session.get("device_info") or {}),
                                   dict(session.get("metadata") or {}), str(session.get("started_at", "")))

    def station_recording(self) -> StationRecording:
        self._require_complete_session()
        session = self.session or {}
        assert self.layout is not None
        metadata = dict(session.get("metadata") or {})
        started_at = str(session.get("started_at", ""))
        devices = {}
        for state in self.devices.values():
            before = len(state.problems)
            role = str(state.role)
            hello = dict(state.hellos[0]) if state.hellos else {}
            devices[role] = state.result(self.path, STATION_FORMAT_VERSION, hello, dict(metadata), started_at,
                                         label=f"{role}: ")
            self.problems.extend(state.problems[before:])
        end = self.station.end
        origin = end.get("station_origin") if end else None
        if origin is None:
            for note in reversed(self.station.notes):
                host_s = note.payload.get("host_s") if note.kind == STATION_ORIGIN_NOTE else None
                if isinstance(host_s, (int, float)) and not isinstance(host_s, bool) and math.isfinite(host_s):
                    origin = host_s
                    break
        return StationRecording(
            path=self.path,
            format_version=STATION_FORMAT_VERSION,
            layout=self.layout,
            rate_hz=self.station.rate_hz,
            metadata=metadata,
            started_at=started_at,
            devices=devices,
            notes=self.station.notes,
            problems=self.problems,
            closed_cleanly=end is not None,
            ended_at=end.get("ended_at") if end else None,
            end_info=end,
            station_origin=None if origin is None else float(origin),
            skipped=self.skipped,
        )

    def _require_complete_session(self) -> None:
        if self.session is None:
            raise RecordingError(
                f"{self.path}: the file ends before a complete SESSION record "
                f"(the recorder stopped right at the start?)"
            )


def _gaps_with_holes(blocks: list[tuple[int, int]], recorded: list[SessionGap], n_total: int,
                     skipped: Sequence[Skipped] = ()) -> list[SessionGap]:
    """The recorded gaps, plus a gap for every stretch of the timeline that nothing covers,
    so that the gaps always add up to `lost_samples`. A hole that a damaged SAMPLES record
    claimed names that record."""
    covered = sorted(
        [(first, first + n) for first, n in blocks if n] + [(g.first_index, g.end_index) for g in recorded]
    )
    claims = [(s.samples[0], s.samples[0] + s.samples[1], s.byte) for s in skipped if s.samples]

    def hole(start: int, stop: int) -> SessionGap:
        where = [byte for first, end, byte in claims if first < stop and end > start]
        reason = _MISSING_REASON if not where else \
            f"lost to file damage (corrupt SAMPLES record at byte {', '.join(map(str, where))})"
        return SessionGap(start, stop - start, reason, True)

    holes: list[SessionGap] = []
    cursor = 0
    for start, stop in covered:
        if start > cursor:
            holes.append(hole(cursor, start))
        cursor = max(cursor, stop)
    if cursor < n_total:
        holes.append(hole(cursor, n_total))
    return sorted(recorded + holes, key=lambda g: g.first_index)


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"kind-{kind}"
