"""StationCoach: a station's hands and its spine strip coached as one session.

A station is a left glove, a right glove and a spine strip (or fewer of them), put on one
sample index by the station timeline. Each hand is coached by a `CoachingEngine` of its own
on that glove's channels: force limits per hand and region, technique recognition, statistics,
the hand's own report and score, exactly as for today's one glove. What only the station can
decide is decided here:

* **technique of the station**: both hands usually do the same technique; when they do, that
  is the station's; when only one hand works (the other lifted for gel, or its glove absent),
  the working hand's; when they differ, the station keeps the technique it had if one hand
  still does it (one hand changing first is not yet a change of phase), else the technique of
  the hand that began its own first. Hands that differ for longer than
  `HANDS_DIFFER_TOLERANCE_S` are told ("Your hands differ: left kneading, right stroking.");
* **phase timing** (order, too short, too long, "move on") is judged on the station's
  technique, so one protocol is judged once, not once per hand;
* **spine contact**: the strip is read while *either* hand is on the back, its resting load
  (the partner's) learned while *both* are off; a contact is told and reported once, however
  many hands were on the back, with the hands that were;
* **score** per hand (each hand's report, its spine contacts included) and for the station.

Why the strip is not part of each hand's engine: two engines each gated by their own hand
would learn the partner's resting load while the *other* hand may be pressing near the
spine, and would report a contact under both hands twice; and a hand engine cannot go on
coaching its glove while the strip's columns are missing. So the hand engines see the glove
channels only, and one `SpineTracker` here sees the strip, gated by both hands' contact.

Absent devices (a `present` flag per device and block): an absent glove is a gap for that
hand's engine (its open alerts end, nothing of it is judged there) while the other hand goes
on; an absent strip is a gap for the spine check only (open contacts end, the half-learned
baseline chunk is dropped) while both hands go on being coached.

Live station decisions (technique, "hands differ", cues) are taken at the end of every block,
as the live display sees it (blocks of 20-200 ms live); the report's station phases, hand
agreement and differences are found in hindsight from each hand's phases, and so do not
depend on how the samples were cut into blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.engine import messages
from glovecoach.engine.coaching import ActiveAlert, CoachingEngine, EngineState
from glovecoach.engine.cues import PhaseStatus, ProtocolCues
from glovecoach.engine.detectors import Excursion, ExcursionDetector
from glovecoach.engine.events import EngineEvent
from glovecoach.engine.health import HealthChange, SensorHealthMonitor
from glovecoach.engine.protocol_check import Violation, check_phases, judged_phases
from glovecoach.engine.report import ForceEpisode, SessionReport, SpineContact, StationReport, hands_words
from glovecoach.engine.scoring import during_fault, session_score, spine_map, timing_pct, weighted_total
from glovecoach.engine.spine import SpineTracker
from glovecoach.protocols import Protocol
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import SPINE_CHANNELS
from glovecoach.vocabulary.station import StationLayout
from glovecoach.vocabulary.techniques import Phase, technique_name

# Two hands changing technique together are confirmed a second or two apart (each hand's
# recogniser needs its own few seconds); a difference lasting longer is a real one.
HANDS_DIFFER_TOLERANCE_S = 5.0
# What a hand's engine says that the station says instead (once, on the station's technique).
STATION_TELLS = frozenset({"phase_change", "cue", "violation"})
# `alert_floors`: a sample at this share of a threshold already counts as a possible alert
# (margin for the baselines moving while samples are held).
ALERT_FLOOR_SHARE = 0.8
# `standing_overforce_levels`: kept above the release level (for the baseline moving while
# samples are held).
STANDING_MARGIN_N = 0.5
OPEN_SENSOR_MIN_S = 0.5      # as CoachingEngine: a lead reading open this long is reported


# ----------------------------------------------------------------------------- sentences
# (Station sentences; they belong with the others in engine/messages.py once that file can
# take them.)

def hands_differ(techniques: Mapping[str, str]) -> str:
    what = ", ".join(f"{hand} {technique_name(t)}" for hand, t in techniques.items())
    return f"Your hands differ: {what}. Do the same technique with both hands."


def with_hands(message: str, hands: Sequence[str]) -> str:
    """A spine message with the hands that were on the back."""
    return f"{message.rstrip('.')} ({hands_words(hands)} on the back)."


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class StationEvent(EngineEvent):
    """An event of the station itself: `hands` are the hands it concerns (a spine contact:
    the hands on the back; hands differing: both)."""

    hands: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationChange:
    """A change of the station's technique, in the shape `ProtocolCues.on_change` takes."""

    technique: str              # "none": no hand working
    start_s: float
    confirmed_at_s: float
    previous: str | None = None


