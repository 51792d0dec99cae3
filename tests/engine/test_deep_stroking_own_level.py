"""Deep stroking is judged against the trainee's own stroking, on the sensors that work now.

A trainee's deep stroking is their stroking borne down by the palm and its heel at 2-4 times
the force. The recogniser keeps each stroking window's level and how the sensors shared it, so:
- a sensor left out (faulty) is left out of the trainee's stroking level too: a stuck palm
  heel, which carries a third of deep stroking's load, no longer leaves deep stroking under a
  level that sensor helped to make;
- a stroke at least as heavy as the trainee's own stroking whose finger pads carry under half
  their share in it is deep stroking, however light the trainee's deep stroking is;
- stroking that stays on the finger pads at the same level stays stroking.
"""

from __future__ import annotations

import numpy as np

from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.technique import FINGER_PADS
from glovecoach.protocols import default_protocol
from glovecoach.simulate.session import simulate_technique
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS

P = default_protocol()
CH = {c: k for k, c in enumerate(ALL_CHANNELS)}
PADS = [CH[c] for c in FINGER_PADS]


def level(f: np.ndarray) -> float:
    """Mean whole-hand force while the hand is on the back."""
    total = f.sum(axis=1)
    return float(total[total > 1.0].mean())


def stroking_then_deep(rate: int, seed: int, deep_over_stroking: float, deep_seconds: float = 130.0,
                       pad_gain: float = 1.0, scale: float = 1.0) -> np.ndarray:
    """Stroking from 3 s to 133 s, then deep stroking (its finger pads' forces times `pad_gain`)
    scaled to `deep_over_stroking` times the stroking's level until 133 + deep_seconds, 3 s off
    the back around them, the whole hand times `scale`, through a glove with small offsets and
    noise (20 channels, the spine strip resting at 0.3 N)."""
    stroking = simulate_technique("stroking", 130, seed, rate_hz=rate)[0]
    deep = simulate_technique("deep_stroking", deep_seconds, seed + 1, rate_hz=rate)[0]
    deep[:, PADS] *= pad_gain
    deep = deep * (deep_over_stroking * level(stroking) / level(deep))
    off = np.zeros((3 * rate, len(GLOVE_CHANNELS)))
    glove = scale * np.concatenate([off, stroking, deep, off])
    rng = np.random.default_rng(seed)
    x = np.full((len(glove), len(ALL_CHANNELS)), 0.3)
    x[:, :len(GLOVE_CHANNELS)] = glove
    x += rng.uniform(0.1, 0.3, x.shape[1]) + 0.1 * rng.standard_normal(x.shape)
    return np.maximum(x, 0.0).astype(np.float32)


def run(x: np.ndarray, rate: int, block_s: float = 0.2):
    engine = CoachingEngine(P, ALL_CHANNELS, rate)
    size = max(1, int(round(block_s * rate)))
    events = []
    for a in range(0, len(x), size):
        block = x[a:a + size]
        events += engine.process(ForceBlock(a, block, np.zeros(block.shape, bool), np.zeros(block.shape, bool)))
    return engine.finish(), events


def phases(report) -> list[tuple[str, float, float]]:
    return [(p.technique, p.start_s, p.end_s) for p in report.phases]


def test_deep_stroking_is_found_while_the_palm_heel_is_stuck() -> None:
    # The palm heel sticks at 2.5 N from 120 s, in stroking, to 240 s, in deep stroking (the
    # seed 10023 of the held-out range, made small). It carries a third of this deep stroking's
    # load, so without it deep stroking is under 1.2 times the stroking level measured with it.
    rate = 100
    x = stroking_then_deep(rate, 4, 1.7)
    x[120 * rate:240 * rate, CH["palm_heel"]] = 2.5
    report, events = run(x, rate, 60.0)
    told = [(e.channel, e.rule) for e in events if e.kind == "sensor_fault" and e.state == "begin"]
    assert told == [("palm_heel", "stuck")]
    found = phases(report)
    assert [t for t, _, _ in found] == ["stroking", "deep_stroking"], found
    assert abs(found[1][1] - 133.0) <= 5.0, found


def test_deep_stroking_is_found_live_while_the_palm_heel_is_stuck() -> None:
    # Live, from the moment the fault is told the palm heel's share of the stroking level is
    # left out: the live phase turns to deep stroking while the sensor is still stuck, and stays.
    rate = 100
    x = stroking_then_deep(rate, 4, 1.7)
    x[120 * rate:240 * rate, CH["palm_heel"]] = 2.5
    _, events = run(x, rate, 0.2)
    changes = [(e.technique, e.at_s) for e in events if e.kind == "phase_change"]
    # (Before, deep stroking was believed for a few seconds and then read as stroking again
    # until the sensor came back at 240 s.)
    assert [t for t, _ in changes] == ["stroking", "deep_stroking"], changes
    assert changes[1][1] < 160.0, changes


