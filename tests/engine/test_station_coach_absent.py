"""StationCoach with a glove absent: that hand has a gap, the other hand goes on; and a
station of one kit is coached exactly as the kit is today."""

from __future__ import annotations

import numpy as np
import pytest
from test_station_coach_data import station
from test_station_coach_hands import coach_station

from glovecoach.calibration import Calibration
from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.station import StationCoach
from glovecoach.protocols import default_protocol
from glovecoach.simulate import simulate
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.station import StationLayout


def test_a_glove_absent_for_30_s_is_that_hands_gap_and_the_other_hand_goes_on():
    d = station([("kneading", 80)], [("kneading", 80)], seed=21)
    rate = d.rate_hz

    def present(first):
        return (not (20 * rate <= first < 50 * rate), True, True)

    coach, steps, report = coach_station(d, present=present)
    left, right = report.hands["left"], report.hands["right"]
    assert left.gaps == [(20.0, 50.0)]                   # one gap, though told block by block
    assert report.device_gaps["left_glove"] == [(20.0, 50.0)]
    assert right.gaps == []
    assert [p.technique for p in right.phases] == ["kneading"]
    assert right.phases[0].end_s - right.phases[0].start_s > 75
    # The station goes on kneading with the right hand alone, one phase throughout.
    assert [p.technique for p in report.phases] == ["kneading"]
    during = [s for s in steps if 25 * rate <= s.first_index < 45 * rate]
    assert all(s.present["left_glove"] is False and s.technique["left"] is None for s in during)
    assert all(s.technique["station"] == "kneading" and s.technique["agree"] is None for s in during)
    assert all(s.hands["right"] == () or all(e.kind != "sensor_fault" for e in s.hands["right"]) for s in during)
    # Agreement is counted only while both hands worked.
    assert report.technique_agreement_pct > 95


def test_an_over_force_open_when_the_glove_goes_ends_at_the_gap():
    d = station([("kneading", 60)], [("kneading", 60)], seed=22,
                squeezes=[("left", 28.0, 4.0, "thumb_tip", 40.0)])
    rate = d.rate_hz

    def present(first):
        return (first < 30 * rate, True, True)

    coach, steps, report = coach_station(d, present=present)
    ends = [e for s in steps for e in s.hands["left"] if e.kind == "overforce" and e.state == "end"]
    assert [(e.channel, e.end_s) for e in ends] == [("thumb_tip", 30.0)]
    assert "data gap" in ends[0].message


def test_a_station_of_one_kit_is_coached_exactly_as_the_kit():
    # The same session through today's engine (one glove with the strip) and through the
    # station coach as a station of one kit: the hand's report is the kit's report.
    s = simulate("spine_contact_stroking", 7, rate_hz=100).cut(0, 240)
    assert s.spine_contacts
    raw = s.raw.copy()
    raw[6000:6200, s.channels.index("spine_3")] = 0          # an open lead on the strip for 2 s
    raw[9000:9100, s.channels.index("spine_5")] = 4095       # and a saturated segment for 1 s
    raw[12000:12100, s.channels.index("thumb_tip")] = 0      # and on the glove
    protocol = default_protocol()
    cal = Calibration.nominal_for(s.channels)
    engine = CoachingEngine(protocol, s.channels, 100, calibration=cal.describe())
    layout = StationLayout.kit()
    coach = StationCoach(protocol, layout, 100, {"kit": cal.describe()})
    for a in range(0, s.n_samples, 3000):
        block = cal.convert(raw[a:a + 3000], a)
        engine.process(block)
        coach.process(block, (True,))
    kit = engine.finish().to_dict()
    station_report = coach.finish()
    assert station_report.hands["right"].to_dict() == kit
    assert {(f["channel"], f["kind"]) for f in kit["sensor_faults"]} == {
        ("spine_3", "open_sensor"), ("spine_5", "saturation"), ("thumb_tip", "open_sensor")}
    assert {(f["channel"], f["kind"]) for f in station_report.strip_faults} == {
        ("spine_3", "open_sensor"), ("spine_5", "saturation")}
    assert [c.hands for c in station_report.spine_contacts] == [("right",)] * len(kit["spine_contacts"])


def test_bad_blocks_are_refused_with_what_was_expected():
    d = station([("kneading", 10)], [("kneading", 10)], seed=1)
    coach = StationCoach(default_protocol(), d.layout, d.rate_hz)
    narrow = ForceBlock(0, np.zeros((10, 20), np.float32), np.zeros((10, 20), bool), np.zeros((10, 20), bool))
    with pytest.raises(ValueError, match="32 columns"):
        coach.process(narrow, (True, True, True))
    wide = ForceBlock(0, np.zeros((10, 32), np.float32), np.zeros((10, 32), bool), np.zeros((10, 32), bool))
    with pytest.raises(ValueError, match="3 devices"):
        coach.process(wide, (True, True))
    coach.process(wide, (True, True, True))
    with pytest.raises(ValueError, match="before the next expected sample 10"):
        coach.process(ForceBlock(5, wide.newtons, wide.saturated, wide.open), (True, True, True))
    with pytest.raises(ValueError, match="at least one glove"):
        StationCoach(default_protocol(), StationLayout.for_roles(("spine_strip",)), d.rate_hz)


def test_a_glove_never_there_leaves_its_hand_ungraded_and_the_station_on_the_other():
    d = station([("kneading", 40)], [("kneading", 40)], seed=23)
    coach, steps, report = coach_station(d, present=lambda first: (False, True, True))
    left = report.hands["left"]
    assert left.verdict == "no_massage" and left.gaps == [(0.0, d.n / d.rate_hz)]
    assert [p.technique for p in report.phases] == ["kneading"]
    assert report.technique_agreement_pct is None
    assert report.score["graded"]
