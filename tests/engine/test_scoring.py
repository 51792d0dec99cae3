"""engine.scoring alone: the statistics, the score and its weights, the hindsight episodes."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.limits import LimitTable
from glovecoach.engine.protocol_check import ObservedPhase
from glovecoach.engine.report import ForceEpisode
from glovecoach.engine.scoring import (
    CONTACT_N,
    ForceStats,
    HindsightScorer,
    during_fault,
    session_score,
    spine_map,
    timing_pct,
    weighted_total,
)
from glovecoach.protocols import (
    DEFAULT_PROTOCOL_PATH,
    ProtocolError,
    ScoreWeights,
    default_protocol,
    parse_protocol,
)
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS
from glovecoach.vocabulary.techniques import Phase

P = default_protocol()
RATE = 100
TEXT = DEFAULT_PROTOCOL_PATH.read_text()
# A correct session: every required phase 150 s long (inside 120-180 s).
GOOD = [Phase("stroking", 0, 150), Phase("rubbing", 150, 300), Phase("kneading", 300, 450), Phase("stroking", 450, 600)]


def with_score(section: str):
    start = TEXT.index("\n[score]\n") + 1
    end = TEXT.index("\n\n", start)
    return parse_protocol(TEXT[:start] + section + TEXT[end:], "test.toml")


def test_the_default_weights_are_the_documented_ones() -> None:
    assert P.score == ScoreWeights(0.5, 0.3, 0.2, 20.0)
    assert with_score("").score == P.score                     # no [score]: the same defaults
    # docs/engine.md: 0.5 x force % + 0.3 x timing % + 0.2 x (100 - 20 per violation, floored at 0)
    assert weighted_total(P.score, 100.0, 100.0, 0) == 100.0
    assert weighted_total(P.score, 90.0, 50.0, 2) == pytest.approx(0.5 * 90 + 0.3 * 50 + 0.2 * 60)
    assert weighted_total(P.score, 100.0, 100.0, 7) == pytest.approx(80.0)     # the violations part floors at 0


def test_changing_a_weight_changes_the_score_as_documented() -> None:
    phases, violations = GOOD, ["a", "b"]
    base = session_score(P, phases, violations, 80.0)
    assert base["total"] == round(0.5 * 80 + 0.3 * 100 + 0.2 * 60) == 82
    force_heavy = with_score("[score]\nforce_weight = 0.8\ntiming_weight = 0.1\nviolations_weight = 0.1\n")
    assert session_score(force_heavy, phases, violations, 80.0)["total"] == round(0.8 * 80 + 0.1 * 100 + 0.1 * 60) == 80
    lenient = with_score("[score]\npoints_per_violation = 5\n")
    assert session_score(lenient, phases, violations, 80.0)["total"] == round(0.5 * 80 + 0.3 * 100 + 0.2 * 90) == 88
    # The breakdown does not depend on the weights.
    assert session_score(force_heavy, phases, violations, 80.0)["breakdown"] == base["breakdown"] == {
        "force_within_window_pct": 80.0, "timing": 100.0, "violations": 2}


@pytest.mark.parametrize("section, field, problem", [
    ("[score]\nforce_weight = 0.6\n", "score", "must be 1"),
    ("[score]\nforce_weight = 1.5\ntiming_weight = 0\nviolations_weight = 0\n", "score.force_weight", "[0, 1]"),
    ("[score]\ntiming_weight = -0.1\n", "score.timing_weight", "at least 0"),
    ("[score]\npoints_per_violation = 150\n", "score.points_per_violation", "[0, 100]"),
    ("[score]\nbonus = 3\n", "score.bonus", "unknown field"),
    ("[score]\nforce_weight = \"half\"\n", "score.force_weight", "must be a number"),
])
def test_bad_score_weights_are_refused_with_the_field(section: str, field: str, problem: str) -> None:
    with pytest.raises(ProtocolError) as info:
        with_score(section)
    assert info.value.field == field and problem in info.value.problem and info.value.line is not None


def test_no_massage_no_grade() -> None:
    score = session_score(P, [Phase("stroking", 0, 5)], ["x"], 100.0)   # shorter than min_phase_s
    assert score == {"total": 0, "graded": False,
                     "breakdown": {"force_within_window_pct": None, "timing": None, "violations": 1}}


def test_timing_counts_phases_inside_their_window_with_tolerance() -> None:
    judged = [ObservedPhase("stroking", 0, 110), ObservedPhase("rubbing", 110, 300),   # 110 s: within 15 s tolerance
              ObservedPhase("kneading", 300, 400)]                                   # 100 s: too short
    assert timing_pct(P, judged) == pytest.approx(100 * 2 / 3)
    assert timing_pct(P, []) == 0.0


def test_force_stats_per_technique_and_sensor() -> None:
    stats = ForceStats(GLOVE_CHANNELS, RATE)
    g = len(GLOVE_CHANNELS)
    x = np.zeros((200, g))
    tip, palm = GLOVE_CHANNELS.index("index_tip"), GLOVE_CHANNELS.index("palm_center")
    x[:100, tip] = 5.0                   # stroking: within its 10 N scoring maximum
    x[100:150, tip] = 12.0               # kneading: within 25 N
    x[150:200, tip] = CONTACT_N / 2      # not in contact: not counted
    x[:, palm] = 20.0                    # over the palm scoring maximum of stroking (12 N) and kneading (15 N)
    sat = np.zeros(x.shape, bool)
    sat[120, palm] = True
    scoring_max = np.where(np.arange(200)[:, None] < 100, LimitTable(P, GLOVE_CHANNELS).row("stroking")["scoring_max"],
                           LimitTable(P, GLOVE_CHANNELS).row("kneading")["scoring_max"])
    stretches = [(0, 100, "stroking", frozenset(), False), (100, 200, "kneading", frozenset(), False)]
    stats.add(stretches, x, sat, scoring_max, np.zeros(g))
    region = stats.per_region()
    assert region["index_tip"]["stroking"] == {"peak_n": 5.0, "saturated": False, "mean_n": 5.0, "contact_s": 1.0}
    assert region["index_tip"]["kneading"]["contact_s"] == 0.5 and region["index_tip"]["kneading"]["peak_n"] == 12.0
    assert region["palm_center"]["kneading"]["saturated"] is True
    assert "thumb_tip" not in region
    # In contact: 150 tip samples (all within) + 200 palm samples (none within: 20 N > 12 and > 15).
    assert stats.contact_samples == 350 and stats.within_samples == 150
    assert stats.within_pct == pytest.approx(100 * 150 / 350)
    assert ForceStats(GLOVE_CHANNELS, RATE).within_pct == 100.0     # no contact: nothing outside


def test_a_press_is_scored_against_the_phase_it_lies_in() -> None:
    g = len(GLOVE_CHANNELS)
    tip = GLOVE_CHANNELS.index("index_tip")
    x = np.zeros((60 * RATE, g), np.float32)
    x[10 * RATE:11 * RATE, tip] = 15.0     # in stroking: over its 10 N scoring maximum
    x[40 * RATE:41 * RATE, tip] = 15.0     # in kneading: under its 25 N
    scorer = HindsightScorer(P, LimitTable(P, GLOVE_CHANNELS), RATE)
    for a in range(0, len(x), 700):
        part = x[a:a + 700]
        scorer.keep(a, part, np.zeros(part.shape, bool), np.zeros(part.shape, bool), np.zeros(len(part), bool))
    phases = [ObservedPhase("stroking", 0, 25), ObservedPhase("kneading", 25, 60)]
    over, under = scorer.episodes(phases, len(x), lambda index: None)
    assert under == []
    assert over == [ForceEpisode("index_tip", 10.0, 11.0, 15.0, False, "stroking", 10.0)]


def test_faults_excuse_episodes_up_to_a_minute_before_they_were_told() -> None:
    health = {"index_tip": {"episodes": [{"state": "stuck", "start_s": 100.0, "end_s": 130.0}]}}
    ep = ForceEpisode("index_tip", 45.0, 46.0, 40.0, False, "kneading", 25.0)
    assert during_fault(health, ep)
    assert not during_fault(health, ForceEpisode("index_tip", 20.0, 21.0, 40.0, False, "kneading", 25.0))
    assert not during_fault(health, ForceEpisode("thumb_tip", 45.0, 46.0, 40.0, False, "kneading", 25.0))


def test_no_spine_strip_no_spine_map() -> None:
    assert spine_map(None, (), np.zeros(0)) == {}
