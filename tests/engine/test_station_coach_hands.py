"""StationCoach: each hand coached on its own glove, and the station's technique from both.

Station data from the simulator (tests/engine/test_station_coach_data.py): each glove its own
simulated trainee's forces, the strip the partner's resting load; raw counts converted with
nominal calibrations, then coached in blocks as a live station would be.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_station_coach_data import RATE, REST_S, blocks, limit, station

from glovecoach.engine.station import HANDS_DIFFER_TOLERANCE_S, StationCoach, combine_techniques
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.blocks import ForceBlock


def coach_station(d, block_s: float = 0.5, present=None, protocol=None):
    """Coach station data `d` in blocks; `present(first_index)` -> flags per device."""
    cals = d.calibrations()
    coach = StationCoach(protocol or default_protocol(), d.layout, d.rate_hz,
                         {role: c.describe() for role, c in cals.items()})
    steps = []
    for a, b in blocks(d.n, max(1, int(block_s * d.rate_hz))):
        parts = [cals[dev.role].convert(d.raw[a:b, d.layout.slice_of(dev.role)], a) for dev in d.layout.devices]
        block = ForceBlock(a, np.concatenate([p.newtons for p in parts], axis=1),
                           np.concatenate([p.saturated for p in parts], axis=1),
                           np.concatenate([p.open for p in parts], axis=1))
        flags = present(a) if present else (True,) * len(d.layout.roles)
        steps.append(coach.process(block, flags))
    return coach, steps, coach.finish()


def station_events(steps, kind=None, rule=None):
    return [e for s in steps for e in s.events
            if (kind is None or e.kind == kind) and (rule is None or e.rule == rule)]


def test_both_hands_kneading_make_a_kneading_station_that_agrees():
    d = station([("kneading", 60)], [("kneading", 60)], seed=2)
    coach, steps, report = coach_station(d)
    assert [p.technique for p in report.phases] == ["kneading"]
    for hand in ("left", "right"):
        assert [p.technique for p in report.hands[hand].phases] == ["kneading"]
    assert report.technique_agreement_pct is not None and report.technique_agreement_pct > 95
    assert report.hands_differ == []
    assert not station_events(steps, rule="hands_differ")
    # Live: a little after the kneading was confirmed on both hands, the station says so.
    middle = next(s for s in steps if s.first_index >= (REST_S + 30) * RATE)
    assert middle.technique == {"left": "kneading", "right": "kneading", "station": "kneading", "agree": True}
    changes = station_events(steps, kind="phase_change")
    assert [e.technique for e in changes] == ["kneading"]      # one station phase change, not one per hand


def test_one_hand_stroking_while_the_other_kneads_is_told_with_both_names():
    # The right hand strokes for 20 s in the middle of the left hand's kneading.
    d = station([("kneading", 70)], [("kneading", 25), ("stroking", 20), ("kneading", 25)], seed=5)
    coach, steps, report = coach_station(d)
    cues = station_events(steps, kind="cue", rule="hands_differ")
    assert len(cues) == 1
    assert "left kneading" in cues[0].message and "right stroking" in cues[0].message
    assert cues[0].hands == ("left", "right")
    start = REST_S + 25
    assert start < cues[0].at_s < start + 20 + 10           # told while it lasts (plus recognition delay)
    assert [d_["techniques"] for d_ in report.hands_differ] == [{"left": "kneading", "right": "stroking"}]
    differ = report.hands_differ[0]
    assert differ["end_s"] - differ["start_s"] > HANDS_DIFFER_TOLERANCE_S
    assert abs(differ["start_s"] - start) < 5 and abs(differ["end_s"] - (start + 20)) < 5
    # The station keeps kneading throughout: one hand changing is not a change of phase.
    assert [p.technique for p in report.phases] == ["kneading"]
    assert 60 < report.technique_agreement_pct < 85
    text = report.summary()
    assert "Hands doing different techniques" in text and "left kneading, right stroking" in text


def test_a_short_disagreement_is_not_told():
    # Both hands change together: their recognisers confirm a second or two apart.
    d = station([("kneading", 40), ("stroking", 40)], [("kneading", 40), ("stroking", 40)], seed=3)
    coach, steps, report = coach_station(d)
    assert not station_events(steps, rule="hands_differ")
    assert report.hands_differ == []
    assert [p.technique for p in report.phases] == ["kneading", "stroking"]


def test_over_force_on_the_left_is_the_left_hands_with_the_left_limit():
    squeeze = 1.5 * limit("kneading", "index_tip")
    d = station([("kneading", 60)], [("kneading", 60)], seed=6,
                squeezes=[("left", REST_S + 30, 2.0, "index_tip", squeeze)])
    coach, steps, report = coach_station(d)
    left, right = report.hands["left"], report.hands["right"]
    assert [(e.channel, e.limit_n) for e in left.overforce_events] == [
        ("index_tip", default_protocol().force_limit("kneading", "index_tip", "scoring")[1])]
    assert abs(left.overforce_events[0].start_s - (REST_S + 30)) < 0.5
    assert right.overforce_events == []
    live = [e for s in steps for e in s.hands["left"] if e.kind == "overforce" and e.state == "begin"]
    assert [e.channel for e in live] == ["index_tip"]
    assert not [e for s in steps for e in s.hands["right"] if e.kind == "overforce"]
    station_force = [v for v in report.violations if v.rule == "excessive_force"]
    assert len(station_force) == 1 and station_force[0].message.startswith("Left hand: ")


def test_scores_per_hand_differ_when_one_hand_is_worse():
    squeeze = 1.5 * limit("kneading", "index_tip")
    # Points per violation low enough that a few more violations still change the total.
    protocol = default_protocol()
    protocol = dataclasses.replace(protocol, score=dataclasses.replace(protocol.score, points_per_violation=5.0))
    d = station([("kneading", 60)], [("kneading", 60)], seed=6,
                squeezes=[("left", REST_S + t, 2.0, "index_tip", squeeze) for t in (15, 30, 45)])
    coach, steps, report = coach_station(d, protocol=protocol)
    left, right = report.hands["left"].score, report.hands["right"].score
    assert left["breakdown"]["violations"] == right["breakdown"]["violations"] + 3
    assert left["total"] < right["total"]
    assert left["breakdown"]["force_within_window_pct"] < right["breakdown"]["force_within_window_pct"]
    # The station counts each hand's force violations once, and the phase rules once.
    assert report.score["breakdown"]["violations"] == len(report.violations)
    assert sum(v.rule == "excessive_force" for v in report.violations) == 3


def test_the_report_does_not_depend_on_block_size():
    d = station([("kneading", 40), ("stroking", 30)], [("kneading", 25), ("stroking", 45)], seed=8,
                presses=[(REST_S + 20, 3.0, "spine_4", 6.0)])
    *_, small = coach_station(d, block_s=0.2)
    *_, large = coach_station(d, block_s=60.0)
    a, b = small.to_dict(), large.to_dict()
    # Live alerts are counted as they were raised (block ends): the rest is hindsight.
    a["station"].pop("live_alerts")
    b["station"].pop("live_alerts")
    assert a == b


@pytest.mark.parametrize(("left", "right", "previous", "expected"), [
    ("kneading", "kneading", None, "kneading"),
    ("kneading", None, "stroking", "kneading"),          # a lone working hand's
    (None, None, "kneading", None),
    ("kneading", "stroking", "stroking", "stroking"),    # one hand changing first: not yet a change
    ("kneading", "rubbing", "stroking", "rubbing"),      # neither: the hand that began first (right)
])
def test_combine_techniques(left, right, previous, expected):
    assert combine_techniques({"left": left, "right": right}, previous, {"left": 10.0, "right": 5.0}) == expected


def test_phase_changes_and_cues_are_told_once_by_the_station_not_by_each_hand():
    d = station([("kneading", 40), ("stroking", 40)], [("kneading", 40), ("stroking", 40)], seed=3)
    coach, steps, report = coach_station(d)
    for hand in ("left", "right"):
        assert not [e for s in steps for e in s.hands[hand] if e.kind in ("phase_change", "cue", "violation")]
    assert [e.technique for e in station_events(steps, kind="phase_change")] == ["kneading", "stroking"]
    rules = [e.rule for e in station_events(steps, kind="violation")]
    assert rules.count("must_begin_with_stroking") == 1
    # Each hand's report still judges that hand's own phases (a one-glove report).
    assert "must_begin_with_stroking" in [v.rule for v in report.hands["left"].violations]


def test_a_station_with_one_glove_and_the_strip():
    d = station(None, [("kneading", 40)], seed=9, presses=[(REST_S + 20, 3.0, "spine_2", 8.0)])
    assert d.layout.roles == ("right_glove", "spine_strip")
    coach, steps, report = coach_station(d)
    assert set(report.hands) == {"right"}
    assert [p.technique for p in report.phases] == ["kneading"]
    assert report.technique_agreement_pct is None                  # nothing to agree with
    assert steps[-1].technique["agree"] is None
    assert [(c.channel, c.hands) for c in report.spine_contacts] == [("spine_2", ("right",))]
    assert "the same technique" not in report.summary()
