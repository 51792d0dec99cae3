"""Reads `.gcrec` files, keeping everything readable from damaged ones.

The whole file is read into memory and walked record by record (a handful of records per
second of session, since the writer merges sample blocks); sample blocks become numpy views
that are concatenated once at the end.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glovecoach.recording.format import (
    FILE_HEADER,
    FORMAT_VERSION,
    FRAME_DTYPE,
    MAGIC,
    MAX_RECORD_PAYLOAD,
    RAW_DTYPE,
    RECORD_HEADER,
    RECORD_HEADER_SIZE,
    RECORD_TRAILER_SIZE,
    SAMPLES_HEADER,
    SYNC,
    Kind,
    RecordingError,
)

_MISSING_REASON = "no samples for these indices in the file (never written, or lost to file damage)"


@dataclass(frozen=True)
class Gap:
    """Session indices [first_index, first_index + n_samples) that hold no samples."""

    first_index: int
    n_samples: int
    reason: str
    exact: bool = True

    @property
    def end_index(self) -> int:
        return self.first_index + self.n_samples


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
    gaps: list[Gap]
    notes: list[Note]
    statuses: list[dict]
    problems: list[str] = field(default_factory=list)
    closed_cleanly: bool = False
    ended_at: str | None = None
    end_info: dict | None = None  # the END record: ended_at, end_index, samples, exception if any
    n_total: int = 0  # length of the timeline: one past the last index covered by samples or gaps

    @property
    def truncated(self) -> bool:
        """True if part of the file could not be read (torn tail after a crash, or damage)."""
        return bool(self.problems)

    @property
    def truncation_reason(self) -> str | None:
        if not self.problems:
            return None
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        return self.problems[0] + more

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

    def dense(self, fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The full timeline (n_total, channels) with gap rows set to `fill`, and a valid-row mask."""
        if not 0 <= fill <= 0xFFFF:
            raise ValueError(f"fill must be a uint16 value (0..65535), got {fill}")
        out = np.full((self.n_total, len(self.channels)), fill, dtype=RAW_DTYPE)
        valid = np.zeros(self.n_total, dtype=bool)
        out[self.sample_index] = self.raw
        valid[self.sample_index] = True
        return out, valid

    def notes_of(self, kind: str) -> list[Note]:
        return [note for note in self.notes if note.kind == kind]

    def __repr__(self) -> str:
        return (
            f"<Recording {str(self.path)!r}: {self.samples} samples x {len(self.channels)} ch "
            f"at {self.rate_hz} Hz, {self.lost_samples} lost, "
            f"{'closed cleanly' if self.closed_cleanly else 'not closed'}"
            f"{', truncated' if self.truncated else ''}>"
        )


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a `.gcrec` file. Raises RecordingError if it is not a readable recording at all;
    a damaged or torn file opens, with `truncated` set and the damage listed in `problems`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return _parse(path, data)


# ---------------------------------------------------------------------- parsing


def _parse(path: Path, data: bytes) -> Recording:
    if not data:
        raise RecordingError(f"{path}: empty file, not a glovecoach recording")
    if len(data) < FILE_HEADER.size or data[: len(MAGIC)] != MAGIC:
        if data[: len(MAGIC)] == MAGIC[: len(data)]:
            raise RecordingError(f"{path}: file ends inside the {FILE_HEADER.size}-byte header ({len(data)} bytes)")
        raise RecordingError(f"{path}: not a glovecoach recording (no .gcrec magic at the start)")
    _, version, header_size, _ = FILE_HEADER.unpack_from(data, 0)
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: .gcrec format version {version} is not supported "
            f"(this glovecoach reads version {FORMAT_VERSION})"
        )
    if header_size < FILE_HEADER.size or header_size > len(data):
        raise RecordingError(f"{path}: bad header size {header_size}")

    parser = _Parser(path, data, header_size)
    parser.run()
    return parser.result()


def _json(payload: memoryview) -> Any:
    return json.loads(bytes(payload))