@dataclass(frozen=True)
class StationStep:
    """What the station made of one stretch [first_index, first_index + n_samples).

    `hands`: each hand's own events (its engine's force, sensor and gap events; its phase
    changes, cues and phase-rule violations are the station's to tell);
    `present`: per device role, whether it was there; `events`: the station's own
    (`StationEvent`s: phase changes and cues of the station, hands differing, spine
    contacts); `technique`: {hand: technique or None, "station": ..., "agree": True, False
    or None (fewer than two hands working)}."""

    first_index: int
    n_samples: int
    hands: dict[str, tuple[EngineEvent, ...]]
    present: dict[str, bool]
    events: tuple[EngineEvent, ...]
    technique: dict


@dataclass(frozen=True)
class StationState:
    """For a live display: each hand's engine state, and the station's."""

    time_s: float
    technique: dict
    status: PhaseStatus                     # the station's phase, its window and time left
    active_alerts: tuple[ActiveAlert, ...]  # the station's own: spine contacts, hands differing
    hands: dict[str, EngineState]


def combine_techniques(techniques: Mapping[str, str | None], previous: str | None,
                       began: Mapping[str, float]) -> str | None:
    """The station's technique from each hand's (None: not working, or absent): the one they
    share; a lone working hand's; when they differ, `previous` if a hand still does it, else
    the technique of the hand whose own began first (`began`: hand -> start)."""
    working = {h: t for h, t in techniques.items() if t not in (None, "none")}
    if not working:
        return None
    kinds = set(working.values())
    if len(kinds) == 1:
        return kinds.pop()
    if previous in kinds:
        return previous
    first = min(working, key=lambda h: began.get(h, 0.0))
    return working[first]


def _phase_at(phases: Sequence, t: float):
    for p in phases:
        if p.start_s <= t < p.end_s:
            return p
    return None


def station_timeline(hand_phases: Mapping[str, Sequence], end_s: float) -> list[tuple[float, float, dict, str | None]]:
    """[(start_s, end_s, {hand: technique or None}, station technique)] over the session,
    cut wherever a hand's phase begins or ends (hindsight: each hand's phases are known)."""
    cuts = {0.0, float(end_s)}
    for phases in hand_phases.values():
        for p in phases:
            cuts.update((float(p.start_s), float(p.end_s)))
    bounds = sorted(c for c in cuts if 0.0 <= c <= end_s)
    out = []
    previous = None
    for a, b in zip(bounds, bounds[1:]):
        if b <= a:
            continue
        mid = 0.5 * (a + b)
        at = {h: _phase_at(phases, mid) for h, phases in hand_phases.items()}
        techs = {h: (p.technique if p is not None else None) for h, p in at.items()}
        station = combine_techniques(techs, previous, {h: p.start_s for h, p in at.items() if p is not None})
        out.append((a, b, techs, station))
        previous = station
    return out


