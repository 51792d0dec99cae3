"""Labelled synthetic massage sessions: scenarios, assembly and ground truth.

`simulate(scenario, seed)` draws a trainee, plans the scenario's phases, renders each phase
with the technique models (`signals`), adds the partner's own load on the spine strip and any
injected fault (over-force, spine contact), and turns the true forces into ADC counts
(`sensors`). Ground truth (per-sample technique, phases, over-force and spine-contact events)
is measured on the true forces, so it is exact by construction.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from glovecoach.protocols import Protocol, default_protocol
from glovecoach.simulate.sensors import forces_to_raw
from glovecoach.simulate.signals import (
    N_GLOVE,
    Trainee,
    draw_params,
    lifts_and_pauses,
    technique_forces,
)
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, SPINE_CHANNELS
from glovecoach.vocabulary.techniques import TECHNIQUES, Phase

NONE = TECHNIQUES.index("none")

# Normal variability is kept below this fraction of each sensor's live limit (and a window's
# lower bound is cleared by 1/this), so only injected faults cross a limit.
NORMAL_CEILING = 0.7
# Injected over-force: this many times the live limit, held this long (s).
OVERFORCE_FACTOR = (1.4, 1.7)
OVERFORCE_HOLD_S = (1.3, 2.5)
# Injected spine contact: this far above the partner's baseline (N), this long (s).
SPINE_CONTACT_N = (5.0, 12.0)
SPINE_CONTACT_S = (2.5, 6.0)

SCENARIOS: dict[str, str] = {
    "good_session": "A correct massage: stroking, optional deep stroking, rubbing, kneading, "
                    "optional vibration or percussion, stroking; 2-3 min each, under 15 min.",
    "excessive_force_kneading": "A correct order and timing, but the kneading squeezes "
                                "too hard (over the live limit) a few times.",
    "spine_contact_stroking": "A correct session in which the hand presses on the spinal line "
                              "for a few seconds during the first stroking.",
    "wrong_phase_order": "Kneading comes before rubbing; otherwise correct.",
    "phase_too_long": "One phase (rubbing or kneading) goes on for 4-5 minutes.",
    "session_too_long": "Every phase, optional ones included, at 2.3-2.8 min: over 15 min in all.",
    "technique_tour": "Every technique for about 40 s each in a random order, with the hand lifted "
                      "in between (for testing recognition, not a protocol).",
}

# The protocol rule each scenario is built to break (None: not a protocol session at all).
EXPECTED_VIOLATIONS: dict[str, tuple[str, ...] | None] = {
    "good_session": (),
    "excessive_force_kneading": ("excessive_force",),
    "spine_contact_stroking": ("spine_contact",),
    "wrong_phase_order": ("wrong_order",),
    "phase_too_long": ("phase_too_long",),
    "session_too_long": ("session_too_long",),
    "technique_tour": None,
}


@dataclass(frozen=True)
class TruthEvent:
    """An over-force (region = sensor id) or spine contact (region = spine segment) that happened."""

    region: str
    start_s: float
    end_s: float
    peak_n: float

    @property
    def segment(self) -> str:
        return self.region

    def to_dict(self, key: str = "region") -> dict:
        return {key: self.region, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "peak_n": round(self.peak_n, 2)}


@dataclass
class SimulatedSession:
    scenario: str
    seed: int
    rate_hz: int
    channels: tuple[str, ...]
    newtons: np.ndarray                 # (n, 20) float32 true force
    raw: np.ndarray                     # (n, 20) uint16 ADC counts
    labels: np.ndarray                  # (n,) index into TECHNIQUES
    phases: list[Phase]
    overforce: list[TruthEvent]
    spine_contacts: list[TruthEvent]
    expected_violations: tuple[str, ...] | None = ()
    spine_baseline_n: dict[str, float] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.raw.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.rate_hz

    def cut(self, start_s: float, duration_s: float | None = None) -> SimulatedSession:
        """The stretch [start_s, start_s + duration_s) as a session of its own.

        Time restarts at 0; phases and events are clipped to the stretch and shifted with it,
        so the ground truth stays true of the samples (a phase cut short is cut short).
        """
        first = int(round(start_s * self.rate_hz))
        last = self.n_samples if duration_s is None else min(first + int(round(duration_s * self.rate_hz)),
                                                             self.n_samples)
        if not 0 <= first < last:
            raise ValueError(f"{self.scenario} seed {self.seed} lasts {self.duration_s:.1f} s: "
                             f"cannot cut from {start_s} s for {duration_s} s")
        t0, t1 = first / self.rate_hz, last / self.rate_hz

        def clip(items, make):
            return [make(x, max(x.start_s, t0) - t0, min(x.end_s, t1) - t0)
                    for x in items if x.end_s > t0 and x.start_s < t1]

        return SimulatedSession(
            scenario=self.scenario, seed=self.seed, rate_hz=self.rate_hz, channels=self.channels,
            newtons=self.newtons[first:last], raw=self.raw[first:last], labels=self.labels[first:last],
            phases=clip(self.phases, lambda p, a, b: Phase(p.technique, a, b)),
            overforce=clip(self.overforce, lambda e, a, b: TruthEvent(e.region, a, b, e.peak_n)),
            spine_contacts=clip(self.spine_contacts, lambda e, a, b: TruthEvent(e.region, a, b, e.peak_n)),
            expected_violations=self.expected_violations, spine_baseline_n=dict(self.spine_baseline_n),
        )

    def technique_at(self, index: np.ndarray | int) -> np.ndarray:
        return np.asarray(TECHNIQUES)[self.labels[index]]

    def truth_dict(self) -> dict:
        """Ground truth as plain JSON data (the recording's note and the CSV's sidecar)."""
        return {
            "scenario": self.scenario,
            "description": SCENARIOS[self.scenario],
            "seed": self.seed,
            "rate_hz": self.rate_hz,
            "duration_s": round(self.duration_s, 3),
            "channels": list(self.channels),
            "phases": [{"technique": p.technique, "start_s": round(p.start_s, 3), "end_s": round(p.end_s, 3)}
                       for p in self.phases],
            "segments": label_runs(self.labels, self.rate_hz),
            "overforce_events": [e.to_dict("region") for e in self.overforce],
            "spine_contacts": [e.to_dict("segment") for e in self.spine_contacts],
            "spine_baseline_n": {k: round(v, 3) for k, v in self.spine_baseline_n.items()},
            "expected_violations": (None if self.expected_violations is None
                                    else list(self.expected_violations)),
        }


def label_runs(labels: np.ndarray, rate_hz: float) -> list[dict]:
    """Run-length form of per-sample labels: [{"technique", "start_s", "end_s"}]."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return [{"technique": TECHNIQUES[labels[s]], "start_s": round(s / rate_hz, 3), "end_s": round(e / rate_hz, 3)}
            for s, e in zip(starts, ends)]


