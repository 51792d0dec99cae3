"""Messy sessions (glovecoach.simulate.realism): every control does what it says, on the output."""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from glovecoach.protocols import default_protocol
from glovecoach.simulate import MESSY_SCENARIOS, MessySession, Realism, simulate_messy
from glovecoach.simulate.realism import FAULT_KINDS, RATES_HZ, sensor_ceiling_n
from glovecoach.simulate.session import NORMAL_CEILING
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS
from glovecoach.vocabulary.techniques import TECHNIQUES

PROTOCOL = default_protocol()
CH = {c: k for k, c in enumerate(ALL_CHANNELS)}
FINGERS = [CH[c] for c in ("index_tip", "middle_tip", "ring_tip", "little_tip")]
PALM = [CH[c] for c in ("thenar", "hypothenar", "palm_center", "palm_heel")]


@cache
def messy(seed: int, scenario: str, **controls) -> MessySession:
    return simulate_messy(seed, scenario=scenario, realism=Realism(**controls))


def scoring_max(technique: str, channel: str) -> float:
    return PROTOCOL.force_limit(technique, channel, "scoring")[1]


def idle(s: MessySession) -> np.ndarray:
    """Samples where no force at all is on the glove (before, between and after phases)."""
    return (s.true_newtons[:, :12] == 0).all(axis=1)


def phase_rows(s: MessySession, technique: str, margin_s: float = 8.0) -> list[slice]:
    return [slice(int((p.start_s + margin_s) * s.rate_hz), int((p.end_s - margin_s) * s.rate_hz))
            for p in s.phases if p.technique == technique]


def params_of(s: MessySession, technique: str) -> list[dict]:
    return [p for p in s.conditions["phase_params"] if p["technique"] == technique]


# ----------------------------------------------------------------------- determinism, API

def test_same_seed_same_session_and_different_seeds_differ():
    r = Realism(rate_hz=100, noise_n=0.2, offset_n=0.3, drift=0.05, gain_error=0.1, transition="mixed",
                pauses=1, period_jitter=0.2, missed_beats=0.1, faults=("intermittent", "noisy"))
    a = simulate_messy(4, scenario="good_session", realism=r)
    b = simulate_messy(4, scenario="good_session", realism=r)
    c = simulate_messy(5, scenario="good_session", realism=r)
    assert np.array_equal(a.newtons, b.newtons) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.raw, b.raw)
    assert a.truth_dict() == b.truth_dict()
    assert a.n_samples != c.n_samples or not np.array_equal(a.newtons, c.newtons)


def test_drawn_scenario_and_realism_are_deterministic_per_seed():
    a, b = simulate_messy(17, rate_hz=50), simulate_messy(17, rate_hz=50)
    assert a.scenario == b.scenario and a.conditions == b.conditions
    assert np.array_equal(a.newtons, b.newtons)
    assert a.rate_hz == 50
    scenarios = {simulate_messy(seed, rate_hz=50).scenario for seed in range(12)}
    assert len(scenarios) >= 4


def test_sensor_settings_leave_the_massage_itself_unchanged():
    clean = messy(2, "good_session", rate_hz=100)
    dirty = messy(2, "good_session", rate_hz=100, noise_n=0.3, offset_n=0.5, gain_error=0.15, drift=0.05,
                  hum_n=0.2, faults=("dead",))
    assert np.array_equal(clean.true_newtons, dirty.true_newtons)
    assert np.array_equal(clean.labels, dirty.labels)
    assert not np.array_equal(clean.newtons, dirty.newtons)


def test_clean_realism_reports_the_true_force():
    s = messy(1, "good_session", rate_hz=100)
    assert np.allclose(s.newtons, s.true_newtons)


def test_realism_checks_its_ranges_and_names():
    with pytest.raises(ValueError, match="noise_n"):
        Realism(noise_n=0.5)
    with pytest.raises(ValueError, match="force_scale"):
        Realism(force_scale=2.0)
    with pytest.raises(ValueError, match="rubbing_motion"):
        Realism(rubbing_motion="zigzag")
    with pytest.raises(ValueError, match="faults"):
        Realism(faults=("melted",))
    with pytest.raises(TypeError, match="colour"):
        Realism.draw(np.random.default_rng(0), colour="red")
    with pytest.raises(ValueError, match="scenario"):
        simulate_messy(0, scenario="nap")


