"""Messy, realistic sessions: real people, real technique variants and real sensors (issue 9).

`simulate_messy(seed, scenario=..., realism=...)` builds a labelled protocol session the way
`simulate` does, but with every condition the clean simulator leaves out, each one a field of
`Realism` with a documented range:

- the person: whole-hand force 0.6-1.5x typical, tempo +-30 %;
- the technique's variant: rubbing with the hand edge, the palm heel or the finger pads, back
  and forth or circular; kneading with thumb opposition or (now and then) the fist; vibration
  with the finger pads (thumb loaded too) or the palm; percussion as hacking, tapping or cupping;
- an irregular rhythm: period and amplitude jitter, missed beats, asymmetric rise and fall;
- transitions with a lift, flowing straight on, or blended over a few seconds;
- gel pauses: the hand leaves the back for 15-30 s and comes back to the same technique;
- sensors: per-channel gain error, resting offsets, slow drift, white noise, mains hum, any
  sample rate from 50 to 1000 Hz, and channel faults (dead, intermittent, stuck, saturated,
  noisy).

`newtons` is what a calibrated glove reports (the true force through all of the above, clipped
at 0); `true_newtons` is the force itself. The ground truth (labels, phases, pauses, over-force
and spine events, faults, expected rule violations and verdict) is measured on the true forces,
so it is exact by construction. Everything is drawn from generators seeded by the session seed,
so a seed always gives the same session; the true forces come from their own generators, so
changing only the sensor settings leaves the massage itself unchanged.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from glovecoach.calibration.fsr_model import raw_to_force
from glovecoach.protocols import Protocol, Purpose, default_protocol
from glovecoach.simulate.sensors import channel_params
from glovecoach.simulate.session import (
    _PLANNERS,
    EXPECTED_VIOLATIONS,
    NORMAL_CEILING,
    SCENARIOS,
    SimulatedSession,
    TruthEvent,
    _good_durations,
    _protocol_order,
    _spans,
    label_runs,
)
from glovecoach.simulate.signals import (
    FINGER_PADS,
    GRASP_FINGERS,
    LOAD_SHARES,
    N_GLOVE,
    THUMB,
    Trainee,
    _cycle_phase,
    _weights,
    lifts_and_pauses,
    perturb_weights,
    smooth_noise,
)
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, SPINE_CHANNELS, load_sensor_map
from glovecoach.vocabulary.techniques import TECHNIQUES, Phase

NONE = TECHNIQUES.index("none")
_CH = {name: k for k, name in enumerate(ALL_CHANNELS)}
KNUCKLES = [_CH["knuckles_index_middle"], _CH["knuckles_ring_little"]]

RATES_HZ = (50, 100, 200, 500, 1000)
TRANSITIONS = ("lift", "flow", "blend", "mixed")
FAULT_KINDS = ("dead", "intermittent", "stuck", "saturated", "noisy")
RUBBING_SURFACES = ("hand_edge", "palm_heel", "finger_pads")
RUBBING_MOTIONS = ("back_and_forth", "circular")
KNEADING_VARIANTS = ("grasp", "fist")
VIBRATION_VARIANTS = ("finger_pads", "palm")
PERCUSSION_VARIANTS = ("hacking", "tapping", "cupping")

# Injected over-force: this many times the technique's SCORING limit, held this long (s) at
# the plateau, so that even a sensor reading 15 % low and drifting 5 % down still reads over
# the limit, and the truth is >= 1.25x the limit for >= 0.8 s (issue 9's event definition).
OVERFORCE_FACTOR = (1.4, 1.7)
OVERFORCE_HOLD_S = (0.9, 2.5)
# Injected spine contact: this far over the partner's resting load (N) held this long (s).
SPINE_CONTACT_N = (3.3, 10.0)
SPINE_CONTACT_S = (0.6, 4.0)
# A phase holding a gel pause lasts this long (pause included), so that it is inside the
# protocol's 120-180 s (+-15 s) whether or not the pause counts toward the phase's length.
PAUSED_PHASE_S = (145.0, 175.0)
PAUSE_EDGE_S = 25.0            # a gel pause starts and ends this far inside its phase
FLOW_S = 0.3                   # a "flow" transition: the two techniques overlap this long
LIGHTEST_STROKING_N = 6.0      # whole-hand mean; below this the hand is barely on the back
HEAVIEST_STROKING_N = 16.0     # keeps stroking clear of deep stroking (>= 24 N) at any force scale

# Load shares the clean simulator has no entry for (cupping); the finger-pad vibration with the
# thumb taking part is derived in `_shares`. signals.LOAD_SHARES itself is left as it is.
MESSY_SHARES: dict[str, np.ndarray] = {
    "percussion/cupping": _weights(
        thenar=0.20, hypothenar=0.24, palm_heel=0.16, palm_center=0.02, index_tip=0.10,
        middle_tip=0.11, ring_tip=0.10, little_tip=0.07),
}

MESSY_SCENARIOS: dict[str, str] = {
    **{k: v for k, v in SCENARIOS.items() if k != "technique_tour"},
    "vibration_overforce": "A correct session with a finger-pad vibration phase in which the fingers press "
                           "too hard (over the vibration limit) once or twice.",
    "no_fist_work": "A correct session without any fist technique, on a glove whose idle knuckle sensors "
                    "carry high offsets and noise: no 'too light' verdict is due.",
    "gel_pause": "A correct session in which the trainee leaves the back for 15-30 s mid-phase (gel, "
                 "repositioning) and resumes the same technique: one phase, not two.",
    "no_massage": "The glove is worn but never touches the back: only sensor offsets, noise and the "
                  "partner's load on the spine strip.",
}

_EXTRA_EXPECTED: dict[str, tuple[str, ...]] = {
    "vibration_overforce": ("excessive_force",),
    "no_fist_work": (),
    "gel_pause": (),
    "no_massage": (),
}

# (low, high) of each numeric control; `Realism.draw` draws inside these and `Realism()` checks them.
RANGES: dict[str, tuple[float, float]] = {
    "force_scale": (0.6, 1.5),
    "tempo_scale": (0.7, 1.3),
    "period_jitter": (0.0, 0.3),
    "amplitude_jitter": (0.0, 0.3),
    "missed_beats": (0.0, 0.15),
    "rise_fraction": (0.3, 0.7),
    "blend_s": (2.0, 5.0),
    "pauses": (0, 2),
    "gain_error": (0.0, 0.15),
    "offset_n": (0.0, 0.5),
    "drift": (0.0, 0.05),
    "noise_n": (0.0, 0.3),
    "hum_n": (0.0, 0.2),
}


@dataclass(frozen=True)
class Realism:
    """The realism controls of one messy session (ranges in `RANGES`; defaults: a clean session).

    Person and technique:
      force_scale       0.6-1.5   whole-hand force against a typical trainee's
      tempo_scale       0.7-1.3   rhythm against a typical trainee's (each technique's rate is
                                  kept inside its band: vibration 5.5-11.5 Hz, kneading 0.5-1.5 Hz...)
      rubbing_surface   hand_edge | palm_heel | finger_pads | None (drawn per phase)
      rubbing_motion    back_and_forth | circular | None; circular: the load goes round the
                        surface, so the sensors swing with phase lags spread over 2 pi
      kneading_variant  grasp (thumb against the fingers) | fist (knuckles) | None (fist 1 in 4)
      vibration_variant finger_pads (thumb loaded too) | palm | None
      percussion_variant hacking (hand edge) | tapping (finger tips) | cupping (palm rim + fingers) | None
    Rhythm:
      period_jitter     0-0.3     each cycle's length varies by up to +-this fraction
                                  (a third of it for vibration, whose peak must stay a peak)
      amplitude_jitter  0-0.3     each cycle's (impact's) strength varies by up to +-this fraction
      missed_beats      0-0.15    probability that a cycle or impact is left out
      rise_fraction     0.3-0.7   share of each cycle spent rising (0.5: symmetric)
    Session flow:
      transition        lift (hand off 0.5-6 s) | flow (straight on) | blend (cross-fade) | mixed
      blend_s           2-5 s     length of a blended transition
      pauses            0-2       gel pauses of 15-30 s, each in its own phase
    Sensors (every channel):
      rate_hz           50, 100, 200, 500 or 1000
      gain_error        0-0.15    each channel's gain is off by up to +-this fraction
      offset_n          0-0.5 N   each channel rests at a reading of 0.1..offset_n N (0: none)
      drift             0-0.05    each gain wanders by up to +-this fraction over the session;
                                  each offset by up to +-2 x this N (0.1 N at 5 %)
      noise_n           0-0.3 N   white noise RMS of the noisiest channel (each: 60-100 % of it)
      hum_n             0-0.2 N   mains hum amplitude (hum_hz 50 or 60, aliased by the sampling)
      faults            kinds from FAULT_KINDS, one glove channel each
    """

    rate_hz: int = 200
    force_scale: float = 1.0
    tempo_scale: float = 1.0
    rubbing_surface: str | None = None
    rubbing_motion: str | None = None
    kneading_variant: str | None = None
    vibration_variant: str | None = None
    percussion_variant: str | None = None
    period_jitter: float = 0.0
    amplitude_jitter: float = 0.0
    missed_beats: float = 0.0
    rise_fraction: float = 0.5
    transition: str = "lift"
    blend_s: float = 3.0
    pauses: int = 0
    gain_error: float = 0.0
    offset_n: float = 0.0
    drift: float = 0.0
    noise_n: float = 0.0
    hum_n: float = 0.0
    hum_hz: float = 50.0
    faults: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if int(self.rate_hz) != self.rate_hz or not 10 <= self.rate_hz <= 2000:
            raise ValueError(f"Realism.rate_hz must be a whole number of Hz in 10-2000 "
                             f"(the issue's range is 50-1000), got {self.rate_hz!r}")
        for name, (lo, hi) in RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"Realism.{name} = {value!r} is outside its range {lo}-{hi}")
        choices = {"rubbing_surface": RUBBING_SURFACES, "rubbing_motion": RUBBING_MOTIONS,
                   "kneading_variant": KNEADING_VARIANTS, "vibration_variant": VIBRATION_VARIANTS,
                   "percussion_variant": PERCUSSION_VARIANTS}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"Realism.{name} = {value!r}; expected one of {', '.join(allowed)} or None")
        if self.transition not in TRANSITIONS:
            raise ValueError(f"Realism.transition = {self.transition!r}; expected one of {', '.join(TRANSITIONS)}")
        if self.hum_hz not in (50.0, 60.0):
            raise ValueError(f"Realism.hum_hz must be 50 or 60 (mains), got {self.hum_hz!r}")
        if not isinstance(self.faults, tuple):
            object.__setattr__(self, "faults", tuple(self.faults))
        bad = [k for k in self.faults if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"Realism.faults: unknown kind {bad[0]!r}; expected some of {', '.join(FAULT_KINDS)}")
        if len(self.faults) > 4:
            raise ValueError(f"Realism.faults: at most 4 faulty channels, got {len(self.faults)}")

    @classmethod
    def draw(cls, rng: np.random.Generator, **overrides) -> Realism:
        """Every control drawn across its range (overrides replace the drawn values).

        Sensor imperfections are drawn in levels so that a batch of sessions covers clean,
        middling and worst-case glove behaviour, not only the middle of each range.
        """
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"Realism.draw: unknown control(s) {', '.join(sorted(unknown))}")

        def u(name: str) -> float:
            lo, hi = RANGES[name]
            return float(rng.uniform(lo, hi))

        def level(name: str) -> float:
            lo, hi = RANGES[name]
            return float(hi * rng.choice([0.0, 0.3, 0.6, 1.0]) if name != "offset_n"
                         else rng.choice([0.0, 0.2, 0.35, 0.5]))

        n_faults = int(rng.choice([0, 0, 1, 1, 2]))
        drawn: dict[str, Any] = dict(
            rate_hz=int(rng.choice(RATES_HZ)),
            force_scale=u("force_scale"),
            tempo_scale=u("tempo_scale"),
            rubbing_surface=None, rubbing_motion=None, kneading_variant=None,
            vibration_variant=None, percussion_variant=None,
            period_jitter=u("period_jitter"),
            amplitude_jitter=u("amplitude_jitter"),
            missed_beats=float(rng.choice([0.0, 0.05, 0.1, 0.15])),
            rise_fraction=u("rise_fraction"),
            transition=str(rng.choice(TRANSITIONS)),
            blend_s=u("blend_s"),
            pauses=int(rng.choice([0, 0, 1, 2])),
            gain_error=level("gain_error"),
            offset_n=level("offset_n"),
            drift=level("drift"),
            noise_n=level("noise_n"),
            hum_n=float(rng.choice([0.0, 0.0, 0.1, 0.2])),
            hum_hz=float(rng.choice([50.0, 60.0])),
            faults=tuple(str(k) for k in rng.choice(FAULT_KINDS, n_faults, replace=False)),
        )
        drawn.update(overrides)
        return cls(**drawn)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["faults"] = list(self.faults)
        return d


@dataclass(frozen=True)
class ChannelFault:
    """A faulty channel in the truth: which sensor, what kind, when (seconds)."""

    channel: str
    kind: str
    start_s: float
    end_s: float

    def to_dict(self) -> dict:
        return {"channel": self.channel, "kind": self.kind, "start_s": round(self.start_s, 3),
                "end_s": round(self.end_s, 3)}


@dataclass
class MessySession(SimulatedSession):
    """A SimulatedSession whose `newtons` are what the glove reports (not the true force).

    Extra truth: `true_newtons` (n, 20) float32, `pauses` [(start_s, end_s)] (samples labelled
    "none", inside one truth phase), `channel_faults`, `truth_verdict` ("passed", "not_passed"
    or "no_massage"), `conditions` (the realism controls and what was drawn per phase).
    """

    true_newtons: np.ndarray | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)
    channel_faults: list[ChannelFault] = field(default_factory=list)
    truth_verdict: str = "passed"
    conditions: dict = field(default_factory=dict)

    def truth_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "description": MESSY_SCENARIOS[self.scenario],
            "seed": self.seed,
            "rate_hz": self.rate_hz,
            "duration_s": round(self.duration_s, 3),
            "channels": list(self.channels),
            "phases": [{"technique": p.technique, "start_s": round(p.start_s, 3), "end_s": round(p.end_s, 3)}
                       for p in self.phases],
            "segments": label_runs(self.labels, self.rate_hz),
            "pauses": [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self.pauses],
            "overforce_events": [e.to_dict("region") for e in self.overforce],
            "spine_contacts": [e.to_dict("segment") for e in self.spine_contacts],
            "spine_baseline_n": {k: round(v, 3) for k, v in self.spine_baseline_n.items()},
            "channel_faults": [f.to_dict() for f in self.channel_faults],
            "expected_violations": list(self.expected_violations or ()),
            "verdict": self.truth_verdict,
            "conditions": self.conditions,
        }

    def cut(self, start_s: float, duration_s: float | None = None) -> SimulatedSession:
        raise NotImplementedError("a cut of a messy session would need its pauses, faults and verdict "
                                  "re-derived; cut the clean session instead")


# ------------------------------------------------------------------------------ rhythm

def _warp(pos: np.ndarray, rise: float) -> np.ndarray:
    """Position in a cycle (0..1) so that the first half of the waveform takes `rise` of it."""
    return np.where(pos < rise, 0.5 * pos / rise, 0.5 + 0.5 * (pos - rise) / (1.0 - rise))


@dataclass
class _Cycles:
    k: np.ndarray          # cycle number per sample
    pos: np.ndarray        # 0..1 position inside the cycle, warped for the rise/fall asymmetry
    raw_pos: np.ndarray    # unwarped position
    gain: np.ndarray       # per-cycle strength (0: a missed beat), one more than cycles

    def smooth_gain(self) -> np.ndarray:
        """Per-sample strength that changes smoothly from one cycle to the next."""
        u = self.raw_pos * self.raw_pos * (3 - 2 * self.raw_pos)
        centred = np.where(u < 0.5, 0.0, 1.0)     # the cycle's own gain holds its middle
        w = np.clip((u - 0.75) * 4.0, 0.0, 1.0) * centred
        return self.gain[self.k] * (1 - w) + self.gain[self.k + 1] * w


def _cycles(n: int, rate_hz: float, mean_period_s: float, realism: Realism, rng: np.random.Generator,
            jitter_scale: float = 1.0, base_jitter: float = 0.0, amp_scale: float = 1.0,
            missed_gain: float = 0.0) -> _Cycles:
    duration = n / rate_hz
    jitter = base_jitter + realism.period_jitter * jitter_scale
    count = int(duration / mean_period_s * 1.6) + 4
    periods = mean_period_s * np.clip(1.0 + jitter * rng.uniform(-1, 1, count), 0.4, 1.8)
    while periods.sum() < duration + mean_period_s:
        periods = np.concatenate([periods, periods])
    k, pos = _cycle_phase(n, rate_hz, periods)
    gain = 1.0 + realism.amplitude_jitter * amp_scale * rng.uniform(-1, 1, len(periods) + 1)
    missed = rng.random(len(periods) + 1) < realism.missed_beats
    gain[missed] = missed_gain
    return _Cycles(k, _warp(pos, realism.rise_fraction), pos, gain)


def _in_band(rate: float, lo: float, hi: float) -> float:
    return float(min(max(rate, lo), hi))


# -------------------------------------------------------------------- technique models

@dataclass
class MessyParams:
    technique: str
    variant: str = ""
    motion: str = ""
    level_n: float = 0.0
    rate_hz: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"technique": self.technique, "variant": self.variant, "motion": self.motion,
                "level_n": round(self.level_n, 2), "rate_hz": round(self.rate_hz, 3),
                **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.extra.items()}}


def draw_messy_params(technique: str, realism: Realism, rng: np.random.Generator,
                      variant: str | None = None) -> MessyParams:
    """One phase's parameters: reference ranges shaded by the person's force and tempo."""
    fs, ts = realism.force_scale, realism.tempo_scale
    if technique == "stroking":
        level = float(np.clip(rng.uniform(6.0, 13.0) * fs, LIGHTEST_STROKING_N, HEAVIEST_STROKING_N))
        return MessyParams(technique, level_n=level,
                           rate_hz=_in_band(1.0 / rng.uniform(2.6, 4.2) * ts, 0.2, 0.5),
                           extra={"floor": float(rng.uniform(0.35, 0.5))})
    if technique == "deep_stroking":
        level = float(np.clip(rng.uniform(7.0, 12.0) * rng.uniform(2.2, 3.8) * fs, 24.0, 48.0))
        return MessyParams(technique, level_n=level,
                           rate_hz=_in_band(1.0 / rng.uniform(2.6, 4.2) * ts, 0.2, 0.5),
                           extra={"floor": float(rng.uniform(0.4, 0.55))})
    if technique == "rubbing":
        surface = variant or realism.rubbing_surface or str(rng.choice(RUBBING_SURFACES))
        motion = realism.rubbing_motion or str(rng.choice(RUBBING_MOTIONS))
        depth = rng.uniform(0.4, 0.7) if motion == "circular" else rng.uniform(0.35, 0.6)
        return MessyParams(technique, surface, motion, level_n=float(np.clip(rng.uniform(12.0, 30.0) * fs, 10.0, 40.0)),
                           rate_hz=_in_band(rng.uniform(1.1, 2.9) * ts, 1.05, 2.9), extra={"depth": float(depth)})
    if technique == "kneading":
        kind = variant or realism.kneading_variant or ("fist" if rng.random() < 0.25 else "grasp")
        # Fist kneading stays in its force window (per knuckle sensor) whatever the person's
        # force scale: the window's lower bound is what the "too light" rule checks.
        level = (rng.uniform(22.0, 30.0) * float(np.clip(fs, 0.9, 1.1)) if kind == "fist"
                 else float(np.clip(rng.uniform(7.0, 13.0) * fs, 5.0, 18.0)))
        return MessyParams(technique, kind, level_n=float(level),
                           rate_hz=_in_band(rng.uniform(0.55, 1.45) * ts, 0.5, 1.5),
                           extra={"duty": float(rng.uniform(0.55, 0.8)), "palm_n": float(rng.uniform(0.6, 2.0))})
    if technique == "vibration":
        kind = variant or realism.vibration_variant or str(rng.choice(VIBRATION_VARIANTS))
        extra = {"depth": float(rng.uniform(0.12, 0.25))}
        if kind == "finger_pads":
            extra["thumb_share"] = float(rng.uniform(0.1, 0.2))
        return MessyParams(technique, kind, level_n=float(np.clip(rng.uniform(7.0, 16.0) * fs, 5.0, 20.0)),
                           rate_hz=_in_band(rng.uniform(5.5, 11.5) * ts ** 0.3, 5.0, 12.0), extra=extra)
    if technique == "percussion":
        kind = variant or realism.percussion_variant or str(rng.choice(PERCUSSION_VARIANTS))
        rate = _in_band(rng.uniform(2.2, 7.5) * ts, 2.0, 8.0)
        return MessyParams(technique, kind, level_n=float(np.clip(rng.uniform(14.0, 40.0) * fs, 10.0, 50.0)),
                           rate_hz=rate, extra={"impact_s": float(min(rng.uniform(0.02, 0.08), 0.4 / rate))})
    raise ValueError(f"unknown technique {technique!r}")


def _shares(p: MessyParams) -> np.ndarray:
    if p.technique in ("stroking", "deep_stroking"):
        return LOAD_SHARES[p.technique]
    if p.technique == "vibration" and p.variant == "finger_pads":
        # Thumb and fingers on the skin together: the thumb's share is what made it look like a grasp.
        w = LOAD_SHARES["vibration/finger_pads"].copy()
        w[THUMB] = 0.0
        w = w / w.sum() * (1.0 - p.extra["thumb_share"])
        w[THUMB] = p.extra["thumb_share"]
        return w
    key = f"{p.technique}/{p.variant}"
    if key in MESSY_SHARES:
        return MESSY_SHARES[key]
    if p.technique == "kneading":
        return LOAD_SHARES["kneading/fist" if p.variant == "fist" else "kneading/grasp"]
    return LOAD_SHARES[key]


def messy_technique_forces(p: MessyParams, realism: Realism, spread: float, n: int, rate_hz: float,
                           rng: np.random.Generator) -> np.ndarray:
    """True force (n, 12) of `n` samples of technique `p` with the realism's rhythm irregularity."""
    out = np.zeros((n, N_GLOVE))
    if n == 0:
        return out
    wander = 1.0 + 0.08 * smooth_noise(n, rate_hz, 6.0, rng)
    w = perturb_weights(_shares(p), spread, rng)

    if p.technique in ("stroking", "deep_stroking"):
        cyc = _cycles(n, rate_hz, 1.0 / p.rate_hz, realism, rng, base_jitter=0.2)
        floor = p.extra["floor"]
        shape = floor + (1 - floor) * np.sin(np.pi * cyc.pos) ** 2 * cyc.gain[cyc.k]
        total = p.level_n / (floor + (1 - floor) / 2) * shape * wander
        lead = np.sin(2 * np.pi * cyc.pos)[:, None]
        tilt = np.zeros(N_GLOVE)
        tilt[FINGER_PADS + [THUMB]] = 0.2
        tilt[_CH["palm_heel"]] = -0.2
        return total[:, None] * w[None, :] * (1.0 + tilt[None, :] * lead)

    if p.technique == "rubbing":
        cyc = _cycles(n, rate_hz, 1.0 / p.rate_hz, realism, rng, base_jitter=0.03, missed_gain=0.15)
        loaded = np.flatnonzero(w > 0.02)
        lags = np.zeros(N_GLOVE)
        if p.motion == "circular":
            # The load goes round the surface: lags spread evenly over a whole turn.
            lags[loaded] = 2 * np.pi * (rng.permutation(len(loaded)) / len(loaded)
                                        + rng.uniform(-0.03, 0.03, len(loaded)))
        else:
            lags[loaded] = rng.uniform(0.0, np.pi / 3, len(loaded))
        frac = (cyc.raw_pos[:, None] + lags[None, :] / (2 * np.pi)) % 1.0
        wave = -np.cos(2 * np.pi * _warp(frac, realism.rise_fraction))
        depth = p.extra["depth"] * cyc.smooth_gain()
        swing = 1.0 + depth[:, None] * wave
        if p.motion == "circular":
            # Going round, the hand presses about as hard all the way: the load's position
            # turns, its sum barely moves (a tenth of the swing is left in it).
            shares = w[None, :] * swing
            shares /= shares.sum(axis=1, keepdims=True)
            total = 1.0 + 0.1 * depth * -np.cos(2 * np.pi * cyc.pos)
            return p.level_n * (wander * total)[:, None] * shares
        return p.level_n * wander[:, None] * w[None, :] * swing

    if p.technique == "kneading":
        # A fist's "missed beat" is a weaker press, never a press below the window's lower
        # bound: the knuckles stay the working surface and the truth has no "too light".
        fist = p.variant == "fist"
        cyc = _cycles(n, rate_hz, 1.0 / p.rate_hz, realism, rng, base_jitter=0.08,
                      amp_scale=0.35 if fist else 1.0, missed_gain=0.7 if fist else 0.0)
        duty = p.extra["duty"]
        raw = cyc.raw_pos
        in_grasp = raw < duty
        pulse = np.where(in_grasp, np.sin(np.pi * _warp(np.minimum(raw / duty, 1.0), realism.rise_fraction)) ** 2, 0.0)
        pulse = (0.06 + 0.94 * pulse * cyc.gain[cyc.k]) * wander
        if p.variant == "fist":
            pulse = 0.15 + 0.85 * pulse     # the knuckles roll on the skin between presses
            return p.level_n * pulse[:, None] * w[None, :]
        finger_peak = p.level_n * w / w[GRASP_FINGERS + [THUMB]].mean()
        lag = rng.integers(-int(0.03 * rate_hz), int(0.03 * rate_hz) + 1, N_GLOVE)
        idx = np.clip(np.arange(n)[:, None] - lag[None, :], 0, n - 1)
        wp = LOAD_SHARES["kneading/grasp_palm"]
        palm_light = p.extra["palm_n"] * (1.0 + 0.3 * pulse[:, None]) * wp[None, :]
        return finger_peak[None, :] * pulse[idx] + palm_light

    if p.technique == "vibration":
        cyc = _cycles(n, rate_hz, 1.0 / p.rate_hz, realism, rng, jitter_scale=0.3, base_jitter=0.03)
        depth = p.extra["depth"] * (1.0 + 0.2 * smooth_noise(n, rate_hz, 3.0, rng)) * cyc.smooth_gain()
        total = p.level_n * wander * (1.0 + depth * -np.cos(2 * np.pi * cyc.pos))
        return total[:, None] * w[None, :]

    if p.technique == "percussion":
        period = 1.0 / p.rate_hz
        duration = n / rate_hz
        count = int(duration / period * 1.6) + 4
        periods = period * np.clip(1.0 + (0.08 + realism.period_jitter) * rng.uniform(-1, 1, count), 0.5, 1.6)
        onsets = np.cumsum(periods) - periods[0] + rng.uniform(0, period)
        onsets = onsets[onsets < duration - 0.1]
        peaks = p.level_n * (1.0 + max(0.15, realism.amplitude_jitter) * rng.uniform(-1, 1, len(onsets)))
        keep = rng.random(len(onsets)) >= realism.missed_beats
        onsets, peaks = onsets[keep], peaks[keep]
        width = max(int(round(p.extra["impact_s"] * rate_hz)), 1)
        # Sampled so that even a one-sample impact shows its peak; rise and fall may differ.
        shape = np.sin(np.pi * _warp((np.arange(width) + 0.5) / width, realism.rise_fraction))
        starts = np.round(onsets * rate_hz).astype(int)
        rows = starts[:, None] + np.arange(width)[None, :]
        ok = rows < n
        total = np.zeros(n)
        np.add.at(total, rows[ok], (peaks[:, None] * shape[None, :])[ok])
        return total[:, None] * w[None, :]

    raise ValueError(f"unknown technique {p.technique!r}")


