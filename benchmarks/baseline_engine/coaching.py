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

from glovecoach.vocabulary.blocks import ForceBlock
from .detectors import Excursion, ExcursionDetector, LightPressAlert, LightPressDetector
from .events import EngineEvent, sensor_name, technique_name
from .protocol_check import Violation, assign_slots, check_phases, merge_phases
from .report import ForceEpisode, SessionReport
from .spine import SpineTracker
from .technique import TECHNIQUES, WINDOW_S, Phase, PhaseSmoother, TechniqueRecognizer
from glovecoach.protocols import Protocol
from glovecoach.vocabulary.sensors import SPINE_CHANNELS

OPEN_SENSOR_MIN_S = 0.5      # a lead reading open this long is reported (shorter: a loose contact blip)
CONTACT_N = 0.5              # a glove sensor touching the back, for per-region statistics
PROTOCOL_RECHECK_S = 0.5     # time-based protocol rules are re-evaluated this often
LIFT_MIN_S = 0.3             # the hand off the back this long, then back: the technique may have changed
RECENT_LABELS_S = WINDOW_S   # a window label keeps its technique's limits in play this long


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
                 calibration: dict | None = None) -> None:
        self.protocol = protocol
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.calibration_info = calibration or {"nominal": True, "glove_id": None}
        self.glove_idx = np.array([i for i, c in enumerate(self.channels) if c not in SPINE_CHANNELS], dtype=int)
        self.spine_idx = np.array([i for i, c in enumerate(self.channels) if c in SPINE_CHANNELS], dtype=int)
        self.glove = tuple(self.channels[i] for i in self.glove_idx)
        self.spine = tuple(self.channels[i] for i in self.spine_idx)
        self.recognizer = TechniqueRecognizer(self.channels, self.rate_hz)
        self.smoother = PhaseSmoother(self.rate_hz)
        self.limits = _Limits(protocol, self.glove)
        ff = protocol.force_feedback
        g = len(self.glove)
        self._over = {p: ExcursionDetector(g, round(ff.min_duration_s(p) * self.rate_hz)) for p in ("live", "scoring")}
        self._light = {p: LightPressDetector(g, ff.press_contact_n, ff.light_presses_to_alert,
                                             round(ff.press_gap_s * self.rate_hz)) for p in ("live", "scoring")}
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

        segments = self._technique_segments(block, first, n, events)
        xg = x_all[:, self.glove_idx]
        sg = sat_all[:, self.glove_idx]
        glove_on = self._glove_on(xg, open_all[:, self.glove_idx])
        lim = self._limit_arrays(segments, n)
        lim = self._relax_after_return(lim, glove_on, first, n)

        # Over-force, live (events) and scoring (report).
        for purpose in ("live", "scoring"):
            ratio = self.protocol.force_feedback.release_ratio(purpose)
            mx = lim[f"{purpose}_max"]
            begun, ended = self._over[purpose].process(first, xg, mx, mx * ratio, sg)
            if purpose == "live":
                events += self._overforce_events(begun, ended)
            else:
                self.scoring_over += [self._episode(e, self.glove) for e in ended]
            mn = lim[f"{purpose}_min"]
            watch = np.isfinite(mn).any(axis=0) | np.array([c in self._light[purpose]._open for c in range(len(self.glove))], dtype=bool) \
                if len(self.glove) else np.zeros(0, bool)
            lbegun, lended = self._light[purpose].process(first, xg, mn, watch)
            if purpose == "live":
                events += self._underforce_events(lbegun, lended)
            else:
                self.scoring_under += [self._light_episode(a) for a in lended]

        # Sensor conditions on every channel.
        fb, fe = self._saturation.process(first, sat_all.astype(np.float64), np.float64(0.5), np.float64(0.5))
        events += self._condition_events("saturation", fb, fe)
        ob, oe = self._open.process(first, open_all.astype(np.float64), np.float64(0.5), np.float64(0.5))
        events += self._condition_events("open_sensor", ob, oe)

        # Spine.
        if self._spine is not None:
            sb, se, base = self._spine.process(first, x_all[:, self.spine_idx], sat_all[:, self.spine_idx], glove_on)
            events += self._spine_events(sb, se, base, first)

        self._accumulate_stats(segments, xg, sg, lim)
        events += self._protocol_events(first + n)
        events.sort(key=lambda e: e.at_s)
        return events

    def gap(self, first_index: int, n_samples: int) -> list[EngineEvent]:
        """Samples [first_index, first_index + n_samples) will never arrive: close what is open there."""
        if n_samples <= 0:
            return []
        events: list[EngineEvent] = []
        events += self._overforce_events([], self._over["live"].close_all(first_index), gap=True)
        self.scoring_over += [self._episode(e, self.glove) for e in self._over["scoring"].close_all(first_index)]
        events += self._underforce_events([], self._light["live"].close_all(first_index), gap=True)
        self.scoring_under += [self._light_episode(a) for a in self._light["scoring"].close_all(first_index)]
        events += self._condition_events("saturation", [], self._saturation.close_all(first_index), gap=True)
        events += self._condition_events("open_sensor", [], self._open.close_all(first_index), gap=True)
        if self._spine is not None:
            events += self._spine_events([], self._spine.gap(first_index), None, first_index, gap=True)
        self.gaps.append((first_index, first_index + n_samples))
        self._next_index = max(self._next_index or 0, first_index + n_samples)
        self._end_index = max(self._end_index, first_index + n_samples)
        return events

    # ------------------------------------------------------------------ technique
    def _technique_segments(self, block: ForceBlock, first: int, n: int, events: list[EngineEvent]
                            ) -> list[tuple[int, int, str | None, frozenset]]:
        """[(start, end) offsets in the block, technique whose limits apply, recent window techniques]."""
        labels = self.recognizer.process(block.newtons, first)
        changes = self.smoother.update(labels)
        # (offset in block, order, kind, value): at one offset, labels before confirmations.
        marks: list[tuple[int, int, str, Any]] = []
        for lab in labels:
            marks.append((min(max(lab.end_index - first, 0), n), 0, "cand", lab.technique))
        for ch in changes:
            off = min(max(int(round(ch.confirmed_at_s * self.rate_hz)) - first, 0), n)
            marks.append((off, 1, "conf", ch))
        marks.sort(key=lambda m: (m[0], m[1]))
        segments: list[tuple[int, int, str | None, frozenset]] = []
        pos = 0
        for off, _, kind, value in marks:
            if off > pos:
                segments.append((pos, off, self._applied(), self._recent))
                pos = off
            if kind == "cand":
                self._candidate = value
                self._recent_labels.append((first + off, None if value == "none" else value))
                while self._recent_labels and self._recent_labels[0][0] <= first + off - self._recent_span:
                    self._recent_labels.popleft()
                self._recent = frozenset(t for _, t in self._recent_labels)
            else:
                self._on_change(value, events)
        if pos < n or not segments:
            segments.append((pos, n, self._applied(), self._recent))
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
        if len(segments) == 1:
            eff = self.limits.effective(segments[0][2], segments[0][3])
            return {k: v[None, :] for k, v in eff.items()}
        lengths = [b - a for a, b, _, _ in segments]
        rows = [self.limits.effective(cur, cand) for _, _, cur, cand in segments]
        return {k: np.repeat(np.stack([r[k] for r in rows]), lengths, axis=0) for k in rows[0]}

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
        g = grace[:, None]
        out = dict(lim)
        for purpose in ("live", "scoring"):
            out[f"{purpose}_max"] = np.where(g, np.maximum(lim[f"{purpose}_max"], star[f"{purpose}_max"]),
                                             lim[f"{purpose}_max"])
            out[f"{purpose}_min"] = np.where(g, np.nan, lim[f"{purpose}_min"])
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

    def _glove_on(self, xg: np.ndarray, open_g: np.ndarray) -> np.ndarray:
        if xg.shape[1] == 0:
            return np.ones(xg.shape[0], dtype=bool)   # no glove data: any spine load counts
        return np.where(open_g, 0.0, xg).sum(axis=1) > self.protocol.spine.glove_contact_n

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
        merged = merge_phases(self._phases_so_far(now), self.protocol.merge_gap_s, self.protocol.min_phase_s)
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
            if spec is not None and now - current.start_s >= spec.max_s:
                key = ("move_on", len(merged) - 1, current.start_s)
                if key not in self._cued:
                    self._cued.add(key)
                    self._cue = "move_on"
                    out.append(EngineEvent("cue", "instant", current.start_s + spec.max_s,
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
    def _accumulate_stats(self, segments, xg: np.ndarray, sg: np.ndarray, lim: dict[str, np.ndarray]) -> None:
        if xg.shape[1] == 0:
            return
        smax = np.broadcast_to(lim["scoring_max"], xg.shape)
        contact = xg > CONTACT_N
        within = contact & ~sg & (xg <= smax)
        self._contact_samples += int(contact.sum())
        self._within_samples += int(within.sum())
        for a, b, cur, _ in segments:
            key = cur or "none"
            st = self._stats.get(key)
            if st is None:
                g = xg.shape[1]
                st = self._stats[key] = {"n": np.zeros(g), "sum": np.zeros(g), "peak": np.zeros(g),
                                         "sat": np.zeros(g, dtype=bool)}
            c = contact[a:b]
            xs = xg[a:b]
            st["n"] += c.sum(axis=0)
            st["sum"] += np.where(c, xs, 0.0).sum(axis=0)
            unsat = np.where(sg[a:b], 0.0, xs)
            if b > a:
                st["peak"] = np.maximum(st["peak"], unsat.max(axis=0))
                st["sat"] |= sg[a:b].any(axis=0)

    # ------------------------------------------------------------------ state and report
    @property
    def state(self) -> EngineState:
        now = self._t(self._end_index)
        phases = self._phases_so_far(now)
        merged = merge_phases(phases, self.protocol.merge_gap_s)
        technique = self._current if self._current not in (None, "none") else None
        elapsed = 0.0
        window = None
        if technique and merged and merged[-1].technique == technique:
            elapsed = now - merged[-1].start_s
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
            candidate_technique=self._candidate, limits=limits,
        )

    def finish(self) -> SessionReport:
        end = self._end_index
        self._overforce_events([], self._over["live"].close_all(end))
        self.scoring_over += [self._episode(e, self.glove) for e in self._over["scoring"].close_all(end)]
        self._underforce_events([], self._light["live"].close_all(end))
        self.scoring_under += [self._light_episode(a) for a in self._light["scoring"].close_all(end)]
        self._condition_events("saturation", [], self._saturation.close_all(end))
        self._condition_events("open_sensor", [], self._open.close_all(end))
        if self._spine is not None:
            self._spine_events([], self._spine.detector.close_all(end), None, end)
        end_s = self._t(end)
        phases = [p for p in self.smoother.finish(end_s) if p.technique != "none"]
        violations: list[Violation] = list(check_phases(self.protocol, phases, end_s, final=True))
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
            duration_s=end_s, phases=phases, overforce_events=sorted(self.scoring_over, key=lambda e: e.start_s),
            underforce_events=sorted(self.scoring_under, key=lambda e: e.start_s),
            spine_contacts=sorted(self.spine_contacts, key=lambda e: (e.start_s, e.channel)),
            violations=violations, calibration=dict(self.calibration_info), spine_check=self._spine is not None,
            per_region=self._per_region(), spine_map=self._spine_map(), score=self._score(phases, violations),
            live_alerts=self.live_alerts, gaps=[(self._t(a), self._t(b)) for a, b in self.gaps],
            sensor_faults=list(self.faults), protocol_name=self.protocol.name,
        )

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
        force_pct = 100.0 * self._within_samples / self._contact_samples if self._contact_samples else 100.0
        merged = merge_phases(phases, self.protocol.merge_gap_s, self.protocol.min_phase_s)
        in_window = 0
        for p in merged:
            spec = next((s for s in self.protocol.phases if s.technique == p.technique), None)
            if spec and spec.min_s - spec.tolerance_s <= p.duration_s <= spec.max_s + spec.tolerance_s:
                in_window += 1
        timing = 100.0 * in_window / len(merged) if merged else 0.0
        n_viol = len(violations)
        total = 0.5 * force_pct + 0.3 * timing + 0.2 * max(0.0, 100.0 - 20.0 * n_viol)
        return {"total": int(round(total)),
                "breakdown": {"force_within_window_pct": round(force_pct, 1), "timing": round(timing, 1),
                              "violations": n_viol}}