def test_draw_covers_the_ranges_and_honours_overrides():
    rng = np.random.default_rng(0)
    drawn = [Realism.draw(rng) for _ in range(200)]
    assert {r.rate_hz for r in drawn} == set(RATES_HZ)
    assert min(r.force_scale for r in drawn) < 0.7 and max(r.force_scale for r in drawn) > 1.4
    assert {r.transition for r in drawn} == {"lift", "flow", "blend", "mixed"}
    assert {k for r in drawn for k in r.faults} == set(FAULT_KINDS)
    assert max(r.noise_n for r in drawn) == pytest.approx(0.3) and max(r.offset_n for r in drawn) == 0.5
    r = Realism.draw(rng, noise_n=0.25, faults=("stuck",), rate_hz=500)
    assert (r.noise_n, r.faults, r.rate_hz) == (0.25, ("stuck",), 500)


def test_truth_is_json_data():
    s = messy(3, "gel_pause", rate_hz=50, faults=("stuck",), pauses=1)
    d = json.loads(json.dumps(s.truth_dict()))
    assert d["verdict"] == "passed" and d["pauses"] and d["channel_faults"][0]["kind"] == "stuck"
    assert d["conditions"]["rate_hz"] == 50


# ------------------------------------------------------------------------------ sensors

def test_resting_offsets_show_in_idle_stretches_and_add_up_to_several_newtons():
    s = messy(0, "good_session", rate_hz=100, offset_n=0.4)
    rest = s.newtons[idle(s)][:, :12]
    assert len(rest) > 5 * s.rate_hz
    assert np.ptp(rest, axis=0).max() == 0.0             # no noise, no drift: a constant reading
    assert (rest[0] >= 0.1 - 1e-6).all() and (rest[0] <= 0.4 + 1e-6).all()
    assert rest[0].sum() > 1.2                            # 12 sensors: several newtons in all


def test_white_noise_has_the_set_rms():
    s = messy(0, "good_session", rate_hz=200, offset_n=0.5, noise_n=0.05)
    rest = s.newtons[idle(s)][:, :12].astype(np.float64)
    clear = rest.mean(axis=0) > 0.25          # far enough from 0 that clipping does not bite
    assert clear.sum() >= 4
    rms = rest[:, clear].std(axis=0)
    assert (rms >= 0.6 * 0.05 * 0.9).all() and (rms <= 0.05 * 1.1).all()   # each part 60-100 % of the setting
    assert np.ptp(rms) > 0.002                                              # and they differ


def test_gain_error_stays_within_its_bound_and_spreads():
    s = messy(0, "good_session", rate_hz=100, gain_error=0.15)
    loaded = s.true_newtons > 2.0
    ratios = [np.median(s.newtons[loaded[:, c], c] / s.true_newtons[loaded[:, c], c])
              for c in range(len(ALL_CHANNELS)) if loaded[:, c].sum() > 100]
    assert all(0.85 - 1e-3 <= r <= 1.15 + 1e-3 for r in ratios)
    assert np.ptp(ratios) > 0.08


