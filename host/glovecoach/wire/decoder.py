"""Incremental decoder for the device-to-host byte stream (docs/protocol.md sections 1 and 3.1).

``StreamDecoder.feed(bytes)`` returns the messages completed by those bytes, in stream order.
Runs of SAMPLES frames come out as one :class:`SampleBatch` each.

Its speed is measured against the decoder a competent engineer writes in an hour (split on
0x00, ``cobs.decode``, ``zlib.crc32``, ``np.frombuffer`` per frame: benchmarks/bench_decode.py),
so each kind of read has its own path, all giving identical results (tests/wire):

* a read inside a frame (most live reads at high rates) only extends the held-back tail;
* a read completing one SAMPLES frame (the usual live read) is decoded by
  ``_one_samples_frame``: header checks on the ints of one ``struct`` unpack, the samples by one
  ``np.frombuffer``, and the per-frame fields left as those ints (``SampleBatch`` makes arrays
  of them only when a consumer reads one);
* a long read (a replayed capture, a catch-up after a stall) is decoded in one ``cobs.decode``
  call over all its frames and checked with one CRC-32 pass (``_uniform_joined``), when its
  frames are intact SAMPLES frames of one size;
* everything else (few frames, other messages, damage) goes frame by frame (``_decode_few``) or,
  from ``vectorise_from`` frames on, through numpy over all frames (``_decode_many``), which
  say exactly why each dropped frame was dropped.

Python loops only over frames of a short read or over *segments* of a long one, never over
samples.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
from cobs import cobs  # type: ignore[import-untyped]

from glovecoach.wire.frames import (
    CRC32_RESIDUE,
    CRC_SIZE,
    DELIMITER,
    MAX_PAYLOAD,
    MAX_UNDELIMITED_RUN,
    CorruptReason,
    FrameError,
    crc32,
    crc32_combine,
    decode_frame,
)
from glovecoach.wire.messages import (
    MAX_CHANNELS,
    MAX_SAMPLES_ACCEPTED_PER_FRAME,
    SAMPLES_HEADER,
    T_US_MAX,
    Message,
    MessageType,
    SampleBatch,
    decode_message,
    decode_samples_header,
)

_SAMPLES = int(MessageType.SAMPLES)
_HEADER_SIZE = SAMPLES_HEADER.size
_MIN_DECODED = 1 + CRC_SIZE
_MAX_DECODED = MAX_PAYLOAD + CRC_SIZE
# Below this many frames in one feed() a plain loop beats numpy's fixed cost per call
# (measured on 4-sample frames: ~45 us fixed cost per vectorised call; the two break even near
# 64 frames, beyond which the vectorised path is up to twice as fast per frame).
VECTORISE_FROM_FRAMES = 64
# Reads longer than this try the one-call bulk decode before splitting (the split into bytes
# objects would cost as much as the decode); shorter ones are split first, which also counts
# their frames.
_BULK_FROM_BYTES = 16 * 1024
# Content errors kept for take_device_errors(); older ones are only counted.
MAX_KEPT_DEVICE_ERRORS = 64


@dataclass
class DecoderStats:
    """Running counts of what a :class:`StreamDecoder` has seen since it was created."""

    bytes_in: int = 0
    frames_ok: int = 0
    corrupt_frames: int = 0
    corrupt_by_reason: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in CorruptReason})
    skipped_bytes: int = 0    # before the first delimiter after a (re)start: not counted as corrupt
    discarded_bytes: int = 0  # bytes of the corrupt frames and of over-long undelimited runs

    def _count_corrupt(self, reason: CorruptReason, n_bytes: int) -> None:
        self.corrupt_frames += 1
        self.corrupt_by_reason[reason.value] += 1
        self.discarded_bytes += n_bytes


class StreamDecoder:
    """Splits a byte stream into frames and decodes them; never raises on bad input.

    ``synced=False`` (the default, for a freshly opened port) discards everything before the
    first 0x00, because a port opened mid-stream starts inside a frame. Pass ``synced=True``
    for a stream known to start at a frame boundary (a file written by an encoder).
    """

    def __init__(self, *, synced: bool = False, max_undelimited_run: int = MAX_UNDELIMITED_RUN,
                 vectorise_from: int = VECTORISE_FROM_FRAMES) -> None:
        self.stats = DecoderStats()
        self.max_undelimited_run = max_undelimited_run
        self.vectorise_from = vectorise_from
        # A read completing exactly one SAMPLES frame (the live case) skips the general loop;
        # vectorise_from=1 forces the vectorised path for everything (the tests compare paths).
        self._one_frame_path = vectorise_from > 1
        self.last_error: FrameError | None = None  # why the most recent corrupt frame was dropped
        # Frames whose CRC was right but whose content was not: the device really sent them, so
        # they say something about the device (a firmware bug, a foreign device), not the link.
        self._device_errors: deque[FrameError] = deque(maxlen=MAX_KEPT_DEVICE_ERRORS)
        self._synced = synced
        self._tail = b""           # bytes after the last delimiter: the start of the next frame
        self._discarding = False   # inside an over-long run: drop bytes up to the next delimiter
        self._plain = synced       # synced and not discarding: the state of nearly every read

    def restart(self, *, synced: bool = False) -> None:
        """Forget any partial frame, e.g. after the port was closed and reopened (stats are kept)."""
        self._synced = synced
        self._tail = b""
        self._discarding = False
        self._plain = synced

    def take_device_errors(self) -> list[FrameError]:
        """Content errors (CRC fine, message invalid) since the last call, oldest first; at most
        the last 64 (``stats.corrupt_by_reason`` counts all of them)."""
        errors = list(self._device_errors)
        self._device_errors.clear()
        return errors

    @property
    def pending_bytes(self) -> int:
        """Bytes held back as the start of a frame whose delimiter has not arrived yet."""
        return len(self._tail)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Messages completed by ``data``, in stream order."""
        if self._plain and data.__class__ is bytes:
            # The live reads first and shortest, as a serial reader pays this per call.
            if 0 not in data:  # inside a frame (a USB packet), or empty: only the tail grows
                tail = self._tail + data
                if len(tail) <= self.max_undelimited_run:
                    self._tail = tail
                    self.stats.bytes_in += len(data)
                    return []
            elif self._one_frame_path and len(data) <= _BULK_FROM_BYTES:
                chunks = data.split(b"\x00")
                count = len(chunks) - 1  # frames this read completes
                if len(chunks[-1]) <= self.max_undelimited_run:
                    if count == 1:
                        # One frame completed: anything but a valid SAMPLES frame goes on below.
                        batch = _one_samples_frame(self._tail + chunks[0] if self._tail else chunks[0])
                        if batch is not None:
                            self._tail = chunks[1]
                            stats = self.stats
                            stats.bytes_in += len(data)
                            stats.frames_ok += 1
                            return [batch]
                    elif count < self.vectorise_from:
                        # A few frames (the device's transfers queued up between two reads):
                        # frame by frame, as the path below would, without splitting again.
                        self.stats.bytes_in += len(data)
                        if self._tail:  # the held-back start of a frame joins its first piece
                            chunks[0] = self._tail + chunks[0]
                        self._tail = chunks.pop()
                        return self._decode_few(chunks)
        size = len(data)
        if not size:
            return []
        self.stats.bytes_in += size
        if data.__class__ is not bytes:
            data = bytes(data)
        if not self._synced:
            first = data.find(0)
            if first < 0:
                self.stats.skipped_bytes += size
                return []
            self.stats.skipped_bytes += first
            self._synced = self._plain = True  # nothing is being discarded before a sync
            if first + 1 == size:
                return []
            if first + 1 < 4096 or self._discarding:
                data = data[first + 1:]
            else:  # a long first read: its frames are cut out without copying it twice
                last = data.rfind(0)
                items = self._bulk(data, first + 1, last) if last > first else None
                if items is not None:
                    return items
                data = data[first + 1:]
        if not self._discarding:
            # The usual case, kept short because a live serial read pays this whole path per
            # call: no over-long run being dropped. Anything else takes the general path below.
            if len(data) > _BULK_FROM_BYTES:  # tried before a split that would cost as much
                last = data.rfind(0)
                items = self._bulk(data, 0, last) if last >= 0 else None
                if items is not None:
                    return items
            chunks = data.split(b"\x00")
            count = len(chunks) - 1  # frames this read completes
            if count and len(chunks[-1]) <= self.max_undelimited_run:
                tail = self._tail
                if count == 1 and self._one_frame_path:
                    # One frame completed, the usual live read: decoded here without the general
                    # loop's lists. Anything but a valid SAMPLES frame goes on below.
                    chunk = tail + chunks[0] if tail else chunks[0]
                    batch = _one_samples_frame(chunk)
                    if batch is not None:
                        self._tail = chunks[1]
                        self.stats.frames_ok += 1
                        return [batch]
                elif count >= self.vectorise_from and len(data) <= _BULK_FROM_BYTES:
                    # A short read with many frames (or a test forcing this path).
                    items = self._bulk(data, 0, len(data) - len(chunks[-1]) - 1)
                    if items is not None:
                        return items
                self._tail = chunks.pop()
                if tail:  # the held-back start of a frame joins its first piece
                    chunks[0] = tail + chunks[0]
                if count < self.vectorise_from:
                    return self._decode_few(chunks)  # it skips empty chunks itself
                chunks = list(filter(None, chunks))
                return self._decode_many(chunks) if chunks else []
        stats = self.stats
        chunks = data.split(DELIMITER)
        if self._tail:  # the held-back start of a frame joins its first piece (cheaper than tail + data)
            chunks[0] = self._tail + chunks[0]
        tail = chunks.pop()
        if self._discarding:
            if chunks:  # this delimiter ends the over-long run
                stats.discarded_bytes += len(chunks[0])
                chunks[0] = b""
                self._discarding = False
                self._plain = True
            else:
                stats.discarded_bytes += len(tail)
                tail = b""
        overrun = len(tail) > self.max_undelimited_run
        self._tail = b"" if overrun else tail
        chunks = list(filter(None, chunks))  # empty chunk = two delimiters in a row: ignored
        if not chunks:
            items = []
        elif len(chunks) < self.vectorise_from:
            items = self._decode_few(chunks)
        else:
            items = self._decode_many(chunks)
        if overrun:  # after the chunks, which came before it in the stream
            self._count_rejects([(0, FrameError(CorruptReason.LENGTH,
                                                f"over {self.max_undelimited_run} bytes without a delimiter"),
                                  len(tail))])
            self._discarding = True
            self._plain = False
        return items

    def _bulk(self, data: bytes, start: int, last: int) -> list[Message] | None:
        """The frames completed by ``data[start:last]`` (after the held-back tail; ``last`` is
        the read's last delimiter) in one decode call, or None, having changed nothing, when
        they are not all intact SAMPLES frames of one size or fewer than ``vectorise_from``."""
        if len(data) - last - 1 > self.max_undelimited_run:
            return None
        head = data[start:last]
        body = self._tail + head if self._tail else head
        joined = body.replace(b"\x00", b"")  # memchr-fast, and counts the frames as it goes
        count = len(body) - len(joined) + 1
        if count < self.vectorise_from:
            return None
        batch = _uniform_joined(body, joined, count)
        if batch is None:
            return None
        self._tail = data[last + 1:]
        self.stats.frames_ok += count
        return [batch]

    def _decode_few(self, chunks: list[bytes]) -> list[Message]:
        """Frame-by-frame path for a handful of frames (a live read), where numpy's fixed cost per
        call would dominate. Gives exactly what :meth:`_decode_many` gives for the same chunks.

        A live read usually holds one SAMPLES frame, so the cost per frame is the cost per call:
        the header is checked on Python ints from one ``struct`` unpack, and a run of frames
        becomes a batch through one joined buffer and one ``np.frombuffer``, its per-frame fields
        left as those ints (see _batch_from_run).
        """
        items: list[Message] = []
        run: list[bytes] = []  # decoded SAMPLES frames awaiting merge into one batch
        fields: list[tuple[int, int, int, int, int]] = []  # their (seq, sample_index, t_us, n, flags)
        run_channels = run_rows = 0
        frames_ok = 0
        decode, check = cobs.decode, crc32
        for chunk in chunks:
            if not chunk:  # two delimiters in a row: ignored
                continue
            try:
                decoded = decode(chunk)
            except cobs.DecodeError:
                decoded = b""
            size = len(decoded)
            if not _MIN_DECODED <= size <= _MAX_DECODED or check(decoded) != CRC32_RESIDUE:
                self._count_rejects([(0, _framing_error(chunk, self.max_undelimited_run), len(chunk))])
                continue
            if decoded[0] == _SAMPLES:
                if size >= _HEADER_SIZE + CRC_SIZE:
                    _, n, channels, flags, seq, index, t_us = _unpack_header(decoded)
                    # The checks of decode_samples_header, on ints already unpacked.
                    good = (0 < n <= MAX_SAMPLES_ACCEPTED_PER_FRAME and 0 < channels <= MAX_CHANNELS
                            and t_us <= T_US_MAX and size == _HEADER_SIZE + CRC_SIZE + 2 * n * channels)
                else:
                    good = False
                if not good:
                    self._count_rejects([(0, _payload_error(decoded[:-CRC_SIZE]), len(chunk))], content=True)
                    continue
                if channels != run_channels and run:
                    items.append(_batch_from_run(run, fields, run_channels, run_rows))
                    run, fields = [], []
                    run_rows = 0
                run_channels = channels
                run_rows += n
                run.append(decoded)
                fields.append((seq, index, t_us, n, flags))
                frames_ok += 1
                continue
            try:
                message = decode_message(decoded[:-CRC_SIZE])
            except FrameError as exc:
                self._count_rejects([(0, exc, len(chunk))], content=True)
                continue
            if run:
                items.append(_batch_from_run(run, fields, run_channels, run_rows))
                run, fields = [], []
                run_rows = 0
            items.append(message)
            frames_ok += 1
        if run:
            items.append(_batch_from_run(run, fields, run_channels, run_rows))
        self.stats.frames_ok += frames_ok
        return items

    def _count_rejects(self, rejects: list[tuple[int, FrameError, int]], content: bool = False) -> None:
        """Count dropped frames given as (position in the feed, why, bytes), in stream order.

        ``content``: the CRC was right (the rejects are the device's doing, not the link's).
        """
        rejects.sort(key=lambda r: r[0])
        for _, error, n_bytes in rejects:
            self.stats._count_corrupt(error.reason, n_bytes)
            if content:
                self._device_errors.append(error)
        self.last_error = rejects[-1][1]

    def _decode_many(self, chunks: list[bytes]) -> list[Message]:
        """Decode complete chunks, doing per-frame work only inside C loops (``map``, ``join``, numpy)."""
        count = len(chunks)
        decoded = _cobs_decode_all(chunks)  # b"" where COBS failed: its CRC cannot match
        lengths = np.fromiter(map(len, decoded), np.int64, count)
        valid = ((np.fromiter(map(crc32, decoded), np.uint32, count) == CRC32_RESIDUE)
                 & (lengths >= _MIN_DECODED) & (lengths <= _MAX_DECODED))
        rejects: list[tuple[int, FrameError, int]] = []  # (chunk position, why, bytes) in any order
        if valid.all():
            kept, kept_at, kept_lengths = decoded, np.arange(count), lengths
        else:
            valid_list = valid.tolist()
            kept = list(compress(decoded, valid_list))
            kept_at = np.flatnonzero(valid)
            kept_lengths = lengths[kept_at]
            for at in np.flatnonzero(~valid).tolist():
                rejects.append((at, _framing_error(chunks[at], self.max_undelimited_run), len(chunks[at])))
        content: list[tuple[int, FrameError, int]] = []
        items = self._decode_valid(kept, kept_lengths, kept_at, chunks, content) if kept else []
        if rejects or content:
            # One pass in stream order, so last_error is the last rejected frame either way.
            everything = sorted(rejects + content, key=lambda r: r[0])
            flagged = {id(r[1]) for r in content}
            for _, error, n_bytes in everything:
                self.stats._count_corrupt(error.reason, n_bytes)
                if id(error) in flagged:
                    self._device_errors.append(error)
            self.last_error = everything[-1][1]
        return items

    def _decode_valid(self, kept: list[bytes], lengths: np.ndarray, kept_at: np.ndarray,
                      chunks: list[bytes], rejects: list[tuple[int, FrameError, int]]) -> list[Message]:
        """Turn CRC-checked frames (payload + CRC each) into messages and merged sample batches."""
        count = len(kept)
        buffer = np.frombuffer(b"".join(kept), dtype=np.uint8)
        uniform = _uniform_samples(buffer, lengths)
        if uniform is not None:
            self.stats.frames_ok += count
            return [uniform]
        offsets = np.zeros(count, dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        types = buffer[offsets]

        # SAMPLES headers of all frames at once; a frame too short for a header is a length error.
        kind = np.zeros(count, dtype=np.int64)  # 0: other message, -1: rejected, else n_channels
        is_samples = types == _SAMPLES
        with_header = np.flatnonzero(is_samples & (lengths >= _HEADER_SIZE + CRC_SIZE))
        headers = buffer[offsets[with_header, None] + np.arange(_HEADER_SIZE)].view(_HEADER_DTYPE).reshape(-1)
        n, channels = headers["n"].astype(np.int64), headers["channels"].astype(np.int64)
        good = ((n >= 1) & (n <= MAX_SAMPLES_ACCEPTED_PER_FRAME)
                & (channels >= 1) & (channels <= MAX_CHANNELS)
                & (lengths[with_header] == _HEADER_SIZE + CRC_SIZE + 2 * n * channels)
                & (headers["t_us"] <= T_US_MAX))
        kind[with_header[good]] = channels[good]
        header_row = np.full(count, -1, dtype=np.int64)
        header_row[with_header] = np.arange(with_header.size)
        bad_samples = np.flatnonzero(is_samples & (kind == 0))
        for k in bad_samples.tolist():
            kind[k] = -1
            error = _payload_error(kept[k][:-CRC_SIZE])
            at = int(kept_at[k])
            rejects.append((at, error, len(chunks[at])))

        # Segments in stream order: each non-SAMPLES message alone, SAMPLES grouped while the
        # channel count stays the same. Python iterates over segments, not frames.
        usable = np.flatnonzero(kind != -1)
        if usable.size == 0:
            return []
        usable_kind = kind[usable]
        starts_segment = np.ones(usable.size, dtype=bool)
        starts_segment[1:] = (usable_kind[1:] != usable_kind[:-1]) | (usable_kind[1:] == 0)
        bounds = np.append(np.flatnonzero(starts_segment), usable.size).tolist()
        items: list[Message] = []
        frames_ok = 0
        for first, stop in zip(bounds[:-1], bounds[1:]):
            frames = usable[first:stop]
            segment_channels = int(usable_kind[first])
            if segment_channels == 0:
                k = int(frames[0])
                try:
                    items.append(decode_message(kept[k][:-CRC_SIZE]))
                    frames_ok += 1
                except FrameError as exc:
                    at = int(kept_at[k])
                    rejects.append((at, exc, len(chunks[at])))
                continue
            rows = headers[header_row[frames]]
            raw = _sample_bytes(buffer, offsets[frames], lengths[frames], frames)
            items.append(SampleBatch(raw.view("<u2").astype(np.uint16, copy=False).reshape(-1, segment_channels),
                                     rows["seq"].astype(np.uint32), rows["sample_index"].astype(np.uint32),
                                     rows["t_us"].astype(np.uint32), rows["n"].astype(np.uint16),
                                     rows["flags"].astype(np.uint8)))
            frames_ok += frames.size
        self.stats.frames_ok += frames_ok
        return items


def _uniform_samples(buffer: np.ndarray, lengths: np.ndarray) -> SampleBatch | None:
    """The common case in one batch, or None: every frame SAMPLES with the same n_samples and
    n_channels, so all frames are rows of one 2-D table and need no per-frame offsets."""
    length = int(lengths[0])
    if length < _HEADER_SIZE + CRC_SIZE or not bool((lengths == length).all()):
        return None
    return _samples_table(buffer.reshape(-1, length))


def _uniform_joined(body: bytes, joined: bytes, count: int) -> SampleBatch | None:
    """``count`` frames given as their chunks joined by delimiters (``body``, a bulk feed) and
    without them (``joined``), decoded in one
    ``cobs.decode`` call when they are the common case: SAMPLES frames all of one size, all
    intact. None otherwise, and the caller takes the frame-by-frame path, which reports errors.

    Why one call works: a valid COBS chunk's last code points exactly at its end, so decoding
    the chunks joined without their delimiters gives each payload followed by the 0x00 the
    next code stands for, whatever each chunk's encoded length. A chunk whose code chain
    overruns (corrupt), an empty chunk, or a payload of another size misplaces the rows cut
    at one fixed size, so the total length, a separator or a row's CRC-32 fails and None is
    returned: accepting a misplaced row would take a CRC-32 collision, the same odds at which
    the frame-by-frame path accepts a damaged frame. This saves the split into ``count``
    bytes objects and ``count`` decode calls, a third of the bulk decode's time at 1000 Hz.
    """
    try:
        decoded = _cobs_decode(joined)
    except cobs.DecodeError:
        return None
    stride, rest = divmod(len(decoded) + 1, count)
    size = stride - 1
    if rest or not _MIN_SAMPLES_DECODED <= size <= _MAX_DECODED:
        return None
    # All rows' CRCs in one pass (slicing out each row and checking it alone cost as much as the
    # decode saved). CRC-32 is affine over GF(2), and every intact row (payload + its own CRC)
    # has the same CRC (the residue), so buffers of intact rows of one layout all share one
    # CRC: that of the same layout of rows of zeros. A damaged row adds its error, shifted by its
    # distance from the end, which never vanishes alone; it could only cancel against errors
    # in other rows, by the 2^-32 chance at which a damaged frame passes its own check.
    if crc32(decoded) != _intact_crc(count, size):
        return None
    flat = np.frombuffer(decoded, np.uint8)
    if count > 1 and flat[size::stride].any():  # the 0x00 between payloads
        return None
    return _samples_table(np.lib.stride_tricks.as_strided(flat, (count, size), (stride, 1), writeable=False))


def _intact_crc(count: int, size: int) -> int:
    """CRC-32 of ``count`` intact rows of ``size`` bytes (payload + CRC) joined by 0x00."""
    payload = bytes(size - CRC_SIZE)
    row = payload + crc32(payload).to_bytes(CRC_SIZE, "little")
    if crc32_combine is None:  # pragma: no cover - without zlib-ng: build the rows
        return crc32(memoryview((row + b"\x00") * count)[:-1])
    # By doubling: CRCs of 1, 2, 4, ... rows (each row with its 0x00) combined, no buffer built.
    unit, unit_len = crc32(row + b"\x00"), size + 1
    crc, crc_len = 0, 0
    rows = count
    while rows:
        if rows & 1:
            crc = crc32_combine(crc, unit, unit_len) if crc_len else unit
            crc_len += unit_len
        unit, unit_len = crc32_combine(unit, unit, unit_len), 2 * unit_len
        rows >>= 1
    # The last row has no 0x00 after it: take that byte back off (CRC-32 steps are invertible).
    return _crc32_drop_zero_byte(crc)


def _crc32_drop_zero_byte(crc: int) -> int:
    """CRC-32 of a message given the CRC-32 of that message followed by one 0x00 byte."""
    register = crc ^ 0xFFFFFFFF
    for _ in range(8):  # run the reflected shift register backwards, one bit at a time
        if register & 0x80000000:
            register = ((register ^ 0xEDB88320) << 1 | 1) & 0xFFFFFFFF
        else:
            register = register << 1 & 0xFFFFFFFF
    return register ^ 0xFFFFFFFF


def _samples_table(table: np.ndarray) -> SampleBatch | None:
    """The batch of frames given as rows of a (frames, decoded length) table, or None unless all
    are valid SAMPLES frames of the same n_samples and n_channels."""
    length = table.shape[1]
    header = table[:, :_HEADER_SIZE].copy()
    n, channels = int(header[0, 1]), int(header[0, 2])
    if (length != _HEADER_SIZE + CRC_SIZE + 2 * n * channels or not 0 < n <= MAX_SAMPLES_ACCEPTED_PER_FRAME
            or not 0 < channels <= MAX_CHANNELS):
        return None
    # Header as little-endian u32 words: [type | n << 8 | channels << 16 | flags << 24, seq, index, t_us].
    words = header.view("<u4")
    if not bool(((words[:, 0] & 0xFFFFFF) == (_SAMPLES | n << 8 | channels << 16)).all()):
        return None
    if int(words[:, 3].max()) > T_US_MAX:
        return None  # the general path names the bad stamp
    raw = table[:, _HEADER_SIZE:length - CRC_SIZE].copy().view("<u2").astype(np.uint16, copy=False)
    return SampleBatch(raw.reshape(-1, channels), words[:, 1].astype(np.uint32), words[:, 2].astype(np.uint32),
                       words[:, 3].astype(np.uint32), header[:, 1].astype(np.uint16), header[:, 3].copy())


_unpack_header = SAMPLES_HEADER.unpack_from
_frombuffer = np.frombuffer
_new_batch = object.__new__
_cobs_decode = cobs.decode
_MIN_SAMPLES_DECODED = _HEADER_SIZE + CRC_SIZE
# One sample row of n channels as one item, so np.frombuffer gives the (rows, channels) table
# without a reshape. Raw values are little-endian on the wire; on a little-endian host (all the
# hosts this runs on) "<u2" is plain uint16 and the astype below is skipped.
_ROW_DTYPES = [np.dtype(("<u2", channels)) if channels else None for channels in range(MAX_CHANNELS + 1)]
_WIRE_IS_NATIVE = np.dtype("<u2") == np.dtype(np.uint16)


def _one_samples_frame(chunk: bytes) -> SampleBatch | None:
    """The batch of a chunk that is one valid SAMPLES frame, or None for anything else (which the
    caller hands to the general path, so every error is reported there, once).

    The live read's usual content, so it is the whole per-call cost of live decoding: no lists,
    no run bookkeeping, header checks on the ints of one struct unpack.
    """
    try:
        decoded = _cobs_decode(chunk)
    except cobs.DecodeError:
        return None
    size = len(decoded)
    if not _MIN_SAMPLES_DECODED <= size <= _MAX_DECODED or decoded[0] != _SAMPLES or crc32(decoded) != CRC32_RESIDUE:
        return None
    _, n, channels, flags, seq, index, t_us = _unpack_header(decoded)
    if not (0 < n <= MAX_SAMPLES_ACCEPTED_PER_FRAME and 0 < channels <= MAX_CHANNELS and t_us <= T_US_MAX
            and size == _MIN_SAMPLES_DECODED + 2 * n * channels):
        return None
    # The samples as an own writable copy (consumers may work in place), viewed as (n, ch) rows;
    # the per-frame fields stay the header's ints until a consumer asks for arrays. Five small
    # arrays here cost more than all the rest of this function (see SampleBatch).
    raw = _frombuffer(bytearray(decoded), _ROW_DTYPES[channels], n, _HEADER_SIZE)
    if not _WIRE_IS_NATIVE:  # pragma: no cover - big-endian hosts
        raw = raw.astype(np.uint16)
    # SampleBatch.from_fields inlined, as this is the whole per-read cost: with only ``first``
    # set, the batch makes its per-frame arrays from it if they are read.
    batch = _new_batch(SampleBatch)
    batch.raw = raw
    batch.n_frames = 1
    batch.first = (seq, index, t_us, n, flags)
    return batch


def _batch_from_run(run: list[bytes], fields: list[tuple[int, int, int, int, int]], channels: int,
                    rows: int) -> SampleBatch:
    """One batch from CRC-checked decoded SAMPLES frames and their header fields as ints."""
    if len(run) == 1:
        buffer = bytearray(run[0])
        offset = _HEADER_SIZE
    else:
        # bytearray.join copies each slice once into a writable buffer (cheaper per frame than
        # growing a bytearray slice by slice through memoryviews).
        buffer = bytearray().join([decoded[_HEADER_SIZE:-CRC_SIZE] for decoded in run])
        offset = 0
    raw = _frombuffer(buffer, _ROW_DTYPES[channels], rows, offset)
    if not _WIRE_IS_NATIVE:  # pragma: no cover - big-endian hosts
        raw = raw.astype(np.uint16)
    # SampleBatch.from_fields without its consistency checks (the rows were counted from these
    # fields): the per-frame arrays are made only if a consumer reads them.
    batch = _new_batch(SampleBatch)
    batch.raw = raw
    batch.n_frames = len(fields)
    batch.first = fields[0]
    batch._fields = fields
    return batch


_HEADER_DTYPE = np.dtype([("type", "u1"), ("n", "u1"), ("channels", "u1"), ("flags", "u1"),
                          ("seq", "<u4"), ("sample_index", "<u4"), ("t_us", "<u4")])
assert _HEADER_DTYPE.itemsize == SAMPLES_HEADER.size


def _cobs_decode_all(chunks: list[bytes]) -> list[bytes]:
    """``cobs.decode`` of every chunk in one C loop; b"" for a chunk that is not valid COBS."""
    decoded: list[bytes] = []
    remaining = map(cobs.decode, chunks)
    while True:
        try:
            decoded.extend(remaining)  # a failing chunk stops extend; map resumes after it
            return decoded
        except cobs.DecodeError:
            decoded.append(b"")


def _sample_bytes(buffer: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The raw-sample bytes of the given frames, concatenated (a fresh, writable array)."""
    first, length = int(offsets[0]), int(lengths[0])
    span_end = int(offsets[-1] + lengths[-1])
    adjacent = frames[-1] - frames[0] == frames.size - 1
    if adjacent and bool((lengths == length).all()):
        # The usual case: equal frames back to back, so a 2-D view picks the data columns.
        table = buffer[first:span_end].reshape(frames.size, length)
        return table[:, _HEADER_SIZE:length - CRC_SIZE].copy()
    # Frames of different lengths (the device sent one early) or with others in between:
    # mark each frame's data range with +1/-1 steps and keep the bytes where the sum is 1.
    span = buffer[first:span_end]
    steps = np.zeros(span.size + 1, dtype=np.int8)
    steps[offsets - first + _HEADER_SIZE] = 1
    steps[offsets - first + lengths - CRC_SIZE] = -1
    return span[np.cumsum(steps[:-1], dtype=np.int8).astype(bool)]


def _framing_error(chunk: bytes, max_run: int) -> FrameError:
    """The specific reason a chunk failed COBS, length or CRC checks (slow path, corrupt frames only)."""
    if len(chunk) > max_run:
        return FrameError(CorruptReason.LENGTH, f"over {max_run} bytes without a delimiter")
    try:
        decode_frame(chunk)
    except FrameError as exc:
        return exc
    return FrameError(CorruptReason.CRC, "frame rejected by the batch check")  # not reached


def _payload_error(payload: bytes) -> FrameError:
    try:
        decode_samples_header(payload)
    except FrameError as exc:
        return exc
    return FrameError(CorruptReason.MALFORMED, "SAMPLES header rejected by the batch check")  # not reached
