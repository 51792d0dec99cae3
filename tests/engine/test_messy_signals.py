"""The coaching verdicts on signals like real hands and real sensors give them: resting offsets,
noise, gain error, slow drift, low and high sample rates, gel pauses, sessions with no massage.

Each case is one of the failures issue 9 names; sessions are built from the simulator's
technique models (true forces) and then passed through the sensor faults a real glove has.
"""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.conditioning import SignalConditioner
from glovecoach.protocols import default_protocol
from glovecoach.simulate.session import simulate_technique
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, SPINE_CHANNELS

P = default_protocol()
G = {c: k for k, c in enumerate(GLOVE_CHANNELS)}


def clip(technique: str, seconds: float, seed: int, rate: int, variant: str | None = None,
         scale: float = 1.0) -> np.ndarray:
    forces, _ = simulate_technique(technique, seconds, seed, rate_hz=rate, variant=variant)
    return forces * scale


def off(seconds: float, rate: int) -> np.ndarray:
    return np.zeros((int(round(seconds * rate)), len(GLOVE_CHANNELS)))


def sensors(glove: np.ndarray, rate: int, seed: int, offset=(0.1, 0.5), noise: float = 0.2,
            gain: float = 0.15, drift: float = 0.05) -> np.ndarray:
    """True glove forces -> what a real glove reports (20 channels, spine resting at 0.3 N)."""
    rng = np.random.default_rng(seed)
    n = len(glove)
    x = np.zeros((n, len(ALL_CHANNELS)))
    x[:, :len(GLOVE_CHANNELS)] = glove
    x[:, len(GLOVE_CHANNELS):] = 0.3
    g = 1.0 + rng.uniform(-gain, gain, x.shape[1])
    creep = 1.0 + drift * np.linspace(0.0, 1.0, n)[:, None] * rng.choice([-1, 1], x.shape[1])
    x = x * g * creep + rng.uniform(*offset, x.shape[1]) + noise * rng.standard_normal(x.shape)
    return np.maximum(x, 0.0)


def run(x: np.ndarray, rate: int, block_s: float = 0.5, channels=ALL_CHANNELS):
    engine = CoachingEngine(P, channels, rate)
    size = max(1, int(block_s * rate))
    events, states = [], []
    zeros = np.zeros((size, len(channels)), dtype=bool)
    for a in range(0, len(x), size):
        b = min(len(x), a + size)
        events += engine.process(ForceBlock(a, x[a:b].astype(np.float32), zeros[:b - a], zeros[:b - a]))
        states.append(engine.state)
    return engine.finish(), events, states


def techniques(report) -> list[str]:
    return [p.technique for p in report.phases]


@pytest.mark.parametrize("variant", ["hacking", "tapping", "patting"])
def test_percussion_with_resting_offsets_and_noise_is_percussion(variant: str) -> None:
    rate = 200
    glove = np.concatenate([off(3, rate), clip("percussion", 70, 41, rate, variant), off(3, rate)])
    report, _, _ = run(sensors(glove, rate, 1, noise=0.2), rate)
    assert techniques(report) == ["percussion"]


@pytest.mark.parametrize("rate", [50, 200, 1000])
def test_finger_pad_vibration_is_not_kneading_and_its_over_force_is_caught(rate: int) -> None:
    glove = np.concatenate([off(3, rate), clip("vibration", 60, 5, rate, "finger_pads"), off(3, rate)])
    # A real over-force during the vibration: the index tip at 1.4x the vibration scoring limit.
    limit = P.force_limit("vibration", "index_tip", "scoring")[1]
    a, b = int(33 * rate), int(35 * rate)
    glove[a:b, G["index_tip"]] = 1.4 * limit
    report, _, _ = run(sensors(glove, rate, 2, noise=0.25), rate)
    assert techniques(report) == ["vibration"]
    (episode,) = report.overforce_events
    assert episode.channel == "index_tip" and abs(episode.start_s - 33.0) < 0.3
    assert episode.limit_n == limit          # the vibration limit, not kneading's


def test_light_noisy_stroking_at_50_hz_is_stroking() -> None:
    rate = 50
    stroke = clip("stroking", 90, 3, rate)
    stroke *= 6.0 / stroke.sum(axis=1).mean()          # about 6 N over the whole hand
    glove = np.concatenate([off(3, rate), stroke, off(3, rate)])
    report, _, _ = run(sensors(glove, rate, 3, noise=0.3), rate)
    assert techniques(report) == ["stroking"]


