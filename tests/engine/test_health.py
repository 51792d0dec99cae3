"""Channel health: each fault found on the right sensor, and none on clean-but-messy sessions.

Test data are the simulator's sessions and technique stretches made messy the way real
sensors are (issue 9): per-channel gain error up to 15 %, a resting offset of 0.1-0.5 N, slow
drift, white noise of 0.1-0.3 N, readings clipped at 0 N like a calibration gives them (or not,
like a CSV in newtons may). Faults are then injected into one channel.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.engine.health import HEALTH_STATES, HealthChange, SensorHealthMonitor
from glovecoach.simulate import simulate, simulate_technique
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS

CEILING = Calibration.nominal_for(ALL_CHANNELS).ceiling_n


def messy(true_n: np.ndarray, channels: tuple[str, ...], seed: int, clip: bool = True,
          noise: tuple[float, float] = (0.1, 0.3)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True forces -> (newtons float32, saturated, open) as a real, uncalibrated glove gives them."""
    rng = np.random.default_rng(10_000 + seed)
    n, ch = true_n.shape
    gain = 1.0 + rng.uniform(-0.15, 0.15, ch)
    drift = 1.0 + np.linspace(0.0, 1.0, n)[:, None] * rng.uniform(-0.05, 0.05, ch)[None, :]
    offset = rng.uniform(0.1, 0.5, ch)
    sigma = rng.uniform(*noise, ch)
    x = true_n * gain * drift + offset + sigma * rng.standard_normal((n, ch))
    if clip:
        x = np.maximum(x, 0.0)
    ceiling = np.array([CEILING[c] for c in channels])
    sat = x >= ceiling
    x = np.where(sat, ceiling, x)
    return x.astype(np.float32), sat, np.zeros_like(sat)


@cache
def session(scenario: str, seed: int, rate: int, clip: bool = True):
    s = simulate(scenario, seed, rate)
    return s.channels, *messy(s.newtons.astype(np.float64), s.channels, seed, clip)


@cache
def technique(name: str, seconds: float, seed: int, rate: int = 200, variant: str | None = None,
              clip: bool = True):
    f, _ = simulate_technique(name, seconds, seed, rate, variant=variant)
    return GLOVE_CHANNELS, *messy(f, GLOVE_CHANNELS, seed, clip)


def run(channels, rate, x, sat, opn, blocks: int | None = None, seed: int = 0):
    """Feed the session in one block, or in random blocks of 1..`blocks` samples."""
    mon = SensorHealthMonitor(channels, rate)
    changes: list[HealthChange] = []
    if blocks is None:
        changes = mon.process(0, x, sat, opn)
    else:
        rng = np.random.default_rng(seed)
        i = 0
        while i < len(x):
            b = int(rng.integers(1, blocks + 1))
            changes += mon.process(i, x[i:i + b], sat[i:i + b], opn[i:i + b])
            i += b
    return mon, changes


def faults(changes: list[HealthChange]) -> list[tuple[str, str, float]]:
    return [(c.channel, c.state, c.at_s) for c in changes]


# ---------------------------------------------------------------------------- no false alarms

CLEAN_CASES = [
    ("good_session", 11, 200, True), ("good_session", 12, 200, False), ("good_session", 13, 50, True),
    ("excessive_force_kneading", 14, 50, False), ("spine_contact_stroking", 15, 200, True),
    ("session_too_long", 16, 200, True), ("technique_tour", 17, 1000, True), ("technique_tour", 18, 50, False),
]


@pytest.mark.parametrize("scenario, seed, rate, clip", CLEAN_CASES)
def test_no_fault_on_clean_but_messy_sessions(scenario: str, seed: int, rate: int, clip: bool) -> None:
    channels, x, sat, opn = session(scenario, seed, rate, clip)
    mon, changes = run(channels, rate, x, sat, opn)
    assert faults(changes) == []
    assert not mon.faulty().any()
    summary = mon.summary()
    assert summary["ok"] is True
    assert all(summary[c]["state"] == "ok" and summary[c]["check"] is None for c in channels)


@pytest.mark.parametrize("seed", [21, 22])
def test_no_fault_on_the_simulators_own_sessions(seed: int) -> None:
    # The project's own sensor model: ADC counts through the nominal calibration, where an
    # idle sensor reads 0 N with the odd count of noise (no offsets, no white noise).
    s = simulate("good_session", seed, 200)
    block = Calibration.nominal_for(s.channels).convert(s.raw)
    mon, changes = run(s.channels, 200, block.newtons, block.saturated, block.open)
    assert faults(changes) == []


