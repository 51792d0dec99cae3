"""Force models of each massage technique on the 12 glove sensors.

Each model returns the *true* force (newtons) on every glove channel for one stretch of a
technique, as a (n, 12) float array in `GLOVE_CHANNELS` order. Nothing here knows about
sensors (gain, drift, noise, ADC): that is `glovecoach.simulate.sensors`. Nothing here knows
about protocols or scenarios either: that is `glovecoach.simulate.scenarios`.

The numbers come from the product reference "Massage techniques as a pressure glove sees
them" (its technique table); docs/simulator.md lists where the models depart from it and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glovecoach.vocabulary.sensors import GLOVE_CHANNELS

N_GLOVE = len(GLOVE_CHANNELS)
_CH = {name: k for k, name in enumerate(GLOVE_CHANNELS)}

THUMB = _CH["thumb_tip"]
GRASP_FINGERS = [_CH["index_tip"], _CH["middle_tip"], _CH["ring_tip"]]
FINGER_PADS = [_CH[c] for c in ("index_tip", "middle_tip", "ring_tip", "little_tip")]
KNUCKLES = [_CH["knuckles_index_middle"], _CH["knuckles_ring_little"]]


def _weights(**by_channel: float) -> np.ndarray:
    w = np.zeros(N_GLOVE)
    for name, value in by_channel.items():
        w[_CH[name]] = value
    return w / w.sum()


# How the whole-hand force is shared between sensors, per technique and working surface.
# These are the trainee's "typical" hands; each phase perturbs them (see `perturb_weights`).
LOAD_SHARES: dict[str, np.ndarray] = {
    "stroking": _weights(
        thumb_tip=0.05, index_tip=0.09, middle_tip=0.10, ring_tip=0.09, little_tip=0.06,
        thenar=0.14, hypothenar=0.14, palm_center=0.12, palm_heel=0.14, hand_edge=0.03),
    "deep_stroking": _weights(
        thumb_tip=0.02, index_tip=0.03, middle_tip=0.03, ring_tip=0.03, little_tip=0.02,
        thenar=0.18, hypothenar=0.18, palm_center=0.14, palm_heel=0.32, hand_edge=0.04),
    "rubbing/hand_edge": _weights(
        hand_edge=0.58, hypothenar=0.24, palm_heel=0.10, little_tip=0.05, palm_center=0.03),
    "rubbing/palm_heel": _weights(
        palm_heel=0.52, thenar=0.20, hypothenar=0.20, palm_center=0.06, hand_edge=0.02),
    "rubbing/finger_pads": _weights(
        index_tip=0.25, middle_tip=0.28, ring_tip=0.24, little_tip=0.12, thumb_tip=0.03,
        palm_center=0.05, thenar=0.03),
    "kneading/grasp": _weights(
        thumb_tip=0.34, index_tip=0.22, middle_tip=0.22, ring_tip=0.16, little_tip=0.06),
    "kneading/grasp_palm": _weights(thenar=0.35, hypothenar=0.25, palm_center=0.25, palm_heel=0.15),
    "kneading/fist": _weights(
        knuckles_index_middle=0.50, knuckles_ring_little=0.40, hand_edge=0.05, palm_heel=0.05),
    "vibration/finger_pads": _weights(
        index_tip=0.27, middle_tip=0.29, ring_tip=0.25, little_tip=0.11, thumb_tip=0.08),
    "vibration/palm": _weights(
        thenar=0.24, hypothenar=0.24, palm_center=0.26, palm_heel=0.18, middle_tip=0.04, index_tip=0.04),
    "percussion/hacking": _weights(hand_edge=0.75, hypothenar=0.15, little_tip=0.10),
    "percussion/tapping": _weights(index_tip=0.30, middle_tip=0.32, ring_tip=0.28, little_tip=0.10),
    "percussion/patting": _weights(
        thenar=0.25, hypothenar=0.28, palm_heel=0.25, index_tip=0.07, middle_tip=0.08, ring_tip=0.07),
    "percussion/knuckles": _weights(knuckles_index_middle=0.52, knuckles_ring_little=0.40, hand_edge=0.08),
}

VARIANTS: dict[str, tuple[str, ...]] = {
    "rubbing": ("hand_edge", "palm_heel", "finger_pads"),
    "kneading": ("grasp", "grasp", "grasp", "fist"),   # fist kneading now and then
    "vibration": ("finger_pads", "palm"),
    "percussion": ("hacking", "tapping", "patting", "knuckles"),
}


@dataclass
class Trainee:
    """One trainee's habits for a whole session (drawn once per session)."""

    force_scale: float          # heavier or lighter hands than typical
    tempo_scale: float          # quicker or slower rhythm than typical
    lifts_per_min: float        # how often the hand is lifted to reposition
    pauses_per_min: float       # how often the motion stalls with the hand still on the back
    share_spread: float         # how far this trainee's load sharing departs from typical

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Trainee:
        return cls(
            force_scale=float(rng.uniform(0.85, 1.15)),
            tempo_scale=float(rng.uniform(0.9, 1.1)),
            lifts_per_min=float(rng.uniform(1.0, 3.0)),
            pauses_per_min=float(rng.uniform(0.3, 1.2)),
            share_spread=float(rng.uniform(0.1, 0.3)),
        )