# ----------------------------------------------------------------------------------- plans

@dataclass
class PlannedPhase:
    technique: str
    duration_s: float
    variant: str | None = None
    overforce: int = 0          # injected over-force episodes
    spine_contacts: int = 0     # injected spine contacts


def _fit_total(phases: list[PlannedPhase], budget_s: float, floor_s: float) -> None:
    """Shorten phases (not below floor_s) until their sum fits the budget."""
    total = sum(p.duration_s for p in phases)
    if total <= budget_s:
        return
    slack = sum(p.duration_s - floor_s for p in phases)
    cut = min((total - budget_s) / slack, 1.0) if slack > 0 else 0.0
    for p in phases:
        p.duration_s -= (p.duration_s - floor_s) * cut


def _protocol_order(rng: np.random.Generator, optional: bool = True,
                    all_optional: bool = False) -> list[str]:
    order = ["stroking"]
    if all_optional or (optional and rng.random() < 0.6):
        order.append("deep_stroking")
    order += ["rubbing", "kneading"]
    if all_optional:
        order += list(rng.permutation(["vibration", "percussion"]))
    elif optional:
        added = rng.choice(["", "vibration", "percussion"], p=[0.2, 0.4, 0.4])
        if added:
            order.append(str(added))
    order.append("stroking")
    return order


