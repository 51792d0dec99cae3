"""StationCoach and the spine strip: one contact however many hands are on the back,
attributed to the hands that were; the strip absent while the gloves go on."""

from __future__ import annotations

from test_station_coach_data import REST_S, station
from test_station_coach_hands import coach_station, station_events


def spine_begins(steps):
    return [e for e in station_events(steps, kind="spine_contact") if e.state == "begin"]


def test_a_press_while_only_the_left_hand_is_on_the_back_is_the_lefts():
    # The right hand leaves the back for 15 s (gel); the press comes in the middle of it.
    press_at = REST_S + 25 + 6
    d = station([("kneading", 60)], [("kneading", 25), (None, 15), ("kneading", 20)], seed=11,
                presses=[(press_at, 3.0, "spine_3", 8.0)])
    assert d.on_back["left"][int(press_at * d.rate_hz)] and not d.on_back["right"][int(press_at * d.rate_hz)]
    coach, steps, report = coach_station(d)
    begins = spine_begins(steps)
    assert [(e.channel, e.hands) for e in begins] == [("spine_3", ("left",))]
    assert "left hand on the back" in begins[0].message
    assert [(c.channel, c.hands) for c in report.spine_contacts] == [("spine_3", ("left",))]
    assert abs(report.spine_contacts[0].start_s - press_at) < 0.5
    assert [c.channel for c in report.hands["left"].spine_contacts] == ["spine_3"]
    assert report.hands["right"].spine_contacts == []
    assert [v.rule for v in report.hands["left"].violations].count("spine_contact") == 1
    assert "spine_contact" not in [v.rule for v in report.hands["right"].violations]
    assert [v.rule for v in report.violations].count("spine_contact") == 1


def test_a_press_with_both_hands_on_the_back_is_still_one_contact():
    press_at = REST_S + 30
    d = station([("kneading", 60)], [("kneading", 60)], seed=12, presses=[(press_at, 3.0, "spine_5", 8.0)])
    coach, steps, report = coach_station(d)
    begins = spine_begins(steps)
    assert [(e.channel, e.hands) for e in begins] == [("spine_5", ("left", "right"))]
    assert "both hands on the back" in begins[0].message
    assert len(report.spine_contacts) == 1 and report.spine_contacts[0].hands == ("left", "right")
    assert [v.rule for v in report.violations].count("spine_contact") == 1
    # Each hand's own report has it (it was on the back), as a one-glove report would.
    for hand in ("left", "right"):
        assert [c.channel for c in report.hands[hand].spine_contacts] == ["spine_5"]
        assert report.hands[hand].spine_check
    assert report.to_dict()["station"]["spine_contacts"][0]["hands"] == ["left", "right"]


def test_no_contact_while_both_hands_are_off_the_back():
    # The partner shifting on the strip while nobody touches them is not a contact.
    d = station([("kneading", 20), (None, 15), ("kneading", 20)], [("kneading", 20), (None, 15), ("kneading", 20)],
                seed=13, presses=[(REST_S + 20 + 5, 3.0, "spine_2", 8.0)])
    coach, steps, report = coach_station(d)
    assert spine_begins(steps) == []
    assert report.spine_contacts == []


def test_the_strip_absent_leaves_the_gloves_coached_without_spine_check():
    # The strip is away from 20 s to 40 s: a press then is not seen; one after it is.
    d = station([("kneading", 60)], [("kneading", 60)], seed=14,
                presses=[(25.0, 3.0, "spine_3", 8.0), (50.0, 3.0, "spine_6", 8.0)])

    def present(first):
        return (True, True, not (20 * d.rate_hz <= first < 40 * d.rate_hz))

    coach, steps, report = coach_station(d, present=present)
    assert [c.channel for c in report.spine_contacts] == ["spine_6"]
    assert report.device_gaps["spine_strip"] == [(20.0, 40.0)]
    for hand in ("left", "right"):
        hand_report = report.hands[hand]
        assert hand_report.gaps == []                              # the glove was coached throughout
        assert [p.technique for p in hand_report.phases] == ["kneading"]
    assert [p.technique for p in report.phases] == ["kneading"]
    assert "Spine strip missing 1 time(s), 20.0 s" in report.summary()


def test_a_contact_open_when_the_strip_goes_is_ended_there():
    d = station([("kneading", 60)], [("kneading", 60)], seed=15, presses=[(28.0, 5.0, "spine_3", 8.0)])

    def present(first):
        return (True, True, first < 30 * d.rate_hz)

    coach, steps, report = coach_station(d, present=present)
    ends = [e for e in station_events(steps, kind="spine_contact") if e.state == "end"]
    assert len(ends) == 1 and ends[0].end_s == 30.0 and "data gap" in ends[0].message
    assert [(c.channel, c.end_s) for c in report.spine_contacts] == [("spine_3", 30.0)]