# ----------------------------------------------------------------------------- limits

def _limit_vectors(protocol: Protocol, technique: str | None, purpose: Purpose) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(N_GLOVE, np.nan)
    hi = np.full(N_GLOVE, np.inf)
    for c, ch in enumerate(GLOVE_CHANNELS):
        mn, mx = protocol.force_limit(technique, ch, purpose)
        if mn is not None:
            lo[c] = mn
        if mx is not None:
            hi[c] = mx
    return lo, hi


def _keep_inside(f: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scale each sensor's normal force so its peak stays at most NORMAL_CEILING of the live limit."""
    peak = f.max(axis=0) if len(f) else np.zeros(N_GLOVE)
    scale = np.where(peak > NORMAL_CEILING * hi, NORMAL_CEILING * hi / np.maximum(peak, 1e-9), 1.0)
    return f * scale[None, :]


# ---------------------------------------------------------------------------- planning

@dataclass
class _Planned:
    technique: str
    duration_s: float           # truth phase length, pause included
    variant: str | None = None
    overforce: int = 0
    overforce_channels: tuple[str, ...] = ()
    spine_contacts: int = 0
    pause_s: float = 0.0


def _plan(scenario: str, rng: np.random.Generator) -> list[_Planned]:
    if scenario in _PLANNERS:
        base = _PLANNERS[scenario](rng)
    elif scenario == "vibration_overforce":
        order = [t for t in _protocol_order(rng, optional=False) if t != "stroking"]
        order = ["stroking"] + order + ["vibration", "stroking"]
        base = _good_durations(rng, order)
    elif scenario in ("no_fist_work", "gel_pause"):
        base = _good_durations(rng, _protocol_order(rng))
    elif scenario == "no_massage":
        return []
    else:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(MESSY_SCENARIOS)}")
    plan = [_Planned(str(p.technique), p.duration_s, p.variant, p.overforce, spine_contacts=p.spine_contacts)
            for p in base]
    for p in plan:
        if p.overforce:     # the clean planner's kneading squeezes, on the grasping digits
            p.overforce_channels = ("thumb_tip", "index_tip", "middle_tip")
    if scenario == "vibration_overforce":
        vib = next(p for p in plan if p.technique == "vibration")
        vib.variant = "finger_pads"
        vib.overforce = int(rng.integers(1, 3))
        vib.overforce_channels = ("index_tip", "middle_tip", "ring_tip")
    if scenario == "no_fist_work":
        for p in plan:
            if p.technique == "kneading":
                p.variant = "grasp"
    return plan


