"""Every scenario's ground truth matches its description, and the faults are unambiguous."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from glovecoach.protocols import default_protocol
from glovecoach.simulate import SCENARIOS, SimulatedSession, simulate
from glovecoach.simulate.session import NORMAL_CEILING
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS, SPINE_CHANNELS
from glovecoach.vocabulary.techniques import TECHNIQUES

SEEDS = (0, 1, 2)
PROTOCOL = default_protocol()
ORDER = ["stroking", "deep_stroking", "rubbing", "kneading", "vibration", "percussion", "stroking"]


@cache
def session(scenario: str, seed: int) -> SimulatedSession:
    return simulate(scenario, seed)


def durations(s: SimulatedSession) -> list[float]:
    return [p.end_s - p.start_s for p in s.phases]


def is_in_protocol_order(techniques: list[str]) -> bool:
    """True if `techniques` is a subsequence of the protocol's order (vibration/percussion either way)."""
    k = 0
    for t in techniques:
        while k < len(ORDER) and ORDER[k] != t and not (
                {ORDER[k], t} == {"vibration", "percussion"}):
            k += 1
        if k == len(ORDER):
            return False
        k += 1
    return True


def glove_index(channel: str) -> int:
    return GLOVE_CHANNELS.index(channel)


def test_scenarios_listed_in_the_contract_exist() -> None:
    for name in ("good_session", "excessive_force_kneading", "spine_contact_stroking",
                 "wrong_phase_order", "phase_too_long", "session_too_long"):
        assert name in SCENARIOS


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", [s for s in SCENARIOS])
def test_labels_agree_with_phases(scenario: str, seed: int) -> None:
    s = session(scenario, seed)
    assert s.raw.shape == s.newtons.shape == (s.n_samples, 20) and s.raw.dtype == np.uint16
    inside = np.zeros(s.n_samples, dtype=bool)
    for p in s.phases:
        a, b = round(p.start_s * s.rate_hz), round(p.end_s * s.rate_hz)
        inside[a:b] = True
        seg = s.labels[a:b]
        assert set(np.unique(seg)) <= {0, TECHNIQUES.index(p.technique)}
        assert (seg != 0).mean() > 0.9          # only brief lifts inside a phase
    assert (s.labels[~inside] == 0).all()
    assert not s.newtons[~inside][:, :12].any()  # the hand is off the back between phases


@pytest.mark.parametrize("seed", SEEDS)
def test_good_session_follows_the_protocol(seed: int) -> None:
    s = session("good_session", seed)
    techniques = [p.technique for p in s.phases]
    assert techniques[0] == techniques[-1] == "stroking"
    assert {"rubbing", "kneading"} <= set(techniques)
    assert is_in_protocol_order(techniques)
    assert all(120.0 <= d <= 180.0 for d in durations(s))
    assert s.duration_s < 900.0
    assert s.overforce == [] and s.spine_contacts == [] and s.expected_violations == ()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", ["good_session", "wrong_phase_order", "phase_too_long", "session_too_long"])
def test_normal_variability_stays_clearly_below_live_limits(scenario: str, seed: int) -> None:
    s = session(scenario, seed)
    for p in s.phases:
        a, b = round(p.start_s * s.rate_hz), round(p.end_s * s.rate_hz)
        for c, ch in enumerate(GLOVE_CHANNELS):
            _, mx = PROTOCOL.force_limit(p.technique, ch, "live")
            if mx is not None:
                assert s.newtons[a:b, c].max() <= NORMAL_CEILING * mx + 1e-3, (p.technique, ch)


@pytest.mark.parametrize("seed", SEEDS)
def test_excessive_force_kneading_squeezes_clearly_over_the_limit(seed: int) -> None:
    s = session("excessive_force_kneading", seed)
    kneading = next(p for p in s.phases if p.technique == "kneading")
    assert len(s.overforce) >= 2
    for e in s.overforce:
        assert kneading.start_s <= e.start_s < e.end_s <= kneading.end_s
        assert e.region in ("thumb_tip", "index_tip", "middle_tip")
        _, limit = PROTOCOL.force_limit("kneading", e.region, "live")
        c = glove_index(e.region)
        a, b = round(e.start_s * s.rate_hz), round(e.end_s * s.rate_hz)
        assert (s.newtons[a:b, c] > limit).all()
        well_over = s.newtons[a:b, c] >= 1.3 * limit
        assert well_over.sum() / s.rate_hz >= 1.0              # >= 30 % over for >= 1 s
        assert abs(e.peak_n - s.newtons[a:b, c].max()) < 0.05
    # Nothing else crosses a live limit.
    others = [p for p in s.phases if p.technique != "kneading"]
    for p in others:
        a, b = round(p.start_s * s.rate_hz), round(p.end_s * s.rate_hz)
        for c, ch in enumerate(GLOVE_CHANNELS):
            _, mx = PROTOCOL.force_limit(p.technique, ch, "live")
            if mx is not None:
                assert s.newtons[a:b, c].max() < mx


