"""Loss accounting over SAMPLES frames (docs/protocol.md section 2) and the 30-bit device clock.

For consecutive frames *a*, *b* of one stream the spec defines
``lost_frames = b.seq - a.seq - 1`` and ``missing_samples = b.sample_index - (a.sample_index + a.n)``.
:class:`ContinuityTracker` applies that to whole batches with numpy and only drops into Python
for the frames where something happened.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from glovecoach.wire.messages import SAMPLES_FIRST_AFTER_START, SampleBatch

TICKS_BITS = 30
TICKS_MODULUS = 1 << TICKS_BITS
TICKS_MASK = TICKS_MODULUS - 1


@dataclass(frozen=True)
class MissingSlots:
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


@dataclass(frozen=True)
class StaleFrame:
    """Frame ``frame`` of the batch is older than frames already taken: it must be dropped.

    ``duplicate``: its ``seq`` was already received (a link that retransmits, a broker that
    delivers twice). Otherwise it is a late frame overtaken by later ones (reordering): its
    slots were already counted as missing, and placing it now would shift or overwrite data.
    """

    device_sample_index: int
    seq: int
    duplicate: bool
    frame: int = 0
    row: int = 0


# Accepted seq values remembered to tell a duplicate from a late frame (20 s at 50 frames/s).
_RECENT_SEQS = 1024


class ContinuityTracker:
    """Compares every SAMPLES frame with the ones before it, across batches.

    A frame is **stale** (dropped, reported as :class:`StaleFrame`) when its ``seq``, its slots
    and its device stamp all lie at or before what was already taken. All three, because each
    alone has an innocent reading: a START restarts ``seq`` and ``sample_index`` (but its stamp
    is later: the device clock only runs forward within a boot, and a new boot resets this
    tracker), and ``sample_index`` wraps after 2^32 slots (but ``seq`` keeps counting). A frame
    that goes backwards in ``seq`` or slots without being stale begins a new stream.
    """

    def __init__(self) -> None:
        self.lost_frames = 0
        self.missing_samples = 0
        self.restarts = 0
        self.frames = 0
        self.samples = 0
        self.duplicates = 0     # frames dropped because their seq had already been received
        self.out_of_order = 0   # late frames dropped because later ones had already been taken
        self._last_seq: int | None = None
        self._next_index = 0  # sample_index the next frame should carry
        self._last_t = 0      # latest unwrapped device stamp taken
        self._recent: deque[int] = deque(maxlen=_RECENT_SEQS)

    def reset(self) -> None:
        """Forget the previous frame (call when HELLO/STATUS shows a new ``boot_id``); totals stay."""
        self._last_seq = None
        self._recent: deque[int] = deque(maxlen=_RECENT_SEQS)

    @property
    def next_sample_index(self) -> int | None:
        """Grid slot the next frame should start at, or None before the first frame."""
        return None if self._last_seq is None else self._next_index

    def update(self, batch: SampleBatch) -> list[MissingSlots | StreamRestart | StaleFrame]:
        """Gaps, restarts and stale frames in ``batch`` (and between it and the previous batch),
        in frame order."""
        count = batch.n_frames
        if count == 0:
            return []
        if count == 1 and self._last_seq is not None:
            # A live reader hands over one frame per read: check the usual case on plain ints
            # (the whole-array checks below cost more in numpy's per-call overhead than in work).
            # ``first`` holds them as the decoder read them: no per-frame arrays are built.
            seq1, index1, t1, n, flags1 = batch.first
            if (seq1 == self._last_seq + 1 and index1 == self._next_index
                    and not flags1 & SAMPLES_FIRST_AFTER_START):
                half = TICKS_MODULUS // 2
                step = (t1 - (self._last_t & TICKS_MASK) + half) % TICKS_MODULUS - half
                self.frames += 1
                self.samples += n
                self._last_seq, self._next_index = seq1, index1 + n
                self._last_t = max(self._last_t + step, self._last_t)
                self._recent.append(seq1)
                return []
        seq = batch.seq.astype(np.int64)
        index = batch.sample_index.astype(np.int64)
        end = index + batch.n_per_frame
        start_flag = (batch.flags & SAMPLES_FIRST_AFTER_START) != 0
        if (self._last_seq is not None and seq[0] == self._last_seq + 1 and index[0] == self._next_index
                and not start_flag.any()
                and (count == 1 or (bool((np.diff(seq) == 1).all()) and bool((index[1:] == end[:-1]).all())))):
            # The usual case, checked with a few whole-array operations: every frame follows on
            # from the one before (seq +1, next slot). One batch is one read, far shorter than
            # half a clock wrap, so the newest stamp unwraps in one step from the last one.
            half = TICKS_MODULUS // 2
            step = (int(batch.t_us[-1]) - (self._last_t & TICKS_MASK) + half) % TICKS_MODULUS - half
            self._take(seq, end, np.array([self._last_t + step]), batch.n_samples)
            return []

        t = batch.t_us.astype(np.int64)
        rows = batch.frame_rows
        events: list[MissingSlots | StreamRestart | StaleFrame] = []
        pos = 0
        announced = False  # the restart at ``pos`` was reported by the pass before
        while pos < count:  # one pass per stream in the batch (a restart starts the next pass)
            fresh = self._last_seq is None
            if fresh and start_flag[pos] and not announced:
                events.append(StreamRestart(int(index[pos]), int(seq[pos]), "start_flag", pos, int(rows[pos])))
                self.restarts += 1
            handled = self._scan(seq[pos:], index[pos:], end[pos:], t[pos:], start_flag[pos:],
                                 batch.n_per_frame[pos:], pos, rows, events, fresh)
            pos += handled
            announced = True
        events.sort(key=lambda e: e.frame)  # stable: a gap stays before the frame's restart
        return events

    def _scan(self, seq, index, end, t_us, start_flag, n_per_frame, base, rows, events, fresh) -> int:
        """Take frames of one stream from the start of these arrays; returns how many were
        handled (all of them, or up to the frame that restarts the stream)."""
        count = seq.size
        t = unwrap_ticks(t_us, None if fresh else self._last_t)
        # What was taken before each frame: running maxima. A stale frame never raises them, so
        # they are right up to the first restart, which is where this pass stops.
        if fresh:
            prev_seq = np.maximum.accumulate(np.r_[seq[0] - 1, seq[:-1]])
            prev_end = np.maximum.accumulate(np.r_[index[0], end[:-1]])
            prev_t = np.maximum.accumulate(np.r_[t[0] - 1, t[:-1]])
        else:
            prev_seq = np.maximum.accumulate(np.r_[self._last_seq, seq[:-1]])
            prev_end = np.maximum.accumulate(np.r_[self._next_index, end[:-1]])
            prev_t = np.maximum.accumulate(np.r_[self._last_t, t[:-1]])
        stale = (seq <= prev_seq) & (end <= prev_end) & (t <= prev_t)
        backwards = index < prev_end
        restart = ~stale & (start_flag | backwards | (seq <= prev_seq))
        if fresh:
            stale[0] = restart[0] = False  # the first frame of a stream (its flag is reported)
        after = np.flatnonzero(restart)
        stop = int(after[0]) if after.size else count
        keep = ~stale[:stop]
        taken_seq = seq[:stop][keep]
        if taken_seq.size:
            taken_index, taken_end = index[:stop][keep], end[:stop][keep]
            lost = np.empty(taken_seq.size, dtype=np.int64)
            missing = np.empty(taken_seq.size, dtype=np.int64)
            np.subtract(taken_seq[1:], taken_seq[:-1], out=lost[1:])
            lost[1:] -= 1
            np.subtract(taken_index[1:], taken_end[:-1], out=missing[1:])
            if fresh:
                lost[0] = missing[0] = 0
            else:
                lost[0] = taken_seq[0] - self._last_seq - 1
                missing[0] = taken_index[0] - self._next_index
            at = np.flatnonzero(keep)
            for k in np.flatnonzero((lost != 0) | (missing != 0)).tolist():  # one iteration per gap
                f = int(at[k])
                events.append(MissingSlots(int(taken_index[k] - missing[k]), int(missing[k]), int(lost[k]),
                                  base + f, int(rows[base + f])))
            self.lost_frames += int(lost.sum())
            self.missing_samples += int(missing.sum())
        stale_at = np.flatnonzero(stale[:stop])
        if stale_at.size:
            known = np.concatenate([np.fromiter(self._recent, np.int64, len(self._recent)), taken_seq])
            repeated = np.isin(seq[stale_at], known)
            for f, dup in zip(stale_at.tolist(), repeated.tolist()):  # one iteration per stale frame
                events.append(StaleFrame(int(index[f]), int(seq[f]), bool(dup), base + f, int(rows[base + f])))
            self.duplicates += int(repeated.sum())
            self.out_of_order += int((~repeated).sum())
        if taken_seq.size:
            self._take(taken_seq, taken_end, t[:stop][keep], int(n_per_frame[:stop][keep].sum()), fresh)
        if stop < count:
            f = stop
            reason = ("start_flag" if start_flag[f] else
                      "sample_index_backwards" if backwards[f] else "seq_not_increasing")
            events.append(StreamRestart(int(index[f]), int(seq[f]), reason, base + f, int(rows[base + f])))
            self.restarts += 1
            self._last_seq = None  # the next pass starts the new stream at this frame
            self._recent: deque[int] = deque(maxlen=_RECENT_SEQS)
        # stop == 0: the first frame restarts the stream; the next pass takes it as its first.
        return stop

    def _take(self, seq: np.ndarray, end: np.ndarray, t: np.ndarray, n_samples: int,
              fresh: bool = False) -> None:
        """Frames accepted in order: advance the expectations and the totals."""
        self.frames += int(seq.size)
        self.samples += n_samples
        self._last_seq = int(seq[-1])
        self._next_index = int(end[-1])
        latest = int(t.max())
        self._last_t = latest if fresh else max(latest, self._last_t)
        self._recent.extend(seq.tolist())


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