def _add_pauses(plan: list[_Planned], count: int, scenario: str, rng: np.random.Generator) -> None:
    """Gel pauses in `count` distinct phases; phase lengths kept unambiguous either way."""
    if not plan or count <= 0:
        return
    longest = max(plan, key=lambda p: p.duration_s) if scenario == "phase_too_long" else None
    chosen = rng.choice(len(plan), size=min(count, len(plan)), replace=False)
    for j in chosen:
        p = plan[int(j)]
        p.pause_s = float(rng.uniform(15.0, 30.0))
        if p is not longest:
            p.duration_s = float(np.clip(p.duration_s, *PAUSED_PHASE_S))
    if scenario != "session_too_long":
        # A correct session stays well inside 15 minutes even with its pauses counted.
        total = sum(p.duration_s for p in plan)
        budget = 790.0
        flexible = [p for p in plan if not p.pause_s and p is not longest]
        slack = sum(p.duration_s - 122.0 for p in flexible)
        if total > budget and slack > 0:
            cut = min((total - budget) / slack, 1.0)
            for p in flexible:
                p.duration_s -= (p.duration_s - 122.0) * cut


# ----------------------------------------------------------------------------- assembly

def _rngs(seed: int, scenario: str) -> dict[str, np.random.Generator]:
    """Independent generators per concern, so that sensor settings do not change the massage."""
    base = [int(seed) & 0xFFFFFFFF, zlib.crc32(b"messy"), zlib.crc32(scenario.encode())]
    return {name: np.random.default_rng(base + [k]) for k, name in
            enumerate(("plan", "signal", "spine", "sensor", "fault"))}


