"""A sensor fault bends the session only until it is told; the report sees it whole.

Live, a faulty glove sensor is left out from the moment its fault is told (5 s for a pinned
sensor, 20 s for a stuck one). Until then its readings shape the hand contact and the technique
windows. The report knows when the fault most likely began and labels that stretch again
without the sensor. And within one long block (analyze's minute), a fault is left out only from
the sample where it was told, as a live stream of short blocks would do.
"""

from __future__ import annotations

import numpy as np

from glovecoach.calibration import Calibration
from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.health import SensorHealthMonitor
from glovecoach.protocols import default_protocol
from glovecoach.simulate.session import simulate_technique
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS

P = default_protocol()
CH = {c: k for k, c in enumerate(ALL_CHANNELS)}
CEILING = Calibration.nominal_for(ALL_CHANNELS).ceiling_n


def glove_session(parts: list[tuple[str, float, str | None]], rate: int, seed: int) -> np.ndarray:
    """True forces of techniques one after the other, 3 s off the back before and after,
    through a glove with small offsets and noise (20 channels, spine resting at 0.3 N)."""
    pieces = [np.zeros((3 * rate, len(GLOVE_CHANNELS)))]
    for k, (technique, seconds, variant) in enumerate(parts):
        pieces.append(simulate_technique(technique, seconds, seed + k, rate_hz=rate, variant=variant)[0])
    pieces.append(np.zeros((3 * rate, len(GLOVE_CHANNELS))))
    glove = np.concatenate(pieces)
    rng = np.random.default_rng(seed)
    x = np.full((len(glove), len(ALL_CHANNELS)), 0.3)
    x[:, :len(GLOVE_CHANNELS)] = glove
    x += rng.uniform(0.1, 0.3, x.shape[1]) + 0.1 * rng.standard_normal(x.shape)
    return np.maximum(x, 0.0).astype(np.float32)


def run(x: np.ndarray, rate: int, block_s: float):
    engine = CoachingEngine(P, ALL_CHANNELS, rate)
    size = max(1, int(round(block_s * rate)))
    top = np.array([CEILING[c] for c in ALL_CHANNELS], dtype=np.float32) * np.float32(0.999)
    events = []
    for a in range(0, len(x), size):
        block = x[a:a + size]
        events += engine.process(ForceBlock(a, block, block >= top, np.zeros(block.shape, dtype=bool)))
    return engine.finish(), events


def pin(x: np.ndarray, channel: str, a_s: float, b_s: float, rate: int) -> np.ndarray:
    """The sensor reads its ceiling (a short or a stuck ADC input) from a_s to b_s."""
    x = x.copy()
    x[int(a_s * rate):int(b_s * rate), CH[channel]] = CEILING[channel]
    return x


def stick(x: np.ndarray, channel: str, a_s: float, b_s: float, newtons: float, rate: int) -> np.ndarray:
    """The sensor repeats one loaded reading (a stuck multiplexer input) from a_s to b_s."""
    x = x.copy()
    x[int(a_s * rate):int(b_s * rate), CH[channel]] = newtons
    return x


def kneading_then_vibration(rate: int, seed: int) -> np.ndarray:
    """Kneading from 3 s to 153 s, finger-pad vibration from 153 s to 283 s; the palm centre
    stuck at 20 N from 120 s to 175 s (told some 20 s later)."""
    x = glove_session([("kneading", 150, "grasp"), ("vibration", 130, "finger_pads")], rate, seed)
    return stick(x, "palm_center", 120.0, 175.0, 20.0, rate)


def test_a_sensor_stuck_near_the_end_of_a_phase_does_not_cut_the_phase_short() -> None:
    rate = 100
    report, events = run(kneading_then_vibration(rate, 11), rate, 60.0)
    told = [e for e in events if e.kind == "sensor_fault" and e.state == "begin"]
    assert [(e.channel, e.rule) for e in told] == [("palm_center", "stuck")]
    assert told[0].at_s > 135.0          # live, some 20 s of windows saw a steady 20 N load
    assert [p.technique for p in report.phases] == ["kneading", "vibration"]
    kneading, vibration = report.phases
    assert abs(kneading.start_s - 3.0) < 1.5 and abs(kneading.end_s - 153.0) < 2.5
    assert abs(vibration.start_s - 153.0) < 2.5
    assert not [v for v in report.violations if v.rule == "phase_too_short"]
    assert not report.overforce_events   # the stuck sensor's 20 N is over the palm's kneading limit