@pytest.mark.parametrize("seed", SEEDS)
def test_spine_contact_happens_during_first_stroking_with_glove_on(seed: int) -> None:
    s = session("spine_contact_stroking", seed)
    first = s.phases[0]
    threshold = PROTOCOL.spine.contact_above_baseline_n
    assert first.technique == "stroking" and 1 <= len({round(e.start_s) for e in s.spine_contacts})
    spine = s.newtons[:, 12:]
    baseline = np.array([s.spine_baseline_n[ch] for ch in SPINE_CHANNELS])
    touched = np.zeros(s.n_samples, dtype=bool)
    for e in s.spine_contacts:
        assert e.segment in SPINE_CHANNELS
        assert first.start_s < e.start_s < e.end_s < first.end_s
        assert 2.0 <= e.end_s - e.start_s <= 6.5
        a, b = round(e.start_s * s.rate_hz), round(e.end_s * s.rate_hz)
        k = SPINE_CHANNELS.index(e.segment)
        assert e.peak_n - baseline[k] >= 3 * threshold
        assert (s.newtons[a:b, :12].sum(axis=1) > PROTOCOL.spine.glove_contact_n).all()
        touched[max(a - 200, 0):b + 200] = True
    # Everywhere else the strip carries only the partner's small, steady baseline.
    assert (np.abs(spine[~touched] - baseline) < threshold / 3).all()
    assert ((baseline > 0.05) & (baseline < 1.0)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_wrong_phase_order_puts_kneading_before_rubbing(seed: int) -> None:
    s = session("wrong_phase_order", seed)
    techniques = [p.technique for p in s.phases]
    assert techniques.index("kneading") < techniques.index("rubbing")
    assert not is_in_protocol_order(techniques)
    assert all(120.0 <= d <= 180.0 for d in durations(s)) and s.duration_s < 900.0
    assert s.expected_violations == ("wrong_order",)


@pytest.mark.parametrize("seed", SEEDS)
def test_phase_too_long_has_exactly_one_phase_far_over_its_window(seed: int) -> None:
    s = session("phase_too_long", seed)
    too_long = []
    for p in s.phases:
        _, max_s, tolerance = PROTOCOL.phase_window(p.technique)
        d = p.end_s - p.start_s
        if d > max_s:
            assert d > max_s + tolerance + 30.0
            too_long.append(p.technique)
    assert len(too_long) == 1 and too_long[0] in ("rubbing", "kneading")
    assert is_in_protocol_order([p.technique for p in s.phases]) and s.duration_s < 900.0


@pytest.mark.parametrize("seed", SEEDS)
def test_session_too_long_runs_past_15_minutes_with_every_phase_in_time(seed: int) -> None:
    s = session("session_too_long", seed)
    assert s.duration_s > PROTOCOL.session_max_s + 60.0
    assert all(120.0 <= d <= 180.0 for d in durations(s))
    assert is_in_protocol_order([p.technique for p in s.phases])
    assert s.expected_violations == ("session_too_long",)


def test_technique_tour_visits_every_technique() -> None:
    s = session("technique_tour", 0)
    assert sorted(p.technique for p in s.phases) == sorted(t for t in TECHNIQUES if t != "none")
    assert s.expected_violations is None and s.truth_dict()["expected_violations"] is None


def test_unknown_scenario_is_named() -> None:
    with pytest.raises(ValueError, match="bogus"):
        simulate("bogus", 0)


def test_cut_keeps_ground_truth_true_of_the_samples() -> None:
    s = session("spine_contact_stroking", 1)
    contact = s.spine_contacts[0]
    start = contact.start_s - 10.0
    part = s.cut(start, 200.0)
    assert part.n_samples == 200 * s.rate_hz
    assert np.array_equal(part.raw, s.raw[round(start * s.rate_hz):round((start + 200) * s.rate_hz)])
    assert part.phases[0].start_s == 0.0 and part.phases[0].technique == s.phases[0].technique
    assert all(p.end_s <= 200.0 for p in part.phases)
    moved = part.spine_contacts[0]
    assert abs(moved.start_s - 10.0) < 1e-9 and moved.region == contact.region
    assert part.truth_dict()["duration_s"] == 200.0
    with pytest.raises(ValueError, match="cannot cut"):
        s.cut(s.duration_s + 1.0)
