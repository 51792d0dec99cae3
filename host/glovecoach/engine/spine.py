"""Spinal-line contact: any load on a spine segment above the partner's own resting load.

The partner's weight presses on the strip all the time; that is not contact. Each segment's
resting load (baseline) is learned while the glove is off the back, in chunks aligned to the
session sample index (so the result does not depend on how samples are split into blocks),
with an exponential tracker of time constant `baseline_time_constant_s`. Before the first
glove-off chunk the lowest reading seen so far stands in for it (the resting load is always
there, so the minimum never exceeds it).

Contact is a load more than `contact_above_baseline_n` over the baseline while the glove is
on the back, held for `min_duration_s`; it ends below `release_above_baseline_n` or when the
glove leaves the back.
"""

from __future__ import annotations

import math

import numpy as np

from glovecoach.engine.detectors import Excursion, ExcursionDetector
from glovecoach.protocols import SpinePolicy

BASELINE_CHUNK_S = 1.0


def _column_reduce(ufunc: np.ufunc, a: np.ndarray) -> np.ndarray:
    """ufunc.reduce(a, axis=0) for a tall, narrow array (samples x a few segments), for an
    order-free ufunc (maximum, minimum). Reduced down the columns numpy loops over every row
    with an inner loop of a few elements; folded into rows of ~2000 values and reduced twice,
    it runs about ten times faster. Same result: the maximum does not depend on the order."""
    n, c = a.shape
    group = max(1, min(n, 2048 // max(c, 1)))
    head = n - n % group
    if not head or not c:
        return ufunc.reduce(a, axis=0)
    out = ufunc.reduce(ufunc.reduce(a[:head].reshape(head // group, group * c), axis=0).reshape(group, c), axis=0)
    return ufunc(out, ufunc.reduce(a[head:], axis=0)) if head < n else out


class SpineTracker:
    def __init__(self, n_segments: int, rate_hz: float, policy: SpinePolicy) -> None:
        self.n = n_segments
        self.rate_hz = rate_hz
        self.policy = policy
        self.chunk = max(1, int(round(BASELINE_CHUNK_S * rate_hz)))
        self.baseline = np.full(n_segments, np.nan)
        self.running_min = np.full(n_segments, np.inf)
        self._acc_sum = np.zeros(n_segments)
        self._acc_n = 0
        self.detector = ExcursionDetector(n_segments, int(round(policy.min_duration_s * rate_hz)))
        self.peak_excess = np.full(n_segments, -np.inf)     # while the glove was on the back
        self.peak_saturated = np.zeros(n_segments, dtype=bool)

    def current_baseline(self) -> np.ndarray:
        return np.where(np.isnan(self.baseline), np.where(np.isfinite(self.running_min), self.running_min, 0.0),
                        self.baseline)

    def gap(self, at_index: int) -> list[Excursion]:
        """A gap in the data: end contacts there, drop the half-filled baseline chunk."""
        self._acc_sum[:] = 0.0
        self._acc_n = 0
        return self.detector.close_all(at_index)

    def process(self, first_index: int, x: np.ndarray, saturated: np.ndarray, glove_on: np.ndarray
                ) -> tuple[list[Excursion], list[Excursion], np.ndarray]:
        """Returns (begun, ended, baseline per sample)."""
        n = x.shape[0]
        base = np.empty(x.shape)
        off_glove = ~glove_on
        pos = 0
        while pos < n:
            if ((first_index + pos) % self.chunk == 0 and n - pos >= self.chunk and self.n > 1
                    and not np.isnan(self.baseline).any()):
                pos = self._whole_chunks(x, off_glove, base, pos)
                continue
            chunk_end = ((first_index + pos) // self.chunk + 1) * self.chunk - first_index
            end = min(n, chunk_end)
            piece = x[pos:end]
            if np.isnan(self.baseline).any():
                cummin = np.minimum(np.minimum.accumulate(piece, axis=0), self.running_min[None, :])
                base[pos:end] = np.where(np.isnan(self.baseline)[None, :], cummin, self.baseline[None, :])
            else:
                base[pos:end] = self.baseline[None, :]
            self.running_min = np.minimum(self.running_min, piece.min(axis=0))
            use = off_glove[pos:end]
            if use.any():
                self._acc_sum += piece[use].sum(axis=0)
                self._acc_n += int(use.sum())
            if end == chunk_end:
                self._update_baseline()
            pos = end
        excess = x - base
        on = glove_on[:, None]
        signal = np.where(on, excess, -np.inf)
        sat_on = saturated & on
        p = self.policy
        begun, ended = self.detector.process(first_index, signal, np.float64(p.contact_above_baseline_n),
                                             np.float64(p.release_above_baseline_n), sat_on)
        if on.any():
            self.peak_excess = np.maximum(self.peak_excess, _column_reduce(np.maximum, signal))
            self.peak_saturated |= sat_on.any(axis=0)
        return begun, ended, base

    def _whole_chunks(self, x: np.ndarray, off_glove: np.ndarray, base: np.ndarray, pos: int) -> int:
        """The complete chunks from `pos` on, all at once: the same numbers as the chunk-by-chunk
        loop in `process` (sums over a middle axis add in order, as the loop's do), with Python
        visiting only the chunks whose glove-off samples move the baseline. Needs known
        baselines and at least two segments (one column would be summed pairwise instead).
        Returns the position after them."""
        c, k = self.chunk, (len(x) - pos) // self.chunk
        end = pos + k * c
        piece = x[pos:end]
        use = off_glove[pos:end].reshape(k, c)
        self.running_min = np.minimum(self.running_min, _column_reduce(np.minimum, piece))
        sums = np.where(use.reshape(-1)[:, None], piece, 0.0).reshape(k, c, self.n).sum(axis=1)
        counts = use.sum(axis=1)
        rows = np.empty((k, self.n))
        done = 0
        for j in np.flatnonzero(counts >= c // 2).tolist():
            rows[done:j + 1] = self.baseline        # in force from the chunk's first sample
            self._acc_sum = sums[j].copy()
            self._acc_n = int(counts[j])
            self._update_baseline()
            done = j + 1
        rows[done:] = self.baseline
        self._acc_sum[:] = 0.0
        self._acc_n = 0
        # (base is C-contiguous, so this reshape is a view of its rows)
        base[pos:end].reshape(k, c, self.n)[:] = rows[:, None, :]
        return end

    def _update_baseline(self) -> None:
        if self._acc_n >= self.chunk // 2:
            mean = self._acc_sum / self._acc_n
            gain = 1.0 - math.exp(-self._acc_n / self.rate_hz / self.policy.baseline_time_constant_s)
            self.baseline = np.where(np.isnan(self.baseline), mean, self.baseline + gain * (mean - self.baseline))
        self._acc_sum[:] = 0.0
        self._acc_n = 0
