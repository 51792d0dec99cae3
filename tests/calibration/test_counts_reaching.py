"""Calibration.counts_reaching: the lowest raw count that can be a given force, per channel."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.vocabulary.sensors import ALL_CHANNELS


def test_the_count_reaches_the_force_and_the_count_below_does_not():
    cal = Calibration.nominal_for(ALL_CHANNELS)
    adc_max = cal.sensor_map.adc_max
    forces = np.linspace(0.5, 12.0, len(ALL_CHANNELS))
    counts = cal.counts_reaching(forces)
    assert counts.dtype == np.int64 and counts.shape == (len(ALL_CHANNELS),)
    assert np.all((counts > 0) & (counts <= adc_max))
    at = cal.convert(counts[None, :]).newtons[0]
    below = cal.convert((counts - 1)[None, :]).newtons[0]
    assert np.all(at >= forces) and np.all(below < forces)
    # every count from 0 to adc_max: those converting to at least the force are all at or above it
    every = np.repeat(np.arange(adc_max + 1)[:, None], len(ALL_CHANNELS), axis=1)
    newtons = cal.convert(every).newtons
    assert np.all(every[newtons >= forces[None, :]] >= np.broadcast_to(counts, every.shape)[newtons >= forces[None, :]])


def test_a_force_no_count_reaches_and_nan_give_one_past_the_top():
    cal = Calibration.nominal_for(ALL_CHANNELS)
    forces = np.full(len(ALL_CHANNELS), 5.0)
    forces[0], forces[1], forces[2] = np.nan, np.inf, 1e9
    counts = cal.counts_reaching(forces)
    assert list(counts[:3]) == [cal.sensor_map.adc_max + 1] * 3
    assert np.all(counts[3:] <= cal.sensor_map.adc_max)
    with pytest.raises(ValueError, match="one force per channel"):
        cal.counts_reaching(np.ones(3))
