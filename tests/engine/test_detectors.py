"""The vectorised threshold detectors: debounce, hysteresis, saturation, streaming invariance."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.detectors import ExcursionDetector, LightPressDetector
from glovecoach.protocols import default_protocol

LIMIT = 20.0
RELEASE = 0.85


def run(detector: ExcursionDetector, x: np.ndarray, block: int, sat: np.ndarray | None = None,
        limit: float = LIMIT) -> tuple[list, list]:
    begun, ended = [], []
    x = x.reshape(len(x), -1)
    if sat is not None:
        sat = sat.reshape(len(x), -1)
    for a in range(0, len(x), block):
        b, e = detector.process(a, x[a:a + block], np.float64(limit), np.float64(limit * RELEASE),
                                None if sat is None else sat[a:a + block])
        begun += b
        ended += e
    ended += detector.close_all(len(x))
    return begun, ended


def test_debounce_needs_min_samples_above() -> None:
    x = np.zeros(100)
    x[10:29] = 25.0          # 19 samples: one short of the debounce
    x[50:70] = 25.0          # 20 samples: alarms at its 20th sample
    begun, ended = run(ExcursionDetector(1, 20), x, 7)
    assert [(e.start_index, e.trigger_index) for e in begun] == [(50, 69)]
    assert [(e.start_index, e.end_index) for e in ended] == [(50, 70)]


def test_single_noisy_sample_does_not_alarm() -> None:
    x = np.full(400, 10.0)
    x[200] = 80.0
    assert run(ExcursionDetector(1, 20), x, 20) == ([], [])


def test_hysteresis_holds_until_below_release() -> None:
    x = np.zeros(200)
    x[10:40] = 25.0
    x[40:100] = 18.0         # under the limit but above 85 % of it: still an alarm
    x[100:110] = 16.0        # below 17 N: released at 100
    x[110:140] = 19.9        # back up but never over the limit: no new alarm
    begun, ended = run(ExcursionDetector(1, 5), x, 13)
    assert len(begun) == 1 and len(ended) == 1
    assert (ended[0].start_index, ended[0].trigger_index, ended[0].end_index) == (10, 14, 100)
    assert ended[0].peak == 25.0


@pytest.mark.parametrize("value, alarms", [(LIMIT * 0.999, False), (LIMIT, False), (LIMIT * 1.001, True)])
def test_limit_boundary(value: float, alarms: bool) -> None:
    x = np.full(50, value)
    begun, _ = run(ExcursionDetector(1, 5), x, 50)
    assert bool(begun) is alarms


def test_saturated_samples_count_as_over_and_peak_is_flagged() -> None:
    x = np.full(100, 5.0)
    sat = np.zeros(100, dtype=bool)
    sat[30:60] = True        # value stays 5 N (what the conversion gave), but saturated
    begun, ended = run(ExcursionDetector(1, 10), x, 16, sat)
    assert [(e.start_index, e.end_index, e.saturated) for e in ended] == [(30, 60, True)]
    # With no limit (inf), saturation alone is not over-force.
    b2, _ = run(ExcursionDetector(1, 10), x, 16, sat, limit=np.inf)
    assert b2 == []


@pytest.mark.parametrize("block", [1, 3, 64, 1000])
def test_results_do_not_depend_on_block_size(block: int) -> None:
    rng = np.random.default_rng(5)
    x = np.clip(rng.normal(15, 4, (1000, 3)), 0, None)
    x[100:180, 1] = 30
    x[500:505, 2] = 40       # too short to count with debounce 10
    ref_b, ref_e = run(ExcursionDetector(3, 10), x, 1000)
    b, e = run(ExcursionDetector(3, 10), x, block)

    def key(ev):
        return ev.channel, ev.start_index, ev.trigger_index, ev.end_index, round(ev.peak, 6)

    assert sorted(map(key, e)) == sorted(map(key, ref_e))
    assert sorted(map(key, b)) == sorted(map(key, ref_b))
    assert any(ev.channel == 1 and ev.start_index == 100 and ev.peak == 30 for ev in e)


def test_peak_of_run_that_started_in_an_earlier_block() -> None:
    x = np.zeros(100)
    x[10:15] = 50.0          # highest part of the run, before the debounce completes
    x[15:40] = 25.0
    b, e = run(ExcursionDetector(1, 20), x, 12)
    assert e[0].peak == 50.0 and b[0].start_index == 10


def press_train(peaks: list[float], rate: int = 200, period_s: float = 1.0) -> np.ndarray:
    """Presses of given peaks, one per period: a half-sine of 0.5 s then rest."""
    n = int(period_s * rate)
    out = []
    for p in peaks:
        cycle = np.zeros(n)
        half = int(0.5 * rate)
        cycle[:half] = p * np.sin(np.linspace(0, np.pi, half))
        out.append(cycle)
    return np.concatenate(out)


def light_presses(x: np.ndarray, minimum: float, block: int, watch: bool = True):
    ff = default_protocol().force_feedback
    det = LightPressDetector(1, ff.press_contact_n, ff.light_presses_to_alert, 600)
    begun, ended = [], []
    for a in range(0, len(x), block):
        b, e = det.process(a, x[a:a + block, None], np.array([[minimum]]), np.array([watch]))
        begun += b
        ended += e
    ended += det.close_all(len(x))
    return begun, ended


@pytest.mark.parametrize("block", [4, 200, 5000])
def test_too_light_alerts_after_four_consecutive_light_presses(block: int) -> None:
    assert default_protocol().force_feedback.light_presses_to_alert == 4
    # 3 light presses, a good one (resets the count), then 5 light ones, then good again.
    x = press_train([3, 3, 3, 8, 3, 3, 3, 3.5, 3, 8])
    begun, ended = light_presses(x, 5.0, block)
    assert len(begun) == 1
    # Presses are counted while above the 1 N contact level, a few samples into each half-sine.
    assert begun[0].start_index == pytest.approx(4 * 200, abs=15)            # the first of the light series
    assert begun[0].trigger_index == pytest.approx(7 * 200 + 100, abs=15)    # end of the 4th light press
    assert begun[0].peak == pytest.approx(3.5, abs=0.01)
    assert ended[0].end_index == pytest.approx(9 * 200 + 100, abs=15)        # the good press ends it


def test_light_presses_ignored_where_no_minimum_applies() -> None:
    x = press_train([3] * 8)
    assert light_presses(x, np.nan, 50) == ([], [])
    assert light_presses(x, 5.0, 50, watch=False) == ([], [])
    # Just inside the window: presses at the minimum are not light.
    assert light_presses(press_train([5.02] * 8), 5.0, 50)[0] == []


def test_alerting_channels_say_which_light_press_alerts_are_open() -> None:
    """The engine keeps watching a channel while its alert is open, even where no minimum
    applies any more; it learns which through this method, not the detector's internals."""
    ff = default_protocol().force_feedback
    det = LightPressDetector(2, ff.press_contact_n, ff.light_presses_to_alert, 600)
    assert det.alerting_channels().tolist() == [False, False]
    x = np.stack([press_train([3] * 5), np.zeros(1000)], axis=1)
    begun, _ = det.process(0, x, np.array([[5.0, 5.0]]), np.array([True, True]))
    assert len(begun) == 1 and det.alerting_channels().tolist() == [True, False]
    det.close_all(len(x))
    assert det.alerting_channels().tolist() == [False, False]