def test_drift_changes_gain_and_offset_by_at_most_the_setting_over_the_session():
    s = messy(0, "good_session", rate_hz=100, drift=0.05)
    n = s.n_samples
    gain_change, offset_change = [], []
    for c in range(12):
        fits = []
        for rows in (slice(0, n // 5), slice(n - n // 5, n)):
            t, m = s.true_newtons[rows, c].astype(np.float64), s.newtons[rows, c].astype(np.float64)
            use = t > 0.3
            if use.sum() < 200:
                break
            fits.append(np.polyfit(t[use], m[use], 1))     # reading = gain * force + offset
        if len(fits) == 2:
            gain_change.append(abs(fits[1][0] - fits[0][0]))
            offset_change.append(abs(fits[1][1] - fits[0][1]))
    assert len(gain_change) >= 6
    assert max(gain_change) <= 0.05 * 1.1 and max(gain_change) > 0.01     # 10 %: the fit's own error
    assert max(offset_change) <= 0.1 + 1e-3


def test_mains_hum_shows_at_its_frequency():
    s = messy(0, "no_massage", rate_hz=500, hum_n=0.2, offset_n=0.5)
    x = s.newtons[:, CH["palm_center"]].astype(np.float64)
    x -= x.mean()
    freqs = np.fft.rfftfreq(len(x), 1 / s.rate_hz)
    assert freqs[np.abs(np.fft.rfft(x)).argmax()] == pytest.approx(50.0, abs=0.1)


@pytest.mark.parametrize("rate", RATES_HZ)
def test_sample_rates_are_honoured(rate):
    s = messy(6, "no_massage", rate_hz=rate, offset_n=0.2, noise_n=0.1)
    assert s.rate_hz == rate
    assert s.newtons.shape == (s.n_samples, len(ALL_CHANNELS)) and s.labels.shape == (s.n_samples,)
    assert s.duration_s == pytest.approx(s.n_samples / rate)
    # The same session at another rate: same plan, same length (to a sample).
    other = messy(6, "no_massage", rate_hz=100, offset_n=0.2, noise_n=0.1)
    assert s.duration_s == pytest.approx(other.duration_s, abs=0.02)


def test_percussion_impacts_survive_50_hz_sampling():
    s = messy(2, "session_too_long", rate_hz=50, percussion_variant="tapping")
    for rows in phase_rows(s, "percussion"):
        total = s.true_newtons[rows, :12].sum(axis=1)
        assert (total > 5.0).mean() > 0.05        # the impacts are there
        assert (total == 0.0).mean() > 0.3        # released between hits


def test_a_messy_session_goes_to_csv_with_its_truth(tmp_path):
    from glovecoach.recording.force_csv import read_force_csv
    from glovecoach.simulate import write_csv
    from glovecoach.simulate.files import truth_sidecar_path

    s = messy(3, "gel_pause", rate_hz=50, offset_n=0.3, noise_n=0.1, faults=("stuck",))
    path = write_csv(s, tmp_path / "messy.csv")
    table = read_force_csv(path)
    assert table.rate_hz == 50 and table.newtons.shape == s.newtons.shape
    # The counts round-trip the reported newtons to within a count's worth.
    assert np.allclose(table.newtons, s.newtons, rtol=0.01, atol=0.02)
    truth = json.loads(truth_sidecar_path(path).read_text())
    assert truth["verdict"] == "passed" and len(truth["pauses"]) == len(s.pauses) >= 1
    assert truth["channel_faults"][0]["kind"] == "stuck"


# ------------------------------------------------------------------------------- faults

def fault_session(kind: str) -> tuple[MessySession, int, tuple[int, int]]:
    s = messy(3, "good_session", rate_hz=100, offset_n=0.3, noise_n=0.1, faults=(kind,))
    (f,) = s.channel_faults
    assert f.kind == kind and f.channel in GLOVE_CHANNELS
    return s, CH[f.channel], (int(round(f.start_s * s.rate_hz)), int(round(f.end_s * s.rate_hz)))


def test_dead_channel_is_flat_while_its_neighbours_are_noisy():
    s, c, (a, b) = fault_session("dead")
    assert b - a > 60 * s.rate_hz
    assert np.ptp(s.newtons[a:b, c]) == 0.0
    assert s.newtons[a:b, c][0] <= 0.5
    healthy = [k for k in range(12) if k != c]
    assert (s.newtons[a:b, healthy].std(axis=0) > 0.05).all()


def test_intermittent_channel_drops_to_zero_for_50_to_500_ms():
    s, c, _ = fault_session("intermittent")
    twin = messy(3, "good_session", rate_hz=100, offset_n=0.3, noise_n=0.1)    # the same glove, healthy
    others = [k for k in range(len(ALL_CHANNELS)) if k != c]
    assert np.array_equal(s.newtons[:, others], twin.newtons[:, others])    # a fault touches its channel only
    dropped = (s.newtons[:, c] == 0) & (twin.newtons[:, c] > 0)
    assert (s.newtons[~dropped, c] == twin.newtons[~dropped, c]).all()
    # Dropouts are runs of zeros: where the healthy reading happened to be 0 as well they merge
    # with it, so measure the runs of "zero in the faulty reading" that hold a dropout.
    zero = np.concatenate([[0], (s.newtons[:, c] == 0).astype(np.int8), [0]])
    edges = np.diff(zero)
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    holds = np.array([dropped[a:b].any() for a, b in zip(starts, stops)])
    lengths = (stops - starts)[holds] / s.rate_hz
    assert len(lengths) >= 3
    assert lengths.min() >= 0.05 - 1e-9 and np.median(lengths) <= 0.5 and np.percentile(lengths, 90) <= 1.0


def test_stuck_channel_freezes_and_saturated_channel_pins_at_the_ceiling():
    s, c, (a, b) = fault_session("stuck")
    assert b - a >= 20 * s.rate_hz - 1 or b == s.n_samples
    assert np.ptp(s.newtons[a:b, c]) == 0.0
    s, c, (a, b) = fault_session("saturated")
    assert (s.newtons[a:b, c] == np.float32(sensor_ceiling_n()[c])).all()
    assert sensor_ceiling_n()[c] > 100.0


def test_noisy_channel_is_several_times_noisier_than_the_others():
    s, c, _ = fault_session("noisy")
    rest = idle(s)
    others = np.median(s.newtons[rest][:, :12].std(axis=0))
    assert s.newtons[rest, c].std() > 3.0 * others


def test_faults_avoid_the_over_force_channels_and_block_no_truth():
    for seed in range(4):
        s = messy(seed, "excessive_force_kneading", rate_hz=50, faults=("dead", "stuck", "noisy"))
        faulty = {f.channel for f in s.channel_faults}
        assert len(faulty) == 3
        assert s.overforce and not faulty & {e.region for e in s.overforce}


# -------------------------------------------------------------------------------- truth

@pytest.mark.parametrize("scenario,technique", [("excessive_force_kneading", "kneading"),
                                                ("vibration_overforce", "vibration")])
def test_over_force_truth_is_at_least_1_25x_the_scoring_limit_for_0_8_s(scenario, technique):
    for seed in range(3):
        s = messy(seed, scenario, rate_hz=100, gain_error=0.15, drift=0.05)
        assert s.overforce and "excessive_force" in s.expected_violations and s.truth_verdict == "not_passed"
        for e in s.overforce:
            limit = scoring_max(technique, e.region)
            c = CH[e.region]
            rows = slice(int(e.start_s * s.rate_hz), int(np.ceil(e.end_s * s.rate_hz)))
            assert (s.true_newtons[rows, c] >= 1.25 * limit).sum() / s.rate_hz >= 0.8
            assert e.peak_n >= 1.25 * limit
            # Even a low-reading sensor reports it over the limit.
            assert s.newtons[rows, c].max() > limit
        if technique == "vibration":
            assert all(e.region in ("index_tip", "middle_tip", "ring_tip") for e in s.overforce)
            assert params_of(s, "vibration")[0]["variant"] == "finger_pads"


def test_normal_forces_stay_clearly_inside_the_limits_even_for_heavy_hands():
    s = messy(5, "good_session", rate_hz=100, force_scale=1.5)
    assert not s.overforce and s.expected_violations == () and s.truth_verdict == "passed"
    for p in s.phases:
        rows = slice(int(p.start_s * s.rate_hz), int(p.end_s * s.rate_hz))
        for c, ch in enumerate(GLOVE_CHANNELS):
            live = PROTOCOL.force_limit(p.technique, ch, "live")[1]
            assert s.true_newtons[rows, c].max() <= NORMAL_CEILING * live * 1.001 + 1e-6


def test_spine_contacts_are_3_n_over_rest_for_half_a_second():
    for seed in range(3):
        s = messy(seed, "spine_contact_stroking", rate_hz=100)
        assert s.spine_contacts and "spine_contact" in s.expected_violations
        first_stroking = s.phases[0]
        for e in s.spine_contacts:
            k = CH[e.region]
            rows = slice(int(e.start_s * s.rate_hz), int(np.ceil(e.end_s * s.rate_hz)))
            over = s.true_newtons[rows, k] - 1.04 * s.spine_baseline_n[e.region]
            assert (over >= 3.0).sum() / s.rate_hz >= 0.5
            assert first_stroking.start_s <= e.start_s and e.end_s <= first_stroking.end_s


def test_a_gel_pause_is_one_phase_with_none_labels_inside():
    for seed in range(3):
        s = messy(seed, "gel_pause", rate_hz=50, offset_n=0.3)
        assert s.pauses and s.truth_verdict == "passed"
        for a, b in s.pauses:
            assert 15.0 - 0.7 <= b - a <= 30.0 + 0.1
            holders = [p for p in s.phases if p.start_s < a and b < p.end_s]
            assert len(holders) == 1
            p = holders[0]
            assert 120.0 - 15.0 < p.end_s - p.start_s - (b - a) and p.end_s - p.start_s < 180.0 + 15.0
            assert (s.labels[round(a * s.rate_hz):round(b * s.rate_hz)] == 0).all()
            # The hand is fully off once the 0.3 s fade-out is over, until the fade-in.
            rows = slice(int((a + 0.2) * s.rate_hz), int((b - 0.2) * s.rate_hz))
            assert (s.true_newtons[rows, :12] == 0).all()
            # The same technique before and after, right up to the pause.
            tech = TECHNIQUES.index(p.technique)
            before = s.labels[int((a - 10) * s.rate_hz):int(a * s.rate_hz)]
            after = s.labels[int(b * s.rate_hz):int((b + 10) * s.rate_hz)]
            assert (before == tech).mean() > 0.7 and (after == tech).mean() > 0.7


def test_no_massage_session_holds_only_offsets_and_noise():
    s = messy(1, "no_massage", rate_hz=100, noise_n=0.1)
    assert s.phases == [] and (s.labels == 0).all()
    assert s.truth_verdict == "no_massage" and s.expected_violations == ()
    assert (s.true_newtons[:, :12] == 0).all()
    assert s.newtons[:, :12].mean(axis=0).sum() > 1.2


def test_no_fist_work_has_idle_knuckles_that_touch_1_n_and_no_violation():
    s = messy(2, "no_fist_work", rate_hz=50, noise_n=0.1)
    knuckles = [CH["knuckles_index_middle"], CH["knuckles_ring_little"]]
    assert s.truth_verdict == "passed" and s.expected_violations == ()
    assert all(p["variant"] == "grasp" for p in params_of(s, "kneading"))
    assert params_of(s, "percussion") == [] or all(p["variant"] != "knuckles" for p in params_of(s, "percussion"))
    assert (s.true_newtons[:, knuckles] < 1.0).all()
    assert (s.newtons[:, knuckles] > 1.0).any()


def test_expected_violations_follow_the_scenario():
    want = {"wrong_phase_order": ("wrong_order",), "phase_too_long": ("phase_too_long",),
            "session_too_long": ("session_too_long",), "good_session": ()}
    for scenario, rules in want.items():
        s = messy(0, scenario, rate_hz=50, pauses=1, transition="mixed")
        assert s.expected_violations == rules
        assert s.truth_verdict == ("not_passed" if rules else "passed")
    assert set(MESSY_SCENARIOS) >= {"vibration_overforce", "no_fist_work", "gel_pause", "no_massage"}


# ------------------------------------------------------------------------ the massage

def test_light_stroking_goes_down_to_about_6_n():
    s = messy(0, "good_session", rate_hz=100, force_scale=0.6)
    for rows, p in zip(phase_rows(s, "stroking"), params_of(s, "stroking")):
        mean = s.true_newtons[rows, :12].sum(axis=1)
        mean = mean[mean > 0].mean()
        assert p["level_n"] >= 6.0 and 5.0 <= mean <= 10.0


def test_transitions_lift_flow_and_blend():
    lift = messy(1, "good_session", rate_hz=50, transition="lift", kneading_variant="grasp")
    flow = messy(1, "good_session", rate_hz=50, transition="flow", kneading_variant="grasp")
    blend = messy(1, "good_session", rate_hz=50, transition="blend", blend_s=4.0, kneading_variant="grasp")
    for s in (lift, flow, blend):
        assert [p.technique for p in s.phases] == [p.technique for p in lift.phases]
    gaps = [b.start_s - a.end_s for a, b in zip(lift.phases, lift.phases[1:])]
    assert min(gaps) >= 0.5
    for s in (flow, blend):
        assert all(b.start_s == a.end_s for a, b in zip(s.phases, s.phases[1:]))
    # In a blend both techniques' force patterns are on the glove around the boundary.
    a = blend.phases[1]       # the phase before the boundary, e.g. stroking before rubbing
    rate = blend.rate_hz
    mid = int(a.end_s * rate)
    around = blend.true_newtons[mid - rate:mid + rate, :12].sum(axis=1)
    assert (around > 1.0).all()                   # never lifted through a blend
    assert blend.conditions["transitions"] == ["blend"] * (len(blend.phases) - 1)
    # ... except into or out of fist kneading, where the hand comes off to close.
    fist = messy(1, "good_session", rate_hz=50, transition="blend", kneading_variant="fist")
    k = [p.technique for p in fist.phases].index("kneading")
    assert fist.conditions["transitions"][k - 1] == fist.conditions["transitions"][k] == "lift"


def loaded_share(s: MessySession, technique: str) -> np.ndarray:
    rows = phase_rows(s, technique)[0]
    f = s.true_newtons[rows, :12].astype(np.float64)
    return f.sum(axis=0) / f.sum()


@pytest.mark.parametrize("surface,where", [("hand_edge", [CH["hand_edge"]]), ("palm_heel", [CH["palm_heel"]]),
                                           ("finger_pads", FINGERS)])
def test_rubbing_surfaces_carry_the_load(surface, where):
    s = messy(1, "good_session", rate_hz=100, rubbing_surface=surface)
    share = loaded_share(s, "rubbing")
    assert share[where].sum() > 0.4
    assert share[where].min() >= max(np.delete(share, where).max() * 0.5, 0.0)


def rub_phase_spread(s: MessySession) -> float:
    """Spread of the sensors' phase lags at the rubbing rate (0: in step; ~2 pi: all round)."""
    rows = phase_rows(s, "rubbing")[0]
    rate_hz = params_of(s, "rubbing")[0]["rate_hz"]
    f = s.true_newtons[rows, :12].astype(np.float64)
    share = f.sum(axis=0) / f.sum()
    t = np.arange(len(f)) / s.rate_hz
    probe = np.exp(-2j * np.pi * rate_hz * t)
    loaded = share > 0.05
    angles = np.sort(np.angle((f[:, loaded] - f[:, loaded].mean(axis=0)).T @ probe))
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi]))
    return 2 * np.pi - gaps.max()            # smallest arc holding every sensor's phase