@pytest.mark.parametrize("name, variant, rate", [
    ("percussion", "hacking", 50), ("percussion", "tapping", 50), ("percussion", "patting", 200),
    ("percussion", "knuckles", 1000), ("percussion", "hacking", 1000),
    ("vibration", "finger_pads", 50), ("vibration", "palm", 200), ("vibration", "finger_pads", 1000),
    ("kneading", "fist", 50), ("rubbing", "hand_edge", 200),
])
def test_no_fault_during_percussion_vibration_and_others(name: str, variant: str, rate: int) -> None:
    for seed, clip in ((31, True), (32, False)):
        channels, x, sat, opn = technique(name, 150.0, seed, rate, variant, clip)
        _, changes = run(channels, rate, x, sat, opn)
        assert faults(changes) == [], (seed, clip)


def test_idle_knuckles_for_minutes_with_offset_and_noise_are_healthy() -> None:
    channels, x, sat, opn = technique("stroking", 300.0, 41)
    k = channels.index("knuckles_ring_little")
    assert x[:, k].mean() < 0.6          # the knuckles never work in stroking
    mon, changes = run(channels, 200, x, sat, opn)
    assert faults(changes) == []
    health = mon.summary()["knuckles_ring_little"]
    assert 0.1 <= health["offset_n"] <= 0.6 and 0.05 <= health["noise_n"] <= 0.4


@pytest.mark.parametrize("rate", [50, 200, 1000])
def test_normal_noise_of_0_3_n_is_not_noisy_even_beside_quiet_channels(rate: int) -> None:
    f, _ = simulate_technique("stroking", 200.0, 42, rate)
    # The others with 0.05 N of noise, one idle knuckle sensor at the top of the normal range.
    x, sat, opn = messy(f, GLOVE_CHANNELS, 42, noise=(0.05, 0.05))
    k = GLOVE_CHANNELS.index("knuckles_index_middle")
    x[:, k] = np.maximum(0.3 + 0.3 * np.random.default_rng(5).standard_normal(len(x)), 0.0)
    _, changes = run(GLOVE_CHANNELS, rate, x, sat, opn)
    assert faults(changes) == []


# ------------------------------------------------------------------------------ faults found

def inject(kind: str, x: np.ndarray, sat: np.ndarray, opn: np.ndarray, c: int, a: int, b: int, rate: int,
           seed: int = 0) -> None:
    """Put fault `kind` into channel c over samples [a, b)."""
    rng = np.random.default_rng(seed)
    if kind == "dead_open":
        x[a:b, c], opn[a:b, c], sat[a:b, c] = 0.0, True, False
    elif kind == "dead_zero":
        x[a:b, c], sat[a:b, c] = 0.0, False
    elif kind == "stuck":
        x[a:b, c], sat[a:b, c] = x[a, c] if x[a, c] > 1.0 else 3.7, False
    elif kind == "saturated":
        # Glove-only sessions hold the first 12 channels of ALL_CHANNELS, in the same order.
        x[a:b, c], sat[a:b, c] = CEILING[ALL_CHANNELS[c]], True
    elif kind == "noisy":
        x[a:b, c] = np.maximum(x[a:b, c] + 1.0 * rng.standard_normal(b - a), 0.0)
    elif kind == "intermittent":
        t = a + int(rng.uniform(1, 4) * rate)
        while t < b:
            length = int(rng.uniform(0.05, 0.5) * rate)
            x[t:t + length, c], opn[t:t + length, c] = 0.0, True
            t += length + int(rng.uniform(4.0, 12.0) * rate)
    else:
        raise AssertionError(kind)


FAULT_CASES = [
    # kind, channel, technique, variant, latest decision after onset (s), words in the message
    ("dead_open", "index_tip", "kneading", "grasp", 5.0, ("index fingertip", "lead")),
    ("dead_zero", "index_tip", "kneading", "grasp", 30.0,
     ("index fingertip", "reads nothing", "other fingertips", "check its lead")),
    ("dead_zero", "palm_heel", "stroking", None, 30.0, ("heel of the palm", "reads nothing", "check its lead")),
    ("stuck", "middle_tip", "kneading", "grasp", 30.0, ("middle fingertip", "stuck")),
    ("stuck", "thenar", "rubbing", "palm_heel", 30.0, ("thumb pad of the palm", "stuck")),
    ("saturated", "thenar", "stroking", None, 8.0, ("thumb pad of the palm", "top of its range")),
    ("intermittent", "palm_heel", "deep_stroking", None, 45.0, ("heel of the palm", "dropping out")),
    ("intermittent", "middle_tip", "kneading", "grasp", 45.0, ("middle fingertip", "dropping out")),
    ("noisy", "knuckles_index_middle", "stroking", None, 25.0, ("index and middle knuckles", "noisy")),
    ("noisy", "thumb_tip", "rubbing", "hand_edge", 25.0, ("thumb tip", "noisy")),
]


