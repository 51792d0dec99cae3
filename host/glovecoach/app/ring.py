"""A ring buffer of the most recent samples, keyed by session sample index.

Each row is stored twice (at k and k + capacity), so the latest `n` rows are always one
contiguous slice: the plots get a view, not a copy, at every frame. Lost samples (gaps) are
written as NaN so the curves break there instead of drawing a line across the gap.
"""

from __future__ import annotations

import numpy as np


class ForceRing:
    def __init__(self, capacity: int, n_channels: int) -> None:
        if capacity <= 0 or n_channels <= 0:
            raise ValueError(f"ForceRing needs capacity and channels > 0, got {capacity}, {n_channels}")
        self.capacity = capacity
        self.n_channels = n_channels
        self._data = np.full((2 * capacity, n_channels), np.nan, dtype=np.float32)
        self._next_index = 0        # session sample index one past the newest row
        self._count = 0

    @property
    def next_index(self) -> int:
        return self._next_index

    def __len__(self) -> int:
        return self._count

    def reset(self, next_index: int = 0) -> None:
        self._data.fill(np.nan)
        self._next_index = next_index
        self._count = 0

    def append(self, first_index: int, values: np.ndarray) -> None:
        """Add rows starting at `first_index`; a jump forward is filled with NaN (a gap)."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.n_channels:
            raise ValueError(f"expected (n, {self.n_channels}) rows, got {values.shape}")
        if self._count and first_index < self._next_index:
            # Overlap with rows already held (e.g. a replay restarting): keep only the new part.
            skip = self._next_index - first_index
            values = values[skip:]
            first_index = self._next_index
        elif self._count and first_index > self._next_index:
            self._write_nan(first_index - self._next_index)
        elif not self._count:
            self._next_index = first_index
        if len(values):
            self._write(values)

    def _write_nan(self, n: int) -> None:
        n_fill = min(n, self.capacity)
        self._next_index += n - n_fill
        self._write(np.full((n_fill, self.n_channels), np.nan, dtype=np.float32))

    def _write(self, values: np.ndarray) -> None:
        cap = self.capacity
        if len(values) > cap:
            self._next_index += len(values) - cap
            values = values[-cap:]
        start = self._next_index % cap
        n = len(values)
        first = min(n, cap - start)
        self._data[start:start + first] = values[:first]
        self._data[start + cap:start + cap + first] = values[:first]
        if n > first:
            rest = n - first
            self._data[:rest] = values[first:]
            self._data[cap:cap + rest] = values[first:]
        self._next_index += n
        self._count = min(cap, self._count + n)

    def latest(self, n: int) -> tuple[int, np.ndarray]:
        """(first_index, rows) of the newest min(n, held) rows, as a view."""
        n = min(n, self._count)
        end = self._next_index % self.capacity + self.capacity
        return self._next_index - n, self._data[end - n:end]
