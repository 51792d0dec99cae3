"""CoachingEngine: streaming force blocks in, coaching events and a session report out.

A thin coordinator: per block (any length, from one sample to the whole session) it passes
the data through the stages in order and gathers their events.

0. sensor health (glovecoach.engine.health): a faulty sensor reads as nothing from then on;
1. signal conditioning (glovecoach.engine.conditioning): forces over each sensor's resting
   baseline, hand contact, knuckle presses;
2. technique: the recogniser labels completed windows, the phase smoother confirms changes;
3. limits (glovecoach.engine.limits): which force limits apply at every sample;
4. detectors (glovecoach.engine.detectors): over-force with debounce and hysteresis, too-light
   fist presses, saturation and open leads;
5. spine contact over the partner's baseline (glovecoach.engine.spine);
6. statistics (glovecoach.engine.scoring) and protocol cues (glovecoach.engine.cues).
Every sentence for people comes from glovecoach.engine.messages. At `finish()` the report's
force episodes are found in hindsight (scoring.HindsightScorer) and the score is made
(scoring.session_score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from glovecoach.engine import messages
from glovecoach.engine.conditioning import SignalConditioner, hand_contact
from glovecoach.engine.cues import ProtocolCues
from glovecoach.engine.detectors import (
    Excursion,
    ExcursionDetector,
    LightPressAlert,
    LightPressDetector,
)
from glovecoach.engine.events import EngineEvent
from glovecoach.engine.health import HealthChange, SensorHealthMonitor
from glovecoach.engine.limits import (
    KNUCKLE_CHANNELS,
    LimitSchedule,
    LimitTable,
    ReturnGrace,
)
from glovecoach.engine.protocol_check import Violation, check_phases, judged_phases
from glovecoach.engine.report import ForceEpisode, SessionReport
from glovecoach.engine.scoring import (
    FAULT_LOOKBACK_S,
    ForceStats,
    HindsightScorer,
    during_fault,
    session_score,
    spine_map,
)
from glovecoach.engine.spine import SpineTracker
from glovecoach.engine.technique import PhaseSmoother, TechniqueRecognizer
from glovecoach.protocols import Protocol
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import SPINE_CHANNELS
from glovecoach.vocabulary.techniques import Phase

OPEN_SENSOR_MIN_S = 0.5      # a lead reading open this long is reported (shorter: a loose contact blip)
PAUSE_SHOWN_AFTER_S = 3.0    # the hand off the back this long: the phase bar says "paused"
HINDSIGHT_CONTEXT_S = 3.0    # contact decided again this long before the first window it decides for


@dataclass(frozen=True)
class ActiveAlert:
    """An alert that is on now. For a force alert, `peak_n` and `message` give the highest
    force of the episode so far (updated while it lasts), not the force when it began."""
    kind: str
    channel: str
    start_s: float
    message: str
    peak_n: float | None = None


@dataclass(frozen=True)
class EngineState:
    time_s: float
    technique: str | None
    phase_elapsed_s: float
    phase_window: tuple[float, float] | None
    cue: str | None
    session_elapsed_s: float
    session_limit_s: float
    active_alerts: tuple[ActiveAlert, ...]
    phases: tuple[Phase, ...]
    candidate_technique: str | None = None
    limits: dict = field(default_factory=dict)     # glove channel -> (min_n, max_n) live, now
    # The hand is off the back in a pause that may still resume the phase (gel, repositioning):
    # how long so far, which technique it interrupted, and how long such a pause may last.
    pause_s: float | None = None
    paused_technique: str | None = None
    pause_max_s: float = 0.0


class CoachingEngine:
    """Force blocks in, events out; `state` for the display, `finish()` for the report (docs/engine.md)."""

    def __init__(self, protocol: Protocol, channels: Sequence[str], rate_hz: float,
                 calibration: dict | None = None, initial_baseline: np.ndarray | None = None) -> None:
        self.protocol = protocol
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.calibration_info = calibration or {"nominal": True, "glove_id": None}
        self.glove_idx = np.array([i for i, c in enumerate(self.channels) if c not in SPINE_CHANNELS], dtype=int)
        self.spine_idx = np.array([i for i, c in enumerate(self.channels) if c in SPINE_CHANNELS], dtype=int)
        self.glove = tuple(self.channels[i] for i in self.glove_idx)
        self.spine = tuple(self.channels[i] for i in self.spine_idx)
        ff = protocol.force_feedback
        knuckles = np.array([c in KNUCKLE_CHANNELS for c in self.glove], dtype=bool)
        # Every glove detector below sees forces over each sensor's resting baseline, and contact
        # decided against baseline plus noise floor (glovecoach.engine.conditioning). The spine
        # strip's resting load is the partner's, tracked by the SpineTracker.
        seed = None if initial_baseline is None else np.asarray(initial_baseline, dtype=np.float64)[self.glove_idx]
        self.conditioner = SignalConditioner(self.glove, self.rate_hz, np.ones(len(self.glove), dtype=bool),
                                             press=knuckles, press_min_n=ff.press_contact_n,
                                             hand_on_min_n=protocol.spine.glove_contact_n, initial_baseline=seed)
        # Which sensors can be trusted: a faulty one never produces a force violation, takes no
        # part in hand contact or recognition, and the people are told which sensor to check.
        self.health = SensorHealthMonitor(self.channels, self.rate_hz)
        self._faulty = np.zeros(len(self.channels), dtype=bool)
        self._off_since: int | None = None     # first sample of the hand's current time off the back
        self.recognizer = TechniqueRecognizer(self.glove, self.rate_hz)
        self.smoother = PhaseSmoother(self.rate_hz)
        self.limits = LimitTable(protocol, self.glove)
        self.schedule = LimitSchedule(self.rate_hz)
        self._grace = ReturnGrace(self.rate_hz)
        self.cues = ProtocolCues(protocol)
        self.stats = ForceStats(self.glove, self.rate_hz)
        self.hindsight = HindsightScorer(protocol, self.limits, self.rate_hz)
        g = len(self.glove)
        self._over = ExcursionDetector(g, round(ff.min_duration_s("live") * self.rate_hz))
        self.overforce_debounce_samples = self._over.min_samples
        self._light = LightPressDetector(g, ff.press_contact_n, ff.light_presses_to_alert,
                                         round(ff.press_gap_s * self.rate_hz))
        self._saturation = ExcursionDetector(len(self.channels), 1)
        self._open = ExcursionDetector(len(self.channels), round(OPEN_SENSOR_MIN_S * self.rate_hz))
        self._spine = SpineTracker(len(self.spine), self.rate_hz, protocol.spine) if len(self.spine) else None

        self._next_index: int | None = None
        self._end_index = 0
        self.hand_on = np.zeros(0, dtype=bool)   # per sample of the last block: the hand on the back
        self._active: dict[tuple[str, str], ActiveAlert] = {}

        self.scoring_over: list[ForceEpisode] = []
        self.scoring_under: list[ForceEpisode] = []
        self.spine_contacts: list[ForceEpisode] = []
        self.live_alerts = 0
        self.gaps: list[tuple[int, int]] = []
        self.faults: list[dict] = []
        self._spine_contact_s = np.zeros(len(self.spine))
        self._spine_base_at_trigger: dict[str, float] = {}   # segment -> baseline when it began

    # ------------------------------------------------------------------ streaming
    def process(self, block: ForceBlock) -> list[EngineEvent]:
        n = block.newtons.shape[0]
        if block.newtons.ndim != 2 or block.newtons.shape[1] != len(self.channels):
            raise ValueError(f"block has {block.newtons.shape} samples x channels; "
                             f"engine expects {len(self.channels)} channels")
        events: list[EngineEvent] = []
        first = int(block.first_index)
        if self._next_index is not None and first < self._next_index:
            raise ValueError(f"block starts at sample {first}, before the next expected sample {self._next_index}")
        if self._next_index is not None and first > self._next_index:
            events += self.gap(self._next_index, first - self._next_index)
        if n == 0:
            return events
        self._next_index = first + n
        self._end_index = max(self._end_index, first + n)
        x_all = np.asarray(block.newtons, dtype=np.float64)
        sat_all = np.asarray(block.saturated, dtype=bool)
        open_all = np.asarray(block.open, dtype=bool)

        changes = self.health.process(first, x_all, sat_all, open_all)
        events += self._health_events(changes)
        # A fault is known from the end of the chunk in which it was decided, and so is a
        # recovery: the block is taken in parts with one set of faulty sensors each, so a long
        # block (analyze's minute) is judged as a live stream of short ones would be.
        hand_on: list[np.ndarray] = []
        parts, self._faulty = self._fault_parts(first, n, changes)
        for a, b, faulty in parts:
            events += self._process_part(first + a, x_all[a:b], sat_all[a:b], open_all[a:b], faulty)
            hand_on.append(self.hand_on)
        self.hand_on = hand_on[0] if len(hand_on) == 1 else np.concatenate(hand_on)
        events.sort(key=lambda e: e.at_s)
        return events

    def _fault_parts(self, first: int, n: int, changes: list[HealthChange]
                     ) -> tuple[list[tuple[int, int, np.ndarray]], np.ndarray]:
        """([(start, stop, faulty mask)] cutting the block where a health change takes effect,
        the mask after the block)."""
        faulty = self._faulty
        if not changes:
            return [(0, n, faulty)], faulty
        parts: list[tuple[int, int, np.ndarray]] = []
        pos = 0
        index = {c: i for i, c in enumerate(self.channels)}
        for ch in sorted(changes, key=lambda c: c.at_s):
            at = min(max(int(round(ch.at_s * self.rate_hz)) - first, 0), n)
            if at > pos:
                parts.append((pos, at, faulty))
                pos = at
            faulty = faulty.copy()
            faulty[index[ch.channel]] = ch.state != "ok"
        if pos < n:
            parts.append((pos, n, faulty))
        return parts, faulty

    def _process_part(self, first: int, x_all: np.ndarray, sat_all: np.ndarray, open_all: np.ndarray,
                      faulty: np.ndarray) -> list[EngineEvent]:
        """Everything after the health check, for samples with one set of faulty sensors."""
        events: list[EngineEvent] = []
        n = x_all.shape[0]
        fg = faulty[self.glove_idx]
        self.conditioner.excluded = fg
        self.recognizer.excluded = fg
        gi = self.glove_idx
        cond = self.conditioner.process(first, x_all[:, gi], sat_all[:, gi], open_all[:, gi])
        if faulty.any():
            # A faulty sensor reads nothing the detectors may judge: zero force, never saturated.
            cond = replace(cond, force=np.where(fg[None, :], 0.0, cond.force),
                           saturated=cond.saturated & ~fg[None, :], open=cond.open & ~fg[None, :])
            sat_all, open_all = sat_all & ~faulty[None, :], open_all & ~faulty[None, :]
            x_all = np.where(faulty[None, :], 0.0, x_all)

        # Technique: window labels and confirmed changes split the block where limits change.
        labels = self.recognizer.process(cond.force, first, contact=cond.hand_on)
        changes = self.smoother.update(labels)
        stretches = self.schedule.stretches(labels, changes, first, n,
                                            on_change=lambda change: events.extend(self.cues.on_change(change)))
        xg = cond.force
        sg = cond.saturated
        pressing = cond.pressing
        glove_on = cond.hand_on if len(self.glove) else np.ones(n, dtype=bool)
        # A station reads its spine strip while either hand is on the back, decided exactly as
        # this engine decides it (glovecoach.engine.station); kept for the block just processed.
        self.hand_on = glove_on
        if glove_on[-1]:
            self._off_since = None
        elif glove_on.any():
            self._off_since = first + int(np.flatnonzero(glove_on)[-1]) + 1
        elif self._off_since is None:
            self._off_since = first
        lim = self.limits.per_sample(stretches, n)
        if self.glove_idx.size:
            lim = self._grace.apply(lim, glove_on, first, n, self.limits.default)

        # Over-force and too-light presses, live. The report's (scoring) episodes are found at
        # the end, in hindsight, against the phases the whole session shows (HindsightScorer);
        # what they need is kept here.
        ratio = self.protocol.force_feedback.release_ratio("live")
        mx = lim["live_max"]
        begun, ended = self._over.process(first, xg, mx, mx * ratio, sg)
        events += self._overforce_events(begun, ended)
        mn = lim["live_min"]
        # Channels with a minimum now, and those whose light-press alert is still open (it can end).
        watch = np.isfinite(mn).any(axis=0) | self._light.alerting_channels() if len(self.glove) else np.zeros(0, bool)
        lbegun, lended = self._light.process(first, xg, mn, watch, pressing)
        events += self._underforce_events(lbegun, lended)
        if len(self.glove):
            working = np.repeat([s[4] for s in stretches], [b - a for a, b, *_ in stretches])
            self.hindsight.keep(first, xg, sg, pressing, working, cond.hand_on_level)

        # Sensor conditions on every channel.
        fb, fe = self._saturation.process(first, sat_all, np.float64(0.5), np.float64(0.5))
        events += self._condition_events("saturation", fb, fe)
        ob, oe = self._open.process(first, open_all, np.float64(0.5), np.float64(0.5))
        events += self._condition_events("open_sensor", ob, oe)

        # Spine.
        if self._spine is not None:
            sb, se, base = self._spine.process(first, x_all[:, self.spine_idx], sat_all[:, self.spine_idx], glove_on)
            events += self._spine_events(sb, se, base, first)

        self.stats.add(stretches, xg, sg, lim["scoring_max"], cond.noise)
        events += self.cues.due(self._t(first + n), self.schedule.current)
        return events

    def gap(self, first_index: int, n_samples: int) -> list[EngineEvent]:
        """Samples [first_index, first_index + n_samples) will never arrive: close what is open there."""
        if n_samples <= 0:
            return []
        events: list[EngineEvent] = []
        self.health.gap(first_index, n_samples)
        events += self._overforce_events([], self._over.close_all(first_index), gap=True)
        events += self._underforce_events([], self._light.close_all(first_index), gap=True)
        events += self._condition_events("saturation", [], self._saturation.close_all(first_index), gap=True)
        events += self._condition_events("open_sensor", [], self._open.close_all(first_index), gap=True)
        if self._spine is not None:
            events += self._spine_events([], self._spine.gap(first_index), None, first_index, gap=True)
        self.conditioner.gap()
        self.gaps.append((first_index, first_index + n_samples))
        self._next_index = max(self._next_index or 0, first_index + n_samples)
        self._end_index = max(self._end_index, first_index + n_samples)
        return events

    # ------------------------------------------------------------------ events
    def _t(self, index: int) -> float:
        return index / self.rate_hz

    def _technique_for(self, index: int) -> str | None:
        return self.schedule.technique_for(index)

    def _overforce_events(self, begun: list[Excursion], ended: list[Excursion], gap: bool = False) -> list[EngineEvent]:
        out = []
        for e in begun:
            ch = self.glove[e.channel]
            msg = messages.overforce_begin(ch, e.peak, e.limit, e.saturated)
            out.append(EngineEvent("overforce", "begin", self._t(e.trigger_index), msg, channel=ch,
                                   technique=self._technique_for(e.trigger_index),
                                   peak_n=None if e.saturated else e.peak, start_s=self._t(e.start_index),
                                   saturated=e.saturated))
            self._active[("overforce", ch)] = ActiveAlert("overforce", ch, self._t(e.start_index), msg,
                                                          None if e.saturated else e.peak)
            self.live_alerts += 1
        for e in ended:
            ch = self.glove[e.channel]
            out.append(EngineEvent("overforce", "end", self._t(e.stop_index), messages.overforce_end(ch, gap),
                                   channel=ch, technique=self._technique_for(e.trigger_index),
                                   peak_n=None if e.saturated else e.peak, start_s=self._t(e.start_index),
                                   end_s=self._t(e.stop_index), saturated=e.saturated))
            self._active.pop(("overforce", ch), None)
        return out

    def active_alerts(self) -> tuple[ActiveAlert, ...]:
        """The alerts on now, force alerts brought up to their episode's peak so far (the
        detectors keep the running peak of each open episode)."""
        running: dict[tuple[str, str], ActiveAlert] = {}
        for e in self._over.open_excursions():
            ch = self.glove[e.channel]
            key = ("overforce", ch)
            if key in self._active and not e.saturated:
                running[key] = replace(self._active[key], message=messages.overforce_begin(ch, e.peak, e.limit, False),
                                       peak_n=e.peak)
        if self._spine is not None:
            bases = self._spine_base_at_trigger
            for e in self._spine.detector.open_excursions():
                seg = self.spine[e.channel]
                key = ("spine_contact", seg)
                if key in self._active and not e.saturated and seg in bases:
                    peak = e.peak + bases[seg]
                    running[key] = replace(self._active[key], message=messages.spine_begin(seg, peak), peak_n=peak)
        return tuple(running.get(key, alert) for key, alert in self._active.items())

    def _underforce_events(self, begun: list[LightPressAlert], ended: list[LightPressAlert], gap: bool = False
                           ) -> list[EngineEvent]:
        out = []
        for a in begun:
            ch = self.glove[a.channel]
            msg = messages.underforce_begin(ch, a.peak, a.minimum)
            out.append(EngineEvent("underforce", "begin", self._t(a.trigger_index), msg, channel=ch,
                                   technique=self._technique_for(a.trigger_index), peak_n=a.peak,
                                   start_s=self._t(a.start_index)))
            self._active[("underforce", ch)] = ActiveAlert("underforce", ch, self._t(a.start_index), msg)
            self.live_alerts += 1
        for a in ended:
            ch = self.glove[a.channel]
            out.append(EngineEvent("underforce", "end", self._t(a.stop_index), messages.underforce_end(ch),
                                   channel=ch, technique=self._technique_for(a.trigger_index), peak_n=a.peak,
                                   start_s=self._t(a.start_index), end_s=self._t(a.stop_index)))
            self._active.pop(("underforce", ch), None)
        return out

    def _health_events(self, changes: list[HealthChange]) -> list[EngineEvent]:
        out = []
        for ch in changes:
            if ch.state != "ok":
                if ch.previous != "ok":
                    out.append(EngineEvent("sensor_fault", "end", ch.at_s, ch.message, channel=ch.channel))
                out.append(EngineEvent("sensor_fault", "begin", ch.at_s, ch.message, channel=ch.channel,
                                       rule=ch.state, start_s=ch.at_s))
                self._active[("sensor_fault", ch.channel)] = ActiveAlert("sensor_fault", ch.channel, ch.at_s,
                                                                         ch.message)
            else:
                out.append(EngineEvent("sensor_fault", "end", ch.at_s, messages.sensor_normal_again(ch.channel),
                                       channel=ch.channel, rule=ch.previous, end_s=ch.at_s))
                self._active.pop(("sensor_fault", ch.channel), None)
        return out

    def _condition_events(self, kind: str, begun: list[Excursion], ended: list[Excursion], gap: bool = False
                          ) -> list[EngineEvent]:
        out = []
        for e in begun:
            ch = self.channels[e.channel]
            msg = messages.sensor_condition_begin(kind, ch)
            out.append(EngineEvent(kind, "begin", self._t(e.trigger_index), msg, channel=ch,
                                   start_s=self._t(e.start_index)))
            self._active[(kind, ch)] = ActiveAlert(kind, ch, self._t(e.start_index), msg)
        for e in ended:
            ch = self.channels[e.channel]
            out.append(EngineEvent(kind, "end", self._t(e.stop_index), messages.sensor_normal_again(ch),
                                   channel=ch, start_s=self._t(e.start_index), end_s=self._t(e.stop_index)))
            self._active.pop((kind, ch), None)
            self.faults.append({"channel": ch, "kind": kind, "start_s": round(self._t(e.start_index), 3),
                                "end_s": round(self._t(e.stop_index), 3),
                                "duration_s": round(self._t(e.stop_index - e.start_index), 3)})
        return out

    def _spine_events(self, begun: list[Excursion], ended: list[Excursion], base: np.ndarray | None, first: int,
                      gap: bool = False) -> list[EngineEvent]:
        out = []
        baseline = self._spine.current_baseline() if self._spine is not None else np.zeros(len(self.spine))
        for e in begun:
            seg = self.spine[e.channel]
            b = float(base[e.trigger_index - first, e.channel]) if base is not None else float(baseline[e.channel])
            peak = None if e.saturated else e.peak + b
            msg = messages.spine_begin(seg, peak)
            out.append(EngineEvent("spine_contact", "begin", self._t(e.trigger_index), msg, channel=seg,
                                   technique=self._technique_for(e.trigger_index), peak_n=peak,
                                   start_s=self._t(e.start_index), rule="spine_contact", saturated=e.saturated))
            self._active[("spine_contact", seg)] = ActiveAlert("spine_contact", seg, self._t(e.start_index), msg,
                                                               peak)
            self.live_alerts += 1
            self._spine_base_at_trigger[seg] = b
        for e in ended:
            seg = self.spine[e.channel]
            b = self._spine_base_at_trigger.get(seg, float(baseline[e.channel]))
            peak = None if e.saturated else e.peak + b
            out.append(EngineEvent("spine_contact", "end", self._t(e.stop_index), messages.spine_end(seg), channel=seg,
                                   technique=self._technique_for(e.trigger_index), peak_n=peak,
                                   start_s=self._t(e.start_index), end_s=self._t(e.stop_index), rule="spine_contact",
                                   saturated=e.saturated))
            self._active.pop(("spine_contact", seg), None)
            self.spine_contacts.append(ForceEpisode(seg, self._t(e.start_index), self._t(e.stop_index), peak,
                                                    e.saturated, self._technique_for(e.trigger_index)))
            self._spine_contact_s[e.channel] += self._t(e.stop_index - e.start_index)
        return out

    # ------------------------------------------------------------------ state and report
    @property
    def state(self) -> EngineState:
        now = self._t(self._end_index)
        status = self.cues.phase_status(now, self.schedule.current)
        return EngineState(
            time_s=now, technique=status.technique, phase_elapsed_s=status.phase_elapsed_s,
            phase_window=status.phase_window, cue=status.cue, session_elapsed_s=status.session_elapsed_s,
            session_limit_s=self.protocol.session_max_s, active_alerts=self.active_alerts(),
            phases=status.phases, candidate_technique=self.schedule.candidate,
            limits=self.limits.live_now(self.schedule.applied, self.schedule.recent),
            **self._pause_state(now, status.judged),
        )

    def _pause_state(self, now: float, merged) -> dict:
        if self._off_since is None or not merged:
            return {}
        off_s = now - self._t(self._off_since)
        last = merged[-1]
        if (off_s < PAUSE_SHOWN_AFTER_S or off_s > self.protocol.pause_max_s
                or last.end_s < self._t(self._off_since) - 1.0):
            return {}
        return {"pause_s": off_s, "paused_technique": last.technique, "pause_max_s": self.protocol.pause_max_s}

    def _hindsight_stretches(self, redo: list[tuple[int, int, int]]) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """The kept forces around each stretch [a, b) of `redo` [(column, a, b)] where a sensor
        was faulty before it was told: every window that overlaps the stretch, and
        HINDSIGHT_CONTEXT_S before the first of them for the hand contact (decided again from
        a lifted start) to settle. Overlapping neighbourhoods are merged, so no window comes
        twice, and the session between two faults far apart is not read again."""
        pad = self.recognizer.window + int(round(HINDSIGHT_CONTEXT_S * self.rate_hz))
        merged: list[list[int]] = []
        for lo, hi in sorted((a - pad, b + self.recognizer.window) for _, a, b in redo):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return [stretch for lo, hi in merged for stretch in self.hindsight.stretches(lo, hi)]

    def _phases_in_hindsight(self, spans: list[tuple[str, str, float, float, float]], end_s: float) -> list[Phase]:
        """The session's phases for the report. Live, a faulty glove sensor is left out only
        from the moment its fault is told (seconds to a minute after it began), and until then
        its readings shaped the hand contact and the technique windows. Knowing the fault's
        likely onset, the windows of that stretch are labelled again without the sensor, with
        contact decided again without it, and the phases found again from all the windows."""
        col = {c: i for i, c in enumerate(self.glove)}
        # A fault is told at most FAULT_LOOKBACK_S after it began (the report's force episodes
        # assume as much); a sensor whose healthy evidence is older than that (a noisy one
        # whose hand never rested) is not taken out of a longer stretch it may have served well.
        redo = [(col[ch], int(round(max(onset, start - FAULT_LOOKBACK_S) * self.rate_hz)),
                 int(round(start * self.rate_hz)))
                for ch, _, onset, start, _ in spans if ch in col and onset < start]
        if not redo:
            return self.smoother.finish(end_s)
        rec = self.recognizer
        starts = rec.window_starts()
        ends = starts + rec.window
        changed = False
        for first, forces, level in self._hindsight_stretches(redo):
            if level is None:
                continue
            last = first + len(forces)
            x = forces.astype(np.float64)
            for c, a, b in redo:
                x[max(a - first, 0):max(min(b, last) - first, 0), c] = 0.0
            # Windows inside this run that overlap a stretch where a sensor was faulty unknown.
            touched = np.zeros(len(starts), dtype=bool)
            for _, a, b in redo:
                touched |= (starts < b) & (ends > a)
            touched &= (starts >= first) & (ends <= last)
            positions = np.flatnonzero(touched)
            if not len(positions):
                continue
            contact = hand_contact(x.sum(axis=1), level, self.rate_hz)
            # Windows are hop apart; relabel each unbroken run of them at once.
            cuts = np.flatnonzero(np.diff(starts[positions]) != rec.hop) + 1
            for run in np.split(positions, cuts):
                left_out = np.zeros((len(run), len(self.glove)), dtype=bool)
                for c, a, b in redo:
                    left_out[:, c] |= (starts[run] < b) & (ends[run] > a)
                rec.relabel(run, x, contact, first, left_out)
            changed = True
        if not changed:
            return self.smoother.finish(end_s)
        smoother = PhaseSmoother(self.rate_hz)
        smoother.update(rec.replay())
        return smoother.finish(end_s)

    def finish(self) -> SessionReport:
        end = self._end_index
        self._overforce_events([], self._over.close_all(end))
        self._underforce_events([], self._light.close_all(end))
        self._condition_events("saturation", [], self._saturation.close_all(end))
        self._condition_events("open_sensor", [], self._open.close_all(end))
        if self._spine is not None:
            self._spine_events([], self._spine.detector.close_all(end), None, end)
        end_s = self._t(end)
        health = self.health.summary()
        phases = [p for p in self._phases_in_hindsight(self.health.fault_spans(), end_s) if p.technique != "none"]
        judged = judged_phases(self.protocol, phases)
        massage_found = bool(judged)
        self.scoring_over, self.scoring_under = self.hindsight.episodes(judged, end, self._technique_for)
        self.scoring_over = [e for e in self.scoring_over if not during_fault(health, e)]
        self.scoring_under = [e for e in self.scoring_under if not during_fault(health, e)]
        self.spine_contacts = [e for e in self.spine_contacts if not during_fault(health, e)]
        violations: list[Violation] = [v for v in check_phases(self.protocol, phases, end_s, final=True)
                                       if massage_found or v.key != ("missing_phase", "all")]
        for e in self.scoring_over:
            violations.append(Violation("excessive_force", messages.excessive_force(e.channel, e.peak_n, e.limit_n),
                                        e.start_s, ("force", e.channel, e.start_s)))
        for e in self.scoring_under:
            violations.append(Violation("too_light", messages.too_light(e.channel, e.peak_n, e.limit_n),
                                        e.start_s, ("light", e.channel, e.start_s)))
        for e in self.spine_contacts:
            violations.append(Violation("spine_contact", messages.spine_violation(e.channel),
                                        e.start_s, ("spine", e.channel, e.start_s)))
        violations.sort(key=lambda v: v.at_s)
        return SessionReport(
            duration_s=end_s, phases=judged, overforce_events=sorted(self.scoring_over, key=lambda e: e.start_s),
            underforce_events=sorted(self.scoring_under, key=lambda e: e.start_s),
            spine_contacts=sorted(self.spine_contacts, key=lambda e: (e.start_s, e.channel)),
            violations=violations, calibration=dict(self.calibration_info), spine_check=self._spine is not None,
            per_region=self.stats.per_region(), spine_map=spine_map(self._spine, self.spine, self._spine_contact_s),
            score=session_score(self.protocol, phases, violations, self.stats.within_pct),
            live_alerts=self.live_alerts, gaps=[(self._t(a), self._t(b)) for a, b in self.gaps],
            sensor_faults=list(self.faults), protocol_name=self.protocol.name, massage_found=massage_found,
            sensor_health=health,
        )


__all__ = ["ActiveAlert", "CoachingEngine", "EngineState"]
