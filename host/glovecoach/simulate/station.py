"""A whole station simulated: a left glove, a right glove and the spine strip on one timeline.

`simulate_station(seed)` plans a session the way `simulate` does (the same scenarios and
planners), then renders it for two hands with the same technique models (`signals`):

- both hands do the phase's technique with the same rhythm (one generator state renders the
  shared stroke timing, so their strokes keep time), but not in lockstep: one hand leads and
  the other follows 0.05-0.3 s later, or half a cycle later where the technique alternates
  (kneading, rubbing, percussion: one hand works while the other releases);
- each hand has its own force (0.8-1.2x the trainee's), its own load sharing between sensors,
  its own slow wandering of effort and its own lifts to reposition; pauses (the trainee
  stalling) are shared, since they are the person's, not one hand's;
- script options put in a stretch where the hands do different techniques
  (`different_techniques=True`) and one where only one hand is on the back (`one_hand=True`);
- the spine strip carries the partner's resting load (breathing moves it a little) and every
  press on the spine, from whichever hand made it; that hand's glove feels the press too.

Each device's counts come from its own sensors (`sensors.forces_to_raw`, its own gains, drift
and noise). Ground truth (per-hand technique, over-force per hand, spine contacts with the hand
that caused them, the scripted stretches) is measured on the true forces, so it is exact by
construction. `write_station_signals` writes one `.gcsig` per device for the virtual station
(`glovecoach.link.virtual_station`) and the truth as JSON.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glovecoach.output_files import atomic_output
from glovecoach.protocols import default_protocol
from glovecoach.simulate.files import write_signal_rows
from glovecoach.simulate.sensors import forces_to_raw
from glovecoach.simulate.session import (
    _PLANNERS,
    EXPECTED_VIOLATIONS,
    NORMAL_CEILING,
    OVERFORCE_FACTOR,
    OVERFORCE_HOLD_S,
    SCENARIOS,
    SPINE_CONTACT_N,
    SPINE_CONTACT_S,
    PlannedPhase,
    SimulatedSession,
    TruthEvent,
    _keep_within_limits,
    _limits,
    _quiet_start,
    _spans,
    label_runs,
)
from glovecoach.simulate.signals import (
    N_GLOVE,
    Trainee,
    draw_params,
    lifts_and_pauses,
    smooth_noise,
    technique_forces,
)
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, SPINE_CHANNELS, device_map
from glovecoach.vocabulary.station import STATION_ROLES, StationLayout
from glovecoach.vocabulary.techniques import TECHNIQUES, Phase

if TYPE_CHECKING:
    from glovecoach.link.virtual_station import VirtualStation

NONE = TECHNIQUES.index("none")
HANDS = ("left", "right")
GLOVE_ROLES = {"left": "left_glove", "right": "right_glove"}
TRUTH_FILE = "station_truth.json"

# Techniques done with the hands alternating (one presses while the other releases); the
# others (stroking, deep stroking, vibration) are done with both hands together.
ALTERNATING = frozenset({"kneading", "rubbing", "percussion"})
FOLLOW_LAG_S = (0.05, 0.3)        # the following hand lands this much after the leading one
HAND_FORCE_RATIO = (0.8, 1.2)     # each hand's force against the trainee's
HAND_SHARE_SPREAD = 0.12          # each hand's own load sharing (log-normal per sensor)
HAND_WANDER = 0.06                # each hand's own slow wandering of effort
DIFFERENT_S = (20.0, 40.0)        # the stretch with different techniques per hand
ONE_HAND_S = (10.0, 25.0)         # the stretch with one hand off the back
SWITCH_S = 0.3                    # a hand lifts this long to change technique
MIN_PHASE_S = 8.0                 # a squeezed phase (duration_s given) lasts at least this
# A spine press is felt by the hand that makes it, on the heel and the palm.
PRESS_SHARES = {"palm_heel": 0.35, "hand_edge": 0.2, "hypothenar": 0.15, "thenar": 0.15, "palm_center": 0.15}


@dataclass(frozen=True)
class SpineContact:
    """A press on the spine strip over the contact threshold, and the hand that made it."""

    segment: str
    hand: str
    start_s: float
    end_s: float
    peak_n: float

    def to_dict(self) -> dict:
        return {"segment": self.segment, "hand": self.hand, "start_s": round(self.start_s, 3),
                "end_s": round(self.end_s, 3), "peak_n": round(self.peak_n, 2)}


@dataclass(frozen=True)
class HandStretch:
    """A scripted stretch where the hands do not do the same thing.

    kind "different_techniques": each hand does the technique named for it;
    kind "one_hand": the hand named "none" is off the back, the other works on."""

    kind: str
    start_s: float
    end_s: float
    left: str
    right: str

    def technique(self, hand: str) -> str:
        return self.left if hand == "left" else self.right

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "left": self.left, "right": self.right}


@dataclass(frozen=True)
class PhaseTiming:
    """How the two hands kept time in one phase: which led, and how far the other followed."""

    technique: str
    leading: str
    lag_s: float
    alternating: bool


@dataclass
class SimulatedStation:
    scenario: str
    seed: int
    rate_hz: int
    roles: tuple[str, ...]
    channels: dict[str, tuple[str, ...]]      # role -> channel ids in the device's order
    newtons: dict[str, np.ndarray]            # role -> (n, ch) float32 true force
    raw: dict[str, np.ndarray]                # role -> (n, ch) uint16 ADC counts
    labels: dict[str, np.ndarray]             # hand -> (n,) index into TECHNIQUES
    phases: list[Phase]                       # the planned phases (both hands)
    overforce: dict[str, list[TruthEvent]]    # hand -> over-force events on that glove
    spine_contacts: list[SpineContact]
    stretches: list[HandStretch]
    timing: list[PhaseTiming]
    expected_violations: tuple[str, ...] | None = ()
    spine_baseline_n: dict[str, float] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(next(iter(self.raw.values())).shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.rate_hz

    @property
    def hands(self) -> tuple[str, ...]:
        return HANDS

    @property
    def layout(self) -> StationLayout:
        return StationLayout.for_roles(self.roles)

    def station_raw(self) -> np.ndarray:
        """(n, 32) counts in the station's column order (`StationLayout.columns`)."""
        return np.concatenate([self.raw[role] for role in self.layout.roles], axis=1)

    def same_technique_fraction(self) -> float:
        """Of the samples where either hand works, the share where both do the same technique."""
        left, right = self.labels["left"], self.labels["right"]
        working = (left != NONE) | (right != NONE)
        if not working.any():
            return 0.0
        return float(np.mean(left[working] == right[working]))

    def hand_session(self, hand: str) -> SimulatedSession:
        """One hand with the strip as today's 20-channel session (that glove's 12 channels,
        then the strip's 8), with that hand's truth: what the engine coaching one hand sees."""
        if hand not in HANDS:
            raise ValueError(f"hand must be one of {HANDS}, got {hand!r}")
        role = GLOVE_ROLES[hand]
        return SimulatedSession(
            scenario=self.scenario, seed=self.seed, rate_hz=self.rate_hz, channels=ALL_CHANNELS,
            newtons=np.concatenate([self.newtons[role], self.newtons["spine_strip"]], axis=1),
            raw=np.concatenate([self.raw[role], self.raw["spine_strip"]], axis=1),
            labels=self.labels[hand], phases=list(self.phases), overforce=list(self.overforce[hand]),
            spine_contacts=[TruthEvent(c.segment, c.start_s, c.end_s, c.peak_n)
                            for c in self.spine_contacts if c.hand == hand],
            expected_violations=self.expected_violations, spine_baseline_n=dict(self.spine_baseline_n))

    def truth_dict(self) -> dict:
        """Ground truth as plain JSON data."""
        return {
            "kind": "station",
            "scenario": self.scenario,
            "description": SCENARIOS[self.scenario],
            "seed": self.seed,
            "rate_hz": self.rate_hz,
            "duration_s": round(self.duration_s, 3),
            "devices": [{"role": role, "hand": _hand_of(role), "channels": list(self.channels[role])}
                        for role in self.roles],
            "phases": [{"technique": p.technique, "start_s": round(p.start_s, 3), "end_s": round(p.end_s, 3)}
                       for p in self.phases],
            "timing": [{"technique": t.technique, "leading": t.leading, "lag_s": round(t.lag_s, 3),
                        "alternating": t.alternating} for t in self.timing],
            "hands": {hand: {"segments": label_runs(self.labels[hand], self.rate_hz),
                             "overforce_events": [e.to_dict("region") for e in self.overforce[hand]]}
                      for hand in HANDS},
            "spine_contacts": [c.to_dict() for c in self.spine_contacts],
            "spine_baseline_n": {k: round(v, 3) for k, v in self.spine_baseline_n.items()},
            "stretches": [s.to_dict() for s in self.stretches],
            "same_technique_fraction": round(self.same_technique_fraction(), 4),
            "expected_violations": (None if self.expected_violations is None
                                    else list(self.expected_violations)),
        }