def _good_durations(rng: np.random.Generator, order: list[str]) -> list[PlannedPhase]:
    # 2-3 minutes each with a margin from both ends, so the ground truth is unambiguous.
    phases = [PlannedPhase(t, float(rng.uniform(125.0, 172.0))) for t in order]
    _fit_total(phases, 780.0, 122.0)
    return phases


def _plan_good(rng: np.random.Generator) -> list[PlannedPhase]:
    return _good_durations(rng, _protocol_order(rng))


def _plan_excessive_force(rng: np.random.Generator) -> list[PlannedPhase]:
    phases = _plan_good(rng)
    for p in phases:
        if p.technique == "kneading":
            p.variant = "grasp"
            p.overforce = int(rng.integers(2, 4))
    return phases


def _plan_spine_contact(rng: np.random.Generator) -> list[PlannedPhase]:
    phases = _plan_good(rng)
    phases[0].spine_contacts = int(rng.integers(1, 3))
    return phases


def _plan_wrong_order(rng: np.random.Generator) -> list[PlannedPhase]:
    order = _protocol_order(rng)
    i, j = order.index("rubbing"), order.index("kneading")
    order[i], order[j] = order[j], order[i]
    return _good_durations(rng, order)


def _plan_phase_too_long(rng: np.random.Generator) -> list[PlannedPhase]:
    phases = _good_durations(rng, _protocol_order(rng, optional=False))
    which = str(rng.choice(["rubbing", "kneading"]))
    long_one = next(p for p in phases if p.technique == which)
    long_one.duration_s = float(rng.uniform(240.0, 290.0))
    return phases


def _plan_session_too_long(rng: np.random.Generator) -> list[PlannedPhase]:
    order = _protocol_order(rng, all_optional=True)
    return [PlannedPhase(t, float(rng.uniform(140.0, 168.0))) for t in order]


def _plan_tour(rng: np.random.Generator) -> list[PlannedPhase]:
    techniques = [t for t in TECHNIQUES if t != "none"]
    return [PlannedPhase(str(t), float(rng.uniform(35.0, 45.0))) for t in rng.permutation(techniques)]


_PLANNERS: dict[str, Callable[[np.random.Generator], list[PlannedPhase]]] = {
    "good_session": _plan_good,
    "excessive_force_kneading": _plan_excessive_force,
    "spine_contact_stroking": _plan_spine_contact,
    "wrong_phase_order": _plan_wrong_order,
    "phase_too_long": _plan_phase_too_long,
    "session_too_long": _plan_session_too_long,
    "technique_tour": _plan_tour,
}


# ------------------------------------------------------------------------------- assembly

def _limits(protocol: Protocol, technique: str) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(N_GLOVE, np.nan)
    hi = np.full(N_GLOVE, np.inf)
    for c, ch in enumerate(GLOVE_CHANNELS):
        mn, mx = protocol.force_limit(technique, ch, "live")
        if mn is not None:
            lo[c] = mn
        if mx is not None:
            hi[c] = mx
    return lo, hi