def test_a_real_over_force_while_another_sensor_is_stuck_is_judged_by_its_phase() -> None:
    rate = 100
    x = kneading_then_vibration(rate, 11)
    # The index tip presses over the kneading limit (not over the protocol's default one) for
    # 1.5 s, ten seconds after the palm centre stuck (before that fault could be told).
    limit = P.force_limit("kneading", "index_tip", "scoring")[1]
    default = P.force_limit(None, "index_tip", "scoring")[1]
    assert 1.15 * limit < default
    x[int(130.0 * rate):int(131.5 * rate), CH["index_tip"]] = 1.15 * limit
    report, _ = run(x, rate, 60.0)
    assert [p.technique for p in report.phases] == ["kneading", "vibration"]
    (episode,) = report.overforce_events
    assert episode.channel == "index_tip" and abs(episode.start_s - 130.0) < 0.3
    assert episode.limit_n == limit


def test_a_fault_told_inside_a_long_block_is_left_out_only_from_then() -> None:
    rate = 100
    x = glove_session([("stroking", 90, None), ("deep_stroking", 90, None)], rate, 13)
    x = pin(x, "hypothenar", 130.0, 150.0, rate)
    small, small_events = run(x, rate, 0.5)
    big, big_events = run(x, rate, 60.0)
    told = [(e.channel, e.rule, e.at_s) for e in small_events if e.kind == "sensor_fault"]
    assert told == [(e.channel, e.rule, e.at_s) for e in big_events if e.kind == "sensor_fault"]
    assert told and told[0][:2] == ("hypothenar", "saturated")
    # The statistics count the hypothenar's healthy contact before the fault was told in
    # both: a long block is not judged by the faults known at its end.
    assert big.per_region == small.per_region
    assert [(p.technique, p.start_s, p.end_s) for p in big.phases] == \
        [(p.technique, p.start_s, p.end_s) for p in small.phases]


def test_the_health_monitor_dates_a_fault_from_the_last_healthy_evidence() -> None:
    rate = 100
    x = glove_session([("kneading", 120, "grasp")], rate, 14)
    x = pin(x, "thenar", 60.0, 90.0, rate)
    x[int(40.0 * rate):, CH["ring_tip"]] = float(x[int(40.0 * rate), CH["ring_tip"]])   # stuck from 40 s
    top = np.array([CEILING[c] for c in ALL_CHANNELS], dtype=np.float32) * np.float32(0.999)
    monitor = SensorHealthMonitor(ALL_CHANNELS, rate)
    for a in range(0, len(x), 6000):
        block = x[a:a + 6000]
        monitor.process(a, block, block >= top, np.zeros(block.shape, dtype=bool))
    spans = {(ch, state): (onset, start) for ch, state, onset, start, _ in monitor.fault_spans()}
    onset, start = spans[("thenar", "saturated")]
    assert 59.5 <= onset <= 60.5 < start
    onset, start = spans[("ring_tip", "stuck")]
    assert 39.5 <= onset <= 40.5 and start >= 55.0


def test_the_report_reads_again_only_around_each_fault() -> None:
    """Two faults five minutes apart: the stretches labelled again are each fault's own
    neighbourhood, not the whole session between them (a 60-minute analysis read it all again),
    and both faults' windows are still labelled without their sensor."""
    rate = 100
    x = glove_session([("kneading", 150, "grasp"), ("vibration", 130, "finger_pads"), ("stroking", 150, None)],
                      rate, 11)
    x = stick(x, "palm_center", 120.0, 175.0, 20.0, rate)       # told some 20 s later
    x = pin(x, "hypothenar", 400.0, 420.0, rate)                 # told 5 s later
    engine = CoachingEngine(P, ALL_CHANNELS, rate)
    top = np.array([CEILING[c] for c in ALL_CHANNELS], dtype=np.float32) * np.float32(0.999)
    events = []
    for a in range(0, len(x), 60 * rate):
        block = x[a:a + 60 * rate]
        events += engine.process(ForceBlock(a, block, block >= top, np.zeros(block.shape, dtype=bool)))
    read_again: list[tuple[float, float]] = []
    kept = engine.hindsight.stretches

    def recording_stretches(a: int, b: int):
        read_again.append((a / rate, b / rate))
        return kept(a, b)

    engine.hindsight.stretches = recording_stretches
    report = engine.finish()
    told = sorted((e.channel, e.rule) for e in events if e.kind == "sensor_fault" and e.state == "begin")
    assert told == [("hypothenar", "saturated"), ("palm_center", "stuck")]
    assert len(read_again) == 2
    assert all(b - a < 120.0 for a, b in read_again)
    assert not any(a < 300.0 < b for a, b in read_again)       # the stretch between the faults
    assert [p.technique for p in report.phases] == ["kneading", "vibration", "stroking"]
    kneading, vibration, stroking = report.phases
    assert abs(kneading.end_s - 153.0) < 2.5 and abs(vibration.start_s - 153.0) < 2.5
    assert not [v for v in report.violations if v.rule == "phase_too_short"]