def test_circular_rubbing_spreads_the_phase_lags_round_the_circle():
    circular = messy(1, "good_session", rate_hz=100, rubbing_motion="circular", rubbing_surface="palm_heel",
                     period_jitter=0.0)
    straight = messy(1, "good_session", rate_hz=100, rubbing_motion="back_and_forth", rubbing_surface="palm_heel",
                     period_jitter=0.0)
    assert rub_phase_spread(circular) > np.pi
    assert rub_phase_spread(straight) < np.pi / 2


@pytest.mark.parametrize("variant", ["hacking", "tapping", "cupping"])
def test_percussion_variants_land_on_their_surface(variant):
    s = messy(1, "session_too_long", rate_hz=200, percussion_variant=variant)
    share = loaded_share(s, "percussion")
    if variant == "hacking":
        assert share[CH["hand_edge"]] > 0.5
    elif variant == "tapping":
        assert share[FINGERS].sum() > 0.9
    else:   # the rim of a cupped palm and the fingers; the hollow centre barely touches
        assert share[[CH["thenar"], CH["hypothenar"], CH["palm_heel"]]].sum() > 0.4
        assert share[FINGERS].sum() > 0.2 and share[CH["palm_center"]] < 0.06


def test_impacts_last_20_to_80_ms():
    s = messy(2, "session_too_long", rate_hz=500, percussion_variant="hacking")
    rows = phase_rows(s, "percussion")[0]
    on = np.concatenate([[0], (s.true_newtons[rows, CH["hand_edge"]] > 0).astype(np.int8), [0]])
    edges = np.diff(on)
    widths = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) / s.rate_hz
    assert np.median(widths) >= 0.02 - 1e-9 and np.median(widths) <= 0.08 + 1e-9


