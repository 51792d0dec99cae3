"""A dead sensor that reads a constant resting offset is reported dead; live idle sensors are not.

A broken lead does not always read 0 N: the divider behind it can leave it at any constant
level, and the calibration then reports a constant resting offset (0.05-0.5 N in the messy
simulator's dead fault, `glovecoach.simulate.realism`). The health monitor used to call a flat
sensor dead only under 0.05 N and stuck only at 0.6 N or more, so a dead heel-of-the-palm
sensor at 0.11 N went unreported and its constant reading went on shaping the technique
windows (tuning seed 358 of the 100-399 robustness range).

What tells such a sensor from a live idle one is noise: on a glove whose sensors show noise
while the hand is off the back, a live sensor never reads the same value for half a second,
so one that does while the sensors next to it work has no signal. On a glove with no noise at
all (every idle sensor reads exactly its offset) flatness proves nothing, and no sensor is
called dead for it.

Sessions are built from the messy simulator's technique stretches and sensor path
(`messy_technique_forces`, `messy_sensors` with a "dead" fault on a chosen sensor); the seeds
below are the ones whose dead fault reads a constant offset rather than 0 N.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from glovecoach.engine.health import SensorHealthMonitor
from glovecoach.pipeline.analysis import analyze_table
from glovecoach.protocols import default_protocol
from glovecoach.recording.force_csv import ForceTable
from glovecoach.simulate.realism import MessyParams, Realism, messy_sensors, messy_technique_forces
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, sensor_name

LEAD_S, TAIL_S = 6, 4
LIVE_BLOCK_S, ANALYZE_BLOCK_S = 0.1, 60.0

WORK = (   # palm and fingertips both work in turn, so every glove sensor but the knuckles does
    (MessyParams("stroking", level_n=11.0, rate_hz=0.3, extra={"floor": 0.4}), 50.0),
    (MessyParams("rubbing", "palm_heel", "back_and_forth", level_n=20.0, rate_hz=1.6, extra={"depth": 0.5}), 40.0),
    (MessyParams("kneading", "grasp", level_n=10.0, rate_hz=0.9, extra={"duty": 0.65, "palm_n": 1.2}), 50.0),
    (MessyParams("deep_stroking", level_n=30.0, rate_hz=0.3, extra={"floor": 0.45}), 50.0),
)
IDLE_BESIDE_WORK = (   # each leaves live sensors idle next to working ones on the same hand region
    (MessyParams("rubbing", "hand_edge", "back_and_forth", level_n=22.0, rate_hz=1.6, extra={"depth": 0.5}), 50.0),
    (MessyParams("vibration", "palm", level_n=14.0, rate_hz=8.0, extra={"depth": 0.2}), 40.0),
    (MessyParams("percussion", "cupping", level_n=30.0, rate_hz=4.0, extra={"impact_s": 0.05}), 40.0),
    (MessyParams("rubbing", "finger_pads", "circular", level_n=22.0, rate_hz=1.6, extra={"depth": 0.5}), 50.0),
    (MessyParams("stroking", level_n=9.0, rate_hz=0.3, extra={"floor": 0.4}), 50.0),
)


def _true_forces(stretches, realism: Realism, seed: int) -> np.ndarray:
    """True newtons (n, 20): the hand off the back, the stretches flowing into each other, off
    again; the partner's back under the spine strip throughout."""
    rate = realism.rate_hz
    rng = np.random.default_rng(seed)
    glove = np.concatenate(
        [np.zeros((LEAD_S * rate, len(GLOVE_CHANNELS)))]
        + [messy_technique_forces(p, realism, 0.1, int(s * rate), rate, rng) for p, s in stretches]
        + [np.zeros((TAIL_S * rate, len(GLOVE_CHANNELS)))])
    true = np.zeros((len(glove), len(ALL_CHANNELS)))
    true[:, :len(GLOVE_CHANNELS)] = glove
    true[:, len(GLOVE_CHANNELS):] = 30.0
    return true


@cache
def dead_session(seed: int, channel: str, rate: int, noise_n: float) -> tuple[np.ndarray, float, float]:
    """(reported newtons, dead from (s), the constant it reads) with `channel` dead."""
    realism = Realism(rate_hz=rate, offset_n=0.5, noise_n=noise_n, drift=0.025, gain_error=0.05)
    x, faults = messy_sensors(_true_forces(WORK, realism, seed), realism, seed, {channel: "dead"})
    assert [(f.channel, f.kind) for f in faults] == [(channel, "dead")]
    c = ALL_CHANNELS.index(channel)
    start = int(round(faults[0].start_s * rate))
    level = float(x[start, c])
    assert np.all(x[start:, c] == level)          # the simulator's dead lead: one constant
    return x, faults[0].start_s, level


def _report(x: np.ndarray, rate: int, block_s: float):
    table = ForceTable(ALL_CHANNELS, float(rate), np.arange(len(x), dtype=np.int64), x)
    return analyze_table(table, default_protocol(), block_s=block_s)


