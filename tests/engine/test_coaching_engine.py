"""CoachingEngine end to end: force windows, spine, sensor faults, gaps, streaming, report."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.engine import CoachingEngine, EngineEvent, SessionReport
from glovecoach.protocols import default_protocol
from glovecoach.simulate import simulate
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS

RATE = 200
P = default_protocol()


def block(newtons: np.ndarray, first: int = 0, saturated=None, open_=None) -> ForceBlock:
    newtons = np.asarray(newtons, dtype=np.float32)
    return ForceBlock(first, newtons,
                      np.zeros(newtons.shape, bool) if saturated is None else saturated,
                      np.zeros(newtons.shape, bool) if open_ is None else open_)


def stream(engine: CoachingEngine, newtons: np.ndarray, size: int, saturated=None, open_=None,
           first: int = 0) -> list[EngineEvent]:
    events = []
    for a in range(0, len(newtons), size):
        events += engine.process(block(newtons[a:a + size], first + a,
                                       None if saturated is None else saturated[a:a + size],
                                       None if open_ is None else open_[a:a + size]))
    return events


def col(name: str, channels=ALL_CHANNELS) -> int:
    return channels.index(name)


def held(channel: str, level: float, seconds: float = 1.0, lead_s: float = 0.5, channels=ALL_CHANNELS) -> np.ndarray:
    """Light contact on the palm, then `channel` held at `level` N for `seconds`."""
    n = int((lead_s + seconds + 0.5) * RATE)
    x = np.zeros((n, len(channels)), np.float32)
    if "palm_center" in channels:
        x[:, col("palm_center", channels)] = 3.0
    a = int(lead_s * RATE)
    x[a:a + int(seconds * RATE), col(channel, channels)] = level
    return x


# ----------------------------------------------------------------------------- edge sessions

def test_empty_and_one_sample_sessions() -> None:
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    assert engine.process(block(np.zeros((0, 20)))) == []
    report = engine.finish()
    assert report.duration_s == 0 and report.phases == [] and report.to_dict()["protocol"]["violations"] == []
    assert engine.state.technique is None

    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    x = np.zeros((1, 20))
    x[0, col("thumb_tip")] = 80.0
    assert engine.process(block(x)) == []           # one sample cannot pass the debounce
    report = engine.finish()
    assert report.duration_s == pytest.approx(1 / RATE)
    assert report.overforce_events == [] and report.to_dict()["duration_s"] == 0.005


# ----------------------------------------------------------------------------- force windows

@pytest.mark.parametrize("level, live, scored", [
    (29.9, False, False),     # just inside the live limit (palm, no technique yet: 30 N)
    (30.3, True, False),      # just over live, inside scoring (36 N)
    (36.4, True, True),       # over both
])
def test_live_and_scoring_limits_at_the_boundary(level: float, live: bool, scored: bool) -> None:
    assert P.force_limit(None, "palm_heel", "live") == (None, 30.0)
    assert P.force_limit(None, "palm_heel", "scoring") == (None, 36.0)
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, held("palm_heel", level), 4)
    begins = [e for e in events if e.kind == "overforce" and e.state == "begin"]
    assert bool(begins) is live
    report = engine.finish()
    assert bool(report.overforce_events) is scored
    if live:
        e = begins[0]
        assert e.channel == "palm_heel" and e.peak_n == pytest.approx(level, abs=0.01)
        assert e.start_s == pytest.approx(0.5)
        # Debounce: the alert comes live_min_duration_s after the excursion began.
        assert e.at_s == pytest.approx(0.5 + P.force_feedback.live_min_duration_s - 1 / RATE, abs=1e-6)
        assert e.message == f"Too much force on the heel of the palm: {level:.0f} N (limit 30 N)."
        ends = [x for x in events if x.kind == "overforce" and x.state == "end"]
        assert ends[0].end_s == pytest.approx(1.5)
    if scored:
        ep = report.to_dict()["overforce_events"][0]
        assert (ep["region"], ep["start_s"], ep["end_s"], ep["peak_n"]) == \
            ("palm_heel", 0.5, 1.5, pytest.approx(level, abs=0.01))
        assert "excessive_force" in [v["rule"] for v in report.to_dict()["protocol"]["violations"]]


def test_debounce_at_the_engine() -> None:
    short_s = P.force_feedback.live_min_duration_s - 2 / RATE
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, held("thumb_tip", 60.0, seconds=short_s), 4)
    assert [e for e in events if e.kind == "overforce"] == []


def test_an_active_force_alert_shows_the_peak_so_far_not_the_onset() -> None:
    """The live banner reads the active alert: a squeeze that keeps rising must show its
    highest force so far, not the force at the moment the alert began."""
    x = held("thumb_tip", 0.0, seconds=2.0)
    thumb = col("thumb_tip")
    a = int(0.5 * RATE)
    x[a:a + 2 * RATE, thumb] = np.linspace(30.0, 60.0, 2 * RATE)      # limit 25 N
    limit = P.force_limit(None, "thumb_tip", "live")[1]
    assert limit is not None and limit < 30.0
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    seen = []
    for k in range(0, len(x), 20):
        engine.process(block(x[k:k + 20], k))
        active = [al for al in engine.state.active_alerts if al.kind == "overforce"]
        if active:
            seen.append((k + 20, active[0]))
    assert len(seen) > 10
    _, first = seen[0]
    last_end, last = seen[-1]
    assert last.start_s == first.start_s == pytest.approx(0.5)
    # the peak so far is the ramp's value at the end of the newest block
    assert last.peak_n == pytest.approx(float(x[:last_end, thumb].max()), abs=0.01)
    assert last.peak_n > first.peak_n + 20
    assert last.message == f"Too much force on the thumb tip: {last.peak_n:.0f} N (limit {limit:g} N)."
    assert [al.peak_n for _, al in seen] == sorted(al.peak_n for _, al in seen)


def test_saturated_samples_alarm_and_report_saturation_not_a_number() -> None:
    x = held("hand_edge", 5.0)               # the converted value is low: only the mask says "saturated"
    sat = np.zeros(x.shape, bool)
    sat[100:300, col("hand_edge")] = True
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, x, 20, saturated=sat)
    over = [e for e in events if e.kind == "overforce" and e.state == "begin"]
    assert len(over) == 1 and over[0].peak_n is None and over[0].saturated
    assert "top of its range" in over[0].message
    assert [e.state for e in events if e.kind == "saturation"] == ["begin", "end"]
    d = engine.finish().to_dict()
    assert d["overforce_events"][0]["peak_n"] is None and d["overforce_events"][0]["saturated"] is True
    assert d["per_region"]["hand_edge"]["none"]["saturated"] is True


def test_open_sensor_is_reported_and_reads_zero() -> None:
    x = held("palm_heel", 3.0, seconds=2.0)
    opened = np.zeros(x.shape, bool)
    opened[50:350, col("index_tip")] = True
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, x, 8, open_=opened)
    opens = [e for e in events if e.kind == "open_sensor"]
    assert [(e.state, e.channel) for e in opens] == [("begin", "index_tip"), ("end", "index_tip")]
    assert opens[0].at_s == pytest.approx(0.25 + 0.5 - 1 / RATE)
    report = engine.finish()
    assert report.sensor_faults[0]["channel"] == "index_tip" and report.sensor_faults[0]["duration_s"] == 1.5


# ----------------------------------------------------------------------------- spine

def spine_session() -> np.ndarray:
    """Partner's load 3 N on spine_4 (2x the contact threshold), glove off, then on, then a press."""
    n = 30 * RATE
    x = np.zeros((n, 20), np.float32)
    s4 = col("spine_4")
    x[:, s4] = 3.0 + 0.05 * np.sin(np.arange(n) / RATE)
    on = slice(10 * RATE, 25 * RATE)
    x[on, col("palm_center")] = 6.0
    x[on, col("palm_heel")] = 4.0
    x[15 * RATE:18 * RATE, s4] += 4.0          # the press on the spinal line
    x[26 * RATE:28 * RATE, col("spine_2")] += 5.0   # glove off: the partner moving, not contact
    return x


