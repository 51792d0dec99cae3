"""Loss accounting over SAMPLES frames (docs/protocol.md section 2) and the 30-bit device clock.

For consecutive frames *a*, *b* of one stream the spec defines
``lost_frames = b.seq - a.seq - 1`` and ``missing_samples = b.sample_index - (a.sample_index + a.n)``.
:class:`ContinuityTracker` applies that to whole batches with numpy and only drops into Python
for the frames where something happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glovecoach.wire.messages import SAMPLES_FIRST_AFTER_START, SampleBatch

TICKS_BITS = 30
TICKS_MODULUS = 1 << TICKS_BITS
TICKS_MASK = TICKS_MODULUS - 1


@dataclass(frozen=True)
class Gap:
    """Grid slots that never arrived, just before frame ``frame`` of the batch."""

    device_sample_index: int  # first missing grid slot
    missing_samples: int      # exact, whether lost on the link or skipped by the device
    lost_frames: int          # frames lost on the link (0 when the device skipped slots itself)
    frame: int = 0            # index of the frame after the gap within the batch
    row: int = 0              # row of ``batch.raw`` where that frame starts


@dataclass(frozen=True)
class StreamRestart:
    """Frame ``frame`` of the batch begins a new stream (``seq`` and ``sample_index`` restarted)."""

    device_sample_index: int  # sample_index of the first frame of the new stream
    seq: int
    reason: str               # "start_flag", "sample_index_backwards" or "seq_not_increasing"
    frame: int = 0
    row: int = 0


class ContinuityTracker:
    """Compares every SAMPLES frame with the one before it, across batches."""

    def __init__(self) -> None:
        self.lost_frames = 0
        self.missing_samples = 0
        self.restarts = 0
        self.frames = 0
        self.samples = 0
        self._last_seq: int | None = None
        self._next_index = 0  # sample_index the next frame should carry

    def reset(self) -> None:
        """Forget the previous frame (call when HELLO/STATUS shows a new ``boot_id``); totals stay."""
        self._last_seq = None

    @property
    def next_sample_index(self) -> int | None:
        """Grid slot the next frame should start at, or None before the first frame."""
        return None if self._last_seq is None else self._next_index

    def update(self, batch: SampleBatch) -> list[Gap | StreamRestart]:
        """Gaps and restarts in ``batch`` (and between it and the previous batch), in frame order."""
        count = batch.n_frames
        if count == 0:
            return []
        seq = batch.seq.astype(np.int64)
        index = batch.sample_index.astype(np.int64)
        end = index + batch.n_per_frame
        # lost = seq - prev_seq - 1 and missing = index - prev_end, straight from the spec; the
        # first frame ever has no predecessor and gets 0, 0. Negative values mean a restart.
        lost = np.empty(count, dtype=np.int64)
        missing = np.empty(count, dtype=np.int64)
        np.subtract(seq[1:], seq[:-1], out=lost[1:])
        lost[1:] -= 1
        np.subtract(index[1:], end[:-1], out=missing[1:])
        if self._last_seq is None:
            lost[0] = missing[0] = 0
        else:
            lost[0] = seq[0] - self._last_seq - 1
            missing[0] = index[0] - self._next_index
        start_flag = batch.flags & SAMPLES_FIRST_AFTER_START
        self.frames += count
        self.samples += batch.n_samples
        self._last_seq = int(seq[-1])
        self._next_index = int(end[-1])
        if not (lost.any() or missing.any() or start_flag.any()):
            return []  # the usual case: every frame follows on from the one before

        backwards = missing < 0
        seq_stuck = lost < 0
        restart = start_flag.astype(bool) | backwards | seq_stuck
        gap = ~restart & ((lost != 0) | (missing != 0))
        events: list[Gap | StreamRestart] = []
        rows = batch.frame_rows
        for f in np.flatnonzero(restart | gap).tolist():  # one iteration per event, not per frame
            if restart[f]:
                reason = ("start_flag" if start_flag[f] else
                          "sample_index_backwards" if backwards[f] else "seq_not_increasing")
                events.append(StreamRestart(int(index[f]), int(seq[f]), reason, f, int(rows[f])))
            else:
                events.append(Gap(int(index[f] - missing[f]), int(missing[f]), int(lost[f]), f, int(rows[f])))
        self.restarts += int(np.count_nonzero(restart))
        self.lost_frames += int(lost[gap].sum())
        self.missing_samples += int(missing[gap].sum())
        return events


def unwrap_ticks(t_us: np.ndarray, last: int | None = None) -> np.ndarray:
    """Unwrap 30-bit device stamps into a continuous int64 microsecond count.

    ``last`` is the last value this function returned for the same clock (None to start:
    the first stamp is then taken as is). Each step is taken modulo 2^30 into
    [-2^29, 2^29): the protocol guarantees stamps arrive far more often than every 2^29 µs,
    and a small step backwards stays a step backwards instead of becoming +1073 s.
    """
    stamps = np.asarray(t_us, dtype=np.int64).reshape(-1) & TICKS_MASK
    if stamps.size == 0:
        return np.empty(0, dtype=np.int64)
    base = int(stamps[0]) if last is None else int(last)
    previous = np.empty_like(stamps)
    previous[0] = base & TICKS_MASK
    previous[1:] = stamps[:-1]
    half = TICKS_MODULUS // 2
    steps = (stamps - previous + half) % TICKS_MODULUS - half
    return base + np.cumsum(steps)