def test_vibration_variants_and_their_frequency():
    pads = messy(1, "vibration_overforce", rate_hz=200, vibration_variant="finger_pads")
    share = loaded_share(pads, "vibration")
    assert 0.07 <= share[CH["thumb_tip"]] <= 0.3 and share[FINGERS].sum() > 0.6
    palm = messy(1, "session_too_long", rate_hz=200, vibration_variant="palm")
    assert loaded_share(palm, "vibration")[PALM].sum() > 0.7
    for s in (pads, palm):
        (p,) = params_of(s, "vibration")
        assert 5.0 <= p["rate_hz"] <= 12.0
        rows = phase_rows(s, "vibration")[0]
        x = s.true_newtons[rows, :12].sum(axis=1).astype(np.float64)
        x -= x.mean()
        freqs = np.fft.rfftfreq(len(x), 1 / s.rate_hz)
        spec = np.abs(np.fft.rfft(x))
        band = freqs > 3.0
        assert freqs[band][spec[band].argmax()] == pytest.approx(p["rate_hz"], abs=0.3)


def test_kneading_with_thumb_opposition_or_fist():
    grasp = messy(1, "good_session", rate_hz=100, kneading_variant="grasp")
    share = loaded_share(grasp, "kneading")
    assert share[CH["thumb_tip"]] > 0.2
    (p,) = params_of(grasp, "kneading")
    assert 0.5 <= p["rate_hz"] <= 1.5
    rows = phase_rows(grasp, "kneading")[0]
    thumb = grasp.true_newtons[rows, CH["thumb_tip"]]
    middle = grasp.true_newtons[rows, CH["middle_tip"]]
    assert np.corrcoef(thumb, middle)[0, 1] > 0.8          # they close on the same fold
    fist = messy(1, "good_session", rate_hz=100, kneading_variant="fist")
    assert loaded_share(fist, "kneading")[[CH["knuckles_index_middle"], CH["knuckles_ring_little"]]].sum() > 0.8