@pytest.mark.parametrize("kind, channel, name, variant, within_s, words", FAULT_CASES)
@pytest.mark.parametrize("rate", [50, 200, 1000])
def test_fault_is_found_on_the_right_channel(kind, channel, name, variant, within_s, words, rate) -> None:
    channels, x, sat, opn = technique(name, 150.0, 51, rate, variant)
    x, sat, opn = x.copy(), sat.copy(), opn.copy()
    c = channels.index(channel)
    onset = 40.0
    inject(kind, x, sat, opn, c, int(onset * rate), len(x), rate, seed=3)
    mon, changes = run(channels, rate, x, sat, opn)
    state = "dead" if kind.startswith("dead") else kind
    assert [(h.channel, h.state) for h in changes] == [(channel, state)]
    h = changes[0]
    assert onset < h.at_s <= onset + within_s
    assert h.previous == "ok"
    for w in words:
        assert w in h.message
    assert mon.states()[channel] == state
    assert mon.faulty().tolist() == [ch == channel for ch in channels]
    summary = mon.summary()
    assert summary["ok"] is False
    assert summary[channel]["state"] == state and summary[channel]["check"] == h.message
    assert summary[channel]["episodes"] == [{"state": state, "start_s": round(h.at_s, 3), "end_s": 150.0}]


@pytest.mark.parametrize("kind", ["dead_open", "dead_zero"])
def test_dead_spine_segment_is_found(kind: str) -> None:
    channels, x, sat, opn = session("good_session", 61, 200)
    x, sat, opn = x[:200 * 200].copy(), sat[:200 * 200].copy(), opn[:200 * 200].copy()
    c = channels.index("spine_4")
    inject(kind, x, sat, opn, c, 60 * 200, len(x), 200)
    _, changes = run(channels, 200, x, sat, opn)
    assert [(h.channel, h.state) for h in changes] == [("spine_4", "dead")]
    assert 60.0 < changes[0].at_s <= 90.0
    assert "spine segment 4" in changes[0].message


def test_idle_sensor_reading_exactly_nothing_is_not_dead_while_its_neighbours_rest() -> None:
    # Knuckles read exactly 0 N for minutes (a sensor whose unloaded reading sits below the
    # nominal curve's zero) while the palm strokes: nothing shows they should read anything.
    channels, x, sat, opn = technique("stroking", 200.0, 43)
    x = x.copy()
    for k in ("knuckles_index_middle", "knuckles_ring_little"):
        x[:, channels.index(k)] = 0.0
    _, changes = run(channels, 200, x, sat, opn)
    assert faults(changes) == []


def test_short_saturation_in_a_hard_press_is_not_a_fault() -> None:
    channels, x, sat, opn = technique("stroking", 120.0, 44)
    x, sat = x.copy(), sat.copy()
    c = channels.index("palm_heel")
    for start_s in (20, 35, 50, 65):                 # 3 s pinned each time, 15 s apart
        a, b = start_s * 200, (start_s + 3) * 200
        x[a:b, c], sat[a:b, c] = CEILING["palm_heel"], True
    _, changes = run(channels, 200, x, sat, opn)
    assert faults(changes) == []


def test_single_dropouts_and_lifts_are_not_intermittent() -> None:
    channels, x, sat, opn = technique("deep_stroking", 150.0, 45)
    x, opn = x.copy(), opn.copy()
    c = channels.index("palm_heel")
    for t in (30.0, 95.0):                            # two dropouts, over a minute apart
        a = int(t * 200)
        x[a:a + 40, c], opn[a:a + 40, c] = 0.0, True
    # Hand lifts: every sensor to nothing together, 0.3 s, ten times in a minute.
    for t in np.arange(100.0, 140.0, 4.0):
        a = int(t * 200)
        x[a:a + 60, :] = 0.0
    _, changes = run(channels, 200, x, sat, opn)
    assert faults(changes) == []


# ------------------------------------------------------------------------------ time behaviour

def test_recovery_after_a_sustained_healthy_stretch() -> None:
    channels, x, sat, opn = technique("kneading", 200.0, 52, 200, "grasp")
    x, sat, opn = x.copy(), sat.copy(), opn.copy()
    c = channels.index("index_tip")
    inject("dead_open", x, sat, opn, c, 40 * 200, 100 * 200, 200)
    mon, changes = run(channels, 200, x, sat, opn)
    assert [(h.channel, h.previous, h.state) for h in changes] == [("index_tip", "ok", "dead"),
                                                                  ("index_tip", "dead", "ok")]
    back = changes[1]
    assert 100.0 + 9.5 <= back.at_s <= 100.0 + 12.0       # 10 s of healthy readings first
    assert "reads normally again" in back.message
    assert mon.states()["index_tip"] == "ok" and not mon.faulty().any()
    summary = mon.summary()
    assert summary["ok"] is False                          # the report still shows the episode
    assert summary["index_tip"]["state"] == "dead"
    assert summary["index_tip"]["episodes"] == [{"state": "dead", "start_s": changes[0].at_s,
                                                 "end_s": back.at_s}]
    assert "index fingertip" in summary["index_tip"]["check"]