@pytest.mark.parametrize("size", [4, 1000])
def test_spine_contact_over_the_tracked_baseline(size: int) -> None:
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, spine_session(), size)
    spine = [e for e in events if e.kind == "spine_contact"]
    assert [(e.state, e.channel) for e in spine] == [("begin", "spine_4"), ("end", "spine_4")]
    assert spine[0].start_s == pytest.approx(15.0, abs=0.01)
    assert spine[1].end_s == pytest.approx(18.0, abs=0.01)
    assert spine[1].peak_n == pytest.approx(7.05, abs=0.1)
    report = engine.finish()
    # while the press lasted, the live alert showed its peak so far over the baseline
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    stream(engine, spine_session()[:17 * RATE], size)
    (live,) = [a for a in engine.state.active_alerts if a.kind == "spine_contact"]
    assert live.channel == "spine_4" and live.peak_n == pytest.approx(7.05, abs=0.1)
    assert live.message == f"Off the spine! Pressure on spine segment 4: {live.peak_n:.1f} N."
    d = report.to_dict()
    assert d["spine_check"] is True
    assert [(c["segment"], c["start_s"], c["end_s"]) for c in d["spine_contacts"]] == [("spine_4", 15.0, 18.0)]
    assert d["spine_map"]["spine_4"]["baseline_n"] == pytest.approx(3.0, abs=0.1)
    assert d["spine_map"]["spine_4"]["contact_s"] == pytest.approx(3.0, abs=0.01)
    assert "spine_contact" in [v["rule"] for v in d["protocol"]["violations"]]