def _keep_within_limits(f: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scale each sensor's normal force so its peak stays well inside the live window."""
    peak = f.max(axis=0) if len(f) else np.zeros(N_GLOVE)
    scale = np.where(peak > NORMAL_CEILING * hi, NORMAL_CEILING * hi / np.maximum(peak, 1e-9), 1.0)
    f = f * scale[None, :]
    return f


def _quiet_start(envelope: np.ndarray, length: int, rate_hz: float, rng: np.random.Generator) -> int | None:
    """A random start where the hand stays on the back for `length` samples plus a margin."""
    pad = int(0.5 * rate_hz)
    n = len(envelope)
    lifted = (envelope < 1.0).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(lifted)])
    for _ in range(200):
        s = int(rng.integers(int(5 * rate_hz), max(n - length - int(5 * rate_hz), int(5 * rate_hz) + 1)))
        a, b = max(s - pad, 0), min(s + length + pad, n)
        if b - a == (s + length + pad) - (s - pad) and csum[b] - csum[a] == 0:
            return s
    return None


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def simulate(scenario: str, seed: int, rate_hz: int = 200) -> SimulatedSession:
    """A labelled session of `scenario` (see SCENARIOS); the same seed gives the same session."""
    if scenario not in _PLANNERS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if int(rate_hz) <= 0:
        raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
    rate_hz = int(rate_hz)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(scenario.encode())])
    protocol = default_protocol()
    trainee = Trainee.draw(rng)
    plan = _PLANNERS[scenario](rng)
    tour = scenario == "technique_tour"

    glove_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    phases: list[Phase] = []
    pending_overforce: list[tuple[int, int, int, float]] = []   # (channel, start, length, level)
    pending_spine: list[tuple[int, int]] = []                     # (start, length) in session samples
    cursor = 0

    def add_none(seconds: float) -> None:
        nonlocal cursor
        n = int(round(seconds * rate_hz))
        glove_parts.append(np.zeros((n, N_GLOVE)))
        label_parts.append(np.full(n, NONE, dtype=np.int8))
        cursor += n

    add_none(rng.uniform(2.0, 5.0))
    for k, planned in enumerate(plan):
        if k:
            add_none(rng.uniform(8.0, 15.0) if tour else rng.uniform(0.5, 5.0))
        params = draw_params(planned.technique, trainee, rng, planned.variant)
        f = technique_forces(params, trainee, planned.duration_s, rate_hz, rng)
        n = len(f)
        envelope, source = lifts_and_pauses(n, rate_hz, trainee, rng,
                                            allow_pauses=planned.technique != "percussion")
        f = f[source] * envelope[:, None]
        lo, hi = _limits(protocol, planned.technique)
        f = _keep_within_limits(f, lo, hi)
        labels = np.where(envelope >= 0.5, TECHNIQUES.index(planned.technique), NONE).astype(np.int8)

        for _ in range(planned.overforce):
            length = int(rng.uniform(*OVERFORCE_HOLD_S) * rate_hz)
            start = _quiet_start(envelope, length, rate_hz, rng)
            channel = int(rng.choice([GLOVE_CHANNELS.index(c) for c in ("thumb_tip", "index_tip", "middle_tip")]))
            if start is not None and np.isfinite(hi[channel]):
                level = float(rng.uniform(*OVERFORCE_FACTOR)) * hi[channel]
                pending_overforce.append((channel, cursor + start, length, level))
        for _ in range(planned.spine_contacts):
            length = int(rng.uniform(*SPINE_CONTACT_S) * rate_hz)
            start = _quiet_start(envelope, length, rate_hz, rng)
            if start is not None and all(abs(cursor + start - s) > length + l + 2 * rate_hz
                                         for s, l in pending_spine):
                pending_spine.append((cursor + start, length))

        glove_parts.append(f)
        label_parts.append(labels)
        phases.append(Phase(planned.technique, cursor / rate_hz, (cursor + n) / rate_hz))
        cursor += n
    add_none(rng.uniform(2.0, 5.0))

    glove = np.concatenate(glove_parts)
    labels = np.concatenate(label_parts)
    n_total = len(glove)

    # Injected over-force: a sustained squeeze on top of the kneading, with short ramps.
    ramp = max(int(0.15 * rate_hz), 1)
    for channel, start, length, level in pending_overforce:
        env = np.ones(length + 2 * ramp)
        env[:ramp] = np.linspace(0, 1, ramp, endpoint=False)
        env[-ramp:] = np.linspace(1, 0, ramp)
        seg = slice(start - ramp, start + length + ramp)
        wobble = 1.0 + 0.04 * np.sin(np.linspace(0, 3 * np.pi, len(env)))
        glove[seg, channel] = np.maximum(glove[seg, channel], level * env * wobble)

    # Ground truth over-force: every stretch above the live limit of the technique being done.
    overforce: list[TruthEvent] = []
    for p in phases:
        a, b = int(round(p.start_s * rate_hz)), int(round(p.end_s * rate_hz))
        lo, hi = _limits(protocol, p.technique)
        for c in np.flatnonzero(np.isfinite(hi)):
            for s, e in _spans(glove[a:b, c] > hi[c]):
                overforce.append(TruthEvent(GLOVE_CHANNELS[c], float((a + s) / rate_hz), float((a + e) / rate_hz),
                                            float(glove[a + s:a + e, c].max())))
    overforce.sort(key=lambda e: e.start_s)

    # The spine strip: the partner's own small, steady load per segment (breathing moves it a
    # little), plus injected presses on one or two neighbouring segments.
    t = np.arange(n_total) / rate_hz
    baseline = rng.uniform(0.1, 0.6, len(SPINE_CHANNELS))
    breath_hz = rng.uniform(0.2, 0.3)
    spine = baseline[None, :] * (1.0 + 0.04 * np.sin(2 * np.pi * breath_hz * t)[:, None])
    threshold = protocol.spine.contact_above_baseline_n
    spine_contacts: list[TruthEvent] = []
    for start, length in pending_spine:
        first = int(rng.integers(0, len(SPINE_CHANNELS) - 1))
        segments = [first, first + 1] if rng.random() < 0.5 else [first]
        for seg_k in segments:
            press = np.ones(length)
            r = min(int(0.3 * rate_hz), length // 3)
            press[:r] = np.linspace(0, 1, r, endpoint=False)
            press[-r:] = np.linspace(1, 0, r)
            extra = float(rng.uniform(*SPINE_CONTACT_N)) * press
            spine[start:start + length, seg_k] += extra
            above = extra > threshold
            for s, e in _spans(above):
                spine_contacts.append(TruthEvent(
                    SPINE_CHANNELS[seg_k], float((start + s) / rate_hz), float((start + e) / rate_hz),
                    float(spine[start + s:start + e, seg_k].max())))
    spine_contacts.sort(key=lambda e: (e.start_s, e.region))

    newtons = np.concatenate([glove, spine], axis=1).astype(np.float32)
    raw = forces_to_raw(newtons, ALL_CHANNELS, rate_hz, rng)
    return SimulatedSession(
        scenario=scenario, seed=int(seed), rate_hz=rate_hz, channels=ALL_CHANNELS,
        newtons=newtons, raw=raw, labels=labels, phases=phases, overforce=overforce,
        spine_contacts=spine_contacts, expected_violations=EXPECTED_VIOLATIONS[scenario],
        spine_baseline_n={ch: float(b) for ch, b in zip(SPINE_CHANNELS, baseline)},
    )


def simulate_technique(technique: str, duration_s: float, seed: int, rate_hz: int = 200,
                       variant: str | None = None, lifts: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """True glove forces (n, 12) and labels (n,) of one clean stretch of a technique (for tests)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(technique.encode())])
    trainee = Trainee.draw(rng)
    if not lifts:
        trainee.lifts_per_min = 0.0
        trainee.pauses_per_min = 0.0
    params = draw_params(technique, trainee, rng, variant)
    f = technique_forces(params, trainee, duration_s, rate_hz, rng)
    envelope, source = lifts_and_pauses(len(f), rate_hz, trainee, rng,
                                        allow_pauses=technique != "percussion")
    f = f[source] * envelope[:, None]
    lo, hi = _limits(default_protocol(), technique)
    f = _keep_within_limits(f, lo, hi)
    labels = np.where(envelope >= 0.5, TECHNIQUES.index(technique), NONE).astype(np.int8)
    return f, labels
