"""StationCoachingListener(hold_s=...): quiet stretches are coached in longer blocks, and the
decisions are those of coaching every block at once; a block that could raise a safety alert is
coached at once, so holding never delays an over-force or a spine contact."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_station_coach_data import REST_S, limit, station  # noqa: E402

from glovecoach.classroom.hub import coach_in_turn  # noqa: E402
from glovecoach.pipeline import Notifier  # noqa: E402
from glovecoach.pipeline.listener import Listener  # noqa: E402
from glovecoach.pipeline.station_coaching import (  # noqa: E402
    ALERT_DUE,
    NOT_DUE,
    STRETCH_DUE,
    StationCoachingListener,
    StationUpdate,
)
from glovecoach.pipeline.station_session import StationPipeline  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.vocabulary.station import StationGap, StationSamples  # noqa: E402
from glovecoach.vocabulary.techniques import MASSAGE_TECHNIQUES  # noqa: E402

BLOCK = 4          # samples per station block: a 20 ms wire frame at 200 Hz
SAFETY = ("overforce", "spine_contact")


class Collect:
    def __init__(self):
        self.updates: list[tuple[int, StationUpdate]] = []   # (messages handed in so far, update)
        self.seen = 0

    def on_message(self, message):
        if isinstance(message, StationUpdate):
            self.updates.append((self.seen, message))
        else:
            self.seen += 1


def coach(d, messages, hold_s, hold_phase=0.0):
    listener = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz,
                                       hold_s=hold_s, hold_phase=hold_phase)
    collect = Collect()
    notifier = Notifier(iter([]), [collect, listener, collect], join_samples=False)
    for m in messages:   # one message per pump, as a live station delivers them
        notifier.deliver(m)
    for u in listener.flush():
        notifier.deliver(u, 2)
    return listener, collect.updates


def events(updates):
    out = []
    for _, u in updates:
        out += [(e.kind, e.state, e.channel, round(e.at_s, 4)) for e in u.events]
        for hand, h in sorted(u.hands.items()):
            out += [(hand, e.kind, e.state, e.channel, round(e.at_s, 4)) for e in h.events]
    return sorted(out, key=str)


LONG_SQUEEZE = (REST_S + 20, 3.0)     # an over-force standing for 3 s on the right index tip
JABS = (REST_S + 8, 2.0)              # four 40 ms jabs on the right middle tip, one every 0.5 s


def session():
    hard = 4 * limit("kneading", "index_tip")
    d = station([("kneading", 30), (None, 4), ("stroking", 25)], [("kneading", 30), (None, 4), ("stroking", 25)],
                seed=7, presses=[(REST_S + 40, 2.0, "spine_4", 6.0)],
                squeezes=[("right", REST_S + 12, 1.5, "thumb_tip", 1.6 * limit("kneading", "thumb_tip")),
                          ("left", REST_S + 47, 1.2, "palm_center", 1.8 * limit("stroking", "palm_center")),
                          ("right", *LONG_SQUEEZE, "index_tip", hard),
                          # let go for 0.15 s and squeeze again: the alert ends and begins anew
                          ("left", REST_S + 22, 0.5, "thumb_tip", 3 * limit("kneading", "thumb_tip")),
                          ("left", REST_S + 22.65, 0.5, "thumb_tip", 3 * limit("kneading", "thumb_tip")),
                          # jabs shorter than the over-force's debounce: no alert, nothing to tell
                          *[("right", JABS[0] + 0.5 * k, 0.04, "middle_tip", hard) for k in range(4)]])
    present = (True, True, True)
    msgs = [StationSamples(a, d.raw[a:a + BLOCK], present) for a in range(0, d.n, BLOCK)]
    # the right glove drops out for a second: a presence change and a gap flush what is held
    cut = int(REST_S * d.rate_hz) + 30 * d.rate_hz
    msgs = [m if not (cut <= m.first_index < cut + d.rate_hz) else
            StationSamples(m.first_index, m.raw, (True, False, True)) for m in msgs]
    gap_at = cut + 3 * d.rate_hz
    msgs = [m for m in msgs if not (gap_at <= m.first_index < gap_at + 40)]
    msgs.insert(next(k for k, m in enumerate(msgs) if m.first_index > gap_at), StationGap(gap_at, 40, "none"))
    return d, msgs


def is_safety(event):
    return event[0] in SAFETY or event[1] in SAFETY


def station_told(updates):
    """The station's own phase changes and cues: told at the end of the block they were
    found in (the phases they name start where the hands' engines say, whatever the blocks)."""
    return [e for e in events(updates) if e[0] in ("phase_change", "cue")]


def test_held_blocks_give_the_same_decisions_and_report_in_fewer_calls():
    d, msgs = session()
    every, every_updates = coach(d, msgs, 0.0)
    held, held_updates = coach(d, msgs, 0.2)
    told_every, told_held = station_told(every_updates), station_told(held_updates)
    assert [e for e in events(held_updates) if e not in told_held] == \
        [e for e in events(every_updates) if e not in told_every]
    # the station's phase changes and cues are the same ones, told at most hold_s later
    assert [e[:3] for e in told_held] == [e[:3] for e in told_every] and told_every
    assert all(0 <= h[3] - e[3] <= 0.2 + 1e-9 for h, e in zip(told_held, told_every))
    kinds = {e[1] if e[0] in ("left", "right") else e[0] for e in events(every_updates)}
    assert {"overforce", "spine_contact"} <= kinds          # the session does raise both
    begins = [e for e in events(every_updates) if e[1:4] == ("overforce", "begin", "thumb_tip") and e[0] == "left"]
    assert len(begins) >= 2                                   # the let-go-and-squeeze-again did end it
    # most quiet blocks were held: far fewer engine calls
    assert len(held_updates) < len(every_updates) / 3
    assert held.held_samples == 0
    a, b = every.finish(), held.finish()
    assert a.to_dict() == b.to_dict()


def test_a_safety_alert_is_told_in_answer_to_the_block_that_raised_it():
    d, msgs = session()
    _, every_updates = coach(d, msgs, 0.0)
    _, held_updates = coach(d, msgs, 0.2)

    def told(updates):
        out = {}
        for seen, u in updates:
            for e in [*u.events, *(e for h in u.hands.values() for e in h.events)]:
                if e.kind in SAFETY and e.state == "begin":
                    out.setdefault((e.kind, e.channel, round(e.at_s, 4)), seen)
        return out

    when_every, when_held = told(every_updates), told(held_updates)
    assert when_every and when_held == when_every


def test_the_samples_held_at_the_end_are_coached_by_finish():
    d, msgs = session()
    listener = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz, hold_s=0.5)
    quiet = [m for m in msgs if isinstance(m, StationSamples)][:10]    # the hands at rest: held
    for m in quiet:
        listener.on_other(m)
    assert listener.held_samples == 10 * BLOCK
    report = listener.finish()
    assert listener.held_samples == 0
    assert np.isclose(report.duration_s, 10 * BLOCK / d.rate_hz)


