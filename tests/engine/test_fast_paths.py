"""The engine's fast paths give exactly the numbers of the plain computations they replace.

`glovecoach analyze` must be quick (issue 9: a 15-minute session in under half a second,
start-up included), so several steps skip work a plain numpy expression would do: strided
slices instead of reductions over short axes, one partial sort instead of np.median, whole
chunks at once instead of a loop per chunk, per-chunk levels instead of per-sample arrays.
None of them may change a result, not even in the last bit: a verdict near a threshold must
not depend on how fast it was computed. Each test sets a fast path against the plain form.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from glovecoach.engine.conditioning import MovingAverage, SignalConditioner
from glovecoach.engine.features import _block_mean, _column_sum, _row_median, _windowed
from glovecoach.engine.spine import SpineTracker
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.sensors import ALL_CHANNELS, SPINE_CHANNELS


@pytest.mark.parametrize("n", [1, 2, 3, 64, 399, 400])
def test_row_median_is_numpys_median(n: int) -> None:
    a = np.random.default_rng(n).normal(size=(31, n)) * 7
    assert np.array_equal(_row_median(a), np.median(a, axis=1))


@pytest.mark.parametrize("columns", [None, 1, 2, 12])
@pytest.mark.parametrize("d", range(1, 13))
def test_block_mean_is_numpys_mean_over_groups(columns: int | None, d: int) -> None:
    rng = np.random.default_rng(d)
    x = rng.normal(size=(1003,) if columns is None else (1003, columns)) * 5
    for data in (x, x[::3]):    # contiguous and strided input
        m = len(data) // d
        plain = data[:m * d].reshape(m, d, *data.shape[1:]).mean(axis=1)
        fast = _block_mean(data, d)
        assert fast.shape == plain.shape and np.array_equal(fast, plain)


@pytest.mark.parametrize("cols", [[0], [1, 2, 3], [4, 9], list(range(10))])
def test_column_sum_is_numpys_sum(cols: list[int]) -> None:
    x = np.random.default_rng(3).normal(size=(20, 160, 12))
    assert np.array_equal(_column_sum(x, cols), x[:, :, cols].sum(axis=2))


@pytest.mark.parametrize("starts", [np.arange(0, 800, 40), np.array([5]), np.array([0, 3, 9]),
                                    np.arange(7, 830, 13)])
def test_windows_are_the_rows_they_start_at(starts: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    for series in (rng.normal(size=(1000, 12)), rng.normal(size=1000), rng.random(1000) > 0.5):
        w = _windowed(series, starts, 160)
        plain = np.moveaxis(sliding_window_view(series, 160, axis=0)[starts], -1, 1) \
            if series.ndim == 2 else sliding_window_view(series, 160, axis=0)[starts]
        assert w.shape == plain.shape and np.array_equal(w, plain)


def test_moving_average_slices_are_the_gathered_trailing_means() -> None:
    """Each block's averages are differences of the running sum over the carried tail and the
    block, taken as slices: the same numbers as gathering them row by row."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 2)) * 3
    length = 16
    avg, tail, a = MovingAverage(2, length), np.zeros((0, 2)), 0
    for size in list(rng.integers(0, 40, 200)) + [len(x)]:
        block = x[a:a + size]
        a += size
        got = avg.process(block)
        if len(block) == 0:
            continue
        joined = np.concatenate([tail, block])
        c = np.zeros((len(joined) + 1, 2))
        np.cumsum(joined, axis=0, out=c[1:])
        k = np.arange(len(joined) - len(block), len(joined))
        lo = np.maximum(k + 1 - length, 0)
        assert np.array_equal(got, (c[k + 1] - c[lo]) / (k + 1 - lo)[:, None])
        tail = joined[-(length - 1):]
    whole = MovingAverage(2, length).process(x)     # the trailing mean, fewer samples at the start
    assert np.allclose(whole[:3], np.cumsum(x[:3], axis=0) / np.arange(1, 4)[:, None], rtol=0, atol=1e-12)
    assert np.allclose(whole[100], x[100 - length + 1:101].mean(axis=0), rtol=0, atol=1e-12)


