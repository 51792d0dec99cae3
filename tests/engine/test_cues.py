"""engine.cues alone: phase changes, "move on", the session warning and live violations, once each."""

from __future__ import annotations

import pytest

from glovecoach.engine.cues import ProtocolCues
from glovecoach.engine.technique import PhaseChange
from glovecoach.protocols import default_protocol

P = default_protocol()      # phases 120-180 s, warning at 780 s, limit 900 s, min_phase_s 20 s


def test_a_change_is_announced_and_a_none_phase_is_not() -> None:
    cues = ProtocolCues(P)
    (event,) = cues.on_change(PhaseChange("stroking", 0.5, 6.5, None))
    assert (event.kind, event.at_s, event.start_s, event.technique) == ("phase_change", 6.5, 0.5, "stroking")
    assert event.message == "Now: stroking."
    assert cues.on_change(PhaseChange("none", 100.0, 108.0, "stroking")) == []


def test_move_on_when_the_phase_reaches_its_maximum_once() -> None:
    cues = ProtocolCues(P)
    cues.on_change(PhaseChange("stroking", 0.0, 6.0, None))
    assert cues.due(179.0, "stroking") == []
    status = cues.phase_status(179.0, "stroking")
    assert (status.technique, status.phase_window, status.cue) == ("stroking", (120.0, 180.0), None)
    assert status.phase_elapsed_s == pytest.approx(179.0) and status.session_elapsed_s == pytest.approx(179.0)
    (cue,) = cues.due(181.0, "stroking")
    assert (cue.kind, cue.rule, cue.at_s) == ("cue", "phase_too_long", 180.0)
    assert cue.message == "Time to move on from stroking."
    assert cues.phase_status(181.0, "stroking").cue == "move_on"
    assert cues.due(182.0, "stroking") == []                       # said once
    # Past max_s + tolerance the rule is broken: a violation, once.
    (violation,) = cues.due(196.0, "stroking")
    assert (violation.kind, violation.rule, violation.at_s) == ("violation", "phase_too_long", 195.0)
    assert cues.due(200.0, "stroking") == []
    # The next phase clears the cue.
    cues.on_change(PhaseChange("rubbing", 200.0, 206.0, "stroking"))
    assert cues.phase_status(210.0, "rubbing").cue is None


def test_no_move_on_while_the_confirmed_technique_is_another() -> None:
    cues = ProtocolCues(P)
    cues.on_change(PhaseChange("stroking", 0.0, 6.0, None))
    assert [e.kind for e in cues.due(181.0, "none")] == []


def test_session_warning_at_warn_at_s_from_the_first_phase() -> None:
    cues = ProtocolCues(P)
    cues.on_change(PhaseChange("stroking", 10.0, 16.0, None))
    events = [e for e in cues.due(10.0 + 781.0, None) if e.kind == "cue"]
    assert [(e.rule, e.at_s, e.message) for e in events] == [
        ("session_too_long", 790.0, "2 minutes left: finish with stroking.")]
    assert [e for e in cues.due(800.0, None) if e.kind == "cue"] == []


def test_a_session_beginning_with_kneading_is_told_once_the_phase_counts() -> None:
    cues = ProtocolCues(P)
    assert cues.on_change(PhaseChange("kneading", 0.0, 6.0, None))[1:] == []   # 6 s: not a phase yet
    events = cues.due(25.0, "kneading")
    assert sorted(e.rule for e in events) == ["missing_phase", "must_begin_with_stroking"]   # and rubbing skipped
    (begin,) = [e for e in events if e.rule == "must_begin_with_stroking"]
    assert begin.at_s == 20.0 and begin.message == "Begin with stroking, not kneading."
    assert cues.due(30.0, "kneading") == []


def test_phases_so_far_run_to_now() -> None:
    cues = ProtocolCues(P)
    cues.on_change(PhaseChange("stroking", 0.0, 6.0, None))
    cues.on_change(PhaseChange("none", 130.0, 138.0, "stroking"))
    phases = cues.phases_so_far(150.0)
    assert [(p.technique, p.start_s, p.end_s) for p in phases] == [("stroking", 0.0, 130.0), ("none", 130.0, 150.0)]
    status = cues.phase_status(150.0, "none")
    assert status.technique is None and [p.technique for p in status.phases] == ["stroking"]


def test_what_comes_next_and_time_left() -> None:
    cues = ProtocolCues(P)
    assert cues.phase_status(0.0, None).next_techniques == ("stroking",)
    cues.on_change(PhaseChange("stroking", 0.0, 6.0, None))
    status = cues.phase_status(150.0, "stroking")
    assert status.next_techniques == ("deep_stroking", "rubbing")      # deep stroking is optional
    assert status.time_left_s == pytest.approx(30.0)
    cues.on_change(PhaseChange("rubbing", 150.0, 156.0, "stroking"))
    cues.on_change(PhaseChange("kneading", 300.0, 306.0, "rubbing"))
    assert cues.phase_status(400.0, "kneading").next_techniques == ("vibration", "percussion", "stroking")
    cues.on_change(PhaseChange("percussion", 450.0, 456.0, "kneading"))
    assert cues.phase_status(500.0, "percussion").next_techniques == ("vibration", "stroking")   # same group, any order
    cues.on_change(PhaseChange("stroking", 600.0, 606.0, "percussion"))
    status = cues.phase_status(800.0, "stroking")
    assert status.next_techniques == () and status.time_left_s == pytest.approx(-20.0)
    assert ProtocolCues(P).phase_status(5.0, None).time_left_s is None
