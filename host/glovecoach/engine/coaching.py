"""CoachingEngine: streaming force blocks in, coaching events and a session report out.

Per block (any length, from one sample to the whole session):
1. technique: the recogniser labels completed windows, the phase smoother confirms changes;
2. force windows: for every sample, the limits of the technique in force then. While a change
   is still unconfirmed (the latest window says one technique, the confirmed phase another) the
   more lenient of the two applies, so a trainee moving from stroking to kneading is not told
   off for kneading force; limits switch at the sample where the label or confirmation
   arrived, which makes results independent of the block size;
3. detectors (glovecoach.engine.detectors): over-force with debounce and hysteresis, live and
   scoring limits separately; too-light fist presses; saturation and open leads;
4. spine contact over the partner's baseline (glovecoach.engine.spine);
5. protocol timing and order (glovecoach.engine.protocol_check) after each phase change and
   as time passes: "move on" cue, session warning, violations.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from glovecoach.calibration import ForceBlock
from glovecoach.engine.conditioning import ConditionedBlock, SignalConditioner
from glovecoach.engine.detectors import Excursion, ExcursionDetector, LightPressAlert, LightPressDetector
from glovecoach.engine.events import EngineEvent, sensor_name, technique_name
from glovecoach.engine.health import HealthChange, SensorHealthMonitor
from glovecoach.engine.protocol_check import Violation, assign_slots, check_phases, judged_phases
from glovecoach.engine.report import ForceEpisode, SessionReport
from glovecoach.engine.spine import SpineTracker
from glovecoach.engine.technique import TECHNIQUES, WINDOW_S, Phase, PhaseSmoother, TechniqueRecognizer
from glovecoach.protocols import Protocol
from glovecoach.sensor_map import SPINE_CHANNELS

KNUCKLE_CHANNELS = ("knuckles_index_middle", "knuckles_ring_little")

OPEN_SENSOR_MIN_S = 0.5      # a lead reading open this long is reported (shorter: a loose contact blip)
CONTACT_N = 0.5              # a glove sensor touching the back, for per-region statistics
PROTOCOL_RECHECK_S = 0.5     # time-based protocol rules are re-evaluated this often
LIFT_MIN_S = 0.3             # the hand off the back this long, then back: the technique may have changed
RECENT_LABELS_S = WINDOW_S   # a window label keeps its technique's limits in play this long
FAULT_LOOKBACK_S = 60.0      # a sensor fault is told at most this long after it began (docs/engine.md)
PAUSE_SHOWN_AFTER_S = 3.0    # the hand off the back this long: the phase bar says "paused"


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


class _Limits:
    """Per-technique live/scoring limit vectors over the glove channels (inf / NaN: no bound)."""

    def __init__(self, protocol: Protocol, glove: Sequence[str]) -> None:
        self.table: dict[str | None, dict[str, np.ndarray]] = {}
        for tech in (None,) + tuple(TECHNIQUES):
            row = {}
            for purpose in ("live", "scoring"):
                lims = [protocol.force_limit(None if tech in (None, "none") else tech, c, purpose) for c in glove]
                row[f"{purpose}_min"] = np.array([np.nan if lo is None else lo for lo, _ in lims])
                row[f"{purpose}_max"] = np.array([np.inf if hi is None else hi for _, hi in lims])
            self.table[tech] = row
        self._cache: dict = {}

    def effective(self, current: str | None, recent: frozenset = frozenset()) -> dict[str, np.ndarray]:
        """Limits of `current`, relaxed to the most lenient of the recently seen techniques."""
        key = (current, recent)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        techniques = {current if current in self.table else None} | {t if t in self.table else None for t in recent}
        rows = [self.table[t] for t in techniques]
        out = {}
        for k in rows[0]:
            stack = np.stack([r[k] for r in rows])
            if k.endswith("_max"):
                out[k] = stack.max(axis=0)
            else:   # a missing minimum (NaN) is the most lenient
                out[k] = np.where(np.isnan(stack).any(axis=0), np.nan, np.nanmin(np.where(np.isnan(stack), np.inf, stack), axis=0))
        self._cache[key] = out
        return out


class CoachingEngine:
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
        self._knuckle_cols = np.array([k for k, c in enumerate(self.glove) if c in KNUCKLE_CHANNELS], dtype=int)
        self._knuckles_working = False
        self._off_since: int | None = None     # first sample of the hand's current time off the back
        self._idle_knuckle_limits: dict = {}
        self.recognizer = TechniqueRecognizer(self.glove, self.rate_hz)
        self.smoother = PhaseSmoother(self.rate_hz)
        self.limits = _Limits(protocol, self.glove)
        g = len(self.glove)
        self._over = {"live": ExcursionDetector(g, round(ff.min_duration_s("live") * self.rate_hz))}
        self._light = {p: LightPressDetector(g, ff.press_contact_n, ff.light_presses_to_alert,
                                             round(ff.press_gap_s * self.rate_hz)) for p in ("live",)}
        # (first index, glove forces, saturated, pressing, knuckles working) of every block.
        self._kept: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._saturation = ExcursionDetector(len(self.channels), 1)
        self._open = ExcursionDetector(len(self.channels), round(OPEN_SENSOR_MIN_S * self.rate_hz))
        self._spine = SpineTracker(len(self.spine), self.rate_hz, protocol.spine) if len(self.spine) else None

        self._next_index: int | None = None
        self._end_index = 0
        self._current: str | None = None       # confirmed technique ("none" included)
        self._last_real: str | None = None     # last confirmed technique that was not "none"
        self._candidate: str | None = None     # latest window's technique
        # Techniques of the windows that ended in the last RECENT_LABELS_S ("none" as None):
        # until they all agree with the confirmed phase, the most lenient of them applies.
        self._recent_labels: deque[tuple[int, str | None]] = deque()
        self._recent: frozenset = frozenset()
        self._recent_span = int(round(RECENT_LABELS_S * self.rate_hz))
        self._off_run = 0                      # samples the hand has been off the back, at the last block's end
        self._was_off = True
        self._last_return = -(10 ** 12)
        self._lift_min = int(round(LIFT_MIN_S * self.rate_hz))
        self._grace_len = int(round(WINDOW_S * self.rate_hz))
        self._changes_phases: list[list] = []  # [technique, start_s, end_s] from confirmed changes
        self._reported: set[tuple] = set()
        self._cued: set[tuple] = set()
        self._cue: str | None = None
        self._next_recheck_s = 0.0
        self._active: dict[tuple[str, str], ActiveAlert] = {}
        self._technique_at: list[tuple[int, str | None]] = [(0, None)]   # for labelling episodes

        self.scoring_over: list[ForceEpisode] = []
        self.scoring_under: list[ForceEpisode] = []
        self.spine_contacts: list[ForceEpisode] = []
        self.live_alerts = 0
        self.gaps: list[tuple[int, int]] = []
        self.faults: list[dict] = []
        self._stats: dict[str, dict[str, np.ndarray]] = {}
        self._contact_samples = 0
        self._within_samples = 0
        self._spine_contact_s = np.zeros(len(self.spine))
        self._spine_base_at_trigger: dict[str, float] = {}   # segment -> baseline when it began

    # ------------------------------------------------------------------ streaming
    def process(self, block: ForceBlock) -> list[EngineEvent]:
        n = block.newtons.shape[0]
        if block.newtons.ndim != 2 or block.newtons.shape[1] != len(self.channels):
            raise ValueError(f"block has {block.newtons.shape} samples x channels; engine expects {len(self.channels)} channels")
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

        events += self._health_events(self.health.process(first, x_all, sat_all, open_all))
        faulty = self._faulty
        fg = faulty[self.glove_idx]
        self.conditioner.excluded = fg
        gi = self.glove_idx
        cond = self.conditioner.process(first, x_all[:, gi], sat_all[:, gi], open_all[:, gi])
        if faulty.any():
            # A faulty sensor reads nothing the detectors may judge: zero force, never saturated.
            cond = replace(cond, force=np.where(fg[None, :], 0.0, cond.force),
                           saturated=cond.saturated & ~fg[None, :], open=cond.open & ~fg[None, :])
            sat_all, open_all = sat_all & ~faulty[None, :], open_all & ~faulty[None, :]
            x_all = np.where(faulty[None, :], 0.0, x_all)
        segments = self._technique_segments(cond, first, n, events)
        xg = cond.force
        sg = cond.saturated
        pressing = cond.pressing
        glove_on = cond.hand_on if len(self.glove) else np.ones(n, dtype=bool)
        if glove_on[-1]:
            self._off_since = None
        elif glove_on.any():
            self._off_since = first + int(np.flatnonzero(glove_on)[-1]) + 1
        elif self._off_since is None:
            self._off_since = first
        lim = self._limit_arrays(segments, n)
        lim = self._relax_after_return(lim, glove_on, first, n)

        # Over-force and too-light presses, live. The report's (scoring) episodes are found at
        # the end, in hindsight, against the phases the whole session shows (`_scoring_pass`);
        # what they need is kept here.
        ratio = self.protocol.force_feedback.release_ratio("live")
        mx = lim["live_max"]
        begun, ended = self._over["live"].process(first, xg, mx, mx * ratio, sg)
        events += self._overforce_events(begun, ended)
        mn = lim["live_min"]
        watch = np.isfinite(mn).any(axis=0) | np.array([c in self._light["live"]._open for c in range(len(self.glove))], dtype=bool) \
            if len(self.glove) else np.zeros(0, bool)
        lbegun, lended = self._light["live"].process(first, xg, mn, watch, pressing)
        events += self._underforce_events(lbegun, lended)
        if len(self.glove):
            working = np.repeat([seg[4] for seg in segments], [b - a for a, b, *_ in segments])
            self._kept.append((first, xg.astype(np.float32), sg.copy(), pressing.copy(), working))

        # Sensor conditions on every channel.
        fb, fe = self._saturation.process(first, sat_all, np.float64(0.5), np.float64(0.5))
        events += self._condition_events("saturation", fb, fe)
        ob, oe = self._open.process(first, open_all, np.float64(0.5), np.float64(0.5))
        events += self._condition_events("open_sensor", ob, oe)

        # Spine.
        if self._spine is not None:
            sb, se, base = self._spine.process(first, x_all[:, self.spine_idx], sat_all[:, self.spine_idx], glove_on)
            events += self._spine_events(sb, se, base, first)

        self._accumulate_stats(segments, xg, sg, lim, cond.noise)
        events += self._protocol_events(first + n)
        events.sort(key=lambda e: e.at_s)
        return events

    def gap(self, first_index: int, n_samples: int) -> list[EngineEvent]:
        """Samples [first_index, first_index + n_samples) will never arrive: close what is open there."""
        if n_samples <= 0:
            return []
        events: list[EngineEvent] = []
        self.health.gap(first_index, n_samples)
        events += self._overforce_events([], self._over["live"].close_all(first_index), gap=True)
        events += self._underforce_events([], self._light["live"].close_all(first_index), gap=True)
        events += self._condition_events("saturation", [], self._saturation.close_all(first_index), gap=True)
        events += self._condition_events("open_sensor", [], self._open.close_all(first_index), gap=True)
        if self._spine is not None:
            events += self._spine_events([], self._spine.gap(first_index), None, first_index, gap=True)
        self.conditioner.gap()
        self.gaps.append((first_index, first_index + n_samples))
        self._next_index = max(self._next_index or 0, first_index + n_samples)
        self._end_index = max(self._end_index, first_index + n_samples)
        return events

    # ------------------------------------------------------------------ technique
    def _technique_segments(self, cond: ConditionedBlock, first: int, n: int, events: list[EngineEvent]
                            ) -> list[tuple[int, int, str | None, frozenset]]:
        """[(start, end) offsets in the block, technique whose limits apply, recent window techniques]."""
        labels = self.recognizer.process(cond.force, first, contact=cond.hand_on)
        changes = self.smoother.update(labels)
        # (offset in block, order, kind, value): at one offset, labels before confirmations.
        marks: list[tuple[int, int, str, Any]] = []
        for lab in labels:
            marks.append((min(max(lab.end_index - first, 0), n), 0, "cand", lab))
        for ch in changes:
            off = min(max(int(round(ch.confirmed_at_s * self.rate_hz)) - first, 0), n)
            marks.append((off, 1, "conf", ch))
        marks.sort(key=lambda m: (m[0], m[1]))
        segments: list[tuple[int, int, str | None, frozenset, bool]] = []
        pos = 0
        for off, _, kind, value in marks:
            if off > pos:
                segments.append((pos, off, self._applied(), self._recent, self._knuckles_working))
                pos = off
            if kind == "cand":
                self._candidate = value.technique
                self._knuckles_working = value.knuckles_working
                self._recent_labels.append((first + off, None if value.technique == "none" else value.technique))
                while self._recent_labels and self._recent_labels[0][0] <= first + off - self._recent_span:
                    self._recent_labels.popleft()
                self._recent = frozenset(t for _, t in self._recent_labels)
            else:
                self._on_change(value, events)
        if pos < n or not segments:
            segments.append((pos, n, self._applied(), self._recent, self._knuckles_working))
        return segments

    def _applied(self) -> str | None:
        """Technique whose limits apply: the confirmed one, or the last real one during a "none" phase."""
        if self._current not in (None, "none"):
            return self._current
        return self._last_real

    def _on_change(self, change, events: list[EngineEvent]) -> None:
        self._current = change.technique
        if change.technique != "none":
            self._last_real = change.technique
        at_index = int(round(change.confirmed_at_s * self.rate_hz))
        self._technique_at.append((at_index, self._applied()))
        if self._changes_phases:
            self._changes_phases[-1][2] = change.start_s
        self._changes_phases.append([change.technique, change.start_s, change.confirmed_at_s])
        if change.technique != "none":
            events.append(EngineEvent(
                "phase_change", "instant", change.confirmed_at_s,
                f"Now: {technique_name(change.technique)}.", technique=change.technique,
                start_s=change.start_s))
        self._cue = None
        events += self._violation_events(change.confirmed_at_s)

    def _limit_arrays(self, segments, n: int) -> dict[str, np.ndarray]:
        rows = [self._segment_limits(cur, recent, fist) for _, _, cur, recent, fist in segments]
        if len(segments) == 1:
            return {k: v[None, :] for k, v in rows[0].items()}
        lengths = [b - a for a, b, *_ in segments]
        return {k: np.repeat(np.stack([r[k] for r in rows]), lengths, axis=0) for k in rows[0]}

    def _segment_limits(self, current: str | None, recent: frozenset, knuckles_working: bool) -> dict[str, np.ndarray]:
        """The limits of a stretch. The knuckles' window (too light and too hard) is the fist's:
        it applies only while the knuckles are the working surface; idle knuckles resting on
        nothing are not "presses" and are judged by no window of their own."""
        eff = self.limits.effective(current, recent)
        if knuckles_working or not len(self._knuckle_cols):
            return eff
        key = (current, recent, "idle_knuckles")
        cached = self._idle_knuckle_limits.get(key)
        if cached is None:
            cached = {k: v.copy() for k, v in eff.items()}
            for purpose in ("live", "scoring"):
                cached[f"{purpose}_min"][self._knuckle_cols] = np.nan
            self._idle_knuckle_limits[key] = cached
        return cached

    def _relax_after_return(self, lim: dict[str, np.ndarray], glove_on: np.ndarray, first: int, n: int
                            ) -> dict[str, np.ndarray]:
        """Default ("*") limits, if more lenient, for a window's length after the hand comes back.

        When the hand returns to the back after a lift, it may be starting a different
        technique, and no window label can say so until a window has filled with it.
        """
        if self.glove_idx.size == 0:
            return lim
        idx = np.arange(n)
        off = ~glove_on
        # Length of the off-the-back run ending just before each sample (carried across blocks).
        last_on = np.maximum.accumulate(np.where(glove_on, idx, -1))
        prev_last_on = np.concatenate([[-1], last_on[:-1]])
        off_before = np.where(prev_last_on < 0, idx + self._off_run, idx - 1 - prev_last_on)
        returns = glove_on & (off_before >= self._lift_min) & np.concatenate([[self._was_off], off[:-1]])
        ret_at = np.maximum.accumulate(np.where(returns, first + idx, -1))
        ret_at = np.where(ret_at < 0, self._last_return, ret_at)
        grace = (first + idx) < ret_at + self._grace_len
        last_off = off[::-1].argmin() if glove_on.any() else n
        self._off_run = int(last_off) if glove_on.any() else self._off_run + n
        self._was_off = bool(off[-1])
        self._last_return = int(ret_at[-1])
        if not grace.any():
            return lim
        star = self.limits.table[None]
        out = {}
        for key, value in lim.items():   # (only the rows in grace change: no pass over the others)
            out[key] = np.array(np.broadcast_to(value, (n, value.shape[1])))
            out[key][grace] = np.maximum(out[key][grace], star[key]) if key.endswith("_max") else np.nan
        return out

    def _technique_for(self, index: int) -> str | None:
        tech = None
        for at, t in self._technique_at:
            if at <= index:
                tech = t
            else:
                break
        return tech

    # ------------------------------------------------------------------ events
    def _t(self, index: int) -> float:
        return index / self.rate_hz

    def _episode(self, e: Excursion, names: Sequence[str]) -> ForceEpisode:
        return ForceEpisode(names[e.channel], self._t(e.start_index), self._t(e.stop_index),
                            None if e.saturated else e.peak, e.saturated, self._technique_for(e.trigger_index),
                            e.limit if math.isfinite(e.limit) else None)

    def _light_episode(self, a: LightPressAlert) -> ForceEpisode:
        return ForceEpisode(self.glove[a.channel], self._t(a.start_index), self._t(a.stop_index),
                            a.peak, False, self._technique_for(a.trigger_index), a.minimum)

    def _overforce_events(self, begun: list[Excursion], ended: list[Excursion], gap: bool = False) -> list[EngineEvent]:
        out = []
        for e in begun:
            msg = self._overforce_message(e)
            out.append(EngineEvent("overforce", "begin", self._t(e.trigger_index), msg, channel=self.glove[e.channel],
                                   technique=self._technique_for(e.trigger_index),
                                   peak_n=None if e.saturated else e.peak, start_s=self._t(e.start_index),
                                   saturated=e.saturated))
            self._active[("overforce", self.glove[e.channel])] = ActiveAlert(
                "overforce", self.glove[e.channel], self._t(e.start_index), msg,
                None if e.saturated else e.peak)
            self.live_alerts += 1
        for e in ended:
            name = sensor_name(self.glove[e.channel])
            why = " (data gap)" if gap else ""
            out.append(EngineEvent("overforce", "end", self._t(e.stop_index), f"Force on the {name} back within limits{why}.",
                                   channel=self.glove[e.channel], technique=self._technique_for(e.trigger_index),
                                   peak_n=None if e.saturated else e.peak, start_s=self._t(e.start_index),
                                   end_s=self._t(e.stop_index), saturated=e.saturated))
            self._active.pop(("overforce", self.glove[e.channel]), None)
        return out

    def _overforce_message(self, e: Excursion) -> str:
        name = sensor_name(self.glove[e.channel])
        peak = (f"at the top of its range (over {e.limit:g} N)" if e.saturated
                else f"{e.peak:.0f} N (limit {e.limit:g} N)")
        return f"Too much force on the {name}: {peak}."

    @staticmethod
    def _spine_message(seg: str, peak: float | None) -> str:
        return f"Off the spine! Pressure on {sensor_name(seg)}" + ("." if peak is None else f": {peak:.1f} N.")

    def active_alerts(self) -> tuple[ActiveAlert, ...]:
        """The alerts on now, force alerts brought up to their episode's peak so far (the
        detectors keep the running peak of each open episode)."""
        running: dict[tuple[str, str], ActiveAlert] = {}
        for e in self._over["live"].open_excursions():
            key = ("overforce", self.glove[e.channel])
            if key in self._active and not e.saturated:
                running[key] = replace(self._active[key], message=self._overforce_message(e),
                                       peak_n=e.peak)
        if self._spine is not None:
            bases = self._spine_base_at_trigger
            for e in self._spine.detector.open_excursions():
                seg = self.spine[e.channel]
                key = ("spine_contact", seg)
                if key in self._active and not e.saturated and seg in bases:
                    peak = e.peak + bases[seg]
                    running[key] = replace(self._active[key], message=self._spine_message(seg, peak),
                                           peak_n=peak)
        return tuple(running.get(key, alert) for key, alert in self._active.items())

    def _underforce_events(self, begun: list[LightPressAlert], ended: list[LightPressAlert], gap: bool = False
                           ) -> list[EngineEvent]:
        out = []
        for a in begun:
            ch = self.glove[a.channel]
            msg = f"Press harder with the {sensor_name(ch)}: {a.peak:.0f} N (at least {a.minimum:g} N)."
            out.append(EngineEvent("underforce", "begin", self._t(a.trigger_index), msg, channel=ch,
                                   technique=self._technique_for(a.trigger_index), peak_n=a.peak,
                                   start_s=self._t(a.start_index)))
            self._active[("underforce", ch)] = ActiveAlert("underforce", ch, self._t(a.start_index), msg)
            self.live_alerts += 1
        for a in ended:
            ch = self.glove[a.channel]
            out.append(EngineEvent("underforce", "end", self._t(a.stop_index), f"Good pressure on the {sensor_name(ch)}.",
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
                self._active[("sensor_fault", ch.channel)] = ActiveAlert("sensor_fault", ch.channel, ch.at_s, ch.message)
            else:
                out.append(EngineEvent("sensor_fault", "end", ch.at_s,
                                       f"The {sensor_name(ch.channel)} sensor reads normally again.",
                                       channel=ch.channel, rule=ch.previous, end_s=ch.at_s))
                self._active.pop(("sensor_fault", ch.channel), None)
        if changes:
            self._faulty = np.asarray(self.health.faulty(), dtype=bool)
        return out

    def _condition_events(self, kind: str, begun: list[Excursion], ended: list[Excursion], gap: bool = False
                          ) -> list[EngineEvent]:
        out = []
        what = "is at the top of its range (saturated)" if kind == "saturation" else "reads nothing: check its lead"
        for e in begun:
            ch = self.channels[e.channel]
            msg = f"The {sensor_name(ch)} sensor {what}."
            out.append(EngineEvent(kind, "begin", self._t(e.trigger_index), msg, channel=ch, start_s=self._t(e.start_index)))
            self._active[(kind, ch)] = ActiveAlert(kind, ch, self._t(e.start_index), msg)
        for e in ended:
            ch = self.channels[e.channel]
            out.append(EngineEvent(kind, "end", self._t(e.stop_index), f"The {sensor_name(ch)} sensor reads normally again.",
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
            msg = self._spine_message(seg, peak)
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
            out.append(EngineEvent("spine_contact", "end", self._t(e.stop_index), f"Off {sensor_name(seg)}.", channel=seg,
                                   technique=self._technique_for(e.trigger_index), peak_n=peak,
                                   start_s=self._t(e.start_index), end_s=self._t(e.stop_index), rule="spine_contact",
                                   saturated=e.saturated))
            self._active.pop(("spine_contact", seg), None)
            self.spine_contacts.append(ForceEpisode(seg, self._t(e.start_index), self._t(e.stop_index), peak,
                                                    e.saturated, self._technique_for(e.trigger_index)))
            self._spine_contact_s[e.channel] += self._t(e.stop_index - e.start_index)
        return out

    # ------------------------------------------------------------------ protocol
    def _phases_so_far(self, now_s: float) -> list[Phase]:
        out = []
        for k, (tech, start, end) in enumerate(self._changes_phases):
            last = k == len(self._changes_phases) - 1
            out.append(Phase(tech, start, max(now_s, end) if last else end))
        return out

    def _violation_events(self, now_s: float) -> list[EngineEvent]:
        """Violations not reported yet; at_s is when the rule was broken (check_phases), a
        sample time that does not depend on how samples were split into blocks."""
        out = []
        for v in check_phases(self.protocol, self._phases_so_far(now_s), now_s, final=False):
            if v.key in self._reported:
                continue
            self._reported.add(v.key)
            out.append(EngineEvent("violation", "instant", v.at_s, v.message, rule=v.rule))
        return out

    def _protocol_events(self, end_index: int) -> list[EngineEvent]:
        now = self._t(end_index)
        out: list[EngineEvent] = []
        merged = judged_phases(self.protocol, self._phases_so_far(now))
        if not merged:
            return out
        session = now - merged[0].start_s
        warn = self.protocol.session_warn_at_s
        if session >= warn and ("session_warning",) not in self._cued:
            self._cued.add(("session_warning",))
            left = self.protocol.session_max_s - warn
            out.append(EngineEvent("cue", "instant", merged[0].start_s + warn,
                                   f"{left / 60:.0f} minutes left: finish with stroking.", rule="session_too_long"))
        current = merged[-1]
        live_phase = self._current not in (None, "none") and current.technique == self._current
        if live_phase:
            spec = self._current_spec(merged)
            if spec is not None and current.duration_s >= spec.max_s:
                key = ("move_on", len(merged) - 1, current.start_s)
                if key not in self._cued:
                    self._cued.add(key)
                    self._cue = "move_on"
                    out.append(EngineEvent("cue", "instant", current.start_s + current.paused_s * (
                                               not current.pause_counts) + spec.max_s,
                                           f"Time to move on from {technique_name(current.technique)}.",
                                           technique=current.technique, rule="phase_too_long"))
        if now >= self._next_recheck_s:
            self._next_recheck_s = now + PROTOCOL_RECHECK_S
            out += self._violation_events(now)
        return out

    def _current_spec(self, merged):
        assignment = assign_slots(self.protocol, merged)
        slot = assignment[-1][0]
        if slot is not None:
            return self.protocol.phases[slot]
        return next((s for s in self.protocol.phases if s.technique == merged[-1].technique), None)

    # ------------------------------------------------------------------ statistics
    def _accumulate_stats(self, segments, xg: np.ndarray, sg: np.ndarray, lim: dict[str, np.ndarray],
                          noise: np.ndarray) -> None:
        if xg.shape[1] == 0:
            return
        # A sensor touches the back above CONTACT_N over its baseline and clear of its noise.
        contact = xg > np.maximum(CONTACT_N, 3.0 * noise)[None, :]
        smax = np.broadcast_to(lim["scoring_max"], xg.shape)
        within = contact & ~sg & (xg <= smax)
        self._contact_samples += int(contact.sum())
        self._within_samples += int(within.sum())
        # Per segment by reduceat over the segments' starts (segments tile the block).
        starts = np.array([a for a, b, *_ in segments if b > a], dtype=np.intp)
        keys = [cur or "none" for a, b, cur, *_ in segments if b > a]
        if not len(starts):
            return
        n_in = np.add.reduceat(contact, starts, axis=0)
        sums = np.add.reduceat(np.where(contact, xg, 0.0), starts, axis=0)
        peaks = np.maximum.reduceat(np.where(sg, 0.0, xg), starts, axis=0)
        sats = np.logical_or.reduceat(sg, starts, axis=0)
        g = xg.shape[1]
        for k, key in enumerate(keys):
            st = self._stats.get(key)
            if st is None:
                st = self._stats[key] = {"n": np.zeros(g), "sum": np.zeros(g), "peak": np.zeros(g),
                                         "sat": np.zeros(g, dtype=bool)}
            st["n"] += n_in[k]
            st["sum"] += sums[k]
            np.maximum(st["peak"], peaks[k], out=st["peak"])
            st["sat"] |= sats[k]

    # ------------------------------------------------------------------ state and report
    @property
    def state(self) -> EngineState:
        now = self._t(self._end_index)
        phases = self._phases_so_far(now)
        merged = judged_phases(self.protocol, phases, min_phase=False)
        technique = self._current if self._current not in (None, "none") else None
        elapsed = 0.0
        window = None
        if technique and merged and merged[-1].technique == technique:
            elapsed = merged[-1].duration_s
            spec = self._current_spec(merged)
            if spec is not None:
                window = (spec.min_s, spec.max_s)
        applied = self._applied()
        eff = self.limits.effective(applied, self._recent)
        limits = {c: (None if math.isnan(eff["live_min"][i]) else float(eff["live_min"][i]),
                      None if math.isinf(eff["live_max"][i]) else float(eff["live_max"][i]))
                  for i, c in enumerate(self.glove)}
        return EngineState(
            time_s=now, technique=technique, phase_elapsed_s=elapsed, phase_window=window,
            cue=self._cue if technique else None,
            session_elapsed_s=(now - merged[0].start_s) if merged else 0.0,
            session_limit_s=self.protocol.session_max_s, active_alerts=self.active_alerts(),
            phases=tuple(p for p in phases if p.technique != "none"),
            candidate_technique=self._candidate, limits=limits, **self._pause_state(now, merged),
        )

    def _pause_state(self, now: float, merged) -> dict:
        if self._off_since is None or not merged:
            return {}
        off_s = now - self._t(self._off_since)
        last = merged[-1]
        if off_s < PAUSE_SHOWN_AFTER_S or off_s > self.protocol.pause_max_s or last.end_s < self._t(self._off_since) - 1.0:
            return {}
        return {"pause_s": off_s, "paused_technique": last.technique, "pause_max_s": self.protocol.pause_max_s}

    def finish(self) -> SessionReport:
        end = self._end_index
        self._overforce_events([], self._over["live"].close_all(end))
        self._underforce_events([], self._light["live"].close_all(end))
        self._condition_events("saturation", [], self._saturation.close_all(end))
        self._condition_events("open_sensor", [], self._open.close_all(end))
        if self._spine is not None:
            self._spine_events([], self._spine.detector.close_all(end), None, end)
        end_s = self._t(end)
        health = self.health.summary()
        phases = [p for p in self.smoother.finish(end_s) if p.technique != "none"]
        judged = judged_phases(self.protocol, phases)
        massage_found = bool(judged)
        self.scoring_over, self.scoring_under = self._scoring_pass(judged, end)
        self.scoring_over = [e for e in self.scoring_over if not self._during_fault(health, e)]
        self.scoring_under = [e for e in self.scoring_under if not self._during_fault(health, e)]
        self.spine_contacts = [e for e in self.spine_contacts if not self._during_fault(health, e)]
        violations: list[Violation] = [v for v in check_phases(self.protocol, phases, end_s, final=True)
                                       if massage_found or v.key != ("missing_phase", "all")]
        for e in self.scoring_over:
            peak = "a saturated reading" if e.peak_n is None else f"{e.peak_n:.0f} N"
            violations.append(Violation("excessive_force", f"Too much force on the {sensor_name(e.channel)}: {peak} "
                                        f"(limit {e.limit_n:g} N).", e.start_s, ("force", e.channel, e.start_s)))
        for e in self.scoring_under:
            violations.append(Violation("too_light", f"Fist presses too light on the {sensor_name(e.channel)}: "
                                        f"{e.peak_n:.0f} N (at least {e.limit_n:g} N).", e.start_s,
                                        ("light", e.channel, e.start_s)))
        for e in self.spine_contacts:
            violations.append(Violation("spine_contact", f"Pressure on the spinal line at {sensor_name(e.channel)}.",
                                        e.start_s, ("spine", e.channel, e.start_s)))
        violations.sort(key=lambda v: v.at_s)
        return SessionReport(
            duration_s=end_s, phases=judged, overforce_events=sorted(self.scoring_over, key=lambda e: e.start_s),
            underforce_events=sorted(self.scoring_under, key=lambda e: e.start_s),
            spine_contacts=sorted(self.spine_contacts, key=lambda e: (e.start_s, e.channel)),
            violations=violations, calibration=dict(self.calibration_info), spine_check=self._spine is not None,
            per_region=self._per_region(), spine_map=self._spine_map(), score=self._score(phases, violations),
            live_alerts=self.live_alerts, gaps=[(self._t(a), self._t(b)) for a, b in self.gaps],
            sensor_faults=list(self.faults), protocol_name=self.protocol.name, massage_found=massage_found,
            sensor_health=health,
        )

    def _scoring_pass(self, phases, end: int) -> tuple[list[ForceEpisode], list[ForceEpisode]]:
        """The report's over-force and too-light episodes, found in hindsight.

        Live, a change of technique is known only some seconds after it began, so live limits
        lag behind (and are relaxed while a change is unconfirmed). At the end the session's
        phases are known: each sample is judged against the scoring limits of the phase it
        lies in, and within a window's length of a phase boundary against the more lenient of
        the two phases; outside every phase, against the protocol's default limits. The
        knuckles' window applies only where they were the working surface.
        """
        if not self._kept:
            return [], []
        ff = self.protocol.force_feedback
        g = len(self.glove)
        over = ExcursionDetector(g, round(ff.min_duration_s("scoring") * self.rate_hz))
        light = LightPressDetector(g, ff.press_contact_n, ff.light_presses_to_alert, round(ff.press_gap_s * self.rate_hz))
        ratio = ff.release_ratio("scoring")
        margin = int(round(WINDOW_S * self.rate_hz))
        spans = [(int(round(p.start_s * self.rate_hz)) - margin, int(round(p.end_s * self.rate_hz)) + margin,
                  self.limits.table.get(p.technique, self.limits.table[None]), p.technique) for p in phases]
        over_eps: list[Excursion] = []
        light_eps: list[LightPressAlert] = []
        next_index: int | None = None
        for first, xg, sg, pressing, working in self._kept:
            n = len(xg)
            if next_index is not None and first != next_index:
                over_eps += over.close_all(next_index)
                light_eps += light.close_all(next_index)
            next_index = first + n
            mx, mn = self._hindsight_limits(first, n, spans)
            if len(self._knuckle_cols):
                mn[:, self._knuckle_cols] = np.where(working[:, None], mn[:, self._knuckle_cols], np.nan)
            over_eps += over.process(first, xg, mx, mx * ratio, sg)[1]
            watch = np.isfinite(mn).any(axis=0) | np.array([c in light._open for c in range(g)], dtype=bool)
            light_eps += light.process(first, xg, mn, watch, pressing)[1]
        over_eps += over.close_all(end)
        light_eps += light.close_all(end)
        labelled = [(int(round(p.start_s * self.rate_hz)), int(round(p.end_s * self.rate_hz)), p.technique)
                    for p in phases]

        def technique_at(index: int) -> str | None:
            return next((t for a, b, t in labelled if a <= index < b), self._technique_for(index))

        out_over = [replace(self._episode(e, self.glove), technique=technique_at(e.trigger_index)) for e in over_eps]
        out_under = [replace(self._light_episode(a), technique=technique_at(a.trigger_index)) for a in light_eps]
        return out_over, out_under

    def _hindsight_limits(self, first: int, n: int, spans) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample scoring (max, min) over the glove channels for samples [first, first + n)."""
        g = len(self.glove)
        default = self.limits.table[None]
        mx = np.full((n, g), -np.inf)
        mn = np.full((n, g), np.inf)
        no_min = np.zeros((n, g), dtype=bool)
        covered = np.zeros(n, dtype=bool)
        for a, b, row, _ in spans:
            lo, hi = max(a, first) - first, min(b, first + n) - first
            if lo >= hi:
                continue
            covered[lo:hi] = True
            mx[lo:hi] = np.maximum(mx[lo:hi], row["scoring_max"])
            row_min = row["scoring_min"]
            no_min[lo:hi] |= np.isnan(row_min)
            mn[lo:hi] = np.fmin(mn[lo:hi], row_min)
        rest = ~covered
        if rest.any():
            mx[rest] = default["scoring_max"]
            no_min[rest] = np.isnan(default["scoring_min"])
            mn[rest] = default["scoring_min"]
        mn = np.where(no_min, np.nan, mn)
        return mx, mn

    @staticmethod
    def _during_fault(health: dict, e: ForceEpisode) -> bool:
        """An episode on a sensor found faulty around then is the fault's doing, not the hand's.
        The fault may have begun up to FAULT_LOOKBACK_S before it could be told."""
        for ep in (health.get(e.channel) or {}).get("episodes", []):
            if ep["start_s"] - FAULT_LOOKBACK_S <= e.end_s and e.start_s <= ep["end_s"]:
                return True
        return False

    def _per_region(self) -> dict:
        out: dict = {}
        for tech, st in self._stats.items():
            for i, ch in enumerate(self.glove):
                if st["n"][i] == 0 and not st["sat"][i]:
                    continue
                out.setdefault(ch, {})[tech] = {
                    "peak_n": round(float(st["peak"][i]), 2), "saturated": bool(st["sat"][i]),
                    "mean_n": round(float(st["sum"][i] / st["n"][i]), 2) if st["n"][i] else 0.0,
                    "contact_s": round(float(st["n"][i]) / self.rate_hz, 2),
                }
        return out

    def _spine_map(self) -> dict:
        if self._spine is None:
            return {}
        out = {}
        base = self._spine.current_baseline()
        for i, seg in enumerate(self.spine):
            peak = self._spine.peak_excess[i]
            out[seg] = {"peak_n": None if self._spine.peak_saturated[i] or not np.isfinite(peak)
                        else round(float(max(peak, 0.0) + base[i]), 2),
                        "saturated": bool(self._spine.peak_saturated[i]),
                        "baseline_n": round(float(base[i]), 2),
                        "contact_s": round(float(self._spine_contact_s[i]), 2)}
        return out

    def _score(self, phases, violations) -> dict:
        if not judged_phases(self.protocol, phases):
            # Nothing was massaged: no grade at all (not a pass with a middling score).
            return {"total": 0, "breakdown": {"force_within_window_pct": None, "timing": None,
                                              "violations": len(violations)}, "graded": False}
        force_pct = 100.0 * self._within_samples / self._contact_samples if self._contact_samples else 100.0
        merged = judged_phases(self.protocol, phases)
        in_window = 0
        for p in merged:
            spec = next((s for s in self.protocol.phases if s.technique == p.technique), None)
            if spec and spec.min_s - spec.tolerance_s <= p.duration_s <= spec.max_s + spec.tolerance_s:
                in_window += 1
        timing = 100.0 * in_window / len(merged) if merged else 0.0
        n_viol = len(violations)
        total = 0.5 * force_pct + 0.3 * timing + 0.2 * max(0.0, 100.0 - 20.0 * n_viol)
        return {"total": int(round(total)), "graded": True,
                "breakdown": {"force_within_window_pct": round(force_pct, 1), "timing": round(timing, 1),
                              "violations": n_viol}}