def test_idle_knuckles_with_offset_and_noise_are_not_light_presses() -> None:
    rate = 200
    glove = np.concatenate([off(3, rate), clip("kneading", 90, 8, rate, "grasp"), off(3, rate)])
    x = sensors(glove, rate, 4, offset=(0.4, 0.5), noise=0.3)     # offset + noise crosses 1 N often
    k = [ALL_CHANNELS.index(c) for c in ("knuckles_index_middle", "knuckles_ring_little")]
    assert (x[:, k] > 1.0).mean() > 0.02
    report, events, _ = run(x, rate)
    assert techniques(report) == ["kneading"]
    assert not report.underforce_events and not [e for e in events if e.kind == "underforce"]


def test_fist_kneading_still_gets_its_window() -> None:
    rate = 200
    fist = clip("kneading", 60, 2, rate, "fist")
    fist[:, [G["knuckles_index_middle"], G["knuckles_ring_little"]]] *= 0.3      # too light
    glove = np.concatenate([off(3, rate), fist, off(3, rate)])
    report, _, _ = run(sensors(glove, rate, 5, noise=0.15), rate)
    assert techniques(report) == ["kneading"]
    assert {e.channel for e in report.underforce_events} <= {"knuckles_index_middle", "knuckles_ring_little"}
    assert report.underforce_events


@pytest.mark.parametrize("pause_s", [15, 25])
def test_a_gel_pause_keeps_one_phase_and_the_live_state_shows_it(pause_s: float) -> None:
    rate = 100
    glove = np.concatenate([off(3, rate), clip("kneading", 70, 9, rate, "grasp"), off(pause_s, rate),
                            clip("kneading", 70, 10, rate, "grasp"), off(3, rate)])
    report, _, states = run(sensors(glove, rate, 6), rate)
    assert techniques(report) == ["kneading"]
    (phase,) = report.phases
    assert abs(phase.paused_s - pause_s) < 3.0
    assert phase.duration_s == pytest.approx(phase.end_s - phase.start_s - phase.paused_s)
    # live: part way into the pause the state says "kneading paused", and how long it has lasted
    t_mid = 3 + 70 + pause_s / 2
    mid = min(states, key=lambda s: abs(s.time_s - t_mid))
    assert mid.paused_technique == "kneading" and mid.pause_s == pytest.approx(pause_s / 2, abs=1.5)
    assert mid.pause_max_s == P.pause_max_s


def test_a_long_break_is_not_a_pause() -> None:
    rate = 100
    glove = np.concatenate([off(3, rate), clip("kneading", 60, 9, rate, "grasp"), off(P.pause_max_s + 20, rate),
                            clip("kneading", 60, 10, rate, "grasp"), off(3, rate)])
    report, _, _ = run(sensors(glove, rate, 7), rate)
    assert techniques(report) == ["kneading", "kneading"]


def test_no_samples_header_only_and_offsets_only_are_no_massage() -> None:
    rate = 200
    empty = CoachingEngine(P, ALL_CHANNELS, rate).finish()
    assert empty.verdict == "no_massage" and not empty.passed
    assert "NO MASSAGE FOUND" in empty.summary()
    report, _, _ = run(sensors(off(120, rate), rate, 8, noise=0.3), rate)
    assert report.verdict == "no_massage" and not report.passed and not report.violations
    d = report.to_dict()
    assert d["protocol"]["verdict"] == "no_massage" and d["protocol"]["passed"] is False
    assert d["score"]["graded"] is False


# ----------------------------------------------------------------------------- conditioning

def test_baselines_follow_offsets_and_drift_and_noise_floors_are_measured() -> None:
    rate = 200
    glove = np.concatenate([off(5, rate), clip("stroking", 40, 1, rate), off(5, rate),
                            clip("rubbing", 40, 2, rate), off(5, rate)])
    rng = np.random.default_rng(11)
    offset = rng.uniform(0.1, 0.5, len(ALL_CHANNELS))
    noise = rng.uniform(0.05, 0.3, len(ALL_CHANNELS))
    x = np.zeros((len(glove), len(ALL_CHANNELS)))
    x[:, :12] = glove
    x = x + offset + noise * rng.standard_normal(x.shape)
    mask = np.array([c not in SPINE_CHANNELS for c in ALL_CHANNELS])
    c = SignalConditioner(ALL_CHANNELS, rate, mask)
    out = c.process(0, x, np.zeros_like(x, bool), np.zeros_like(x, bool))
    assert np.abs(c.current_baseline() - offset).max() < 0.08
    assert np.abs(c.noise / noise - 1.0).max() < 0.25
    truth_on = glove.sum(axis=1) > 2.0
    assert (out.hand_on == truth_on).mean() > 0.98
    # forces the detectors see sit on zero while the hand is off
    assert abs(np.median(out.force[~truth_on][:, :12])) < 0.05