def _hand_of(role: str) -> str | None:
    return next((h for h, r in GLOVE_ROLES.items() if r == role), None)


# ------------------------------------------------------------------------------ the hands

@dataclass(frozen=True)
class _Hand:
    """One hand's own habits for the whole session."""

    force_ratio: float
    share_gain: np.ndarray      # (12,) how this hand's load sharing departs from the trainee's
    follow_lag_s: float         # how far it trails when it follows in a together-technique

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Hand:
        gain = np.exp(HAND_SHARE_SPREAD * rng.standard_normal(N_GLOVE))
        return cls(force_ratio=float(rng.uniform(*HAND_FORCE_RATIO)), share_gain=gain / gain.mean(),
                   follow_lag_s=float(rng.uniform(*FOLLOW_LAG_S)))


def _shift(a: np.ndarray, lag: int) -> np.ndarray:
    """`a` delayed by `lag` samples; the first `lag` are zero (the hand has not landed yet)."""
    if lag <= 0:
        return a
    out = np.zeros_like(a)
    out[lag:] = a[:len(a) - lag]
    return out


def _dip(n: int, a: int, b: int, ramp: int) -> np.ndarray:
    """An envelope of n ones that fades to 0 over `ramp` samples before a, stays 0 over
    [a, b) and fades back in after b (a hand lifted off the back)."""
    env = np.ones(n)
    env[max(a, 0):min(b, n)] = 0.0
    down = np.arange(max(a - ramp, 0), max(a, 0))
    env[down] = np.minimum(env[down], (a - down) / ramp)
    up = np.arange(min(b, n), min(b + ramp, n))
    env[up] = np.minimum(env[up], (up - b + 1) / ramp)
    return env