def _coalesce(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Spans that touch joined into one (an absence told block by block is one absence)."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1e-9:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


# ----------------------------------------------------------------------------- the strip


class _Strip:
    """The station's spine strip: its sensor health, saturation and open leads, and spine
    contact while either hand is on the back, each contact with the hands on the back."""

    def __init__(self, protocol: Protocol, segments: Sequence[str], rate_hz: float) -> None:
        self.segments = tuple(segments)
        self.rate_hz = rate_hz
        n = len(self.segments)
        self.health = SensorHealthMonitor(self.segments, rate_hz)
        self.tracker = SpineTracker(n, rate_hz, protocol.spine)
        self._faulty = np.zeros(n, dtype=bool)
        self._saturation = ExcursionDetector(n, 1)
        self._open = ExcursionDetector(n, round(OPEN_SENSOR_MIN_S * rate_hz))
        self.active: dict[tuple[str, str], ActiveAlert] = {}
        self.contacts: list[SpineContact] = []
        self.triggers: list[int] = []                 # the sample each contact was told at
        self.contact_s = np.zeros(n)
        self.faults: list[dict] = []
        self.live_alerts = 0
        self.live_alerts_by_hand: dict[str, int] = {}
        self._hands: dict[int, set[str]] = {}         # segment -> hands on the back during its open contact
        self._base_at_trigger: dict[int, float] = {}
        self.absent = False

    def _t(self, index: int) -> float:
        return index / self.rate_hz

    def process(self, first: int, x: np.ndarray, sat: np.ndarray, open_: np.ndarray,
                on: Mapping[str, np.ndarray], technique: str | None) -> list[EngineEvent]:
        self.absent = False
        events = self._health_events(self.health.process(first, x, sat, open_))
        if self._faulty.any():
            # As in the engine: a faulty segment reads nothing that could make a contact.
            f = self._faulty[None, :]
            x, sat, open_ = np.where(f, 0.0, x), sat & ~f, open_ & ~f
        on_any = np.zeros(len(x), dtype=bool)
        for mask in on.values():
            on_any |= mask
        begun, ended, base = self.tracker.process(first, x, sat, on_any)
        for e in begun:
            self._hands[e.channel] = {h for h, m in on.items() if m[e.trigger_index - first]}
        for e in ended:
            self._hands.setdefault(e.channel, set()).update(
                h for h, m in on.items() if m[max(e.start_index, first) - first:e.stop_index - first].any())
        events += self._contact_events(begun, ended, base, first, technique)
        for e in self.tracker.detector.open_excursions():
            self._hands.setdefault(e.channel, set()).update(
                h for h, m in on.items() if m[max(e.start_index, first) - first:].any())
        events += self._condition_events("saturation", *self._saturation.process(first, sat, 0.5, 0.5))
        events += self._condition_events("open_sensor", *self._open.process(first, open_, 0.5, 0.5))
        return events

    def gap(self, first: int, n: int, technique: str | None) -> list[EngineEvent]:
        """The strip is missing (or every device is): end what is open, judge nothing there."""
        self.health.gap(first, n)
        events = self._contact_events([], self.tracker.gap(first), None, first, technique, gap=True)
        events += self._condition_events("saturation", [], self._saturation.close_all(first))
        events += self._condition_events("open_sensor", [], self._open.close_all(first))
        return events

    def close(self, end: int, technique: str | None) -> None:
        self._contact_events([], self.tracker.detector.close_all(end), None, end, technique)
        self._condition_events("saturation", [], self._saturation.close_all(end))
        self._condition_events("open_sensor", [], self._open.close_all(end))

    def _contact_events(self, begun: list[Excursion], ended: list[Excursion], base: np.ndarray | None, first: int,
                        technique: str | None, gap: bool = False) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        baseline = self.tracker.current_baseline()
        for e in begun:
            seg = self.segments[e.channel]
            b = float(base[e.trigger_index - first, e.channel]) if base is not None else float(baseline[e.channel])
            self._base_at_trigger[e.channel] = b
            peak = None if e.saturated else e.peak + b
            hands = tuple(sorted(self._hands.get(e.channel, ())))
            msg = with_hands(messages.spine_begin(seg, peak), hands)
            out.append(StationEvent("spine_contact", "begin", self._t(e.trigger_index), msg, channel=seg,
                                    technique=technique, peak_n=peak, start_s=self._t(e.start_index),
                                    rule="spine_contact", saturated=e.saturated, hands=hands))
            self.active[("spine_contact", seg)] = ActiveAlert("spine_contact", seg, self._t(e.start_index), msg, peak)
            self.live_alerts += 1
            for h in hands:
                self.live_alerts_by_hand[h] = self.live_alerts_by_hand.get(h, 0) + 1
        for e in ended:
            seg = self.segments[e.channel]
            b = self._base_at_trigger.pop(e.channel, float(baseline[e.channel]))
            peak = None if e.saturated else e.peak + b
            hands = tuple(sorted(self._hands.pop(e.channel, ())))
            end_msg = messages.spine_end(seg) if not gap else f"{messages.spine_end(seg).rstrip('.')} (data gap)."
            out.append(StationEvent("spine_contact", "end", self._t(e.stop_index), end_msg, channel=seg,
                                    technique=technique, peak_n=peak, start_s=self._t(e.start_index),
                                    end_s=self._t(e.stop_index), rule="spine_contact", saturated=e.saturated,
                                    hands=hands))
            self.active.pop(("spine_contact", seg), None)
            self.contacts.append(SpineContact(seg, self._t(e.start_index), self._t(e.stop_index), peak,
                                              e.saturated, technique, hands=hands))
            self.triggers.append(e.trigger_index)
            self.contact_s[e.channel] += self._t(e.stop_index - e.start_index)
        return out

    def _health_events(self, changes: list[HealthChange]) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        for ch in changes:
            if ch.state != "ok":
                if ch.previous != "ok":
                    out.append(StationEvent("sensor_fault", "end", ch.at_s, ch.message, channel=ch.channel))
                out.append(StationEvent("sensor_fault", "begin", ch.at_s, ch.message, channel=ch.channel,
                                        rule=ch.state, start_s=ch.at_s))
                self.active[("sensor_fault", ch.channel)] = ActiveAlert("sensor_fault", ch.channel, ch.at_s, ch.message)
            else:
                out.append(StationEvent("sensor_fault", "end", ch.at_s, messages.sensor_normal_again(ch.channel),
                                        channel=ch.channel, rule=ch.previous, end_s=ch.at_s))
                self.active.pop(("sensor_fault", ch.channel), None)
        if changes:
            self._faulty = np.asarray(self.health.faulty(), dtype=bool)
        return out

    def _condition_events(self, kind: str, begun: list[Excursion], ended: list[Excursion]) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        for e in begun:
            ch = self.segments[e.channel]
            msg = messages.sensor_condition_begin(kind, ch)
            out.append(StationEvent(kind, "begin", self._t(e.trigger_index), msg, channel=ch,
                                    start_s=self._t(e.start_index)))
            self.active[(kind, ch)] = ActiveAlert(kind, ch, self._t(e.start_index), msg)
        for e in ended:
            ch = self.segments[e.channel]
            out.append(StationEvent(kind, "end", self._t(e.stop_index), messages.sensor_normal_again(ch), channel=ch,
                                    start_s=self._t(e.start_index), end_s=self._t(e.stop_index)))
            self.active.pop((kind, ch), None)
            self.faults.append({"channel": ch, "kind": kind, "start_s": round(self._t(e.start_index), 3),
                                "end_s": round(self._t(e.stop_index), 3),
                                "duration_s": round(self._t(e.stop_index - e.start_index), 3)})
        return out


# ----------------------------------------------------------------------------- the station


class StationCoach:
    """A station's force blocks in (all its columns, `StationLayout.columns`), per-hand and
    station events out; `state` for the display, `finish()` for the `StationReport`.

    `calibration`: per device role, the calibration's `describe()` (the hand reports name it);
    `initial_baseline`: per hand, the glove's TARE in newtons (its glove channels' order).
    """

    def __init__(self, protocol: Protocol, layout: StationLayout, rate_hz: float,
                 calibration: Mapping[str, dict] | None = None,
                 initial_baseline: Mapping[str, np.ndarray | None] | None = None) -> None:
        if not layout.hands:
            raise ValueError(f"a station needs at least one glove to coach; it has {', '.join(layout.roles)}")
        self.protocol = protocol
        self.layout = layout
        self.rate_hz = float(rate_hz)
        calibration = calibration or {}
        initial_baseline = initial_baseline or {}
        self.hands = layout.hands
        self.engines: dict[str, CoachingEngine] = {}
        self._glove_cols: dict[str, np.ndarray] = {}
        self._glove_role: dict[str, str] = {}
        for hand in self.hands:
            channels = layout.hand_channels(hand)
            cols = layout.hand_columns(hand)
            keep = [i for i, c in enumerate(channels) if c not in SPINE_CHANNELS]
            role = layout.glove_role(hand)
            engine = CoachingEngine(protocol, [channels[i] for i in keep], self.rate_hz,
                                    calibration=calibration.get(role), initial_baseline=initial_baseline.get(hand))
            self.engines[hand] = engine
            self._glove_cols[hand] = cols[keep]
            self._glove_role[hand] = role
        # `standing_overforce_levels`: per hand, the live release level of the most lenient
        # limit any technique gives each glove channel (the limit table never changes)
        ratio = protocol.force_feedback.release_ratio("live")
        self._lenient_release = {hand: ratio * np.max([row["live_max"] for row in e.limits.table.values()], axis=0)
                                 for hand, e in self.engines.items()}
        self.strip_role = layout.spine_role()
        self.strip: _Strip | None = None
        if self.strip_role is not None:
            dev = layout.device(self.strip_role)
            segs = [c for c in dev.channels if c in SPINE_CHANNELS]
            self._strip_cols = np.array([layout.columns.index(dev.column_name(c)) for c in segs], dtype=np.intp)
            self.strip = _Strip(protocol, segs, self.rate_hz)
        self.cues = ProtocolCues(protocol)
        self._station: str | None = None         # the station's technique now (None: no hand working)
        self._changed = False                    # any station change fed to the cues yet
        self._station_start = 0.0
        self._techniques: dict[str, str | None] = {h: None for h in self.hands}
        self._present: dict[str, bool] = {role: True for role in layout.roles}
        self._differ_since: float | None = None
        self._differ_told = False
        self._differ_alert: ActiveAlert | None = None
        self.live_alerts = 0
        self._next_index: int | None = None
        self._end_index = 0
        self.gaps: list[tuple[int, int]] = []                    # no device at all
        self.device_gaps: dict[str, list[tuple[int, int]]] = {role: [] for role in layout.roles}

    # ------------------------------------------------------------------ streaming
    def _t(self, index: int) -> float:
        return index / self.rate_hz

    def process(self, block: ForceBlock, present: Sequence[bool]) -> StationStep:
        """A block of the station's forces (n, len(layout.columns)); `present[k]`: whether
        device k (layout order) is in it. An absent device's columns are not read."""
        newtons = np.asarray(block.newtons)
        n = newtons.shape[0]
        if newtons.ndim != 2 or newtons.shape[1] != len(self.layout.columns):
            raise ValueError(f"station block has {newtons.shape} samples x columns; "
                             f"this station has {len(self.layout.columns)} columns ({', '.join(self.layout.roles)})")
        if len(present) != len(self.layout.roles):
            raise ValueError(f"present has {len(present)} flags; this station has {len(self.layout.roles)} devices "
                             f"({', '.join(self.layout.roles)})")
        first = int(block.first_index)
        if self._next_index is not None and first < self._next_index:
            raise ValueError(f"block starts at sample {first}, before the next expected sample {self._next_index}")
        lead: StationStep | None = None
        if self._next_index is not None and first > self._next_index:
            lead = self.gap(self._next_index, first - self._next_index)
        present_by_role = {role: bool(present[k]) for k, role in enumerate(self.layout.roles)}
        if n == 0:
            return lead or StationStep(first, 0, {h: () for h in self.hands}, present_by_role, (), self._technique())
        self._next_index = first + n
        self._end_index = max(self._end_index, first + n)
        sat = np.asarray(block.saturated, dtype=bool)
        open_ = np.asarray(block.open, dtype=bool)

        hand_events: dict[str, tuple[EngineEvent, ...]] = {}
        on: dict[str, np.ndarray] = {}
        for hand in self.hands:
            engine = self.engines[hand]
            role = self._glove_role[hand]
            if present_by_role[role]:
                cols = self._glove_cols[hand]
                events_of_hand = engine.process(ForceBlock(first, newtons[:, cols], sat[:, cols], open_[:, cols]))
                # Phase changes, cues and phase-rule violations are the station's to tell, once.
                hand_events[hand] = tuple(e for e in events_of_hand if e.kind not in STATION_TELLS)
                on[hand] = engine.hand_on if len(engine.hand_on) == n else np.zeros(n, dtype=bool)
            else:
                hand_events[hand] = tuple(engine.gap(first, n))
                self._absent(role, first, n)
                on[hand] = np.zeros(n, dtype=bool)
        for role, here in present_by_role.items():
            self._present[role] = here

        now = self._t(first + n)
        events = self._station_technique(now)
        if self.strip is not None and self.strip_role is not None:
            if present_by_role[self.strip_role]:
                c = self._strip_cols
                events += self.strip.process(first, np.asarray(newtons[:, c], dtype=np.float64), sat[:, c],
                                             open_[:, c], on, self._station)
            else:
                # The strip is away: a gap for the spine check only; the hands went on above.
                self._absent(self.strip_role, first, n)
                events += self.strip.gap(first, n, self._station)
        events.sort(key=lambda e: e.at_s)
        step = StationStep(first, n, hand_events, present_by_role, tuple(events), self._technique())
        return step if lead is None else _join(lead, step)

    def alert_floors(self) -> np.ndarray:
        """Per station column, a force (newtons, as calibrated, before any baseline is taken
        off) below which no sample can begin or hold a safety alert (an over-force or a spine
        contact) as things stand; inf where none can. A caller may hold samples that stay
        below it and coach them a little later in one block (the decisions do not depend on
        how samples are split into blocks): only the safety alerts must be told at once.

        Glove columns: the confirmed technique's live maxima (the schedule only ever relaxes
        them, and a technique change needs seconds of windows to be confirmed), less any
        negative resting baseline. Strip columns: the contact threshold over the strip's
        baseline now. Faulty sensors raise no alert, so they never hold samples back."""
        floors = np.full(len(self.layout.columns), np.inf)
        for hand, engine in self.engines.items():
            maxima = engine.limits.row(engine.schedule.confirmed)["live_max"]
            baseline = engine.conditioner.current_baseline()
            floor = ALERT_FLOOR_SHARE * maxima + np.minimum(baseline, 0.0)
            faulty = np.asarray(engine.health.faulty(), dtype=bool)[engine.glove_idx]
            floors[self._glove_cols[hand]] = np.where(faulty, np.inf, floor)
        if self.strip is not None:
            policy = self.protocol.spine
            base = self.strip.tracker.current_baseline()
            floor = base + ALERT_FLOOR_SHARE * policy.contact_above_baseline_n
            floors[self._strip_cols] = np.where(self.strip._faulty, np.inf, floor)
        return floors

    def alert_debounce_samples(self) -> np.ndarray:
        """Per station column, how many samples in a row must be over a threshold before a
        safety alert begins there (the live over-force's, or the spine contact's, minimum
        duration): samples above `alert_floors` in a shorter run cannot begin one yet."""
        out = np.full(len(self.layout.columns), np.iinfo(np.int64).max, dtype=np.int64)
        for hand, engine in self.engines.items():
            out[self._glove_cols[hand]] = engine.overforce_debounce_samples
        if self.strip is not None:
            out[self._strip_cols] = self.strip.tracker.detector.min_samples
        return out

    def standing_overforce_levels(self) -> np.ndarray:
        """Per station column, a force (newtons, as calibrated) at or above which the column's
        standing over-force cannot end, however the limits relax meanwhile: the most lenient
        live limit any technique gives it, times the release ratio, over any positive resting
        baseline, plus STANDING_MARGIN_N. NaN where no over-force stands.

        An over-force alert on a sensor cannot begin again before it has ended, so while a
        column with a standing over-force stays at or above this level its samples cannot
        begin a safety alert, even above `alert_floors`: a caller may hold them too. (Spine
        contacts get no such level: one also ends when the hands leave the back, which the
        strip's own readings cannot show.)"""
        levels = np.full(len(self.layout.columns), np.nan)
        for hand, engine in self.engines.items():
            standing = [engine.glove.index(a.channel) for a in engine.active_alerts()
                        if a.kind == "overforce" and a.channel in engine.glove]
            if standing:
                level = (self._lenient_release[hand] + np.maximum(engine.conditioner.current_baseline(), 0.0)
                         + STANDING_MARGIN_N)
                levels[self._glove_cols[hand][standing]] = level[standing]
        return levels

    def gap(self, first_index: int, n_samples: int) -> StationStep:
        """Station slots [first_index, first_index + n_samples) that no device filled."""
        n = max(0, int(n_samples))
        hand_events = {h: tuple(self.engines[h].gap(first_index, n)) for h in self.hands}
        events: list[EngineEvent] = []
        if n:
            if self.strip is not None:
                events += self.strip.gap(first_index, n, self._station)
            self.gaps.append((first_index, first_index + n))
            self._next_index = max(self._next_index or 0, first_index + n)
            self._end_index = max(self._end_index, first_index + n)
        return StationStep(first_index, n, hand_events, {role: False for role in self.layout.roles},
                           tuple(sorted(events, key=lambda e: e.at_s)), self._technique())

    def _absent(self, role: str, first: int, n: int) -> None:
        spans = self.device_gaps[role]
        if spans and spans[-1][1] == first:
            spans[-1] = (spans[-1][0], first + n)
        else:
            spans.append((first, first + n))

    # ------------------------------------------------------------------ the station's technique, live
    def _station_technique(self, now: float) -> list[EngineEvent]:
        """Each hand's confirmed technique now (None while its glove is absent), the station's
        from them, a station phase change fed to the protocol cues, and hands that differ."""
        for hand in self.hands:
            here = self._present[self._glove_role[hand]]
            self._techniques[hand] = self.engines[hand].schedule.confirmed if here else None
        techs = self._techniques
        working = {h: t for h, t in techs.items() if t}
        events: list[EngineEvent] = []
        # Where each hand's phase began is only needed to break a tie or date a change.
        starts: dict[str, float] = {}
        if len(set(working.values())) > 1 and self._station not in working.values():
            starts = self._hand_starts(now)
        station = combine_techniques(techs, self._station, starts)
        if station != self._station:
            starts = starts or self._hand_starts(now)
            if station is None:
                start = max([starts.get(h, now) for h in self.hands], default=now)
            else:
                start = min(starts.get(h, now) for h, t in working.items() if t == station)
            start = min(max(start, self._station_start), now)
            change = StationChange(station or "none", start, now, self._station)
            for e in self.cues.on_change(change):
                events.append(StationEvent(**e.__dict__))
            self._station, self._station_start, self._changed = station, start, True
        for e in self.cues.due(now, (self._station or "none") if self._changed else None):
            events.append(StationEvent(**e.__dict__))
        events += self._differ(now, working)
        return events

    def _hand_starts(self, now: float) -> dict[str, float]:
        out = {}
        for hand in self.hands:
            phases = self.engines[hand].cues.phases_so_far(now)
            if phases:
                out[hand] = phases[-1].start_s
        return out

    def _differ(self, now: float, working: dict[str, str]) -> list[EngineEvent]:
        if len(set(working.values())) < 2:
            self._differ_since, self._differ_told, self._differ_alert = None, False, None
            return []
        if self._differ_since is None:
            self._differ_since = now
        if self._differ_told or now - self._differ_since < HANDS_DIFFER_TOLERANCE_S:
            return []
        self._differ_told = True
        self.live_alerts += 1
        msg = hands_differ(working)
        self._differ_alert = ActiveAlert("hands_differ", "hands", self._differ_since, msg)
        return [StationEvent("cue", "instant", now, msg, technique=self._station, start_s=self._differ_since,
                             rule="hands_differ", hands=tuple(working))]

    def _technique(self) -> dict:
        out: dict = {h: self._techniques[h] for h in self.hands}
        working = [t for t in out.values() if t]
        out["station"] = self._station
        out["agree"] = None if len(working) < 2 else len(set(working)) == 1
        return out

    # ------------------------------------------------------------------ state
    def active_alerts(self) -> tuple[ActiveAlert, ...]:
        """The station's own alerts on now (each hand's are its engine's `active_alerts()`)."""
        out = list(self.strip.active.values()) if self.strip is not None else []
        if self._differ_alert is not None:
            out.append(self._differ_alert)
        return tuple(out)

    @property
    def state(self) -> StationState:
        now = self._t(self._end_index)
        return StationState(time_s=now, technique=self._technique(),
                            status=self.cues.phase_status(now, self._station),
                            active_alerts=self.active_alerts(),
                            hands={h: self.engines[h].state for h in self.hands})

    # ------------------------------------------------------------------ report
    def finish(self) -> StationReport:
        end = self._end_index
        end_s = self._t(end)
        hand_reports: dict[str, SessionReport] = {h: self.engines[h].finish() for h in self.hands}
        # Each hand's confirmed phases as they came live, short ones included (a 15 s slip of one
        # hand is a difference of hands, though too short to be a phase), its glove's absences cut out.
        hand_phases = {h: _without(_live_phases(self.protocol, self.engines[h], hand_reports[h], end_s),
                                   [(self._t(a), self._t(b)) for a, b in self.device_gaps[self._glove_role[h]]])
                       for h in self.hands}
        timeline = station_timeline(hand_phases, end_s)
        raw_phases: list[Phase] = []
        for a, b, _, station in timeline:
            if station is None:
                continue
            if raw_phases and raw_phases[-1].technique == station and raw_phases[-1].end_s == a:
                raw_phases[-1] = Phase(station, raw_phases[-1].start_s, b)
            else:
                raw_phases.append(Phase(station, a, b))
        judged = judged_phases(self.protocol, raw_phases)
        massage_found = bool(judged)

        def station_technique_at(t: float) -> str | None:
            p = _phase_at(judged, t)
            return p.technique if p is not None else None

        contacts: list[SpineContact] = []
        kept: list[tuple[SpineContact, int]] = []     # (contact as told, the sample it was told at)
        strip_health: dict = {}
        if self.strip is not None:
            self.strip.close(end, self._station)
            strip_health = self.strip.health.summary()
            kept = sorted(((c, t) for c, t in zip(self.strip.contacts, self.strip.triggers)
                           if not during_fault(strip_health, c)), key=lambda ct: (ct[0].start_s, ct[0].channel))
            # The station's contacts are labelled with the station's phase, known now.
            contacts = [SpineContact(c.channel, c.start_s, c.end_s, c.peak_n, c.saturated,
                                     station_technique_at(c.start_s), hands=c.hands) for c, _ in kept]
        smap = spine_map(self.strip.tracker if self.strip else None, self.strip.segments if self.strip else (),
                         self.strip.contact_s if self.strip else np.zeros(0))

        def spine_violation(c: SpineContact, words: bool = True) -> Violation:
            message = messages.spine_violation(c.channel)
            return Violation("spine_contact", with_hands(message, c.hands) if words else message, c.start_s,
                             ("spine", c.channel, c.start_s))

        # Each hand's report as the report of one glove with the strip (the kit's, exactly): the
        # contacts while it was on the back, their violations, its live alerts, its score.
        for hand, report in hand_reports.items():
            mine = [c for c in contacts if hand in c.hands]
            # In a hand's report a contact is labelled as the kit labels it: with the technique
            # that hand was confirmed on when the contact was told.
            schedule = self.engines[hand].schedule
            report.spine_contacts = [ForceEpisode(c.channel, c.start_s, c.end_s, c.peak_n, c.saturated,
                                                  schedule.technique_for(t)) for c, t in kept if hand in c.hands]
            report.violations = sorted(report.violations + [spine_violation(c, words=False) for c in mine],
                                       key=lambda v: v.at_s)
            if self.strip is not None:
                report.live_alerts += self.strip.live_alerts_by_hand.get(hand, 0)
            report.spine_check = self.strip is not None
            report.spine_map = smap
            if strip_health:
                glove_health = {k: v for k, v in report.sensor_health.items() if k != "ok"}
                strip_only = {k: v for k, v in strip_health.items() if k != "ok"}
                report.sensor_health = {**glove_health, **strip_only,
                                        "ok": bool(report.sensor_health.get("ok", True) and strip_health["ok"])}
            if self.strip is not None:
                # As in the kit's report, the strip's saturation and open-lead episodes too.
                report.sensor_faults = sorted(report.sensor_faults + self.strip.faults, key=lambda f: f["end_s"])
            report.gaps = _coalesce(report.gaps)
            report.score = _rescored(self.protocol, report, self.engines[hand].stats.within_pct)

        violations: list[Violation] = [v for v in check_phases(self.protocol, raw_phases, end_s, final=True)
                                       if massage_found or v.key != ("missing_phase", "all")]
        for hand, report in hand_reports.items():
            for v in report.violations:
                if v.rule in ("excessive_force", "too_light"):
                    violations.append(Violation(v.rule, f"{hand.capitalize()} hand: {v.message}", v.at_s,
                                                (hand, *v.key)))
        violations += [spine_violation(c) for c in contacts]
        violations.sort(key=lambda v: v.at_s)
        contact = sum(e.stats.contact_samples for e in self.engines.values())
        within = sum(e.stats.within_samples for e in self.engines.values())
        force_pct = 100.0 * within / contact if contact else 100.0
        agreement, differ = _agreement(timeline)
        return StationReport(
            duration_s=end_s, hands=hand_reports, phases=judged, technique_agreement_pct=agreement,
            hands_differ=differ, spine_contacts=contacts, spine_check=self.strip is not None, spine_map=smap,
            violations=violations, score=session_score(self.protocol, raw_phases, violations, force_pct),
            protocol_name=self.protocol.name, massage_found=massage_found, roles=self.layout.roles,
            device_gaps={role: [(self._t(a), self._t(b)) for a, b in spans]
                         for role, spans in self.device_gaps.items()},
            gaps=_coalesce([(self._t(a), self._t(b)) for a, b in self.gaps]),
            strip_health=strip_health, strip_faults=list(self.strip.faults) if self.strip else [],
            live_alerts=self.live_alerts + (self.strip.live_alerts if self.strip else 0),
        )


def _rescored(protocol: Protocol, report: SessionReport, force_pct: float) -> dict:
    """A hand's score again, now that its spine contacts are among its violations (the same
    rule as `session_score`, on the report's judged phases)."""
    n_viol = len(report.violations)
    if not report.score.get("graded", True):
        return {**report.score, "breakdown": {**report.score["breakdown"], "violations": n_viol}}
    timing = timing_pct(protocol, report.phases)
    total = weighted_total(protocol.score, force_pct, timing, n_viol)
    return {"total": int(round(total)), "graded": True,
            "breakdown": {"force_within_window_pct": round(force_pct, 1), "timing": round(timing, 1),
                          "violations": n_viol}}


def _live_phases(protocol: Protocol, engine: CoachingEngine, report: SessionReport, end_s: float) -> list:
    """A hand's phases as confirmed live, short ones kept; the last one ends where the hand's
    report ends it (live, a lift at the very end is not confirmed yet)."""
    phases: list = list(judged_phases(protocol, engine.cues.phases_so_far(end_s), min_phase=False))
    if phases and report.phases and phases[-1].technique == report.phases[-1].technique:
        last = phases[-1]
        phases[-1] = Phase(last.technique, last.start_s, max(last.start_s, min(last.end_s, report.phases[-1].end_s)))
    return phases


def _without(phases: Sequence, spans: Sequence[tuple[float, float]]) -> list[Phase]:
    """`phases` with the stretches in `spans` cut out (a hand does nothing while its glove is absent)."""
    out = [Phase(p.technique, p.start_s, p.end_s) for p in phases]
    for a, b in spans:
        cut = []
        for p in out:
            if p.end_s <= a or p.start_s >= b:
                cut.append(p)
                continue
            if p.start_s < a:
                cut.append(Phase(p.technique, p.start_s, a))
            if p.end_s > b:
                cut.append(Phase(p.technique, b, p.end_s))
        out = cut
    return out


def _agreement(timeline) -> tuple[float | None, list[dict]]:
    """Share of the time both hands worked in which they did the same technique, and the
    stretches longer than HANDS_DIFFER_TOLERANCE_S in which they did not."""
    both = same = 0.0
    differ: list[dict] = []
    run: dict | None = None
    for a, b, techs, _ in timeline:
        working = {h: t for h, t in techs.items() if t}
        if len(working) >= 2:
            both += b - a
            if len(set(working.values())) == 1:
                same += b - a
            elif run is not None and run["techniques"] == working and run["end_s"] == a:
                run["end_s"] = b
                continue
            else:
                if run is not None:
                    differ.append(run)
                run = {"start_s": a, "end_s": b, "techniques": working}
                continue
        if run is not None:
            differ.append(run)
            run = None
    if run is not None:
        differ.append(run)
    long_ones = [d for d in differ if d["end_s"] - d["start_s"] > HANDS_DIFFER_TOLERANCE_S]
    return (100.0 * same / both if both else None), long_ones


def _join(lead: StationStep, step: StationStep) -> StationStep:
    """A gap the block jumped over, and the block, as one step."""
    return StationStep(lead.first_index, lead.n_samples + step.n_samples,
                       {h: lead.hands[h] + step.hands[h] for h in step.hands}, step.present,
                       lead.events + step.events, step.technique)


__all__ = ["HANDS_DIFFER_TOLERANCE_S", "STATION_TELLS", "StationChange", "StationCoach", "StationEvent", "StationState",
           "StationStep", "combine_techniques", "station_timeline"]