def test_a_light_deep_stroking_borne_by_the_palm_is_deep_stroking() -> None:
    # Only 1.15 times this trainee's stroking, but the finger pads carry a fraction of their
    # share in it: the palm and its heel bear down.
    rate = 200
    x = stroking_then_deep(rate, 9, 1.15)
    report, _ = run(x, rate, 60.0)
    found = phases(report)
    assert [t for t, _, _ in found] == ["stroking", "deep_stroking"], found
    assert abs(found[1][1] - 133.0) <= 5.0, found


def heavier_stroking(rate: int, factor: float) -> np.ndarray:
    """Stroking from 3 s to 263 s, `factor` times heavier from 133 s with the load spread as
    before, 3 s off the back around it (0.2 N offsets, the spine strip at 0.3 N)."""
    stroking = simulate_technique("stroking", 260, 9, rate_hz=rate)[0]
    stroking[130 * rate:] *= factor
    x = np.full((len(stroking) + 6 * rate, len(ALL_CHANNELS)), 0.3, dtype=np.float32)
    x[:, :len(GLOVE_CHANNELS)] = 0.2
    x[3 * rate:3 * rate + len(stroking), :len(GLOVE_CHANNELS)] += stroking
    return x


def test_heavier_stroking_on_the_finger_pads_stays_stroking() -> None:
    # The same trainee strokes 1.2 times harder in the second half, with the load spread as
    # before: no deep stroking.
    rate = 100
    report, _ = run(heavier_stroking(rate, 1.2), rate, 60.0)
    assert [t for t, _, _ in phases(report)] == ["stroking"], phases(report)


def heel_drops_out(x: np.ndarray, rate: int, seed: int, per_minute: float = 15.0) -> np.ndarray:
    """The palm heel drops to 0 N for 0.05-0.5 s about `per_minute` times a minute, from the
    first sample to the last (a loose connector: intermittent all session)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    count = int(per_minute * n / rate / 60.0)
    starts = np.sort(rng.integers(0, n - 1, count))
    lengths = np.maximum((rng.uniform(0.05, 0.5, count) * rate).astype(int), 1)
    x = x.copy()
    for a, k in zip(starts.tolist(), lengths.tolist()):
        x[a:a + k, CH["palm_heel"]] = 0.0
    return x


def test_deep_stroking_is_found_when_the_palm_heel_is_out_all_session() -> None:
    # The tuning seed 687, made small: a light hand (stroking about 6 N) whose finger pads keep
    # some load in deep stroking, and a palm heel that drops out from the first second, so it is
    # left out of the stroking and of the deep stroking alike. Its share of deep stroking's load
    # is gone, so the finger pads' share in deep stroking is about 0.55 of their share in
    # stroking (not under 0.5) and the level about 2.2 times stroking's (not 2.5): before, about
    # half the windows read stroking, and the trainee's stroking level, fed by them, crept up.
    # The palm (all but the finger pads) still bears over 2.5 times its part in stroking.
    for rate, seed in ((100, 4), (200, 9), (50, 12)):
        x = heel_drops_out(stroking_then_deep(rate, seed, 2.65, pad_gain=1.63, scale=0.6), rate, seed)
        report, events = run(x, rate, 60.0)
        told = {(e.channel, e.rule) for e in events if e.kind == "sensor_fault" and e.state == "begin"}
        assert told == {("palm_heel", "intermittent")}, told
        found = phases(report)
        assert [t for t, _, _ in found] == ["stroking", "deep_stroking"], (rate, seed, found)
        assert abs(found[1][1] - 133.0) <= 5.0, (rate, seed, found)
        assert found[1][2] >= 258.0, (rate, seed, found)


def test_heavier_stroking_stays_stroking_when_the_palm_heel_is_out_all_session() -> None:
    # The same loose palm heel under stroking that is 1.6 times heavier in its second half,
    # spread over the hand as before: the palm bears 1.6 times its part, not 2.5. No deep stroking.
    rate = 100
    report, _ = run(heel_drops_out(heavier_stroking(rate, 1.6), rate, 9), rate, 60.0)
    assert [t for t, _, _ in phases(report)] == ["stroking"], phases(report)