def _fade(n: int, ramp: int, at_start: bool, at_end: bool) -> np.ndarray:
    env = np.ones(n)
    ramp = min(ramp, n // 2)
    if ramp > 0:
        shape = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
        if at_start:
            env[:ramp] = shape
        if at_end:
            env[-ramp:] = shape[::-1]
    return env


def _pause_envelope(n: int, rate_hz: float, pause_s: float, rng: np.random.Generator) -> np.ndarray:
    """Contact envelope of a phase with a gel pause of `pause_s` somewhere in its middle part."""
    length = int(round(pause_s * rate_hz))
    edge = int(PAUSE_EDGE_S * rate_hz)
    start = int(rng.integers(edge, max(n - edge - length, edge + 1)))
    ramp = max(int(0.3 * rate_hz), 1)
    env = np.ones(n)
    env[start:start + length] = 0.0
    down = 0.5 + 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    env[max(start - ramp, 0):start] = down[-(start - max(start - ramp, 0)):]
    stop = start + length
    env[stop:stop + ramp] = down[::-1][:len(env[stop:stop + ramp])]
    return env


def _quiet_start(ok: np.ndarray, length: int, rate_hz: float, rng: np.random.Generator) -> int | None:
    """A start where `ok` holds for `length` samples plus half a second either side."""
    pad = int(0.5 * rate_hz)
    n = len(ok)
    bad = np.concatenate([[0], np.cumsum(~ok)])
    lo, hi = int(5 * rate_hz), n - length - int(5 * rate_hz)
    if hi <= lo:
        return None
    for _ in range(200):
        s = int(rng.integers(lo, hi))
        if bad[s + length + pad] - bad[s - pad] == 0:
            return s
    return None


def _draw_transitions(realism: Realism, count: int, rng: np.random.Generator) -> list[str]:
    if realism.transition == "mixed":
        return [str(t) for t in rng.choice(["lift", "flow", "blend"], count)]
    return [realism.transition] * count


def simulate_messy(seed: int, *, scenario: str | None = None, realism: Realism | None = None,
                   rate_hz: int | None = None) -> MessySession:
    """A messy labelled session (see the module docstring); the same arguments give the same session.

    `scenario` None: drawn from MESSY_SCENARIOS by the seed. `realism` None: `Realism.draw`
    by the seed. `rate_hz` overrides the realism's sample rate.
    """
    seed = int(seed)
    if scenario is None:
        scenario = str(np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(b"scenario")])
                       .choice(list(MESSY_SCENARIOS)))
    if scenario not in MESSY_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(MESSY_SCENARIOS)}")
    g = _rngs(seed, scenario)
    if realism is None:
        realism = Realism.draw(np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(b"realism")]))
    if rate_hz is not None:
        realism = replace(realism, rate_hz=int(rate_hz))
    rate = int(realism.rate_hz)
    protocol = default_protocol()
    ff = protocol.force_feedback

    # ---- the plan and the timeline (truth boundaries first, rendered spans around them)
    prng = g["plan"]
    plan = _plan(scenario, prng)
    pauses_wanted = realism.pauses
    if scenario == "gel_pause":
        pauses_wanted = max(pauses_wanted, 1)
    _add_pauses(plan, pauses_wanted, scenario, prng)
    for p in plan:
        if p.technique == "kneading" and p.variant is None:
            p.variant = realism.kneading_variant or ("fist" if prng.random() < 0.25 else "grasp")
    transitions = _draw_transitions(realism, max(len(plan) - 1, 0), prng)
    # Nobody blends a grasp into a fist: the hand comes off and closes. A blend would also fade
    # the knuckle presses through the window's lower bound, and the truth has no "too light".
    for k in range(len(transitions)):
        if transitions[k] == "blend" and "fist" in (plan[k].variant, plan[k + 1].variant):
            transitions[k] = "lift"
    # A flow is a cross-fade too, only a short one: the hand stays on the back and changes
    # what it does within a third of a second.
    blends = [FLOW_S if tr == "flow" else (float(prng.uniform(2.0, 5.0)) if realism.transition == "mixed"
                                           else realism.blend_s) for tr in transitions]
    lead_in = prng.uniform(3.0, 10.0)
    truth_bounds: list[tuple[float, float]] = []
    t = lead_in
    for k, p in enumerate(plan):
        if k:
            t += prng.uniform(0.5, 6.0) if transitions[k - 1] == "lift" else 0.0
        truth_bounds.append((t, t + p.duration_s))
        t += p.duration_s
    if scenario == "no_massage":
        t = float(prng.uniform(60.0, 300.0))
    total_s = t + prng.uniform(3.0, 8.0)
    n_total = int(round(total_s * rate))
    trainee = Trainee(force_scale=realism.force_scale, tempo_scale=realism.tempo_scale,
                      lifts_per_min=float(prng.uniform(1.0, 3.0)), pauses_per_min=float(prng.uniform(0.3, 1.2)),
                      share_spread=float(prng.uniform(0.1, 0.3)))

    # ---- true glove forces, phase by phase
    srng = g["signal"]
    glove = np.zeros((n_total, N_GLOVE))
    labels = np.full(n_total, NONE, dtype=np.int8)
    phases: list[Phase] = []
    pauses: list[tuple[float, float]] = []
    phase_params: list[dict] = []
    injections: list[tuple[int, int, int, float, str]] = []   # (channel, start, length, level, technique)
    pending_spine: list[tuple[int, int]] = []
    ramp_lift = max(int(0.15 * rate), 1)
    for k, p in enumerate(plan):
        a_s, b_s = truth_bounds[k]
        head = transitions[k - 1] if k else "lift"
        tail = transitions[k] if k < len(transitions) else "lift"
        ra = a_s - (blends[k - 1] / 2 if head != "lift" else 0.0)
        rb = b_s + (blends[k] / 2 if tail != "lift" else 0.0)
        a, b = int(round(ra * rate)), int(round(rb * rate))
        ta, tb = int(round(a_s * rate)), int(round(b_s * rate))
        n = b - a
        params = draw_messy_params(p.technique, realism, srng, p.variant)
        phase_params.append({**params.to_dict(), "start_s": round(a_s, 3), "end_s": round(b_s, 3)})
        f = messy_technique_forces(params, realism, trainee.share_spread, n, rate, srng)
        envelope, source = lifts_and_pauses(n, rate, trainee, srng, allow_pauses=p.technique != "percussion")
        f = f[source] * envelope[:, None]
        _, live_hi = _limit_vectors(protocol, p.technique, "live")
        f = _keep_inside(f, live_hi)
        if p.pause_s:
            env_p = _pause_envelope(n, rate, p.pause_s, srng)
            envelope = envelope * env_p
            f = f * env_p[:, None]
            lifted = np.flatnonzero(env_p < 0.5)
            pauses.append((float((a + lifted[0]) / rate), float((a + lifted[-1] + 1) / rate)))
        # Edges: a lift fades the hand off and on (those samples count as "none" where the
        # hand is mostly off); a blend or flow cross-fades with the neighbouring phase, whose
        # truth boundary is the middle of the cross-fade.
        lift_edge = _fade(n, ramp_lift, head == "lift", tail == "lift")
        cross = np.ones(n)
        if head != "lift":
            cross *= _fade(n, int(round(blends[k - 1] * rate)), True, False)
        if tail != "lift":
            cross *= _fade(n, int(round(blends[k] * rate)), False, True)
        glove[a:b] += f * (lift_edge * cross)[:, None]
        contact = envelope * lift_edge
        own = slice(ta - a, tb - a)
        labels[ta:tb] = np.where(contact[own] >= 0.5, TECHNIQUES.index(p.technique), NONE)
        phases.append(Phase(p.technique, a_s, b_s))

        # Over-force squeezes and spine presses go where the hand is steadily on the back.
        steady = np.zeros(n, dtype=bool)
        steady[own] = envelope[own] >= 0.999
        if head != "lift":
            steady[:int(blends[k - 1] * rate) + 1] = False
        if tail != "lift":
            steady[n - int(blends[k] * rate) - 1:] = False
        for _ in range(p.overforce):
            length = int(srng.uniform(*OVERFORCE_HOLD_S) * rate)
            start = _quiet_start(steady, length, rate, srng)
            channel = GLOVE_CHANNELS.index(str(srng.choice(p.overforce_channels)))
            if start is not None:
                _, score_hi = _limit_vectors(protocol, p.technique, "scoring")
                level = float(srng.uniform(*OVERFORCE_FACTOR)) * score_hi[channel]
                injections.append((channel, a + start, length, level, p.technique))
                steady[max(start - 3 * rate, 0):start + length + 3 * rate] = False
        for _ in range(p.spine_contacts):
            length = int(srng.uniform(*SPINE_CONTACT_S) * rate)
            start = _quiet_start(steady, length + int(0.6 * rate), rate, srng)
            if start is not None:
                pending_spine.append((a + start, length))
                steady[max(start - 3 * rate, 0):start + length + 3 * rate] = False

    # Over-force: a sustained squeeze on top of the technique, short ramps, a slight wobble.
    ramp = max(int(0.1 * rate), 1)
    for channel, start, length, level, _tech in injections:
        env = np.concatenate([np.linspace(0, 1, ramp, endpoint=False), np.ones(length), np.linspace(1, 0, ramp)])
        seg = slice(start - ramp, start + length + ramp)
        wobble = 1.0 + 0.03 * np.sin(np.linspace(0, 3 * np.pi, len(env)))
        glove[seg, channel] = np.maximum(glove[seg, channel], level * env * wobble)

    # ---- spine strip: partner's resting load and breathing, plus presses
    sprng = g["spine"]
    tt = np.arange(n_total) / rate
    baseline = sprng.uniform(0.1, 0.6, len(SPINE_CHANNELS))
    spine = baseline[None, :] * (1.0 + 0.04 * np.sin(2 * np.pi * sprng.uniform(0.2, 0.3) * tt)[:, None])
    threshold = protocol.spine.contact_above_baseline_n
    spine_contacts: list[TruthEvent] = []
    for start, length in pending_spine:
        first = int(sprng.integers(0, len(SPINE_CHANNELS) - 1))
        segments = [first, first + 1] if sprng.random() < 0.5 else [first]
        r = max(int(0.15 * rate), 1)
        press = np.concatenate([np.linspace(0, 1, r, endpoint=False), np.ones(length), np.linspace(1, 0, r)])
        for seg_k in segments:
            extra = float(sprng.uniform(*SPINE_CONTACT_N)) * press
            spine[start:start + len(press), seg_k] += extra
            for s, e in _spans(extra > threshold):
                spine_contacts.append(TruthEvent(
                    SPINE_CHANNELS[seg_k], float((start + s) / rate), float((start + e) / rate),
                    float(spine[start + s:start + e, seg_k].max())))
    spine_contacts.sort(key=lambda e: (e.start_s, e.region))
    true_newtons = np.concatenate([glove, spine], axis=1).astype(np.float32)

    # ---- channel faults (never on a channel that carries an injected over-force)
    frng = g["fault"]
    protected = {c for c, *_ in injections}
    candidates = [c for c in range(N_GLOVE) if c not in protected]
    if scenario == "no_fist_work":
        candidates = [c for c in candidates if c not in KNUCKLES]
    # A dead, stuck or intermittent knuckle sensor is indistinguishable from an idle one in a
    # session without fist work, so those kinds go on sensors that carry load in every session.
    fault_plan: list[tuple[int, str]] = []
    for kind in sorted(realism.faults, key=lambda k: k in ("saturated", "noisy")):
        pool = [c for c in candidates if c not in {c2 for c2, _ in fault_plan}
                and (kind in ("saturated", "noisy") or c not in KNUCKLES)]
        fault_plan.append((int(frng.choice(pool)), kind))

    # ---- sensors: what the calibrated glove reports
    measured, faults = _sensor_path(true_newtons, realism, rate, scenario, fault_plan, g["sensor"], frng)

    # ---- ground truth: over-force = stretches over the SCORING limit of the phase's technique
    # lasting the scoring debounce, on healthy channels (by construction only the injected ones).
    faulty = {_CH[f.channel] for f in faults}
    overforce: list[TruthEvent] = []
    min_len = int(round(ff.scoring_min_duration_s * rate))
    for ph in phases:
        a, b = int(round(ph.start_s * rate)), int(round(ph.end_s * rate))
        _, hi = _limit_vectors(protocol, ph.technique, "scoring")
        for c in np.flatnonzero(np.isfinite(hi)):
            if c in faulty:
                continue
            for s, e in _spans(glove[a:b, c] > hi[c]):
                if e - s >= min_len:
                    overforce.append(TruthEvent(GLOVE_CHANNELS[c], float((a + s) / rate), float((a + e) / rate),
                                                float(glove[a + s:a + e, c].max())))
    overforce.sort(key=lambda e: e.start_s)

    base_expected = EXPECTED_VIOLATIONS.get(scenario, _EXTRA_EXPECTED.get(scenario, ())) or ()
    rules = {r for r in base_expected if r not in ("excessive_force", "spine_contact")}
    if overforce:
        rules.add("excessive_force")
    if spine_contacts:
        rules.add("spine_contact")
    expected = tuple(sorted(rules))
    verdict = "no_massage" if scenario == "no_massage" else ("not_passed" if expected else "passed")

    raw = _to_counts(measured)
    conditions = {"scenario": scenario, **realism.to_dict(), "transitions": transitions,
                  "phase_params": phase_params, "fault_channels": [f.to_dict() for f in faults]}
    return MessySession(
        scenario=scenario, seed=seed, rate_hz=rate, channels=ALL_CHANNELS,
        newtons=measured, raw=raw, labels=labels, phases=phases,
        overforce=overforce, spine_contacts=spine_contacts, expected_violations=expected,
        spine_baseline_n={ch: float(v) for ch, v in zip(SPINE_CHANNELS, baseline)},
        true_newtons=true_newtons, pauses=pauses, channel_faults=faults,
        truth_verdict=verdict, conditions=conditions,
    )