def test_a_standing_over_force_and_short_jabs_are_coached_in_held_blocks():
    d, msgs = session()
    _, every_updates = coach(d, msgs, 0.0)
    _, held_updates = coach(d, msgs, 0.2)
    rate = d.rate_hz

    def calls(updates, start_s, seconds):
        return sum(1 for _, u in updates if start_s * rate <= u.first_index < (start_s + seconds) * rate)

    # the last 2.5 s of the 3 s squeeze: the alert stands, nothing can begin on that sensor
    start, seconds = LONG_SQUEEZE
    assert calls(held_updates, start + 0.5, seconds - 0.5) <= calls(every_updates, start + 0.5, seconds - 0.5) / 4
    # the jabs (40 ms, under the 100 ms debounce) never force a block out (no alert stands
    # then: one that stood below its most lenient release level would rightly be coached at once)
    quiet = [u for _, u in every_updates if JABS[0] * rate <= u.first_index < sum(JABS) * rate]
    assert not any(a.kind == "overforce" for u in quiet for h in u.hands.values() for a in h.active_alerts)
    assert calls(held_updates, *JABS) <= calls(every_updates, *JABS) / 4


def test_a_standing_over_force_level_is_above_where_any_limit_could_release_it():
    d, msgs = session()
    listener = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz)
    start, seconds = LONG_SQUEEZE
    column = d.layout.columns.index("right.index_tip")
    protocol = default_protocol()
    ratio = protocol.force_feedback.release_ratio("live")
    lenient = max((protocol.force_limit(t, "index_tip", "live")[1] or np.inf)
                  for t in (None, *MASSAGE_TECHNIQUES))
    seen_standing = False
    for m in msgs:
        listener.on_other(m)
        if not isinstance(m, StationSamples):
            continue
        levels = listener.coach.standing_overforce_levels()
        standing = {a.channel for a in listener.coach.engines["right"].active_alerts() if a.kind == "overforce"}
        if "index_tip" in standing:
            seen_standing = True
            # a sample at this level is over every technique's release level, baseline included
            assert levels[column] >= ratio * lenient
        else:
            assert np.isnan(levels[column])
        if m.first_index > (start + seconds + 1) * d.rate_hz:
            break
    assert seen_standing