def test_spine_baseline_before_any_glove_off_time_is_the_lowest_reading() -> None:
    x = spine_session()[10 * RATE:]            # glove on from the first sample
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, x, 40)
    spine = [(e.state, e.channel) for e in events if e.kind == "spine_contact"]
    assert spine == [("begin", "spine_4"), ("end", "spine_4")]


def test_without_spine_channels_there_is_no_spine_check() -> None:
    channels = GLOVE_CHANNELS
    engine = CoachingEngine(P, channels, RATE)
    stream(engine, held("palm_heel", 3.0, channels=channels), 50)
    report = engine.finish()
    assert report.spine_check is False and report.to_dict()["spine_map"] == {}
    assert "Spine check: not done" in report.summary()


# ----------------------------------------------------------------------------- gaps

def test_a_gap_ends_open_events_at_its_start() -> None:
    x = held("palm_heel", 40.0, seconds=3.0)
    engine = CoachingEngine(P, ALL_CHANNELS, RATE)
    events = stream(engine, x[:300], 20)                         # alarm begins before 1.5 s
    events += stream(engine, x[500:], 20, first=500)             # samples 300..499 never arrive
    over = [e for e in events if e.kind == "overforce"]
    assert [(e.state, e.start_s, e.end_s) for e in over] == [
        ("begin", 0.5, None), ("end", 0.5, 1.5), ("begin", 2.5, None), ("end", 2.5, 3.5)]
    report = engine.finish()
    assert report.gaps == [(1.5, 2.5)]
    assert [(e.start_s, e.end_s) for e in report.overforce_events] == [(0.5, 1.5), (2.5, 3.5)]
    with pytest.raises(ValueError, match="before the next expected sample"):
        engine.process(block(x[:10], 100))


# ----------------------------------------------------------------------------- simulated sessions

@cache
def run_simulated(scenario: str, seed: int, block_s: float = 1.0) -> tuple[list[EngineEvent], SessionReport, object]:
    s = simulate(scenario, seed)
    cal = Calibration.nominal_for(s.channels)
    engine = CoachingEngine(P, s.channels, s.rate_hz)
    size = max(1, int(block_s * s.rate_hz))
    events = []
    for a in range(0, len(s.raw), size):
        events += engine.process(cal.convert(s.raw[a:a + size], a))
    return events, engine.finish(), s


def overlaps(alert: EngineEvent, truth) -> bool:
    return truth.start_s - 0.3 <= alert.start_s <= truth.end_s


def test_excessive_force_in_kneading_is_caught_live_and_scored() -> None:
    events, report, s = run_simulated("excessive_force_kneading", 7)
    assert s.overforce
    live = [e for e in events if e.kind == "overforce" and e.state == "begin"]
    for truth in s.overforce:
        hit = [e for e in live if e.channel == truth.region and overlaps(e, truth)]
        assert hit, f"missed {truth}"
        assert hit[0].technique == "kneading"
    assert len(live) <= len(s.overforce) + 1           # at most one false alarm
    assert {e.region for e in s.overforce} <= {e.channel for e in report.overforce_events}
    assert not report.passed and "excessive_force" in {v.rule for v in report.violations}


