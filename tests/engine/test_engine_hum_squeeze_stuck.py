"""Three ways a real glove session went wrong after the first fixes of issue 9, each built from
the simulator's technique models with the sensor condition that caused it:

- mains hum: 60 Hz picked up by every sensor and sampled at 50 Hz is a steady 10 Hz line, in
  vibration's band; on a light stroke it stood out like a vibration;
- a squeeze in a vibration's first seconds, right after kneading: its windows read as
  kneading, the kneading limit applied and the over-force was missed;
- a sensor stuck at a load while the hand worked with other, non-neighbouring sensors
  (hacking with the hand edge, the thumb stuck at its kneading load) was never told, and its
  steady load hid the release between the hits.
"""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.coaching import CoachingEngine
from glovecoach.pipeline.analysis import analyze_table
from glovecoach.protocols import default_protocol
from glovecoach.recording.force_csv import ForceTable
from glovecoach.simulate.realism import MessyParams, Realism, messy_technique_forces, simulate_messy
from glovecoach.simulate.session import simulate_technique
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS

P = default_protocol()
G = {c: k for k, c in enumerate(GLOVE_CHANNELS)}


def clip(technique: str, seconds: float, seed: int, rate: int, variant: str | None = None,
         level_n: float | None = None) -> np.ndarray:
    forces, _ = simulate_technique(technique, seconds, seed, rate_hz=rate, variant=variant)
    if level_n is not None:   # scale to this mean whole-hand force
        forces = forces * (level_n / forces.sum(axis=1).mean())
    return forces


def off(seconds: float, rate: int) -> np.ndarray:
    return np.zeros((int(round(seconds * rate)), len(GLOVE_CHANNELS)))


def glove_to_sensors(glove: np.ndarray, rate: int, seed: int, noise: float = 0.05, hum_n: float = 0.0,
                     hum_hz: float = 60.0, same_phase: bool = False, offset=(0.2, 0.5)) -> np.ndarray:
    """True glove forces -> 20 reported channels: offsets, noise and (optionally) mains hum of
    `hum_n` N on every channel, sampled at `rate` (so aliased)."""
    rng = np.random.default_rng(seed)
    n = len(glove)
    x = np.zeros((n, len(ALL_CHANNELS)))
    x[:, :len(GLOVE_CHANNELS)] = glove
    x[:, len(GLOVE_CHANNELS):] = 0.3
    x += rng.uniform(*offset, x.shape[1]) + noise * rng.standard_normal(x.shape)
    if hum_n:
        phase = np.zeros(x.shape[1]) if same_phase else rng.uniform(0, 2 * np.pi, x.shape[1])
        amp = hum_n * rng.uniform(0.7, 1.0, x.shape[1])
        x += amp * np.sin(2 * np.pi * hum_hz * np.arange(n)[:, None] / rate + phase)
    return np.maximum(x, 0.0)


def run(x: np.ndarray, rate: int, block_s: float = 0.5):
    engine = CoachingEngine(P, ALL_CHANNELS, rate)
    size = max(1, int(block_s * rate))
    zeros = np.zeros((size, len(ALL_CHANNELS)), dtype=bool)
    for a in range(0, len(x), size):
        b = min(len(x), a + size)
        engine.process(ForceBlock(a, x[a:b].astype(np.float32), zeros[:b - a], zeros[:b - a]))
    return engine.finish()


def techniques(report) -> list[str]:
    return [p.technique for p in report.phases]


@pytest.mark.parametrize("same_phase", [False, True])
@pytest.mark.parametrize("rate", [50, 100])
def test_light_stroking_under_mains_hum_is_not_vibration(rate: int, same_phase: bool) -> None:
    # 60 Hz at 50 Hz sampling lands on 10 Hz; at 100 Hz on 40 Hz, which the averaging before
    # the spectrum folds onto 10 Hz again. Whether the hum reaches every sensor in one phase
    # (one supply) or not, it is there while the hand is off the back too.
    glove = np.concatenate([off(6, rate), clip("stroking", 90, 3, rate, level_n=6.0), off(4, rate)])
    report = run(glove_to_sensors(glove, rate, 1, hum_n=0.2, same_phase=same_phase), rate)
    assert techniques(report) == ["stroking"]


@pytest.mark.parametrize("vib_seed", [4, 8])
def test_vibration_under_mains_hum_is_still_vibration(vib_seed: int) -> None:
    rate = 50
    glove = np.concatenate([off(6, rate), clip("vibration", 70, vib_seed, rate, "palm", level_n=8.0), off(4, rate)])
    report = run(glove_to_sensors(glove, rate, 2, hum_n=0.2), rate)
    assert techniques(report) == ["vibration"]


