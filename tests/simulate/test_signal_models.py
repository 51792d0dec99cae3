"""Each technique's force model produces the signature it claims (docs/simulator.md)."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.simulate import simulate, simulate_technique
from glovecoach.simulate.sensors import forces_to_raw
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, load_sensor_map

RATE = 200
SEEDS = range(6)
CH = {c: k for k, c in enumerate(GLOVE_CHANNELS)}
FINGERS3 = [CH["index_tip"], CH["middle_tip"], CH["ring_tip"]]
PALM = [CH[c] for c in ("thenar", "hypothenar", "palm_center", "palm_heel")]


def dominant_hz(signal: np.ndarray, lo: float = 0.1, hi: float = 20.0) -> float:
    x = signal - signal.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x))) ** 2
    f = np.fft.rfftfreq(8 * len(x), 1 / RATE)
    band = (f >= lo) & (f <= hi)
    return float(f[band][spec[band].argmax()])


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


@pytest.mark.parametrize("seed", SEEDS)
def test_stroking_is_light_slow_and_continuous(seed: int) -> None:
    f, labels = simulate_technique("stroking", 40.0, seed)
    total = f.sum(axis=1)
    assert 5.0 <= total.mean() <= 20.0
    assert total.min() > 0.2 * total.mean()               # contact never released
    assert 0.2 <= dominant_hz(total) <= 0.55               # strokes of 2-5 s
    assert f[:, PALM].sum() / f.sum() > 0.3 and f[:, FINGERS3].sum() / f.sum() > 0.15
    assert (labels == 1).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_stroking_is_strokings_shape_at_higher_force_on_the_palm(seed: int) -> None:
    light, _ = simulate_technique("stroking", 40.0, seed)
    deep, _ = simulate_technique("deep_stroking", 40.0, seed)
    total = deep.sum(axis=1)
    assert 20.0 <= total.mean() <= 60.0
    assert total.mean() > 1.8 * light.sum(axis=1).mean()
    assert 0.2 <= dominant_hz(total) <= 0.55
    assert deep[:, PALM].sum() / deep.sum() > 0.7


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", ["hand_edge", "palm_heel", "finger_pads"])
def test_rubbing_rocks_at_1_to_3_hz_without_releasing(seed: int, variant: str) -> None:
    f, _ = simulate_technique("rubbing", 30.0, seed, variant=variant)
    total = f.sum(axis=1)
    assert 1.0 <= dominant_hz(total) <= 3.0
    assert total.min() > 0.15 * total.mean()
    loaded = {"hand_edge": [CH["hand_edge"]], "palm_heel": [CH["palm_heel"]], "finger_pads": FINGERS3}[variant]
    assert f[:, loaded].sum() / f.sum() > 0.4


@pytest.mark.parametrize("seed", SEEDS)
def test_kneading_thumb_and_fingers_rise_and_fall_together(seed: int) -> None:
    f, _ = simulate_technique("kneading", 30.0, seed, variant="grasp")
    thumb, fingers = f[:, CH["thumb_tip"]], f[:, FINGERS3].sum(axis=1)
    assert np.corrcoef(thumb, fingers)[0, 1] > 0.9
    assert 0.5 <= dominant_hz(thumb, 0.3) <= 1.5
    assert f[:, PALM].mean(axis=0).max() < 0.3 * thumb.max()        # palm light
    assert thumb.min() < 0.15 * thumb.max()                          # grasp, then release


@pytest.mark.parametrize("seed", SEEDS)
def test_fist_kneading_loads_the_knuckles_in_a_slow_cycle(seed: int) -> None:
    f, _ = simulate_technique("kneading", 30.0, seed, variant="fist")
    knuckles = f[:, [CH["knuckles_index_middle"], CH["knuckles_ring_little"]]].sum(axis=1)
    assert knuckles.sum() / f.sum() > 0.7
    assert 0.5 <= dominant_hz(knuckles, 0.3) <= 1.5


@pytest.mark.parametrize("seed", SEEDS)
def test_vibration_is_a_small_fast_oscillation_on_a_moderate_base(seed: int) -> None:
    f, _ = simulate_technique("vibration", 20.0, seed)
    total = f.sum(axis=1)
    assert 5.0 <= total.mean() <= 20.0
    assert 5.0 <= dominant_hz(total, 2.0) <= 12.0
    swing = total - np.convolve(total, np.ones(RATE) / RATE, mode="same")
    core = swing[RATE:-RATE]
    assert 0.03 < core.std() / total.mean() < 0.3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", ["hacking", "tapping", "patting", "knuckles"])
def test_percussion_is_short_impacts_with_release_between(seed: int, variant: str) -> None:
    f, _ = simulate_technique("percussion", 20.0, seed, variant=variant)
    total = f.sum(axis=1)
    crest = total.max() / np.sqrt((total ** 2).mean())
    assert crest > 2.5
    assert (total < 0.02 * total.max()).mean() > 0.5                # released between hits
    hits = runs(total > 0.01 * total.max())
    widths = np.array([e - s for s, e in hits]) / RATE
    assert widths.max() <= 0.085                                      # each impact 20-80 ms
    assert 2.0 <= len(hits) / 20.0 <= 8.0                             # 2-8 Hz
    peaks = np.array([total[s:e].max() for s, e in hits])
    assert 8.0 <= np.median(peaks) <= 50.0


def test_lifted_hand_is_zero_force() -> None:
    f, labels = simulate_technique("none", 5.0, 0)
    assert not f.any() and (labels == 0).all()


def test_lifts_release_contact_briefly_and_are_labelled_none() -> None:
    f, labels = simulate_technique("stroking", 120.0, 4, lifts=True)
    lifted = labels == 0
    assert lifted.any()
    assert (f[lifted].sum(axis=1) < 0.5 * f[~lifted].sum(axis=1).mean()).all()
    for s, e in runs(lifted):
        assert (e - s) / RATE <= 1.1


def test_counts_saturate_at_the_top_and_never_wrap() -> None:
    smap = load_sensor_map()
    rng = np.random.default_rng(0)
    forces = np.geomspace(0.01, 1e5, 400)[:, None].repeat(len(ALL_CHANNELS), axis=1)
    raw = forces_to_raw(forces, ALL_CHANNELS, RATE, rng)
    assert raw.dtype == np.uint16
    assert raw.max() <= smap.adc_max
    assert (raw[-20:] >= smap.saturated_at).all()         # far beyond range: at/above saturated_at
    smooth = raw.astype(np.int64)
    assert (np.diff(smooth, axis=0) >= -6).all()          # monotonic up to ADC noise: no wrap-around
    unloaded = forces_to_raw(np.zeros((200, len(ALL_CHANNELS))), ALL_CHANNELS, RATE, rng)
    assert (unloaded >= smap.open_below).all()            # an idle sensor is not an open lead


def test_nominal_calibration_recovers_force_within_part_spread() -> None:
    rng = np.random.default_rng(1)
    true = np.full((400, len(ALL_CHANNELS)), 10.0)
    raw = forces_to_raw(true, ALL_CHANNELS, RATE, rng)
    measured = Calibration.nominal_for(ALL_CHANNELS).convert(raw).newtons.mean(axis=0)
    ratio = measured / 10.0
    assert ((ratio > 0.92) & (ratio < 1.08)).all()        # +/-6 % gain spread, +drift, +noise
    assert ratio.std() > 0.005                             # ... and the parts do differ


def test_same_seed_same_session_and_different_seeds_differ() -> None:
    a = simulate("good_session", 11)
    b = simulate("good_session", 11)
    c = simulate("good_session", 12)
    assert np.array_equal(a.raw, b.raw) and np.array_equal(a.labels, b.labels)
    assert a.phases == b.phases
    assert a.raw.shape != c.raw.shape or not np.array_equal(a.raw, c.raw)
    assert a.phases != c.phases


def test_other_sample_rates_keep_the_timeline() -> None:
    s = simulate("good_session", 2, rate_hz=50)
    assert s.rate_hz == 50
    assert abs(s.n_samples / 50 - s.duration_s) < 1e-9
    assert s.phases[-1].end_s <= s.duration_s
