"""Cutting a timeline of sample rows into blocks that never span a gap.

Every reader of a recording (analysis, replay in the app, the transport that plays a recording
back as a device) needs the same thing: rows in order, in blocks of consecutive session
indices, at most so many rows each. This is the one place that does it.
"""

from __future__ import annotations

import numpy as np


def contiguous_blocks(sample_index: np.ndarray, max_rows: int, start_row: int = 0,
                      stop_row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops): row ranges [start, stop) of `sample_index[start_row:stop_row]` in which
    the indices are consecutive, each at most `max_rows` long. Computed on the whole array at
    once (one `arange` per run), so a long recording costs no Python loop per block."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    index = np.asarray(sample_index, dtype=np.int64)
    stop_row = len(index) if stop_row is None else int(stop_row)
    start_row = int(start_row)
    if stop_row <= start_row:
        empty = np.zeros(0, np.int64)
        return empty, empty
    part = index[start_row:stop_row]
    breaks = np.flatnonzero(np.diff(part) != 1) + 1
    run_starts = np.r_[0, breaks] + start_row
    run_stops = np.r_[breaks, len(part)] + start_row
    starts = np.concatenate([np.arange(a, b, max_rows) for a, b in zip(run_starts, run_stops)])
    stops = np.minimum(starts + max_rows, np.repeat(run_stops, -(-(run_stops - run_starts) // max_rows)))
    return starts.astype(np.int64), stops.astype(np.int64)