def test_conditioning_does_not_depend_on_block_size() -> None:
    rate = 100
    glove = np.concatenate([off(4, rate), clip("kneading", 30, 3, rate), off(2, rate), clip("percussion", 20, 3, rate)])
    x = sensors(glove, rate, 9)
    mask = np.array([c not in SPINE_CHANNELS for c in ALL_CHANNELS])
    press = np.array(["knuckles" in c for c in ALL_CHANNELS])
    rng = np.random.default_rng(0)

    def go(sizes):
        c = SignalConditioner(ALL_CHANNELS, rate, mask, press=press)
        outs, a = [], 0
        for size in sizes:
            if a >= len(x):
                break
            outs.append(c.process(a, x[a:a + size], np.zeros((len(x[a:a + size]), 20), bool),
                                  np.zeros((len(x[a:a + size]), 20), bool)))
            a += size
        return (np.concatenate([o.force for o in outs]), np.concatenate([o.hand_on for o in outs]),
                np.concatenate([o.pressing for o in outs]))

    whole = go([len(x)])
    pieces = go(list(rng.integers(1, 300, 2000)))
    assert np.array_equal(whole[1], pieces[1]) and np.array_equal(whole[2], pieces[2])
    assert np.allclose(whole[0], pieces[0], atol=1e-9)


def test_contact_needs_a_minimum_duration_and_has_hysteresis() -> None:
    rate = 200
    n = 4 * rate
    x = np.full((n, 20), 0.2)                # resting offsets (learned in the first second)
    x[400:405, 0] += 5.0                     # a 25 ms spike: not a contact
    x[500:700, 0] += 3.0                     # a 1 s press
    x[600:603, 0] -= 2.5                     # dips briefly under the release level: still one contact
    mask = np.array([c not in SPINE_CHANNELS for c in ALL_CHANNELS])
    c = SignalConditioner(ALL_CHANNELS, rate, mask)
    out = c.process(0, x, np.zeros_like(x, bool), np.zeros_like(x, bool))
    assert not out.hand_on[300:480].any()
    runs = np.flatnonzero(np.diff(out.hand_on[250:].astype(int)) == 1) + 250
    assert len(runs) == 1 and 500 <= runs[0] <= 500 + 0.15 * rate


def test_a_tare_seeds_the_baseline() -> None:
    rate = 200
    x = np.full((2 * rate, 20), 0.4)
    x[:, 0] = 3.4                            # pressed from the very first sample, tare said 0.4
    mask = np.array([c not in SPINE_CHANNELS for c in ALL_CHANNELS])
    c = SignalConditioner(ALL_CHANNELS, rate, mask, initial_baseline=np.full(20, 0.4))
    out = c.process(0, x, np.zeros_like(x, bool), np.zeros_like(x, bool))
    assert out.force[:, 0] == pytest.approx(3.0) and out.hand_on[rate:].all()


def test_simulate_messy_from_the_command_line_then_analyze(tmp_path, capsys) -> None:
    import json

    from glovecoach.cli import main

    out = tmp_path / "messy.csv"
    assert main(["simulate", "--messy", "--scenario", "gel_pause", "--seed", "4", "--csv", "-o", str(out)]) == 0
    truth = json.loads((tmp_path / "messy.csv.truth.json").read_text())
    assert truth["pauses"] and truth["conditions"]["offset_n"] > 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (pause,) = truth["pauses"]
    holding = [p for p in report["phases"] if p["start_s"] < pause["start_s"] and p["end_s"] > pause["end_s"]]
    assert len(holding) == 1 and abs(holding[0]["paused_s"] - (pause["end_s"] - pause["start_s"])) < 3
    assert report["protocol"]["verdict"] == truth["verdict"] == "passed"


def test_a_recorded_tare_seeds_the_baselines(tmp_path) -> None:
    from glovecoach.calibration import Calibration, tare_newtons
    from glovecoach.calibration.fsr_model import force_to_raw

    cal = Calibration.nominal_for(ALL_CHANNELS)
    counts = [int(round(float(force_to_raw(0.4, cal.params[c])))) for c in ALL_CHANNELS]
    seed = tare_newtons({"tare": counts}, cal, ALL_CHANNELS)
    assert seed is not None and np.allclose(seed, 0.4, atol=0.05)
    assert tare_newtons({"tare": None}, cal, ALL_CHANNELS) is None
    assert tare_newtons({"tare": [1, 2]}, cal, ALL_CHANNELS) is None          # not this glove's channels
    assert tare_newtons({"tare": ["x"] * 20}, cal, ALL_CHANNELS) is None