@pytest.mark.parametrize("rate", [100, 500])
def test_a_squeeze_early_in_vibration_after_kneading_is_judged_by_vibrations_limit(rate: int) -> None:
    knead = clip("kneading", 60, 11, rate, "fist")
    vib = clip("vibration", 60, 12, rate, "finger_pads", level_n=5.0)
    glove = np.concatenate([off(4, rate), knead, vib, off(4, rate)])
    # One finger squeezes at 1.6x the vibration scoring limit (under kneading's), 5 s into the
    # vibration, for 2 s.
    limit = P.force_limit("vibration", "index_tip", "scoring")[1]
    assert 1.6 * limit < P.force_limit("kneading", "index_tip", "scoring")[1]
    a = int((4 + 60 + 5) * rate)
    ramp = int(0.1 * rate)
    env = np.concatenate([np.linspace(0, 1, ramp), np.ones(2 * rate), np.linspace(1, 0, ramp)])
    glove[a:a + len(env), G["index_tip"]] = np.maximum(glove[a:a + len(env), G["index_tip"]], 1.6 * limit * env)
    report = run(glove_to_sensors(glove, rate, 3, noise=0.2), rate)
    assert techniques(report) == ["kneading", "vibration"]
    found = [e for e in report.overforce_events if e.channel == "index_tip" and e.start_s < 72 and e.end_s > 68]
    assert found, [(e.channel, e.start_s, e.end_s, e.limit_n) for e in report.overforce_events]


def test_a_thumb_stuck_at_its_kneading_load_during_hacking_is_told_and_the_hacking_seen() -> None:
    rate = 200
    knead = clip("kneading", 60, 21, rate, "grasp")
    hack = clip("percussion", 120, 22, rate, "hacking")
    glove = np.concatenate([off(4, rate), knead, hack, off(4, rate)])
    x = glove_to_sensors(glove, rate, 4, noise=0.0)
    # Stuck (the multiplexer repeats one value) from a loaded moment late in the kneading
    # until well into the hacking.
    start = int((4 + 58) * rate) + int(np.argmax(glove[int((4 + 58) * rate):int((4 + 60) * rate), G["thumb_tip"]]))
    x[start:start + 80 * rate, G["thumb_tip"]] = x[start, G["thumb_tip"]]
    assert x[start, G["thumb_tip"]] > 2.0
    report = run(x, rate)
    assert techniques(report) == ["kneading", "percussion"]
    assert report.sensor_health["thumb_tip"]["state"] == "stuck"
    assert [ep["state"] for ep in report.sensor_health["thumb_tip"]["episodes"]] == ["stuck"]


@pytest.mark.parametrize(("variant", "hits_hz", "impact_s"), [("tapping", 7.3, 0.055), ("hacking", 7.5, 0.06)])
def test_fast_percussion_sampled_at_50_hz_is_percussion(variant: str, hits_hz: float, impact_s: float) -> None:
    # At 50 Hz a 20-80 ms hit is one to four samples, and a fast rhythm leaves a hit every six
    # or seven samples: most sample-to-sample steps are hits, so the window's noise must be
    # read where the hand is released, not from every step.
    rate = 50
    params = MessyParams("percussion", variant, level_n=36.0, rate_hz=hits_hz, extra={"impact_s": impact_s})
    hits = messy_technique_forces(params, Realism(rate_hz=rate), 0.1, 80 * rate, rate, np.random.default_rng(6))
    glove = np.concatenate([off(4, rate), hits, off(4, rate)])
    report = run(glove_to_sensors(glove, rate, 5, noise=0.2), rate)
    assert techniques(report) == ["percussion"]


@pytest.mark.parametrize(("seed", "noise"), [(0, 0.0), (1, 0.1), (5, 0.1)])
def test_a_glove_never_on_the_back_under_50_hz_hum_sampled_at_50_hz_is_no_massage(seed: int, noise: float) -> None:
    # 50 Hz hum sampled at 50 Hz (a hair off the mains frequency) folds to a wander of each
    # sensor's reading at a few hundredths of a hertz: resting offsets swing by +-0.2 N over
    # tens of seconds, too slowly to be noise and too fast for a baseline to follow; summed
    # over the glove they read as a touch of 1-2 N.
    s = simulate_messy(seed, scenario="no_massage", realism=Realism(rate_hz=50, hum_n=0.2, hum_hz=50.0, noise_n=noise))
    report = analyze_table(ForceTable(s.channels, 50.0, np.arange(s.n_samples, dtype=np.int64), s.newtons), P)
    assert techniques(report) == []
    assert report.to_dict()["protocol"]["verdict"] == "no_massage"