def sensor_ceiling_n() -> np.ndarray:
    """Each channel's reading at the ADC's saturation point (nominal calibration), newtons."""
    smap = load_sensor_map()
    return np.array([float(raw_to_force(smap.saturated_at, p)) for p in channel_params(ALL_CHANNELS)])


def messy_sensors(true_newtons: np.ndarray, realism: Realism, seed: int,
                  faults: dict[str, str] | None = None) -> tuple[np.ndarray, list[ChannelFault]]:
    """What a glove with the realism's sensor settings reports for `true_newtons` (n, 20)
    sampled at `realism.rate_hz`, with each channel named in `faults` given that fault
    (channel id -> kind from FAULT_KINDS), exactly as `simulate_messy` renders its sessions.
    For tests that build a session from technique stretches (`messy_technique_forces`) and
    need a fault on one chosen sensor."""
    true_n = np.asarray(true_newtons, dtype=np.float32)
    if true_n.ndim != 2 or true_n.shape[1] != len(ALL_CHANNELS):
        raise ValueError(f"true_newtons must be (samples, {len(ALL_CHANNELS)}) in ALL_CHANNELS order; "
                         f"got shape {true_n.shape}")
    plan: list[tuple[int, str]] = []
    for channel, kind in (faults or {}).items():
        if channel not in _CH:
            raise ValueError(f"messy_sensors: unknown channel {channel!r}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"messy_sensors: unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        plan.append((_CH[channel], kind))
    g = _rngs(seed, "messy_sensors")
    return _sensor_path(true_n, realism, int(realism.rate_hz), "messy_sensors", plan, g["sensor"], g["fault"])


def _sensor_path(true_n: np.ndarray, realism: Realism, rate: int, scenario: str,
                 fault_plan: list[tuple[int, str]], rng: np.random.Generator,
                 frng: np.random.Generator) -> tuple[np.ndarray, list[ChannelFault]]:
    n, n_ch = true_n.shape
    if n == 0:
        return true_n.astype(np.float32), []
    gain = np.asarray(1.0 + rng.uniform(-realism.gain_error, realism.gain_error, n_ch)) if realism.gain_error \
        else np.ones(n_ch)
    offsets = np.asarray(rng.uniform(0.1, max(realism.offset_n, 0.1), n_ch)) if realism.offset_n > 0 \
        else np.zeros(n_ch)
    # Parts differ: each channel's noise is 60-100 % of the setting, which is the worst one's.
    noise = np.asarray(realism.noise_n * rng.uniform(0.6, 1.0, n_ch))
    if scenario == "no_fist_work":
        # The failure issue 9 names: idle knuckle sensors whose offset plus noise touch 1 N.
        offsets[KNUCKLES] = rng.uniform(0.4, 0.5, len(KNUCKLES))
        noise[KNUCKLES] = np.maximum(noise[KNUCKLES], rng.uniform(0.2, 0.3))
    if scenario == "no_massage":
        offsets = np.maximum(offsets, rng.uniform(0.1, 0.3, n_ch))
        noise = np.maximum(noise, 0.05)
    # Everything below works in place on one float32 array: a 15-minute session at 1 kHz is
    # 18 M values, and a temporary per step would cost more than the arithmetic.
    out = true_n.astype(np.float32, copy=True)
    out *= gain.astype(np.float32)[None, :]
    frac = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    if realism.drift:
        # Slow creep over the session to +-drift of the gain (and +-2 x drift N of the offset)
        # at the end, along a per-channel mix of a straight and a bending curve.
        g_end = np.asarray(rng.uniform(-realism.drift, realism.drift, n_ch))
        o_end = np.asarray(rng.uniform(-2.0 * realism.drift, 2.0 * realism.drift, n_ch))
        bend = np.asarray(rng.uniform(0.0, 1.0, n_ch))
        frac2 = frac * frac
        out *= 1.0 + frac * ((1 - bend) * g_end).astype(np.float32) + frac2 * (bend * g_end).astype(np.float32)
        out += offsets.astype(np.float32) + frac * o_end.astype(np.float32)
    else:
        out += offsets.astype(np.float32)
    if noise.any():
        white = rng.standard_normal((n, n_ch), dtype=np.float32)
        white *= noise.astype(np.float32)
        out += white
        del white
    if realism.hum_n:
        hz = realism.hum_hz + rng.uniform(-0.05, 0.05)
        amp = realism.hum_n * rng.uniform(0.5, 1.0, n_ch)
        phase0 = rng.uniform(0, 2 * np.pi, n_ch)
        arg = 2 * np.pi * hz * np.arange(n) / rate
        # sin(x + p) = sin x cos p + cos x sin p: two outer products instead of a sine per value.
        out += np.sin(arg).astype(np.float32)[:, None] * (amp * np.cos(phase0)).astype(np.float32)[None, :]
        out += np.cos(arg).astype(np.float32)[:, None] * (amp * np.sin(phase0)).astype(np.float32)[None, :]
    np.maximum(out, 0.0, out=out)

    faults: list[ChannelFault] = []
    total_s = n / rate
    ceiling = sensor_ceiling_n()
    for c, kind in fault_plan:
        if kind == "dead":
            start = 0 if frng.random() < 0.6 else int(frng.uniform(0.1, 0.6) * n)
            out[start:, c] = 0.0 if frng.random() < 0.5 else float(frng.uniform(0.05, 0.5))
            faults.append(ChannelFault(ALL_CHANNELS[c], kind, start / rate, total_s))
        elif kind == "intermittent":
            count = max(int(frng.uniform(3.0, 20.0) * total_s / 60.0), 3)
            starts = np.sort(frng.integers(0, n - 1, count))
            lengths = np.maximum((frng.uniform(0.05, 0.5, count) * rate).astype(int), 1)
            drop = np.zeros(n + 1, dtype=np.int64)
            np.add.at(drop, starts, 1)
            np.add.at(drop, np.minimum(starts + lengths, n), -1)
            out[np.cumsum(drop[:n]) > 0, c] = 0.0
            faults.append(ChannelFault(ALL_CHANNELS[c], kind, 0.0, total_s))
        elif kind == "stuck":
            loaded = np.flatnonzero(true_n[:, c] > 2.0)
            # Mostly stuck at a moment it was loaded; the draws keep this order so seeded sessions stay the same.
            if len(loaded) and frng.random() < 0.7:
                start = int(frng.choice(loaded))
            else:
                start = int(frng.uniform(0.05, 0.8) * n)
            stop = min(n, start + int(frng.uniform(20.0, 120.0) * rate))
            out[start:stop, c] = out[start, c]
            faults.append(ChannelFault(ALL_CHANNELS[c], kind, start / rate, stop / rate))
        elif kind == "saturated":
            start = int(frng.uniform(0.05, 0.8) * n)
            stop = min(n, start + int(frng.uniform(5.0, 60.0) * rate))
            out[start:stop, c] = ceiling[c]
            faults.append(ChannelFault(ALL_CHANNELS[c], kind, start / rate, stop / rate))
        elif kind == "noisy":
            sigma = max(realism.noise_n, 0.1) * float(frng.uniform(4.0, 8.0))
            out[:, c] = np.maximum(out[:, c] + sigma * frng.standard_normal(n), 0.0)
            faults.append(ChannelFault(ALL_CHANNELS[c], kind, 0.0, total_s))
    return out, faults


def _to_counts(newtons: np.ndarray) -> np.ndarray:
    """ADC counts that the nominal calibration reads back as `newtons` (rounded to whole counts).

    The transfer curve of glovecoach.calibration.fsr_model.force_to_raw, evaluated in float32 per group
    of channels sharing a divider (three groups), which is what keeps 1 kHz sessions cheap.
    """
    raw = np.empty(newtons.shape, dtype=np.uint16)
    params = channel_params(ALL_CHANNELS)
    groups: dict = {}
    for c, p in enumerate(params):
        groups.setdefault(p, []).append(c)
    for p, cols in groups.items():
        f = np.maximum(newtons[:, cols].astype(np.float32), np.float32(0.0))
        g_top = np.power(f, np.float32(p.alpha)) / np.float32(p.r1_ohm) + np.float32(1.0 / p.bias_ohm)
        ratio = np.float32(p.divider_ohm) * g_top
        ratio /= 1.0 + ratio
        raw[:, cols] = np.rint(np.clip(ratio * np.float32(p.adc_max), 0, p.adc_max)).astype(np.uint16)
    return raw


__all__ = ["FAULT_KINDS", "MESSY_SCENARIOS", "RANGES", "RATES_HZ", "TRANSITIONS", "ChannelFault",
           "MessyParams", "MessySession", "Realism", "draw_messy_params", "messy_sensors",
           "messy_technique_forces", "simulate_messy"]
