"""Order and timing rules, with the boundaries of every window."""

from __future__ import annotations

import pytest

from glovecoach.engine.protocol_check import check_phases, merge_phases
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.techniques import Phase

P = default_protocol()
TOL = P.phases[0].tolerance_s     # 15 s


def session(*items: tuple[str, float], gap: float = 3.0) -> list[Phase]:
    out, t = [], 5.0
    for technique, duration in items:
        out.append(Phase(technique, t, t + duration))
        t += duration + gap
    return out


def rules(phases, final=True, now=None) -> list[str]:
    now = now if now is not None else (phases[-1].end_s if phases else 0.0)
    return [v.rule for v in check_phases(P, phases, now, final)]


GOOD = [("stroking", 150), ("rubbing", 150), ("kneading", 150), ("stroking", 150)]


def test_a_good_session_passes() -> None:
    assert rules(session(*GOOD)) == []
    # Every optional phase too, in either order within their group (7 x 2 min fits in 15).
    assert rules(session(("stroking", 122), ("deep_stroking", 122), ("rubbing", 122), ("kneading", 122),
                         ("percussion", 122), ("vibration", 122), ("stroking", 122))) == []


@pytest.mark.parametrize("duration, expected", [
    (120 - TOL - 0.5, ["phase_too_short"]),   # just outside the tolerance
    (120 - TOL + 0.5, []),                    # just inside
    (180 + TOL - 0.5, []),
    (180 + TOL + 0.5, ["phase_too_long"]),
])
def test_phase_duration_window_boundaries(duration: float, expected: list[str]) -> None:
    assert rules(session(("stroking", 150), ("rubbing", duration), ("kneading", 150), ("stroking", 150))) == expected


@pytest.mark.parametrize("total, expected", [(899.0, []), (901.0, ["session_too_long"])])
def test_session_limit_boundary(total: float, expected: list[str]) -> None:
    # Five phases of at most 195 s each (3 min + tolerance), no gaps, adding up to `total`.
    each = total / 5
    phases = session(("stroking", each), ("rubbing", each), ("kneading", each), ("vibration", each),
                     ("stroking", each), gap=0.0)
    assert rules(phases) == expected


def test_must_begin_and_end_with_stroking() -> None:
    assert rules(session(("rubbing", 150), ("kneading", 150), ("stroking", 150))) == ["must_begin_with_stroking"]
    assert rules(session(("stroking", 150), ("rubbing", 150), ("kneading", 150))) == ["must_end_with_stroking"]


def test_wrong_order_is_reported_once_without_a_missing_phase() -> None:
    phases = session(("stroking", 150), ("kneading", 150), ("rubbing", 150), ("stroking", 150))
    assert rules(phases) == ["wrong_order"]
    # Live, when kneading starts, rubbing has not happened: it is reported as skipped then.
    live = check_phases(P, phases[:2], phases[1].start_s + 30, final=False)
    assert [v.rule for v in live] == ["missing_phase"] and "Rubbing" in live[0].message


def test_missing_phase() -> None:
    assert rules(session(("stroking", 150), ("rubbing", 150), ("stroking", 150))) == ["missing_phase"]
    assert rules(session(("stroking", 150), ("kneading", 150), ("stroking", 150))) == ["missing_phase"]
    assert rules([], now=60.0) == ["missing_phase"]


def test_optional_phases_may_be_left_out_but_not_misplaced() -> None:
    assert rules(session(("stroking", 150), ("rubbing", 150), ("kneading", 150), ("stroking", 150))) == []
    # Deep stroking belongs right after the first stroking, not after kneading.
    assert rules(session(("stroking", 150), ("rubbing", 150), ("kneading", 150), ("deep_stroking", 130),
                         ("stroking", 150))) == ["wrong_order"]


def test_short_slips_and_short_breaks_do_not_make_phases() -> None:
    phases = [Phase("stroking", 5, 80), Phase("deep_stroking", 80, 86), Phase("stroking", 86, 160),
              Phase("rubbing", 165, 310), Phase("kneading", 312, 460), Phase("stroking", 470, 620)]
    merged = merge_phases(phases, P.merge_gap_s, P.min_phase_s)
    assert [(m.technique, m.start_s, m.end_s) for m in merged][0] == ("stroking", 5, 160)
    assert rules(phases) == []
    # Boundary: a stretch of exactly min_phase_s is a phase, a hair shorter is a slip.
    for length, is_phase in ((P.min_phase_s, True), (P.min_phase_s - 0.1, False)):
        phases[1] = Phase("deep_stroking", 80, 80 + length)
        techniques = [m.technique for m in merge_phases(phases, P.merge_gap_s, P.min_phase_s)]
        assert ("deep_stroking" in techniques) is is_phase


def test_a_phase_resumed_briefly_after_a_pause_is_joined_not_dropped() -> None:
    # Vibration, a 36 s gel pause, then 19 s more of it (its first seconds went to confirming
    # the technique again) before the last stroking: one vibration phase, not a slip.
    phases = [Phase("vibration", 510.0, 598.5), Phase("vibration", 634.5, 653.5), Phase("stroking", 653.5, 800.0)]
    merged = merge_phases(phases, P.merge_gap_s, P.min_phase_s, P.pause_max_s)
    assert [(m.technique, m.start_s, m.end_s) for m in merged] == [("vibration", 510.0, 653.5),
                                                                   ("stroking", 653.5, 800.0)]
    assert merged[0].paused_s == 36.0
    # A short stretch after one of another technique is still a slip, and so is one after a
    # break longer than a pause may be.
    slip = [Phase("vibration", 510.0, 598.5), Phase("kneading", 600.0, 610.0), Phase("vibration", 612.0, 625.0),
            Phase("stroking", 625.0, 800.0)]
    assert [m.technique for m in merge_phases(slip, P.merge_gap_s, P.min_phase_s, P.pause_max_s)] == \
        ["vibration", "stroking"]
    assert merge_phases(slip, P.merge_gap_s, P.min_phase_s, P.pause_max_s)[0].end_s == 598.5
    late = [Phase("vibration", 510.0, 598.5), Phase("vibration", 660.0, 675.0), Phase("stroking", 675.0, 800.0)]
    assert merge_phases(late, P.merge_gap_s, P.min_phase_s, P.pause_max_s)[0].end_s == 598.5


def test_live_check_of_the_ongoing_phase() -> None:
    phases = session(("stroking", 150), ("rubbing", 30))
    now = phases[-1].start_s + 30
    # Still going on: 30 s of rubbing is not "too short" yet, and no final-stroking rule yet.
    assert rules(phases, final=False, now=now) == []
    now = phases[-1].start_s + 180 + TOL + 1
    assert rules(phases, final=False, now=now) == ["phase_too_long"]
    live = check_phases(P, phases, phases[0].start_s + 901, final=False)
    assert "session_too_long" in [v.rule for v in live]


def test_violation_keys_are_stable_between_calls() -> None:
    phases = session(("stroking", 150), ("kneading", 250))
    a = check_phases(P, phases, phases[-1].start_s + 60, final=False)
    b = check_phases(P, phases, phases[-1].start_s + 250, final=False)
    assert [v.rule for v in a] == ["missing_phase"]
    assert [v.rule for v in b] == ["missing_phase", "phase_too_long"]
    assert {v.key for v in a} <= {v.key for v in b}