def _squeeze(plan: list[PlannedPhase], duration_s: float) -> None:
    """Shorten (or lengthen) every phase in proportion so the session lasts about duration_s
    (the gaps between phases and the quiet ends take about 3.5 s each)."""
    budget = duration_s - 3.5 * (len(plan) + 1)
    total = sum(p.duration_s for p in plan)
    if budget < MIN_PHASE_S * len(plan):
        raise ValueError(f"duration_s={duration_s} is too short for {len(plan)} phases "
                         f"(at least {MIN_PHASE_S * len(plan) + 3.5 * (len(plan) + 1):.0f} s)")
    for p in plan:
        p.duration_s = max(p.duration_s * budget / total, MIN_PHASE_S)


def _choose_phase(plan: list[PlannedPhase], rng: np.random.Generator, avoid: int | None) -> int:
    """A phase for a scripted stretch: not the first or last (the opening and closing strokes)
    if there is a choice, and not `avoid`; the longest of those left, ties broken at random."""
    candidates = [k for k in range(len(plan)) if k != avoid]
    inner = [k for k in candidates if 0 < k < len(plan) - 1]
    pool = inner or candidates or [0]
    order = rng.permutation(pool)
    return int(max(order, key=lambda k: plan[k].duration_s))


def simulate_station(seed: int, duration_s: float | None = None, rate_hz: int = 200, *,
                     scenario: str = "good_session", different_techniques: bool = False,
                     one_hand: bool = False) -> SimulatedStation:
    """A labelled station session of `scenario` (the scenarios of `simulate`); the same
    arguments give the same station.

    `duration_s`: squeeze (or stretch) the scenario's phases in proportion so the session lasts
    exactly this long (each phase at least 8 s; protocol timing rules then no longer hold).
    `different_techniques`: one hand does another technique for 20-40 s inside one phase.
    `one_hand`: one hand is off the back for 10-25 s inside one phase, the other works on."""
    if scenario not in _PLANNERS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if int(rate_hz) != rate_hz or int(rate_hz) <= 0:
        raise ValueError(f"rate_hz must be a positive whole number, got {rate_hz!r}")
    if duration_s is not None and not np.isfinite(duration_s):
        raise ValueError(f"duration_s must be a finite number of seconds, got {duration_s!r}")
    rate_hz = int(rate_hz)
    # Separate generators for the plan, each hand, the strip and each device's sensors, so
    # (for example) a hand's lifts do not change the other hand's noise.
    base = [int(seed) & 0xFFFFFFFF, zlib.crc32(f"station/{scenario}".encode())]
    rng = np.random.default_rng([*base, 0])
    hand_rng = {h: np.random.default_rng([*base, 1 + k]) for k, h in enumerate(HANDS)}
    spine_rng = np.random.default_rng([*base, 3])
    protocol = default_protocol()
    trainee = Trainee.draw(rng)
    plan = _PLANNERS[scenario](rng)
    if duration_s is not None:
        _squeeze(plan, float(duration_s))
    habits = {h: _Hand.draw(hand_rng[h]) for h in HANDS}
    stroke_only = replace(trainee, lifts_per_min=0.0)     # pauses are the person's, shared
    lift_only = replace(trainee, pauses_per_min=0.0)      # lifts are each hand's own
    different_at = _choose_phase(plan, rng, None) if different_techniques else None
    one_hand_at = _choose_phase(plan, rng, different_at) if one_hand else None

    parts: dict[str, list[np.ndarray]] = {h: [] for h in HANDS}
    doing_parts: dict[str, list[np.ndarray]] = {h: [] for h in HANDS}   # technique assigned
    label_parts: dict[str, list[np.ndarray]] = {h: [] for h in HANDS}
    envelopes: dict[str, list[np.ndarray]] = {h: [] for h in HANDS}
    phases: list[Phase] = []
    timing: list[PhaseTiming] = []
    stretches: list[HandStretch] = []
    cursor = 0

    def add_none(seconds: float) -> None:
        nonlocal cursor
        n = int(round(seconds * rate_hz))
        for h in HANDS:
            parts[h].append(np.zeros((n, N_GLOVE)))
            doing_parts[h].append(np.full(n, NONE, dtype=np.int8))
            label_parts[h].append(np.full(n, NONE, dtype=np.int8))
            envelopes[h].append(np.zeros(n))
        cursor += n

    def render(technique: str, variant: str | None, seconds: float, phase_seed: int, hand: str,
               level_ratio: float) -> tuple[np.ndarray, float]:
        """One hand's true force for a stretch of a technique: the single-hand models, with
        the stroke timing drawn from `phase_seed` (shared by both hands); and its cycle rate."""
        params = draw_params(technique, trainee, np.random.default_rng(phase_seed), variant)
        params = replace(params, level_n=params.level_n * level_ratio)
        f = technique_forces(params, trainee, seconds, rate_hz, np.random.default_rng(phase_seed + 1))
        n = len(f)
        wander = 1.0 + HAND_WANDER * smooth_noise(n, rate_hz, 5.0, hand_rng[hand])
        return f * habits[hand].share_gain[None, :] * wander[:, None], params.rate_hz

    add_none(rng.uniform(2.0, 5.0))
    for k, planned in enumerate(plan):
        if k:
            add_none(rng.uniform(8.0, 15.0) if scenario == "technique_tour" else rng.uniform(0.5, 5.0))
        technique = planned.technique
        phase_seed = int(rng.integers(2**62))
        lo, hi = _limits(protocol, technique)
        n = int(round(planned.duration_s * rate_hz))
        _, source = lifts_and_pauses(n, rate_hz, stroke_only, np.random.default_rng(phase_seed + 2),
                                     allow_pauses=technique != "percussion")
        leading = str(rng.choice(HANDS))
        alternating = technique in ALTERNATING
        hand_forces: dict[str, np.ndarray] = {}
        hand_env: dict[str, np.ndarray] = {}
        lag_s = 0.0
        for h in HANDS:
            f, cycle_hz = render(technique, planned.variant, planned.duration_s, phase_seed, h,
                                 habits[h].force_ratio)
            env, _ = lifts_and_pauses(n, rate_hz, lift_only, hand_rng[h], allow_pauses=False)
            f = _keep_within_limits(f[source], lo, hi)
            if h != leading:
                # Half a cycle behind where the hands alternate, a moment behind otherwise.
                lag_s = 0.5 / cycle_hz if alternating else habits[h].follow_lag_s
                lag = int(round(lag_s * rate_hz))
                f, env = _shift(f, lag), _shift(env, lag)
            hand_forces[h], hand_env[h] = f, env
        doing = {h: np.full(n, TECHNIQUES.index(technique), dtype=np.int8) for h in HANDS}

        if k in (different_at, one_hand_at):
            kind = "different_techniques" if k == different_at else "one_hand"
            span_s = DIFFERENT_S if kind == "different_techniques" else ONE_HAND_S
            length = int(min(rng.uniform(*span_s), 0.5 * planned.duration_s) * rate_hz)
            a = int(rng.integers(int(0.25 * n), max(n - length - int(0.25 * n), int(0.25 * n) + 1)))
            b = min(a + length, n)
            hand = str(rng.choice(HANDS))
            ramp = max(int(SWITCH_S * rate_hz), 1)
            if kind == "different_techniques":
                other = str(rng.choice([t for t in TECHNIQUES if t not in ("none", technique)]))
                o_lo, o_hi = _limits(protocol, other)
                f_other, _ = render(other, None, (b - a) / rate_hz, int(rng.integers(2**62)), hand,
                                    habits[hand].force_ratio)
                f_other = _keep_within_limits(f_other[:b - a], o_lo, o_hi)
                f = hand_forces[hand].copy()
                f[a:b] = f_other[:b - a]
                hand_forces[hand] = f
                doing[hand][a:b] = TECHNIQUES.index(other)
                # The hand lifts briefly to change technique, on the way in and on the way out.
                half = ramp // 2
                hand_env[hand] = hand_env[hand] * _dip(n, a - half, a + half, ramp) * _dip(n, b - half, b + half, ramp)
                techniques = {h: (other if h == hand else technique) for h in HANDS}
            else:
                hand_env[hand] = hand_env[hand] * _dip(n, a, b, ramp)
                techniques = {h: ("none" if h == hand else technique) for h in HANDS}
            stretches.append(HandStretch(kind, (cursor + a) / rate_hz, (cursor + b) / rate_hz,
                                         techniques["left"], techniques["right"]))

        for h in HANDS:
            env = hand_env[h]
            parts[h].append(hand_forces[h] * env[:, None])
            doing_parts[h].append(doing[h])
            label_parts[h].append(np.where(env >= 0.5, doing[h], NONE).astype(np.int8))
            envelopes[h].append(env)
        phases.append(Phase(technique, cursor / rate_hz, (cursor + n) / rate_hz))
        timing.append(PhaseTiming(technique, leading, lag_s, alternating))
        cursor += n
    add_none(rng.uniform(2.0, 5.0))

    glove = {h: np.concatenate(parts[h]) for h in HANDS}
    doing_all = {h: np.concatenate(doing_parts[h]) for h in HANDS}
    labels = {h: np.concatenate(label_parts[h]) for h in HANDS}
    envelope = {h: np.concatenate(envelopes[h]) for h in HANDS}
    n_total = len(labels["left"])
    if duration_s is not None:
        # Exactly duration_s: pad the quiet end, or cut it (and anything past it) off.
        want = int(round(float(duration_s) * rate_hz))
        for d in (glove, doing_all, labels, envelope):
            for h in HANDS:
                a = d[h][:want]
                if len(a) < want:
                    a = np.concatenate([a, np.zeros((want - len(a),) + a.shape[1:], dtype=a.dtype)])
                d[h] = a
        n_total = want
        end = n_total / rate_hz
        phases = [Phase(p.technique, p.start_s, min(p.end_s, end)) for p in phases if p.start_s < end]
        timing = timing[:len(phases)]
        stretches = [replace(s, end_s=min(s.end_s, end)) for s in stretches if s.start_s < end]

    # Injected over-force and spine presses, each by one hand chosen at random, where that hand
    # is on the back doing the phase's own technique (not inside a scripted stretch).
    ramp = max(int(0.15 * rate_hz), 1)
    pending_spine: list[tuple[int, int, str]] = []
    for k, planned in enumerate(plan[:len(phases)]):
        a = int(round(phases[k].start_s * rate_hz))
        b = int(round(phases[k].end_s * rate_hz))
        own = TECHNIQUES.index(planned.technique)
        for _ in range(planned.overforce):
            hand = str(rng.choice(HANDS))
            ok = np.where(doing_all[hand][a:b] == own, envelope[hand][a:b], 0.0)
            length = int(rng.uniform(*OVERFORCE_HOLD_S) * rate_hz)
            start = _quiet_start(ok, length, rate_hz, rng)
            _, hi = _limits(protocol, planned.technique)
            channel = int(rng.choice([GLOVE_CHANNELS.index(c) for c in ("thumb_tip", "index_tip", "middle_tip")]))
            if start is None or not np.isfinite(hi[channel]):
                continue
            level = float(rng.uniform(*OVERFORCE_FACTOR)) * hi[channel]
            env = np.ones(length + 2 * ramp)
            env[:ramp] = np.linspace(0, 1, ramp, endpoint=False)
            env[-ramp:] = np.linspace(1, 0, ramp)
            seg = slice(a + start - ramp, a + start + length + ramp)
            wobble = 1.0 + 0.04 * np.sin(np.linspace(0, 3 * np.pi, len(env)))
            glove[hand][seg, channel] = np.maximum(glove[hand][seg, channel], level * env * wobble)
        for _ in range(planned.spine_contacts):
            hand = str(rng.choice(HANDS))
            ok = np.where(doing_all[hand][a:b] == own, envelope[hand][a:b], 0.0)
            length = int(rng.uniform(*SPINE_CONTACT_S) * rate_hz)
            start = _quiet_start(ok, length, rate_hz, rng)
            if start is not None and all(abs(a + start - s) > length + l + 2 * rate_hz
                                         for s, l, _ in pending_spine):
                pending_spine.append((a + start, length, hand))

    # The strip: the partner's resting load, breathing, and the presses.
    t = np.arange(n_total) / rate_hz
    baseline = spine_rng.uniform(0.1, 0.6, len(SPINE_CHANNELS))
    breath_hz = spine_rng.uniform(0.2, 0.3)
    spine = baseline[None, :] * (1.0 + 0.04 * np.sin(2 * np.pi * breath_hz * t)[:, None])
    threshold = protocol.spine.contact_above_baseline_n
    spine_contacts: list[SpineContact] = []
    for start, length, hand in pending_spine:
        first = int(spine_rng.integers(0, len(SPINE_CHANNELS) - 1))
        segments = [first, first + 1] if spine_rng.random() < 0.5 else [first]
        press = np.ones(length)
        r = min(int(0.3 * rate_hz), length // 3)
        press[:r] = np.linspace(0, 1, r, endpoint=False)
        press[-r:] = np.linspace(1, 0, r)
        felt = np.zeros(length)
        for seg_k in segments:
            extra = float(spine_rng.uniform(*SPINE_CONTACT_N)) * press
            felt += extra
            spine[start:start + length, seg_k] += extra
            for s, e in _spans(extra > threshold):
                spine_contacts.append(SpineContact(
                    SPINE_CHANNELS[seg_k], hand, float((start + s) / rate_hz), float((start + e) / rate_hz),
                    float(spine[start + s:start + e, seg_k].max())))
        # What the strip carries, the hand pressing it carries too; kept under the sensor's
        # normal ceiling, so that a press on the spine is that rule broken, not also a force
        # limit (the scenario breaks one rule at a time, as `simulate` does).
        _, hi = _limits(protocol, TECHNIQUES[doing_all[hand][start]])
        for name, share in PRESS_SHARES.items():
            c = GLOVE_CHANNELS.index(name)
            seg = glove[hand][start:start + length, c]
            pressed = np.minimum(seg + share * felt, NORMAL_CEILING * hi[c])
            glove[hand][start:start + length, c] = np.maximum(seg, pressed)
    spine_contacts.sort(key=lambda c: (c.start_s, c.segment))

    # Ground truth over-force per hand: every stretch above the live limit of the technique
    # that hand is doing.
    overforce: dict[str, list[TruthEvent]] = {}
    for h in HANDS:
        events: list[TruthEvent] = []
        doing_h = doing_all[h]
        change = np.flatnonzero(np.diff(doing_h)) + 1
        for a, b in zip(np.r_[0, change], np.r_[change, n_total]):
            tech = TECHNIQUES[doing_h[a]]
            if tech == "none":
                continue
            _, hi = _limits(protocol, tech)
            for c in np.flatnonzero(np.isfinite(hi)):
                for s, e in _spans(glove[h][a:b, c] > hi[c]):
                    events.append(TruthEvent(GLOVE_CHANNELS[c], float((a + s) / rate_hz),
                                             float((a + e) / rate_hz), float(glove[h][a + s:a + e, c].max())))
        overforce[h] = sorted(events, key=lambda e: (e.start_s, e.region))

    roles = STATION_ROLES
    channels = {role: device_map(role).ids for role in roles}
    newtons = {GLOVE_ROLES[h]: glove[h].astype(np.float32) for h in HANDS}
    newtons["spine_strip"] = spine.astype(np.float32)
    raw = {}
    for k, role in enumerate(roles):
        sensor_rng = np.random.default_rng([*base, 10 + k])
        raw[role] = forces_to_raw(newtons[role], channels[role], rate_hz, sensor_rng)
    return SimulatedStation(
        scenario=scenario, seed=int(seed), rate_hz=rate_hz, roles=roles, channels=channels,
        newtons=newtons, raw=raw, labels=labels, phases=phases, overforce=overforce,
        spine_contacts=spine_contacts, stretches=stretches, timing=timing,
        expected_violations=EXPECTED_VIOLATIONS[scenario],
        spine_baseline_n={ch: float(b) for ch, b in zip(SPINE_CHANNELS, baseline)})


# --------------------------------------------------------------------------------- files

def station_truth_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / TRUTH_FILE


def write_station_signals(station: SimulatedStation, folder: str | os.PathLike[str],
                          overwrite: bool = True) -> dict[str, Path]:
    """One `.gcsig` per device (`<role>.gcsig`, the counts that device's firmware plays) and
    the ground truth as `station_truth.json`, in `folder` (made if missing). Returns the
    signal file of each role."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {role: write_signal_rows(station.raw[role], station.rate_hz, folder / f"{role}.gcsig",
                                     overwrite=overwrite)
             for role in station.roles}
    with atomic_output(station_truth_path(folder), overwrite=overwrite) as temporary:
        with open(temporary, "w", encoding="utf-8") as fh:
            json.dump(station.truth_dict(), fh, indent=1)
    return paths


def virtual_station(seed: int, duration_s: float | None = None, rate_hz: int = 200, *,
                    scenario: str = "good_session", different_techniques: bool = False,
                    one_hand: bool = False, **options: Any) -> VirtualStation:
    """A `VirtualStation` (glovecoach.link.virtual_station) whose devices play
    `simulate_station(seed, ...)`; `options` go to VirtualStation (roles, clock_ppm,
    clock_offset_us, transport, broker_url, glove_ids). Rendered into the station's own
    folder when it is entered, removed with it."""
    from glovecoach.link.virtual_station import VirtualStation

    def make(folder: Path) -> dict[str, Path]:
        station = simulate_station(seed, duration_s, rate_hz, scenario=scenario,
                                   different_techniques=different_techniques, one_hand=one_hand)
        return write_station_signals(station, folder)

    return VirtualStation(make_signals=make, rate_hz=rate_hz, **options)