def test_stations_with_their_own_hold_phase_coach_in_turn_with_the_same_decisions():
    d, msgs = session()
    _, every_updates = coach(d, msgs, 0.0)
    every_safety = [e for e in events(every_updates) if is_safety(e)]
    for phase in (0.0, 0.5):
        listener, updates = coach(d, msgs, 0.2, phase)
        assert [e for e in events(updates) if is_safety(e)] == every_safety
        # quiet stretches (0.2 s) end just past the station's own turn
        rows = listener.hold_rows
        quiet = [u.first_index + u.n_samples for _, u in updates if u.n_samples >= rows - BLOCK]
        # (a block crosses the turn; a stretch cut short by a block that may alert ends elsewhere)
        at_turn = [(end + listener.hold_offset) % rows < BLOCK for end in quiet]
        assert len(quiet) > 100 and np.mean(at_turn) > 0.95
    assert listener.hold_offset == listener.hold_rows // 2



def test_a_deferring_listener_coaches_the_same_stretches_when_asked_and_says_which_hold_an_alert():
    """A room's stations defer (`defer=True`): a due stretch waits for the room to call
    `flush()`, alerts first. Asked at once, the decisions, the moment each safety alert is told
    and the report are those of the listener that coaches them itself."""
    d, msgs = session()
    held, held_updates = coach(d, msgs, 0.2)
    listener = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz,
                                       hold_s=0.2, defer=True)
    collect = Collect()
    notifier = Notifier(iter([]), [collect, listener, collect], join_samples=False)
    by_itself = 0            # updates the deferring listener made inside process_raw
    dues = []
    for m in msgs:
        before = len(collect.updates)
        notifier.deliver(m)
        by_itself += len(collect.updates) - before
        if listener.due:
            dues.append(listener.due)
            coached = listener.flush()
            assert len(coached) == 1 and listener.due == NOT_DUE
            alerts = [e for e in [*coached[0].events, *(e for h in coached[0].hands.values() for e in h.events)]
                      if e.kind in SAFETY and e.state == "begin"]
            # a stretch holding the start of a safety alert is always the alert kind of due
            assert not alerts or dues[-1] == ALERT_DUE, alerts
            notifier.deliver(coached[0], 2)
    for u in listener.flush():
        notifier.deliver(u, 2)
    # only the gap and the glove's coming and going coach anything by themselves
    assert by_itself <= 3
    assert events(collect.updates) == events(held_updates)
    assert [seen for seen, _ in collect.updates] == [seen for seen, _ in held_updates]
    assert dues.count(ALERT_DUE) >= 5 and dues.count(STRETCH_DUE) > 100
    assert listener.finish().to_dict() == held.finish().to_dict()


class Order(Listener):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def on_other(self, message):
        if isinstance(message, StationUpdate):
            self.log.append(self.name)


def test_a_room_coaches_every_alert_before_the_quiet_stretches_due_with_it():
    """`coach_in_turn` over real deferring StationPipelines (fed at their notifier, as their
    link would): in a round where one station holds an alert and the others quiet stretches,
    the alert is coached first, wherever the station stands in the room's turn; with no time
    left it is the only one coached, the others in the next round."""
    d, msgs = session()
    log: list[str] = []
    stations = {name: StationPipeline({}, d.layout, d.rate_hz, protocol=default_protocol(), coach_hold_s=0.2,
                                      coach_hold_phase=phase, defer_coaching=True, listeners=[Order(name, log)])
                for name, phase in (("a", 0.0), ("b", 0.3), ("c", 0.6))}
    # b and c play the session from its start, "a" from 10 s in (its squeezes come earlier)
    skip = int(10 * d.rate_hz / BLOCK)
    feeds = {"a": msgs[skip:], "b": msgs, "c": msgs}
    contested = budget_rounds = 0
    for k in range(len(msgs) - skip):
        for name, pipeline in stations.items():
            pipeline.notifier.deliver(feeds[name][k])
        dues = {name: p.coaching_due for name, p in stations.items()}
        log.clear()
        if dues["a"] == ALERT_DUE and STRETCH_DUE in (dues["b"], dues["c"]):
            contested += 1
            if contested % 2:
                n, stopped = coach_in_turn([stations["b"], stations["c"], stations["a"]])
                assert stopped is None and log[0] == "a" and len(log) == n == 1 + list(dues.values()).count(STRETCH_DUE)
            else:
                budget_rounds += 1
                n, stopped = coach_in_turn([stations["c"], stations["b"], stations["a"]], budget_s=0.0)
                assert stopped is stations["a"] and log == ["a"] and n == 1
                n, stopped = coach_in_turn([stations["c"], stations["b"], stations["a"]], budget_s=None)
                assert log[1:] == [name for name in ("c", "b") if dues[name] == STRETCH_DUE]
        else:
            coach_in_turn(list(stations.values()))
        assert all(p.coaching_due == NOT_DUE for p in stations.values())
    assert contested >= 2 and budget_rounds >= 1