def _spans(x: np.ndarray, rate: int, block_s: float) -> list[tuple[str, str, float]]:
    monitor = SensorHealthMonitor(ALL_CHANNELS, rate)
    size = max(1, int(round(block_s * rate)))
    none = np.zeros((size, len(ALL_CHANNELS)), dtype=bool)
    for a in range(0, len(x), size):
        b = min(len(x), a + size)
        monitor.process(a, x[a:b], none[:b - a], none[:b - a])
    return [(ch, state, round(start_s, 3)) for ch, state, _, start_s, _ in monitor.fault_spans()]


# seed -> the dead fault's constant reading and start (messy_sensors' fault draws for that seed)
DEAD_CASES = [
    # seed, sensor, rate (Hz), noise of the live sensors (N RMS)
    (24, "palm_heel", 200, 0.1),      # 0.08 N from the start
    (5, "middle_tip", 200, 0.05),     # 0.13 N, dies mid-session
    (9, "thenar", 50, 0.2),           # 0.27 N from the start
    (22, "index_tip", 500, 0.1),      # 0.32 N from the start
    (16, "palm_heel", 100, 0.3),      # 0.50 N, dies mid-session
    (0, "hand_edge", 200, 0.02),      # 0.49 N from the start, on a quiet glove
]


@pytest.mark.parametrize("seed, channel, rate, noise_n", DEAD_CASES)
def test_a_dead_sensor_at_a_resting_offset_is_reported_dead(seed: int, channel: str, rate: int,
                                                            noise_n: float) -> None:
    x, dead_from_s, level = dead_session(seed, channel, rate, noise_n)
    assert 0.06 <= level <= 0.5
    expected_words = (sensor_name(channel), "reads nothing", f"{level:.2f} N", "check its lead")
    for block_s in (LIVE_BLOCK_S, ANALYZE_BLOCK_S):
        report = _report(x, rate, block_s)
        health = report.sensor_health
        assert health["ok"] is False
        assert [c for c in ALL_CHANNELS if health[c]["state"] != "ok"] == [channel], block_s
        assert health[channel]["state"] == "dead"
        [episode] = health[channel]["episodes"]
        # Told after DEAD_S of its neighbours' work, and held to the end.
        assert dead_from_s < episode["start_s"] <= dead_from_s + 60.0
        assert episode["end_s"] == pytest.approx(len(x) / rate, abs=0.01)
        for w in expected_words:
            assert w in health[channel]["check"], (w, health[channel]["check"])
        # A dead sensor never produces a force violation.
        assert [e for e in report.overforce_events + report.underforce_events if e.channel == channel] == []
    # The decision is the health monitor's own: the same whatever the block size.
    assert _spans(x, rate, LIVE_BLOCK_S) == _spans(x, rate, ANALYZE_BLOCK_S) == _spans(x, rate, 7.3)


@cache
def idle_session(seed: int, rate: int, noise_n: float) -> np.ndarray:
    realism = Realism(rate_hz=rate, offset_n=0.5, noise_n=noise_n, gain_error=0.05)
    x, faults = messy_sensors(_true_forces(IDLE_BESIDE_WORK, realism, seed), realism, seed)
    assert faults == []
    return x


@pytest.mark.parametrize("seed, rate, noise_n", [(1, 200, 0.02), (2, 50, 0.05), (3, 1000, 0.1)])
def test_live_idle_sensors_at_their_offsets_beside_working_ones_are_not_dead(seed: int, rate: int,
                                                                           noise_n: float) -> None:
    # The thenar pad idles while the hand edge rubs, the thumb while the palm vibrates or cups,
    # the hypothenar pad while the finger pads rub, the knuckles throughout: each beside
    # working sensors of its region, at a resting offset of 0.1-0.5 N with a little noise.
    x = idle_session(seed, rate, noise_n)
    for block_s in (LIVE_BLOCK_S, ANALYZE_BLOCK_S):
        assert _spans(x, rate, block_s) == []


@pytest.mark.parametrize("seed, rate", [(4, 200), (5, 50)])
def test_on_a_glove_without_noise_an_idle_sensor_reading_exactly_its_offset_is_not_dead(seed: int,
                                                                                      rate: int) -> None:
    # No noise, no hum, no drift: every idle live sensor reads exactly its resting offset,
    # just as a dead lead would. Nothing tells them apart, so nothing is reported.
    x = idle_session(seed, rate, 0.0)
    thenar = ALL_CHANNELS.index("thenar")
    rubbing = slice((LEAD_S + 5) * rate, (LEAD_S + 45) * rate)      # hand-edge rubbing: thenar idle
    assert np.ptp(x[rubbing, thenar]) == 0.0 and 0.1 <= x[rubbing.start, thenar] <= 0.5
    assert _spans(x, rate, ANALYZE_BLOCK_S) == []
    report = _report(x, rate, ANALYZE_BLOCK_S)
    assert report.sensor_health["ok"] is True
