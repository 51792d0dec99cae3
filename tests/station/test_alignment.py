"""Devices with their own clocks (offsets, ±100 ppm drift, late reads) on one station index."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.station import StationTimebase

RATE = 200
PER_FRAME = 4              # a SAMPLES frame every 20 ms, as the firmware sends at 200 Hz


def simulate_station(skews_ppm, seconds, seed, hiccups=True):
    """Run each device's frames through a StationTimebase in arrival order.

    Device k's clock reads ``offset_k + t * (1 + skew_k)`` at true (host) time t; it samples at
    its own nominal period and sends a frame once its last sample is taken, which the host
    reads 0.3 ms + an exponential 2 ms later (now and then a 40 ms scheduler hiccup).
    Returns per device the true time of every sample and the station slot it was given
    (-1 for a sample that got none), plus the station's origin. The station's index runs a
    constant few slots behind true time (a frame leaves the device once it is full, 15 ms after
    its first sample): the same for every device, so it does not misalign them.
    """
    rng = np.random.default_rng(seed)
    n_frames = int(seconds * RATE / PER_FRAME)
    frames = []
    truth = {}
    for k, skew in enumerate(skews_ppm):
        name = f"dev{k}"
        offset = rng.uniform(-500.0, 500.0)
        start = rng.uniform(0.0, 0.5)
        scale = 1.0 + skew * 1e-6
        d0 = offset + start * scale
        j = np.arange(n_frames * PER_FRAME)
        device_t = d0 + j / RATE
        true_t = (device_t - offset) / scale
        truth[name] = true_t
        delay = 0.0003 + rng.exponential(0.002, n_frames)
        if hiccups:
            delay += (rng.random(n_frames) < 0.01) * 0.04
        # one device's frames arrive in order (a serial line, a TCP stream): a late one holds
        # up those behind it
        arrival = np.maximum.accumulate(true_t[PER_FRAME - 1::PER_FRAME] + delay)
        for f in range(n_frames):
            frames.append((arrival[f], name, f, device_t[f * PER_FRAME]))
    frames.sort()
    station = StationTimebase(RATE)
    slots = {name: np.full(len(t), -1, dtype=np.int64) for name, t in truth.items()}
    owed = {}
    for arrival, name, f, d_first in frames:
        station.observe(name, d_first, arrival)
        placed = station.place(name, d_first, PER_FRAME)
        if name in owed and placed.n_samples:
            assert placed.first_index == owed[name], "a station slot skipped or filled twice"
        if placed.n_samples:
            owed[name] = placed.first_index + placed.n_samples
        # the station slot of each device row (the last slot wins where a row fills two)
        slots[name][f * PER_FRAME + placed.rows] = placed.first_index + np.arange(placed.n_samples)
    return truth, slots, station.origin_host_s


@pytest.mark.parametrize("seed, minutes", [(1, 15), (2, 5)])
def test_fifteen_minutes_of_drifting_devices_stay_within_one_sample(seed, minutes):
    truth, slots, origin = simulate_station([-100.0, 0.0, 100.0], minutes * 60, seed)
    errors = []
    for name, true_t in truth.items():
        got = slots[name]
        ok = got >= 0
        # every row but a few has a slot (a 100 ppm fast device gives up one row in 10,000)
        assert ok.mean() > 0.9995, (name, ok.mean())
        errors.append(got[ok] - (true_t[ok] - origin) * RATE)
    common = np.median(np.concatenate(errors))       # the frame latency, the same for all
    worst = [float(np.abs(e - common).max()) for e in errors]
    # the target: every device's samples within one sample period of where they belong
    assert max(worst) < 1.0, worst


def test_without_alignment_the_same_devices_would_drift_apart():
    """The check above is not vacuous: counting samples from each device's start drifts by
    about 6 samples between a -100 and a +100 ppm device in 5 minutes (18 in 15)."""
    truth, slots, origin = simulate_station([-100.0, 100.0], 5 * 60, 3, hiccups=False)
    a, b = truth["dev0"], truth["dev1"]
    naive_a = np.rint((a[0] - origin) * RATE) + np.arange(len(a))
    naive_b = np.rint((b[0] - origin) * RATE) + np.arange(len(b))
    drift_a = naive_a[-1] - (a[-1] - origin) * RATE
    drift_b = naive_b[-1] - (b[-1] - origin) * RATE
    assert abs(drift_a - drift_b) > 5


def test_a_touch_seen_by_two_devices_lands_on_one_station_index():
    """A spine contact and the glove force causing it, at the same true instant, get station
    slots at most one apart whatever the two devices' clocks do."""
    truth, slots, origin = simulate_station([-80.0, 95.0], 600, 5)
    for when in (30.0, 299.9, 599.0, 599.5):
        hits = []
        for name, true_t in truth.items():
            j = int(np.argmin(np.abs(true_t - when)))
            hits.append(slots[name][j])
        assert abs(hits[0] - hits[1]) <= 1, (when, hits)


def test_placing_before_any_clock_stamp_is_refused():
    station = StationTimebase(RATE)
    with pytest.raises(RuntimeError, match="observe"):
        station.place("left", 12.0, 4)
