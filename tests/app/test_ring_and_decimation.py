"""The plot data path: ring buffer (gaps, wrap-around) and min/max decimation."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.app.ring import ForceRing
from glovecoach.app.widgets.plots import decimate


def test_ring_keeps_the_newest_rows_contiguous_across_wraparound():
    ring = ForceRing(capacity=10, n_channels=2)
    rows = np.arange(46, dtype=np.float32).reshape(23, 2)
    for start in range(0, 23, 4):            # blocks of 4 rows, wrapping twice
        ring.append(start, rows[start:start + 4])
    first, view = ring.latest(10)
    assert first == 13 and ring.next_index == 23
    np.testing.assert_array_equal(view, rows[13:23])
    assert view.base is not None             # a view into the buffer, not a copy


def test_ring_marks_a_gap_with_nan_and_keeps_indices():
    ring = ForceRing(capacity=20, n_channels=1)
    ring.append(0, np.ones((5, 1), dtype=np.float32))
    ring.append(8, np.full((4, 1), 2.0, dtype=np.float32))     # samples 5-7 lost
    first, view = ring.latest(20)
    assert first == 0 and len(view) == 12
    assert np.isnan(view[5:8]).all() and (view[8:] == 2).all() and (view[:5] == 1).all()
    ring.append(1000, np.full((3, 1), 3.0, dtype=np.float32))  # a gap longer than the ring
    first, view = ring.latest(20)
    assert ring.next_index == 1003 and first == 983
    assert np.isnan(view[:-3]).all() and (view[-3:] == 3).all()


def test_ring_rejects_a_block_of_the_wrong_width():
    ring = ForceRing(capacity=8, n_channels=3)
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        ring.append(0, np.zeros((2, 4)))


def test_decimation_keeps_every_peak_and_aligns_to_the_sample_index():
    rng = np.random.default_rng(0)
    rows = rng.random((2000, 3)).astype(np.float32)
    rows[777, 1] = 50.0                       # a short spike must survive
    rows[1200:1210, 2] = np.nan               # a gap must stay a gap
    offsets, values = decimate(first_index=12345, rows=rows, bucket=6)
    assert len(values) < len(rows) / 2
    assert np.nanmax(values[:, 1]) == 50.0
    skip = (-12345) % 6                       # rows before the first aligned bucket
    np.testing.assert_array_equal(np.nanmax(values, axis=0)[[0]], rows[skip:, 0].max())
    np.testing.assert_array_equal(np.nanmin(values[:, :1]), rows[skip:, 0].min())
    assert np.isnan(values[:, 2]).any()
    starts = offsets[0::2][: (len(rows) - (-12345) % 6) // 6]
    assert ((12345 + starts) % 6 == 0).all()  # buckets start on multiples of 6: no shimmer
    assert offsets[-1] == len(rows) - 1       # the newest sample is always drawn
    same_offsets, _ = decimate(12345, rows, 1)
    assert len(same_offsets) == len(rows)
