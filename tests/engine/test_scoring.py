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


def _kept_session() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """60 s at RATE: an over-force press in stroking, a saturated one in kneading, and light
    knuckle presses in kneading (below its 4 N scoring minimum, knuckles working)."""
    g = len(GLOVE_CHANNELS)
    n = 60 * RATE
    rng = np.random.default_rng(5)
    x = rng.uniform(0.0, 0.4, (n, g)).astype(np.float32)
    sat = np.zeros((n, g), bool)
    pressing = np.zeros((n, g), bool)
    working = np.zeros(n, bool)
    tip, palm = GLOVE_CHANNELS.index("index_tip"), GLOVE_CHANNELS.index("palm_center")
    x[10 * RATE:11 * RATE, tip] = 15.0                  # in stroking: over its 10 N
    x[30 * RATE:31 * RATE, palm] = 60.0                 # in kneading: saturated
    sat[30 * RATE:31 * RATE, palm] = True
    knuckle = GLOVE_CHANNELS.index("knuckles_index_middle")
    working[35 * RATE:50 * RATE] = True
    for k in range(8):                                  # 0.5 s presses of 2.5 N, one a second
        a = (36 + k) * RATE
        x[a:a + RATE // 2, knuckle] = 2.5
        pressing[a:a + RATE // 2, knuckle] = True
    level = rng.uniform(1.0, 2.0, n).astype(np.float32)
    return x, sat, pressing, working, level


PHASES = [ObservedPhase("stroking", 0, 25), ObservedPhase("kneading", 25, 60)]


def _scorer_fed(block: int, skip: tuple[int, int] = (0, 0)) -> HindsightScorer:
    x, sat, pressing, working, level = _kept_session()
    scorer = HindsightScorer(P, LimitTable(P, GLOVE_CHANNELS), RATE)
    for a in range(0, len(x), block):
        b = min(a + block, len(x))
        if skip[0] <= a < skip[1]:
            continue                                    # a gap in the session
        scorer.keep(a, x[a:b], sat[a:b], pressing[a:b], working[a:b], level[a:b])
    return scorer


def test_the_kept_session_gives_the_same_episodes_however_its_blocks_came() -> None:
    """The scorer keeps the session in packed runs (flags eight to a byte, blocks joined):
    what it judges at the end is what was kept, block for block. Every kind of episode comes
    out, and the same from 7-sample blocks as from one block of the whole session."""
    whole = _scorer_fed(60 * RATE).episodes(PHASES, 60 * RATE, lambda index: None)
    over, under = whole
    assert [(e.channel, e.start_s, e.saturated) for e in over] == [("index_tip", 10.0, False),
                                                                 ("palm_center", 30.0, True)]
    assert [e.channel for e in under] == ["knuckles_index_middle"]       # pressing and working kept
    for block in (7, 20, 333):
        assert _scorer_fed(block).episodes(PHASES, 60 * RATE, lambda index: None) == whole


def test_the_kept_session_reads_back_exactly_across_a_gap_and_keeps_its_flags_as_bits() -> None:
    x, _, _, _, level = _kept_session()
    scorer = _scorer_fed(20, skip=(20 * RATE, 22 * RATE))         # 2 s missing
    runs = scorer.stretches(0, 60 * RATE)
    assert [(first, len(forces)) for first, forces, _ in runs] == [(0, 20 * RATE), (22 * RATE, 38 * RATE)]
    for first, forces, levels in runs:
        np.testing.assert_array_equal(forces, x[first:first + len(forces)])
        np.testing.assert_array_equal(levels, level[first:first + len(forces)])
    [(first, forces, _)] = scorer.stretches(30 * RATE + 5, 31 * RATE)
    assert first == 30 * RATE + 5 and len(forces) == RATE - 5
    # float32 forces, four flags (two per sensor, one per sample) at a bit each, the level:
    # against the flags kept as bools, block by block, as before
    g = len(GLOVE_CHANNELS)
    kept = 58 * RATE
    assert scorer.kept_bytes <= kept * (4 * g + 2 * -(-g // 8) + 1 + 4)
    assert scorer.kept_bytes < 0.75 * kept * (4 * g + 2 * g + 1 + 4)