def test_spine_contact_scenario_matches_ground_truth() -> None:
    events, report, s = run_simulated("spine_contact_stroking", 8)
    truth = {(t.region, round(t.start_s)) for t in s.spine_contacts}
    found = {(c.channel, round(c.start_s)) for c in report.spine_contacts}
    assert truth and truth == found


def test_good_session_passes_with_phases_and_no_alerts() -> None:
    events, report, s = run_simulated("good_session", 9)
    assert report.passed, report.summary()
    assert [p.technique for p in report.phases] == [p.technique for p in s.phases]
    for got, want in zip(report.phases, s.phases):
        assert abs(got.start_s - want.start_s) < 4 and abs(got.end_s - want.end_s) < 4
    assert not [e for e in events if e.kind in ("overforce", "underforce", "spine_contact", "violation")]
    assert [e.kind for e in events if e.kind == "phase_change"] == ["phase_change"] * len(s.phases)
    d = report.to_dict()
    assert d["score"]["total"] >= 90 and d["calibration"]["nominal"] is True


def test_phase_too_long_gets_a_move_on_cue_then_a_violation() -> None:
    events, report, s = run_simulated("phase_too_long", 10)
    long_phase = max(s.phases, key=lambda p: p.end_s - p.start_s)
    cues = [e for e in events if e.kind == "cue" and e.technique == long_phase.technique]
    assert cues and cues[0].at_s == pytest.approx(long_phase.start_s + 180, abs=5)
    too_long = [e for e in events if e.kind == "violation" and e.rule == "phase_too_long"]
    assert too_long and too_long[0].at_s == pytest.approx(long_phase.start_s + 195, abs=5)
    assert [v.rule for v in report.violations] == ["phase_too_long"]


def test_wrong_order_scenario() -> None:
    _, report, _ = run_simulated("wrong_phase_order", 11)
    assert "wrong_order" in {v.rule for v in report.violations}


def test_streaming_block_size_does_not_change_the_result() -> None:
    s = simulate("excessive_force_kneading", 7)
    cal = Calibration.nominal_for(s.channels)
    truth = s.overforce[0]
    a = int((truth.start_s - 60) * RATE)
    b = int((truth.end_s + 20) * RATE)
    raw = s.raw[a:b]

    def run(size: int):
        engine = CoachingEngine(P, s.channels, RATE)
        events = []
        for k in range(0, len(raw), size):
            events += engine.process(cal.convert(raw[k:k + size], a + k))
        return sorted((round(e.at_s, 4), e.kind, e.state, e.channel or "") for e in events), engine.finish().to_dict()

    small_events, small = run(4)          # 20 ms, as live
    big_events, big = run(len(raw))       # everything at once
    assert small_events == big_events
    assert small["overforce_events"] == big["overforce_events"] and small["phases"] == big["phases"]
    assert any(e[1] == "overforce" for e in small_events)


# ----------------------------------------------------------------------------- fist work

@pytest.mark.parametrize("scale, kinds", [
    (1.0, set()),                       # normal fist kneading: inside the 5-20 N window
    (0.3, {"underforce"}),              # presses peak around 4 N: too light
    (2.0, {"overforce"}),               # around 28 N: too hard
])
def test_knuckle_window_during_fist_kneading(scale: float, kinds: set) -> None:
    from glovecoach.simulate.session import simulate_technique

    f, _ = simulate_technique("kneading", 50, 2, variant="fist")
    knuckles = [GLOVE_CHANNELS.index(c) for c in ("knuckles_index_middle", "knuckles_ring_little")]
    f[30 * RATE:, knuckles] *= scale
    engine = CoachingEngine(P, GLOVE_CHANNELS, RATE)
    events = stream(engine, f, 40)
    assert [e.technique for e in events if e.kind == "phase_change"] == ["kneading"]
    alerts = [e for e in events if e.kind in ("underforce", "overforce") and e.state == "begin"]
    assert {e.kind for e in alerts} == kinds
    assert all(e.channel in ("knuckles_index_middle", "knuckles_ring_little") and e.at_s > 30 for e in alerts)
    if "underforce" in kinds:
        e = alerts[0]
        # Four light presses at ~1 Hz after the change at 30 s.
        assert 33 < e.at_s < 36 and e.message.startswith("Press harder with the")
        assert e.peak_n < P.force_limit("kneading", e.channel)[0]