class _Parser:
    def __init__(self, path: Path, data: bytes, start: int) -> None:
        self.path = path
        self.data = data
        self.view = memoryview(data)
        self.pos = start
        self.session: dict | None = None
        self.raw_blocks: list[memoryview] = []
        self.index_blocks: list[tuple[int, int]] = []
        self.frame_blocks: list[memoryview] = []
        self.recorded_gaps: list[Gap] = []
        self.notes: list[Note] = []
        self.statuses: list[dict] = []
        self.problems: list[str] = []
        self.end: dict | None = None
        self.unknown_kinds = 0

    # Walk the records; on damage, note it and resync at the next valid record header.
    def run(self) -> None:
        size = len(self.data)
        while self.pos < size:
            header = self._header_at(self.pos)
            if header is None:
                if size - self.pos < RECORD_HEADER_SIZE and self.data.startswith(SYNC[: size - self.pos], self.pos):
                    self.problems.append(
                        f"torn record at byte {self.pos}: the file ends inside a record header "
                        f"(the writer was interrupted, e.g. a crash)"
                    )
                    return
                self._resync(f"unreadable data at byte {self.pos}")
                continue
            kind, length = header
            payload_start = self.pos + RECORD_HEADER_SIZE
            record_end = payload_start + length + RECORD_TRAILER_SIZE
            if record_end > size:
                self.problems.append(
                    f"torn record at byte {self.pos}: a {_kind_name(kind)} record of {length} bytes "
                    f"but the file ends {size - payload_start} bytes into it "
                    f"(the writer was interrupted, e.g. a crash)"
                )
                return
            payload = self.view[payload_start: payload_start + length]
            (stored_crc,) = struct.unpack_from("<I", self.data, payload_start + length)
            if zlib.crc32(payload) != stored_crc:
                # The header checksum was good, so the length is trusted: skip just this record.
                self.problems.append(
                    f"corrupt {_kind_name(kind)} record at byte {self.pos} (checksum mismatch); "
                    f"skipped its {length} bytes"
                )
            else:
                try:
                    self._handle(kind, payload)
                except (ValueError, KeyError, TypeError, struct.error) as exc:
                    if kind == Kind.SESSION and self.session is None:
                        raise RecordingError(f"{self.path}: bad SESSION record at byte {self.pos}: {exc}") from exc
                    self.problems.append(f"bad {_kind_name(kind)} record at byte {self.pos}: {exc}; skipped it")
            if self.session is None:
                raise RecordingError(
                    f"{self.path}: the first record (byte {self.pos}) is not a readable SESSION record"
                )
            self.pos = record_end
            if self.end is not None and self.pos < size:
                self.problems.append(f"{size - self.pos} bytes after the END record (byte {self.pos}) ignored")
                return

    def _header_at(self, pos: int) -> tuple[int, int] | None:
        if pos + RECORD_HEADER_SIZE > len(self.data):
            return None
        sync, kind, _flags, _reserved, length, header_crc = RECORD_HEADER.unpack_from(self.data, pos)
        if sync != SYNC or zlib.crc32(self.view[pos: pos + 12]) != header_crc or length > MAX_RECORD_PAYLOAD:
            return None
        return kind, length

    def _resync(self, what: str) -> None:
        start = self.pos
        if self.session is None:
            raise RecordingError(f"{self.path}: no SESSION record at byte {start} ({what})")
        search = start + 1
        while True:
            found = self.data.find(SYNC, search)
            if found < 0:
                self.problems.append(
                    f"{what}: {len(self.data) - start} bytes to the end of the file could not be read "
                    f"(a crash while writing, or damage)"
                )
                self.pos = len(self.data)
                return
            if self._header_at(found) is not None:
                self.problems.append(f"{what}: skipped {found - start} bytes, resumed at the record at byte {found}")
                self.pos = found
                return
            search = found + 1

    def _handle(self, kind: int, payload: memoryview) -> None:
        if self.session is None:
            if kind != Kind.SESSION:
                raise RecordingError(f"{self.path}: the first record is {_kind_name(kind)}, not SESSION")
            session = _json(payload)
            rate = int(session["rate_hz"])
            channels = tuple(str(c) for c in session["channels"])
            if rate <= 0 or not channels:
                raise ValueError(f"rate_hz {rate} and {len(channels)} channels")
            self.session = session
            return
        if kind == Kind.SAMPLES:
            self._handle_samples(payload)
        elif kind == Kind.GAP:
            gap = _json(payload)
            self.recorded_gaps.append(
                Gap(int(gap["first_index"]), int(gap["n_samples"]), str(gap["reason"]), bool(gap.get("exact", True)))
            )
        elif kind == Kind.STATUS:
            status = _json(payload)
            self.statuses.append({**status["status"], "host_time": status["host_time"]})
        elif kind == Kind.NOTE:
            note = _json(payload)
            self.notes.append(Note(str(note["kind"]), note["payload"], note.get("host_time")))
        elif kind == Kind.END:
            self.end = _json(payload)
        elif kind == Kind.SESSION:
            raise ValueError("a second SESSION record")
        else:
            self.unknown_kinds += 1  # a newer writer's record kind: skipped on purpose

    def _handle_samples(self, payload: memoryview) -> None:
        assert self.session is not None
        first, n, ch, _reserved, n_frames = SAMPLES_HEADER.unpack_from(payload, 0)
        expected = SAMPLES_HEADER.size + 2 * n * ch + FRAME_DTYPE.itemsize * n_frames
        if len(payload) != expected:
            raise ValueError(f"length {len(payload)} does not match {n} samples x {ch} channels + {n_frames} frames")
        if ch != len(self.session["channels"]):
            raise ValueError(f"{ch} channels but the session has {len(self.session['channels'])}")
        raw_start = SAMPLES_HEADER.size
        frames_start = raw_start + 2 * n * ch
        # Keep byte slices; they are joined and converted once in result() (per-record numpy
        # calls would dominate for files with many small records).
        self.raw_blocks.append(payload[raw_start:frames_start])
        self.index_blocks.append((first, n))
        self.frame_blocks.append(payload[frames_start:])

    def result(self) -> Recording:
        if self.session is None:
            raise RecordingError(
                f"{self.path}: the file ends before a complete SESSION record "
                f"(the recorder stopped right at the start?)"
            )
        session = self.session
        channels = tuple(str(c) for c in session["channels"])
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
        if len(sample_index) > 1 and np.any(np.diff(sample_index) <= 0):
            # Overlapping blocks can only come from a foreign or buggy writer: keep one row per
            # index (from the block that starts first) and say so.
            sample_index, first_pos = np.unique(sample_index, return_index=True)
            raw = raw[first_pos]
            self.problems.append("sample blocks overlap; kept one row per sample index")

        n_total = max(
            [int(sample_index[-1]) + 1 if len(sample_index) else 0]
            + [gap.end_index for gap in self.recorded_gaps]
        )
        gaps = _gaps_with_holes(self.index_blocks, self.recorded_gaps, n_total)
        return Recording(
            path=self.path,
            format_version=FORMAT_VERSION,
            device_info=dict(session.get("device_info") or {}),
            rate_hz=int(session["rate_hz"]),
            channels=channels,
            metadata=dict(session.get("metadata") or {}),
            started_at=str(session.get("started_at", "")),
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
        )


def _gaps_with_holes(blocks: list[tuple[int, int]], recorded: list[Gap], n_total: int) -> list[Gap]:
    """The recorded gaps, plus a gap for every stretch of the timeline that nothing covers,
    so that the gaps always add up to `lost_samples`."""
    covered = sorted(
        [(first, first + n) for first, n in blocks if n] + [(g.first_index, g.end_index) for g in recorded]
    )
    holes: list[Gap] = []
    cursor = 0
    for start, stop in covered:
        if start > cursor:
            holes.append(Gap(cursor, start - cursor, _MISSING_REASON, True))
        cursor = max(cursor, stop)
    if cursor < n_total:
        holes.append(Gap(cursor, n_total - cursor, _MISSING_REASON, True))
    return sorted(recorded + holes, key=lambda g: g.first_index)


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"kind-{kind}"