def test_irregular_rhythm_jitters_periods_and_misses_beats():
    regular = messy(3, "session_too_long", rate_hz=200, percussion_variant="tapping")
    irregular = messy(3, "session_too_long", rate_hz=200, percussion_variant="tapping", period_jitter=0.3,
                      missed_beats=0.15, amplitude_jitter=0.3)

    def intervals(s):
        rows = phase_rows(s, "percussion")[0]
        on = (s.true_newtons[rows, :12].sum(axis=1) > 0).astype(np.int8)
        starts = np.flatnonzero(np.diff(on) == 1)
        return np.diff(starts) / s.rate_hz

    def spread(x):   # robust to the few long gaps that lifts make in both
        q1, q2, q3 = np.percentile(x, [25, 50, 75])
        return (q3 - q1) / q2

    r, i = intervals(regular), intervals(irregular)
    assert spread(i) > 2.5 * spread(r)
    # Missed beats: gaps of about two periods, beyond what the lifts make.
    assert (i > 1.6 * np.median(i)).mean() > (r > 1.6 * np.median(r)).mean() + 0.05


def test_asymmetric_rise_and_fall():
    s = messy(1, "good_session", rate_hz=200, kneading_variant="grasp", rise_fraction=0.3)
    rows = phase_rows(s, "kneading")[0]
    d = np.diff(s.true_newtons[rows, CH["thumb_tip"]].astype(np.float64))
    # Quick rise, slow fall: rising steps are steeper than falling ones.
    assert np.percentile(d[d > 0], 90) > 1.5 * np.percentile(-d[d < 0], 90)