def _spine_session(rate: int, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eight segments under a partner's load that drifts, a hand that comes and goes (often
    long enough off the back to move the baselines), two real presses and a saturated moment."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    x = 0.4 + 0.05 * np.sin(t / 30.0)[:, None] + 0.02 * rng.standard_normal((n, 8))
    on = (np.sin(t / 7.0) + 0.3 * np.sin(t * 1.7)) > -0.2
    x[int(20 * rate):int(23 * rate), 3] += 6.0           # on the spine for 3 s while working
    x[int(50 * rate):int(50.4 * rate), 5] += 4.0         # too short to count
    sat = np.zeros((n, 8), dtype=bool)
    sat[int(70 * rate):int(72 * rate), 1] = True
    return x, sat, on


@pytest.mark.parametrize("rate, first", [(200, 0), (50, 0), (200, 137)])
def test_spine_whole_chunks_match_the_chunk_by_chunk_loop(rate: int, first: int) -> None:
    x, sat, on = _spine_session(rate, 95.0, rate + first)
    policy = default_protocol().spine

    def go(sizes):
        tracker, a = SpineTracker(8, rate, policy), 0
        begun, ended, bases = [], [], []
        for size in sizes:
            if a >= len(x):
                break
            b = min(len(x), a + size)
            bg, en, base = tracker.process(first + a, x[a:b], sat[a:b], on[a:b])
            begun += bg
            ended += en
            bases.append(base)
            a = b
        ended += tracker.detector.close_all(first + len(x))
        return np.concatenate(bases), begun, ended, tracker.current_baseline(), tracker.peak_excess

    # One sample at a time never takes the whole-chunk path; one block takes it for nearly all.
    # Both add each chunk's glove-off samples in order, so they agree to the last bit.
    one_by_one = go([1] * len(x))
    whole = go([len(x)])
    assert np.array_equal(whole[0], one_by_one[0])
    assert whole[1] == one_by_one[1] and whole[2] == one_by_one[2]
    assert np.array_equal(whole[3], one_by_one[3]) and np.array_equal(whole[4], one_by_one[4])
    # Blocks that cut chunks in two add each part's sum to the chunk's (the loop's way, as
    # before the fast path): the same to rounding, and the same contacts.
    rng = np.random.default_rng(rate)
    mixed = go(list(rng.integers(1, 3 * rate, 500)))
    assert np.allclose(mixed[0], one_by_one[0], rtol=1e-12, atol=0)
    assert mixed[1] == one_by_one[1] and mixed[2] == one_by_one[2]
    assert any(e.channel == 3 for e in one_by_one[2])      # the session does hold a contact


def test_conditioning_is_exactly_the_same_in_any_blocks() -> None:
    """Per-chunk baselines and levels, busy chunks skipped in runs and spreads computed only
    where needed give the very same numbers, block by block or all at once."""
    rate = 100
    rng = np.random.default_rng(6)
    n = 240 * rate
    t = np.arange(n) / rate
    working = (np.sin(t / 20.0) > -0.3)[:, None]              # on the back about 60 % of the time
    load = working * (3.0 + 2.0 * np.sin(2 * np.pi * 0.8 * t))[:, None] * rng.uniform(0.2, 1.0, 20)
    x = np.maximum(load + rng.uniform(0.1, 0.5, 20) + 0.15 * rng.standard_normal((n, 20))
                   + 0.002 * t[:, None], 0.0)
    opn = np.zeros((n, 20), dtype=bool)
    opn[int(100 * rate):int(104 * rate), 2] = True              # a lead open for 4 s
    sat = np.zeros((n, 20), dtype=bool)
    glove = np.array([c not in SPINE_CHANNELS for c in ALL_CHANNELS])
    press = np.array(["knuckles" in c for c in ALL_CHANNELS])

    def go(sizes, first=0):
        c = SignalConditioner(ALL_CHANNELS, rate, glove, press=press, initial_baseline=np.full(20, np.nan))
        outs, a = [], 0
        for size in sizes:
            if a >= n:
                break
            b = min(n, a + size)
            outs.append(c.process(first + a, x[a:b], sat[a:b], opn[a:b]))
            a = b
        return [np.concatenate([getattr(o, k) for o in outs]) for k in ("force", "hand_on", "pressing")] \
            + [c.baseline.copy(), c.noise.copy()]

    whole = go([n])
    pieces = go(list(rng.integers(1, 250, 3000)))
    for a, b in zip(whole, pieces):
        assert np.array_equal(a, b, equal_nan=True)
    assert whole[1].any() and not whole[1].all()              # the hand did come and go
