"""Technique recognition on simulated forces seen through the real sensor and calibration path."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.engine.features import window_features
from glovecoach.engine.technique import (
    HOP_S,
    PhaseSmoother,
    TechniqueRecognizer,
    WindowLabel,
)
from glovecoach.simulate import simulate, simulate_technique
from glovecoach.simulate.sensors import forces_to_raw
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS
from glovecoach.vocabulary.techniques import TECHNIQUES

RATE = 200


def measured(glove_forces: np.ndarray, seed: int, channels=ALL_CHANNELS) -> np.ndarray:
    """Glove forces -> ADC counts (gain spread, drift, noise) -> nominal calibration, as live."""
    full = np.zeros((len(glove_forces), len(ALL_CHANNELS)))
    full[:, :12] = glove_forces
    full[:, 12:] = 0.3                      # the partner's resting load on the spine strip
    raw = forces_to_raw(full, ALL_CHANNELS, RATE, np.random.default_rng(seed))
    newtons = Calibration.nominal_for(ALL_CHANNELS).convert(raw).newtons
    return newtons[:, [ALL_CHANNELS.index(c) for c in channels]]


CLEAN_CASES = [
    ("stroking", None), ("deep_stroking", None),
    ("rubbing", "hand_edge"), ("rubbing", "palm_heel"), ("rubbing", "finger_pads"),
    ("kneading", "grasp"), ("kneading", "fist"),
    ("vibration", "finger_pads"), ("vibration", "palm"),
    ("percussion", "hacking"), ("percussion", "tapping"), ("percussion", "patting"), ("percussion", "knuckles"),
]


@pytest.mark.parametrize("technique,variant", CLEAN_CASES)
@pytest.mark.parametrize("seed", [100, 101, 102])
def test_clean_segments_are_recognised(technique: str, variant: str | None, seed: int) -> None:
    forces, _ = simulate_technique(technique, 30.0, seed, variant=variant)
    labels = TechniqueRecognizer(ALL_CHANNELS, RATE).process(measured(forces, seed), 0)
    assert len(labels) == round((30 - 4) / HOP_S) + 1
    right = np.mean([w.technique == technique for w in labels])
    assert right >= 0.95, [w.technique for w in labels]


def test_lifted_hand_is_none() -> None:
    labels = TechniqueRecognizer(ALL_CHANNELS, RATE).process(measured(np.zeros((10 * RATE, 12)), 3), 0)
    assert labels and all(w.technique == "none" for w in labels)


def test_works_without_spine_strip_and_with_sensors_missing() -> None:
    channels = [c for c in GLOVE_CHANNELS if c not in ("little_tip", "hand_edge")]
    for technique, variant in [("kneading", "grasp"), ("stroking", None), ("rubbing", "palm_heel")]:
        forces, _ = simulate_technique(technique, 20.0, 7, variant=variant)
        newtons = measured(forces, 7, channels)
        labels = TechniqueRecognizer(channels, RATE).process(newtons, 0)
        assert np.mean([w.technique == technique for w in labels]) >= 0.9, technique


def test_spine_columns_do_not_change_the_labels() -> None:
    forces, _ = simulate_technique("rubbing", 20.0, 8)
    newtons = measured(forces, 8)
    spine_pressed = newtons.copy()
    spine_pressed[:, 12:] += 20.0
    a = TechniqueRecognizer(ALL_CHANNELS, RATE).process(newtons, 0)
    b = TechniqueRecognizer(ALL_CHANNELS, RATE).process(spine_pressed, 0)
    assert a == b


@pytest.fixture(scope="module")
def tour():
    s = simulate("technique_tour", 21)
    newtons = Calibration.nominal_for(s.channels).convert(s.raw).newtons
    return s, newtons


def test_random_block_sizes_give_the_same_windows_as_one_block(tour) -> None:
    s, newtons = tour
    whole = TechniqueRecognizer(s.channels, RATE).process(newtons, 0)
    rng = np.random.default_rng(0)
    recognizer = TechniqueRecognizer(s.channels, RATE)
    streamed: list[WindowLabel] = []
    i = 0
    while i < len(newtons):
        n = int(rng.choice([1, 3, 4, 17, 100, 999, 4000]))
        streamed += recognizer.process(newtons[i:i + n], i)
        i += n
    assert [(w.start_index, w.end_index, w.technique) for w in streamed] == \
           [(w.start_index, w.end_index, w.technique) for w in whole]
    assert np.allclose([w.confidence for w in streamed], [w.confidence for w in whole])
    assert all(0.5 <= w.confidence <= 1.0 for w in whole)


def test_windows_sit_on_a_fixed_grid_and_never_span_a_gap(tour) -> None:
    s, newtons = tour
    r = TechniqueRecognizer(s.channels, RATE)
    first = r.process(newtons[30:5000], 30)
    second = r.process(newtons[6000:12000], 6000)          # samples 5000-5999 lost
    assert all(w.start_index % r.hop == 0 for w in first + second)
    assert first[0].start_index == r.hop                    # first grid point at/after index 30
    assert all(w.end_index <= 5000 for w in first)
    assert all(w.start_index >= 6000 for w in second)


def test_tour_windows_match_ground_truth(tour) -> None:
    s, newtons = tour
    labels = TechniqueRecognizer(s.channels, RATE).process(newtons, 0)
    right = 0
    for w in labels:
        truth = np.bincount(s.labels[w.start_index:w.end_index], minlength=len(TECHNIQUES)).argmax()
        right += w.technique == TECHNIQUES[truth]
    assert right / len(labels) >= 0.95


def test_features_read_physical_quantities() -> None:
    forces, _ = simulate_technique("kneading", 8.0, 9, variant="grasp")
    windows = forces[None, :4 * RATE]
    f = window_features(windows, GLOVE_CHANNELS, RATE)
    assert f.opposition[0] > 0.9 and f.shares["thumb"][0] > 0.2
    forces, _ = simulate_technique("percussion", 8.0, 9)
    f = window_features(forces[None, :4 * RATE], GLOVE_CHANNELS, RATE)
    assert f.crest[0] > 2.5 and f.released[0] > 0.5 and f.impacts[0] >= 8
    forces, _ = simulate_technique("vibration", 8.0, 9)
    f = window_features(forces[None, :4 * RATE], GLOVE_CHANNELS, RATE)
    assert 5.0 <= f.hf_hz[0] <= 12.0 and f.hf_ratio[0] > 0.06


# ------------------------------------------------------------------------- the smoother

def labels_from(spec: list[tuple[str, float]], hop_s: float = HOP_S, window_s: float = 4.0) -> list[WindowLabel]:
    """Window labels whose centres follow `spec`: [(technique, seconds), ...]."""
    out, t = [], 0.0
    hop, win = int(hop_s * RATE), int(window_s * RATE)
    start = 0
    for technique, seconds in spec:
        end_t = t + seconds
        while start + win / 2 < end_t * RATE:
            out.append(WindowLabel(start, start + win, technique, 0.9))
            start += hop
        t = end_t
    return out


def test_short_mislabelled_run_does_not_flicker() -> None:
    sm = PhaseSmoother(RATE)
    changes = sm.update(labels_from([("none", 5), ("kneading", 60), ("rubbing", 2.5), ("kneading", 60),
                                     ("none", 1.0), ("kneading", 30)]))
    assert [c.technique for c in changes] == ["kneading"]
    (phase,) = sm.finish(160.0)
    assert phase.technique == "kneading" and abs(phase.start_s - 5.0) <= 0.5


def test_real_change_is_confirmed_and_back_dated() -> None:
    sm = PhaseSmoother(RATE)
    changes = []
    for w in labels_from([("stroking", 100), ("rubbing", 60)]):
        changes += sm.update([w])
    assert [c.technique for c in changes] == ["stroking", "rubbing"]
    change = changes[1]
    assert change.previous == "stroking"
    assert abs(change.start_s - 100.0) <= 0.5               # back-dated to where rubbing began
    assert 100.0 < change.confirmed_at_s <= 100.0 + 6.0 + 4.0
    assert sm.current is not None and sm.current.technique == "rubbing"
    phases = sm.finish(160.0)
    assert [p.technique for p in phases] == ["stroking", "rubbing"]
    assert abs(phases[0].end_s - 100.0) <= 0.5


def test_long_lift_ends_a_phase_and_is_not_a_phase() -> None:
    sm = PhaseSmoother(RATE)
    changes = sm.update(labels_from([("stroking", 60), ("none", 20), ("stroking", 60)]))
    assert [c.technique for c in changes] == ["stroking", "none", "stroking"]
    assert sm.current is not None
    phases = sm.finish(140.0)
    assert [p.technique for p in phases] == ["stroking", "stroking"]
    assert abs(phases[0].end_s - 60.0) <= 0.5 and abs(phases[1].start_s - 80.0) <= 0.5


def test_current_is_none_before_any_phase() -> None:
    sm = PhaseSmoother(RATE)
    sm.update(labels_from([("none", 10), ("stroking", 2)]))
    assert sm.current is None
    assert sm.finish(12.0) == []


def test_good_session_phases_match_ground_truth() -> None:
    s = simulate("good_session", 500)
    newtons = Calibration.nominal_for(s.channels).convert(s.raw).newtons
    recognizer, smoother = TechniqueRecognizer(s.channels, RATE), PhaseSmoother(RATE)
    for i in range(0, s.n_samples, 4000):
        smoother.update(recognizer.process(newtons[i:i + 4000], i))
    phases = smoother.finish(s.duration_s)
    assert [p.technique for p in phases] == [p.technique for p in s.phases]
    for got, want in zip(phases, s.phases):
        assert abs(got.start_s - want.start_s) < 5.0 and abs(got.end_s - want.end_s) < 5.0


def test_technique_under_way_from_the_first_sample_starts_there() -> None:
    sm = PhaseSmoother(RATE)
    changes = sm.update(labels_from([("kneading", 30)]))
    assert [(c.technique, c.start_s, c.previous) for c in changes] == [("kneading", 0.0, None)]
