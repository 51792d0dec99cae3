"""Clock unwrapping and lower-envelope clock mapping on synthetic data with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.link.device_clock import TICKS_MODULUS, ClockMapper, DeviceClockUnwrapper


def test_unwrap_crosses_several_wraps_in_chunks():
    true_us = np.arange(0, 3 * TICKS_MODULUS, 20_000, dtype=np.int64) + 123
    stamps = true_us & (TICKS_MODULUS - 1)
    unwrapper = DeviceClockUnwrapper()
    chunks = np.array_split(stamps, 37)
    out = np.concatenate([unwrapper.unwrap(c) for c in chunks])
    np.testing.assert_array_equal(out - out[0], true_us - true_us[0])


def test_unwrap_keeps_small_backward_step_visible():
    unwrapper = DeviceClockUnwrapper()
    out = unwrapper.unwrap(np.array([1000, 2000, 1500]))
    assert list(out) == [1000, 2000, 1500]


def _synthetic(seed: int, seconds: float, offset: float, drift_ppm: float):
    rng = np.random.default_rng(seed)
    device = np.arange(0, seconds, 0.02)  # a frame every 20 ms
    true_host = offset + device * (1 + drift_ppm * 1e-6)
    # One-sided delay: 0.3 ms minimum latency, exponential jitter (mean 4 ms), and a few
    # reads stalled by 50-200 ms (a busy host). Reads also batch frames: every frame in a
    # batch gets the arrival time of the last one.
    delay = 0.0003 + rng.exponential(0.004, device.size)
    stalls = rng.random(device.size) < 0.01
    delay[stalls] += rng.uniform(0.05, 0.2, stalls.sum())
    host = true_host + delay
    # A few frames stamped late by the device (a sample taken late on a busy device): their
    # pair lands *below* the true envelope, which a convex-hull fit would pivot on.
    late = rng.choice(device.size, 6, replace=False)
    stamped = device.copy()
    stamped[late] += rng.uniform(0.004, 0.008, late.size)
    for start in range(0, device.size - 3, 3):
        host[start:start + 3] = host[start:start + 3].max()
    return device, stamped, true_host, host


@pytest.mark.parametrize("drift_ppm", [-250.0, 0.0, 180.0])
def test_mapper_recovers_offset_and_drift_despite_one_sided_jitter(drift_ppm):
    device, stamped, true_host, host = _synthetic(7, 60.0, offset=5000.25, drift_ppm=drift_ppm)
    mapper = ClockMapper(window_s=30.0)
    for lo in range(0, device.size, 10):  # fed in reads of 10 frames
        mapper.add(stamped[lo:lo + 10], host[lo:lo + 10])
    fit = mapper.fit()
    assert fit is not None
    assert abs(fit.drift_ppm - drift_ppm) < 20, fit
    # Over the fitting window, the mapped time sits on the true clock plus the minimum
    # latency (0.3 ms), within a fraction of a millisecond, although the mean delay is 4 ms+.
    window = device > device[-1] - 30
    err = mapper.to_host(device[window]) - true_host[window]
    assert np.all(err > 0.0), err.min()
    assert np.all(err < 0.0015), err.max()
    print(f"drift {drift_ppm:+.0f} ppm: fitted {fit.drift_ppm:+.1f} ppm, "
          f"mapping error {err.min() * 1e3:.2f}..{err.max() * 1e3:.2f} ms (0.3 ms = min latency)")
    # A least-squares fit would be biased by the mean delay: prove the data has that bias.
    ls_bias = np.mean(host[window] - true_host[window])
    assert ls_bias > 0.004


def test_mapper_before_min_span_uses_unit_slope_and_least_delay():
    mapper = ClockMapper(min_span_s=2.0)
    mapper.add(np.array([0.0, 0.02, 0.04]), np.array([10.005, 10.021, 10.047]))
    fit = mapper.fit()
    assert fit.slope == 1.0
    assert mapper.to_host(0.0) == pytest.approx(10.001)


def test_mapper_window_forgets_old_pairs():
    mapper = ClockMapper(window_s=5.0)
    d = np.arange(0, 20, 0.02)
    mapper.add(d[d < 10], d[d < 10] + 1.0)
    mapper.add(d[d >= 10], d[d >= 10] * (1 + 1e-3) + 1.0)  # drift changes at 10 s
    fit = mapper.fit()
    assert fit.span_s <= 5.0 + 0.5
    assert fit.drift_ppm == pytest.approx(1000.0, abs=1.0)


def test_mapper_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="differ in shape"):
        ClockMapper().add(np.zeros(3), np.zeros(2))


def test_mapper_refits_only_when_its_envelope_changes():
    """The reader thread asks for the fit after every frame: a pair that does not lower its
    bucket's delay must not cost a refit, and one that does must change the fit."""
    m = ClockMapper(bucket_s=0.25, min_span_s=1.0)
    d = np.arange(0, 5.0, 0.02)
    m.add(d, d + 0.003)
    fit = m.fit()
    assert fit is not None
    m.add(np.array([d[-1] + 0.001]), np.array([d[-1] + 0.009]))   # same bucket, more delay
    assert m.fit() is fit
    m.add(np.array([d[-1] + 0.002]), np.array([d[-1] + 0.0021]))  # same bucket, less delay
    refit = m.fit()
    assert refit is not fit and refit.offset < fit.offset + 1e-12
    m.add(np.array([d[-1] + 0.3]), np.array([d[-1] + 0.303]))     # a new bucket
    assert m.fit() is not refit