@dataclass
class TechniqueParams:
    """What one phase of a technique looks like (drawn per phase, then varied per stroke)."""

    technique: str
    variant: str = ""
    level_n: float = 0.0        # typical whole-hand force (or per-impact peak for percussion)
    rate_hz: float = 0.0        # stroke / cycle / oscillation / impact rate
    extra: dict = field(default_factory=dict)


def smooth_noise(n: int, rate_hz: float, corr_s: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std noise that wanders on a time scale of `corr_s` (cubic-ish interpolation)."""
    if n == 0:
        return np.zeros(0)
    n_knots = int(n / (rate_hz * corr_s)) + 3
    knots = rng.standard_normal(n_knots)
    t = np.arange(n) / (rate_hz * corr_s)
    k = np.floor(t).astype(int)
    u = t - k
    u = u * u * (3 - 2 * u)          # smoothstep: no corners at the knots
    return knots[k] * (1 - u) + knots[k + 1] * u


def perturb_weights(w: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
    """This phase's load sharing: the typical shares, each scaled by a log-normal factor."""
    out = w * np.exp(spread * rng.standard_normal(w.shape))
    return out / out.sum()


def _cycle_phase(n: int, rate_hz: float, period_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate cycles of the given lengths: (cycle number, position 0..1 within it) per sample."""
    edges = np.concatenate([[0.0], np.cumsum(period_s)]) * rate_hz
    t = np.arange(n, dtype=np.float64)
    k = np.searchsorted(edges, t, side="right") - 1
    k = np.minimum(k, len(period_s) - 1)
    pos = (t - edges[k]) / (edges[k + 1] - edges[k])
    return k, np.clip(pos, 0.0, 1.0)


def _draw_periods(duration_s: float, mean_period_s: float, jitter: float,
                  rng: np.random.Generator, low: float | None = None, high: float | None = None) -> np.ndarray:
    count = int(duration_s / mean_period_s * 1.5) + 4
    periods = mean_period_s * (1.0 + jitter * rng.uniform(-1, 1, count))
    if low is not None or high is not None:
        periods = np.clip(periods, low, high)
    while periods.sum() < duration_s + mean_period_s:
        periods = np.concatenate([periods, periods])
    return periods


def _within(value: float, lo: float, hi: float) -> float:
    return float(min(max(value, lo), hi))


def draw_params(technique: str, trainee: Trainee, rng: np.random.Generator,
                variant: str | None = None) -> TechniqueParams:
    """Per-phase parameters within the reference ranges, shaded by the trainee's habits."""
    fs, ts = trainee.force_scale, trainee.tempo_scale
    if technique == "none":
        return TechniqueParams("none")
    if variant is None and technique in VARIANTS:
        variant = str(rng.choice(VARIANTS[technique]))
    variant = variant or ""
    if technique == "stroking":
        return TechniqueParams(technique, variant, level_n=rng.uniform(6.0, 13.0) * fs,
                               rate_hz=_within(1.0 / rng.uniform(2.6, 4.2) * ts, 0.2, 0.5),
                               extra={"floor": rng.uniform(0.35, 0.5)})
    if technique == "deep_stroking":
        # 2-4x a stroking level, never below the reference's 20 N "high force" line.
        base = rng.uniform(7.0, 12.0) * fs
        return TechniqueParams(technique, variant, level_n=float(np.clip(base * rng.uniform(2.2, 3.8), 24.0, 48.0)),
                               rate_hz=_within(1.0 / rng.uniform(2.6, 4.2) * ts, 0.2, 0.5),
                               extra={"floor": rng.uniform(0.4, 0.55)})
    if technique == "rubbing":
        return TechniqueParams(technique, variant, level_n=rng.uniform(12.0, 30.0) * fs,
                               rate_hz=_within(rng.uniform(1.1, 2.9) * ts, 1.05, 2.9),
                               extra={"depth": rng.uniform(0.35, 0.6)})
    if technique == "kneading":
        if variant == "fist":
            level = rng.uniform(22.0, 30.0)           # peak on both knuckle sensors together
        else:
            level = rng.uniform(7.0, 13.0) * fs      # peak per grasping finger
        return TechniqueParams(technique, variant, level_n=level,
                               rate_hz=_within(rng.uniform(0.55, 1.45) * ts, 0.55, 1.45),
                               extra={"duty": rng.uniform(0.55, 0.8), "palm_n": rng.uniform(0.6, 2.0)})
    if technique == "vibration":
        return TechniqueParams(technique, variant, level_n=rng.uniform(7.0, 16.0) * fs,
                               rate_hz=rng.uniform(5.5, 11.5),
                               extra={"depth": rng.uniform(0.12, 0.25)})
    if technique == "percussion":
        rate = _within(rng.uniform(2.2, 7.5) * ts, 2.2, 7.5)
        return TechniqueParams(technique, variant, level_n=rng.uniform(14.0, 40.0) * fs,
                               rate_hz=rate,
                               extra={"impact_s": min(rng.uniform(0.025, 0.075), 0.4 / rate)})
    raise ValueError(f"unknown technique {technique!r}")


def technique_forces(p: TechniqueParams, trainee: Trainee, duration_s: float, rate_hz: float,
                     rng: np.random.Generator) -> np.ndarray:
    """True force (n, 12) for `duration_s` of technique `p`, before lifts and pauses."""
    n = int(round(duration_s * rate_hz))
    out = np.zeros((n, N_GLOVE))
    if p.technique == "none" or n == 0:
        return out
    spread = trainee.share_spread
    wander = 1.0 + 0.08 * smooth_noise(n, rate_hz, 6.0, rng)   # slow wandering of the effort

    if p.technique in ("stroking", "deep_stroking"):
        w = perturb_weights(LOAD_SHARES[p.technique], spread, rng)
        periods = _draw_periods(duration_s, 1.0 / p.rate_hz, 0.25, rng, 2.0, 5.0)
        k, pos = _cycle_phase(n, rate_hz, periods)
        floor = p.extra["floor"]
        # Each stroke has its own strength; it scales only the stroke's rise, so the force
        # stays continuous where one stroke hands over to the next.
        stroke_gain = 1.0 + 0.12 * rng.uniform(-1, 1, len(periods))
        shape = floor + (1 - floor) * np.sin(np.pi * pos) ** 2 * stroke_gain[k]
        total = p.level_n / (floor + (1 - floor) / 2) * shape * wander
        # The load moves along the stroke: fingers lead in its first half, the palm heel
        # follows in the second (smooth across stroke boundaries, contact never released).
        lead = np.sin(2 * np.pi * pos)[:, None]
        tilt = np.zeros(N_GLOVE)
        tilt[FINGER_PADS + [THUMB]] = 0.2
        tilt[_CH["palm_heel"]] = -0.2
        out = total[:, None] * w[None, :] * (1.0 + tilt[None, :] * lead)
        return out

    if p.technique == "rubbing":
        w = perturb_weights(LOAD_SHARES[f"rubbing/{p.variant}"], spread, rng)
        inst_f = p.rate_hz * (1.0 + 0.05 * smooth_noise(n, rate_hz, 4.0, rng))
        phase = 2 * np.pi * np.cumsum(inst_f) / rate_hz
        # Back and forth: the load rocks between the leading and trailing parts of the surface,
        # so sensors swing with different phase lags; contact is never released.
        lags = rng.uniform(0.0, np.pi / 3, N_GLOVE)
        depth = p.extra["depth"]
        swing = 1.0 + depth * np.sin(phase[:, None] + lags[None, :]) \
            + 0.08 * depth * np.sin(2 * phase[:, None] + 2 * lags[None, :])
        return p.level_n * wander[:, None] * w[None, :] * swing

    if p.technique == "kneading":
        duty = p.extra["duty"]
        periods = _draw_periods(duration_s, 1.0 / p.rate_hz, 0.12, rng)
        k, pos = _cycle_phase(n, rate_hz, periods)
        cycle_gain = 1.0 + 0.12 * rng.uniform(-1, 1, len(periods))
        in_grasp = pos < duty
        pulse = np.where(in_grasp, np.sin(np.pi * np.minimum(pos / duty, 1.0)) ** 2, 0.0)
        pulse = (0.06 + 0.94 * pulse * cycle_gain[k]) * wander
        if p.variant == "fist":
            w = perturb_weights(LOAD_SHARES["kneading/fist"], spread * 0.5, rng)
            pulse = 0.15 + 0.85 * pulse     # knuckles roll on the skin between presses
            return p.level_n * pulse[:, None] * w[None, :]
        w = perturb_weights(LOAD_SHARES["kneading/grasp"], spread * 0.5, rng)
        # Every grasping digit's peak is about level_n; little finger lighter.
        finger_peak = p.level_n * w / w[GRASP_FINGERS + [THUMB]].mean()
        # Thumb and fingers close on the same skin fold: same pulse, a few ms apart.
        lag = rng.integers(-int(0.03 * rate_hz), int(0.03 * rate_hz) + 1, N_GLOVE)
        idx = np.clip(np.arange(n)[:, None] - lag[None, :], 0, n - 1)
        out = finger_peak[None, :] * pulse[idx]
        wp = LOAD_SHARES["kneading/grasp_palm"]
        palm_light = p.extra["palm_n"] * (1.0 + 0.3 * pulse[:, None]) * wp[None, :]
        return out + palm_light

    if p.technique == "vibration":
        w = perturb_weights(LOAD_SHARES[f"vibration/{p.variant}"], spread, rng)
        inst_f = p.rate_hz * (1.0 + 0.04 * smooth_noise(n, rate_hz, 2.0, rng))
        phase = 2 * np.pi * np.cumsum(inst_f) / rate_hz
        depth = p.extra["depth"] * (1.0 + 0.2 * smooth_noise(n, rate_hz, 3.0, rng))
        total = p.level_n * wander * (1.0 + depth * np.sin(phase))
        return total[:, None] * w[None, :]

    if p.technique == "percussion":
        w = perturb_weights(LOAD_SHARES[f"percussion/{p.variant}"], spread * 0.5, rng)
        periods = _draw_periods(duration_s, 1.0 / p.rate_hz, 0.1, rng)
        onsets = np.concatenate([[0.0], np.cumsum(periods)[:-1]]) + rng.uniform(0, periods[0])
        onsets = onsets[onsets < duration_s]
        total = np.zeros(n)
        impact_s = p.extra["impact_s"]
        width = max(int(round(impact_s * rate_hz)), 1)
        peaks = p.level_n * (1.0 + 0.2 * rng.uniform(-1, 1, len(onsets)))
        # A half-sine impact; sampled so that even a one-sample impact has its peak.
        shape = np.sin(np.pi * (np.arange(width) + 0.5) / width)
        starts = np.round(onsets * rate_hz).astype(int)
        rows = starts[:, None] + np.arange(width)[None, :]
        ok = rows < n
        np.add.at(total, rows[ok], (peaks[:, None] * shape[None, :])[ok])
        return total[:, None] * w[None, :]

    raise ValueError(f"unknown technique {p.technique!r}")


def lifts_and_pauses(n: int, rate_hz: float, trainee: Trainee, rng: np.random.Generator,
                     allow_pauses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A contact envelope (0 = hand lifted, 1 = on the back) and a time map for pauses.

    Returns (envelope (n,), source_index (n,)): the phase's force at sample i is
    `forces[source_index[i]] * envelope[i]`. A pause repeats one source sample, so the hand
    stays where it was, pressing as it was; a lift fades the force out and back in.
    """
    envelope = np.ones(n)
    source = np.arange(n)
    minutes = n / rate_hz / 60.0
    margin = int(3.0 * rate_hz)          # none at the very edges of a phase
    if allow_pauses:
        for _ in range(rng.poisson(trainee.pauses_per_min * minutes)):
            length = int(rng.uniform(0.4, 1.2) * rate_hz)
            if n - 2 * margin - length <= 0:
                break
            start = int(rng.integers(margin, n - margin - length))
            held = source[start]
            source[start + length:] -= length    # time resumes where it stalled
            source[start:start + length] = held
    ramp = max(int(0.06 * rate_hz), 1)
    for _ in range(rng.poisson(trainee.lifts_per_min * minutes)):
        length = int(rng.uniform(0.3, 1.0) * rate_hz)
        if n - 2 * margin - length <= 0:
            break
        start = int(rng.integers(margin, n - margin - length))
        env = np.zeros(length + 2 * ramp)
        env[:ramp] = np.linspace(1, 0, ramp, endpoint=False)
        env[-ramp:] = np.linspace(0, 1, ramp + 1)[1:]
        seg = slice(start - ramp, start + length + ramp)
        envelope[seg] = np.minimum(envelope[seg], env)
    return envelope, source