def test_a_fault_that_comes_and_goes_does_not_flicker() -> None:
    channels, x, sat, opn = technique("kneading", 200.0, 53, 200, "grasp")
    x, sat, opn = x.copy(), sat.copy(), opn.copy()
    c = channels.index("ring_tip")
    for a in range(40, 160, 8):                       # open 6 s, fine 2 s, again and again
        inject("dead_open", x, sat, opn, c, a * 200, (a + 6) * 200, 200)
    _, changes = run(channels, 200, x, sat, opn)
    assert [(h.channel, h.state) for h in changes][:1] == [("ring_tip", "dead")]
    assert len(changes) <= 2


def test_results_do_not_depend_on_block_sizes() -> None:
    channels, x, sat, opn = session("good_session", 71, 200)
    n = 400 * 200                                   # the first 400 s: one-sample blocks are slow
    x, sat, opn = x[:n].copy(), sat[:n].copy(), opn[:n].copy()
    inject("dead_open", x, sat, opn, channels.index("spine_2"), n // 5, n // 3, 200)
    inject("stuck", x, sat, opn, channels.index("thenar"), n // 4, n // 2, 200)
    inject("intermittent", x, sat, opn, channels.index("palm_heel"), n // 10, n, 200, seed=4)
    inject("noisy", x, sat, opn, channels.index("knuckles_ring_little"), n // 2, n, 200)
    whole, ref = run(channels, 200, x, sat, opn)
    assert {h.state for h in ref} >= {"dead", "noisy"}
    for seed, biggest in ((1, 7), (2, 450), (3, 20_000)):
        mon, changes = run(channels, 200, x, sat, opn, blocks=biggest, seed=seed)
        assert changes == ref, biggest
        assert mon.summary() == whole.summary()
        assert mon.states() == whole.states()


def test_gap_drops_the_cut_chunk_and_carries_on() -> None:
    channels, x, sat, opn = technique("kneading", 120.0, 54, 200, "grasp")
    x, sat, opn = x.copy(), sat.copy(), opn.copy()
    inject("dead_open", x, sat, opn, channels.index("index_tip"), 70 * 200, len(x), 200)
    mon = SensorHealthMonitor(channels, 200)
    changes = mon.process(0, x[:6_033], sat[:6_033], opn[:6_033])
    # Samples 6033..8000 never arrive; the next block says where it starts.
    changes += mon.process(8_000, x[8_000:], sat[8_000:], opn[8_000:])
    assert [(h.channel, h.state) for h in changes] == [("index_tip", "dead")]
    assert 70.0 < changes[0].at_s <= 75.0


# ------------------------------------------------------------------------------ interface

def test_summary_is_plain_json() -> None:
    channels, x, sat, opn = technique("kneading", 90.0, 55, 200, "grasp")
    x, sat, opn = x.copy(), sat.copy(), opn.copy()
    inject("dead_open", x, sat, opn, channels.index("index_tip"), 30 * 200, len(x), 200)
    mon, _ = run(channels, 200, x, sat, opn)
    summary = mon.summary()
    again = json.loads(json.dumps(summary))
    assert again == summary
    assert set(summary) == set(channels) | {"ok"}
    for c in channels:
        assert set(summary[c]) == {"state", "episodes", "noise_n", "offset_n", "check"}
        assert summary[c]["state"] in HEALTH_STATES
    assert summary["index_tip"]["state"] == "dead"
    assert summary["thumb_tip"]["check"] is None


def test_bad_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 10 Hz"):
        SensorHealthMonitor(GLOVE_CHANNELS, 5)
    with pytest.raises(ValueError, match="duplicate"):
        SensorHealthMonitor(("index_tip", "index_tip"), 200)
    mon = SensorHealthMonitor(GLOVE_CHANNELS, 200)
    x = np.zeros((100, 12), np.float32)
    m = np.zeros((100, 12), bool)
    with pytest.raises(ValueError, match=r"\(samples, 12\)"):
        mon.process(0, np.zeros((100, 11)), m[:, :11], m[:, :11])
    with pytest.raises(ValueError, match="masks must match"):
        mon.process(0, x, m[:50], m)
    mon.process(0, x, m, m)
    with pytest.raises(ValueError, match="before the next expected sample 100"):
        mon.process(50, x, m, m)
    bad = x.copy()
    bad[130 - 100, 3] = np.nan
    with pytest.raises(ValueError, match="ring_tip.*not a number"):
        mon.process(100, bad, m, m)