def test_generation_is_fast():
    import time

    t0 = time.perf_counter()
    s = simulate_messy(9, scenario="good_session", realism=Realism(rate_hz=200, noise_n=0.2, offset_n=0.3,
                                                                   drift=0.05, hum_n=0.1, faults=("noisy",)))
    assert time.perf_counter() - t0 < 1.5      # well under a second on a quiet machine
    assert s.duration_s > 600


# ---------------------------------------------------------------------------- benchmark

def test_benchmark_smoke_run_on_three_sessions(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_robustness

    # About 10 s on a quiet machine (3 sessions, both engines), so not marked slow.
    out = tmp_path / "figures.json"
    assert bench_robustness.main(["--tuning", "--quick", "3", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "OVERALL" in printed and "seconds right" in printed
    assert figures["seeds"] == [0, 2] and len(figures["sessions"]) == 3
    overall = figures["conditions"]["overall"]
    for engine in ("now", "base"):
        assert overall[engine]["sessions"] == 3
        assert 0.0 <= overall[engine]["seconds_right"] <= 1.0
    assert any(k.startswith("scenario=") for k in figures["conditions"])


def perfect_report(s: MessySession) -> dict:
    """What an engine that got everything right would put in its report."""
    return {
        "phases": [{"technique": p.technique, "start_s": p.start_s, "end_s": p.end_s} for p in s.phases],
        "overforce_events": [e.to_dict("region") for e in s.overforce],
        "underforce_events": [],
        "spine_contacts": [e.to_dict("segment") for e in s.spine_contacts],
        "protocol": {"passed": s.truth_verdict == "passed", "verdict": s.truth_verdict,
                     "violations": [{"rule": r} for r in s.expected_violations]},
    }


def test_benchmark_scores_a_perfect_report_as_perfect_and_counts_what_is_wrong():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_robustness

    s = messy(1, "spine_contact_stroking", rate_hz=50, pauses=1, faults=("stuck",))
    r = bench_robustness.score(s, perfect_report(s), 0.0)
    assert r.right == r.seconds and max(r.boundary_errors) < 1e-9 and r.missed_phases == 0
    assert r.found == r.events == len(s.spine_contacts) > 0 and r.false_alarms == 0 and r.verdict_right

    report = perfect_report(s)
    faulty = s.channel_faults[0].channel
    report["overforce_events"].append({"region": faulty, "start_s": 100.0, "end_s": 101.0})   # on a stuck sensor
    moved = dict(report["spine_contacts"][0])
    report["spine_contacts"] = [dict(moved, segment="spine_8" if moved["segment"] < "spine_5" else "spine_1")]
    report["protocol"] = {"passed": True, "violations": []}
    report["phases"] = [dict(p, start_s=p["start_s"] + 4.0) for p in report["phases"]]
    r = bench_robustness.score(s, report, 0.0)
    assert r.false_alarms == 2                         # the stuck sensor's and the misplaced spine contact
    assert r.spine_found < r.spine                     # a contact far from where it was is not found
    assert not r.verdict_right and r.verdict == "passed"
    assert np.median(r.boundary_errors) == pytest.approx(2.0, abs=2.0) and max(r.boundary_errors) == pytest.approx(4.0)
    assert r.right < r.seconds

    empty = perfect_report(simulate_messy(2, scenario="no_massage", realism=Realism(rate_hz=50)))
    nm = simulate_messy(2, scenario="no_massage", realism=Realism(rate_hz=50))
    assert bench_robustness.score(nm, empty, 0.0).verdict_right
    empty["protocol"] = {"passed": False, "violations": [{"rule": "missing_phase"}]}   # the old engine's answer
    assert not bench_robustness.score(nm, empty, 0.0).verdict_right
