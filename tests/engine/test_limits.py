"""engine.limits alone: the protocol's force windows per technique, which technique's limits
apply as labels stream in, the grace after a lift, and the limits of a finished session."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.limits import LimitSchedule, LimitTable, ReturnGrace
from glovecoach.engine.technique import PhaseChange, WindowLabel
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS
from glovecoach.vocabulary.techniques import Phase

P = default_protocol()
RATE = 100
TABLE = LimitTable(P, GLOVE_CHANNELS)


def col(name: str) -> int:
    return GLOVE_CHANNELS.index(name)


def test_kneading_and_stroking_get_their_own_windows_from_the_protocol() -> None:
    stroking, kneading = TABLE.row("stroking"), TABLE.row("kneading")
    # classic_back_massage.toml: stroking fingertips 8 N live / 10 N scoring, kneading 20 / 25,
    # with a thumb-tip entry of its own (25 / 30) and a knuckle minimum (5 live, 4 scoring).
    assert stroking["live_max"][col("index_tip")] == 8 and stroking["scoring_max"][col("index_tip")] == 10
    assert kneading["live_max"][col("index_tip")] == 20 and kneading["scoring_max"][col("index_tip")] == 25
    assert kneading["live_max"][col("thumb_tip")] == 25            # the channel entry beats its region's
    assert kneading["live_max"][col("palm_center")] == 12 and stroking["live_max"][col("palm_center")] == 10
    assert kneading["live_min"][col("knuckles_index_middle")] == 5
    assert kneading["scoring_min"][col("knuckles_ring_little")] == 4
    assert np.isnan(stroking["live_min"]).all()                   # stroking has no minimum anywhere
    # A technique the table does not know, and no technique, get the "*" entries.
    assert TABLE.row("juggling") is TABLE.default and TABLE.row(None) is TABLE.default
    assert TABLE.default["live_max"][col("index_tip")] == 25


def test_the_most_lenient_applies_while_a_change_is_unconfirmed() -> None:
    stroking = TABLE.effective("stroking")
    mixed = TABLE.effective("stroking", frozenset({"kneading"}))
    assert stroking["live_max"][col("thumb_tip")] == 8 and mixed["live_max"][col("thumb_tip")] == 25
    # Kneading's knuckle minimum does not apply while stroking is still possible.
    assert np.isnan(mixed["live_min"][col("knuckles_index_middle")])
    assert TABLE.effective("kneading")["live_min"][col("knuckles_index_middle")] == 5


def test_idle_knuckles_have_no_minimum() -> None:
    working = TABLE.for_stretch("kneading", frozenset(), True)
    idle = TABLE.for_stretch("kneading", frozenset(), False)
    k = col("knuckles_index_middle")
    assert working["live_min"][k] == 5 and np.isnan(idle["live_min"][k]) and np.isnan(idle["scoring_min"][k])
    assert idle["live_max"][k] == working["live_max"][k] == 20     # the maximum still holds
    assert working["live_min"][k] == 5                           # the cached row was not touched


def test_live_now_names_every_glove_sensor() -> None:
    now = TABLE.live_now("kneading", frozenset())
    assert set(now) == set(GLOVE_CHANNELS)
    assert now["knuckles_index_middle"] == (5.0, 20.0) and now["index_tip"] == (None, 20.0)


def test_per_sample_limits_follow_the_stretches() -> None:
    stretches = [(0, 3, "stroking", frozenset(), False), (3, 5, "kneading", frozenset(), True)]
    lim = TABLE.per_sample(stretches, 5)
    assert lim["live_max"].shape == (5, len(GLOVE_CHANNELS))
    assert list(lim["live_max"][:, col("index_tip")]) == [8, 8, 8, 20, 20]
    one = TABLE.per_sample([(0, 5, "stroking", frozenset(), False)], 5)
    assert one["live_max"].shape == (1, len(GLOVE_CHANNELS))     # broadcasts over the block


def label(end: int, technique: str, knuckles: bool = False) -> WindowLabel:
    return WindowLabel(end - 4 * RATE, end, technique, 0.9, knuckles)


def test_schedule_switches_where_labels_and_confirmations_arrive() -> None:
    schedule = LimitSchedule(RATE)
    seen = []
    out = schedule.stretches([label(450, "stroking")], [PhaseChange("stroking", 0.0, 4.8, None)], 0, 1000, seen.append)
    assert [(a, b, t) for a, b, t, *_ in out] == [(0, 450, None), (450, 480, None), (480, 1000, "stroking")]
    assert out[1][3] == frozenset({"stroking"}) and [c.technique for c in seen] == ["stroking"]
    assert schedule.applied == "stroking" and schedule.candidate == "stroking"
    # A kneading window: its limits join stroking's until the change is confirmed (the
    # stroking window of 7.5 s before has dropped out of the last 4 s)...
    out = schedule.stretches([label(1200, "kneading", True)], [], 1000, 500, seen.append)
    assert out[-1][2:] == ("stroking", frozenset({"kneading"}), True)
    assert np.isnan(TABLE.for_stretch(*out[-1][2:])["live_min"][col("knuckles_index_middle")])
    # ...and a "none" phase keeps the last real technique's limits.
    schedule.stretches([], [PhaseChange("none", 15.0, 16.0, "stroking")], 1500, 200, seen.append)
    assert schedule.current == "none" and schedule.applied == "stroking" and schedule.confirmed is None
    assert schedule.technique_for(100) is None and schedule.technique_for(500) == "stroking"


def test_schedule_forgets_labels_older_than_a_window() -> None:
    schedule = LimitSchedule(RATE)
    schedule.stretches([label(400, "kneading"), label(900, "stroking")], [], 0, 1000, lambda c: None)
    assert schedule.recent == frozenset({"stroking"})   # 5 s apart: the kneading window is out of play


def run_grace(on: np.ndarray, block: int) -> np.ndarray:
    grace = ReturnGrace(RATE)
    strict = {k: np.array([[1.0]]) for k in ("live_max", "scoring_max")} | {
        k: np.array([[0.5]]) for k in ("live_min", "scoring_min")}
    default = {k: np.array([9.0]) for k in ("live_max", "scoring_max")} | {
        k: np.array([np.nan]) for k in ("live_min", "scoring_min")}
    out = []
    for a in range(0, len(on), block):
        part = on[a:a + block]
        lim = grace.apply(strict, part, a, len(part), default)
        out.append(np.broadcast_to(lim["live_max"], (len(part), 1))[:, 0])
    return np.concatenate(out)


@pytest.mark.parametrize("block", [7, 100, 2000])
def test_default_limits_for_a_window_after_the_hand_returns(block: int) -> None:
    on = np.ones(2000, dtype=bool)
    on[500:510] = False            # 0.1 s: a bounce, not a lift
    on[1000:1050] = False          # 0.5 s: a lift
    live_max = run_grace(on, block)
    # Only the lift of 0.3 s or more opens a window's length (4 s) of the default limits.
    assert (live_max[:1050] == 1).all()
    assert (live_max[1050:1450] == 9).all() and (live_max[1450:] == 1).all()


def test_hindsight_limits_of_a_finished_session() -> None:
    phases = [Phase("stroking", 10.0, 20.0), Phase("kneading", 20.0, 40.0)]
    spans = TABLE.phase_spans(phases, RATE)
    # Each phase widened by BOUNDARY_LENIENCY_S (2 s) on both sides.
    assert [(a, b, t) for a, b, _, t in spans] == [(800, 2200, "stroking"), (1800, 4200, "kneading")]
    mx, mn = TABLE.hindsight(0, 5000, spans)
    tip = col("index_tip")
    assert mx[0, tip] == 30                        # before any phase: the "*" scoring maximum
    assert mx[1000, tip] == 10                     # inside stroking
    assert mx[2000, tip] == 25                     # near the boundary: the more lenient (kneading)
    # 3 s from the boundary is past the boundary's uncertainty: the phase's own limits (a window's
    # length, 4 s, let an over-force 3-4 s into vibration go against the kneading before it).
    assert mx[1700, tip] == 10 and mx[2300, tip] == 25
    assert mx[3000, tip] == 25 and mn[3000, col("knuckles_index_middle")] == 4
    assert np.isnan(mn[2000, col("knuckles_index_middle")])   # stroking has no minimum: none applies
    assert mx[4900, tip] == 30
