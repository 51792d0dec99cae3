"""Signal conditioning: the one stage between the calibration and every detector.

A real glove never reads zero. Each force-sensitive resistor rests at a small offset (a few
tenths of a newton from the strap, the gel, the part itself) that drifts slowly, and carries
noise. Twelve glove sensors resting at 0.3 N each sum to almost 4 N: more than light stroking's
contact level. So every detector works on forces relative to each channel's own resting
baseline, and every yes/no about contact is decided against that baseline plus the channel's
noise floor, with hysteresis and a minimum duration, never on a single sample.

Per channel, on chunks of `CHUNK_S` aligned to the session sample index (so the result does not
depend on how the stream is cut into blocks):

- a chunk is *at rest* when its mean lies within `rest_band` of the baseline (three noise
  floors, at least `REST_BAND_MIN_N`) and it is steady (its spread is at most a few noise
  floors); resting chunks move the baseline with time constant `BASELINE_TAU_S`, so a slow
  drift is followed;
- a chunk whose mean lies clearly *below* the baseline means the baseline was too high (the
  session began with the hand on the back, or the offset drifted down): the baseline drops to
  it at once, since a force sensor cannot read less than its resting value;
- the noise floor is the spread of resting chunks, tracked the same way (a chunk's spread may
  raise it only gradually, so one bumpy chunk does not inflate it);
- a TARE done by the glove (its unloaded readings, in newtons) seeds the baseline.

Samples of a chunk use the baseline as it stood when the chunk began.

Contact: the whole-hand force (sum over the working glove channels, over baseline) smoothed
over `SMOOTH_S`, is "on the back" above `max(HAND_ON_MIN_N, HAND_ON_SIGMAS x its noise)` and
"lifted" below `HAND_OFF_RATIO` of that, each held `CONTACT_MIN_S` before the state changes.
Per channel, a sensor is "pressing" on the same rule with its own noise floor and a caller's
minimum (the protocol's knuckle-press level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CHUNK_S = 0.5               # baseline and noise are judged on chunks this long
BASELINE_TAU_S = 20.0       # resting chunks pull the baseline with this time constant
NOISE_TAU_S = 10.0
REST_SIGMAS = 3.0           # a chunk within this many noise floors of the baseline is at rest
REST_BAND_MIN_N = 0.15      # ... and never less than this
STEADY_SIGMAS = 3.0         # a resting chunk's spread is at most this many noise floors
DROP_SIGMAS = 4.0           # a chunk this far below the baseline resets it
NOISE_PRIOR_N = 0.05        # noise floor before any resting chunk was seen
NOISE_MIN_N = 0.01
NOISE_GROWTH = 1.5          # a chunk's spread counts at most this many times the current floor

SMOOTH_S = 0.08             # contact is judged on forces averaged over this long
HAND_ON_MIN_N = 1.0         # the whole hand is on the back above this (over baseline) ...
HAND_ON_SIGMAS = 5.0        # ... and above this many noise floors of the smoothed sum
HAND_OFF_RATIO = 0.6        # it has left below this share of the "on" level (hysteresis)
PRESS_SIGMAS = 5.0
CONTACT_MIN_S = 0.1         # a contact state must hold this long before it changes
HAND_REST_N = 0.6           # the glove's sensors together this close to their baselines: hand off


class HysteresisGate:
    """Per-channel on/off state with two levels and a minimum duration for each change.

    A channel turns on after `on_samples` consecutive samples above its on-level and off after
    `off_samples` consecutive samples below its off-level; in between it keeps its state. Runs
    are carried over block boundaries, so any block size gives the same states.
    """

    def __init__(self, n_channels: int, on_samples: int, off_samples: int) -> None:
        self.n = n_channels
        self.on_samples = max(1, int(on_samples))
        self.off_samples = max(1, int(off_samples))
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros(self.n, dtype=bool)
        self.run_above = np.zeros(self.n, dtype=np.int64)
        self.run_below = np.zeros(self.n, dtype=np.int64)

    @staticmethod
    def _runs(mask: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Length of the run of True ending at each sample (carried runs continue)."""
        n = mask.shape[0]
        idx = np.arange(n)[:, None]
        last_false = np.maximum.accumulate(np.where(mask, -1, idx), axis=0)
        run = np.where(last_false < 0, idx + 1 + carried[None, :], idx - last_false)
        return np.where(mask, run, 0)

    def process(self, above: np.ndarray, below: np.ndarray) -> np.ndarray:
        """`above`/`below` (n, ch) bool (not both true at once); returns the state per sample."""
        n = above.shape[0]
        if n == 0:
            return np.zeros((0, self.n), dtype=bool)
        if not above.any() and not self.state.any():
            # The common case while idle: nothing on and nothing turning on.
            self.run_above[:] = 0
            self.run_below = self.run_below + n if below.all() else self._runs(below, self.run_below)[-1]
            return np.zeros((n, self.n), dtype=bool)
        ra = self._runs(above, self.run_above)
        rb = self._runs(below, self.run_below)
        mark = np.where(ra >= self.on_samples, 1, np.where(rb >= self.off_samples, -1, 0))
        idx = np.arange(n)[:, None]
        last = np.maximum.accumulate(np.where(mark != 0, idx, -1), axis=0)
        cols = np.arange(self.n)[None, :]
        state = np.where(last >= 0, mark[np.maximum(last, 0), cols] == 1, self.state[None, :])
        self.run_above = ra[-1].copy()
        self.run_below = rb[-1].copy()
        self.state = state[-1].copy()
        return state


class MovingAverage:
    """Causal moving average over `length` samples per channel, carried across blocks."""

    def __init__(self, n_channels: int, length: int) -> None:
        self.length = max(1, int(length))
        self.n = n_channels
        self._tail = np.zeros((0, n_channels))

    def reset(self) -> None:
        self._tail = np.zeros((0, self.n))

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.length == 1 or len(x) == 0:
            return x
        joined = np.concatenate([self._tail, x]) if len(self._tail) else x
        c = np.zeros((len(joined) + 1, self.n))
        np.cumsum(joined, axis=0, out=c[1:])
        k = np.arange(len(joined) - len(x), len(joined))          # rows of this block in `joined`
        lo = np.maximum(k + 1 - self.length, 0)
        out = (c[k + 1] - c[lo]) / (k + 1 - lo)[:, None]
        self._tail = joined[-(self.length - 1):].copy()
        return out


@dataclass(frozen=True)
class ConditionedBlock:
    first_index: int
    force: np.ndarray         # (n, ch) newtons over each channel's resting baseline (noise kept)
    saturated: np.ndarray     # (n, ch) bool
    open: np.ndarray          # (n, ch) bool
    hand_on: np.ndarray       # (n,) bool: the glove is on the back
    pressing: np.ndarray      # (n, ch) bool: this sensor presses (glove channels; spine False)
    baseline: np.ndarray      # (ch,) resting level at the end of the block
    noise: np.ndarray         # (ch,) noise floor (RMS, newtons) at the end of the block

    @property
    def n_samples(self) -> int:
        return int(self.force.shape[0])


class SignalConditioner:
    """Baselines, noise floors and contact for a stream of force blocks.

    `glove` marks the glove columns (the hand's contact is judged on them); other columns
    (the spine strip) get baselines and noise floors too but take no part in hand contact.
    `press` marks the columns whose presses are tracked (the knuckles) and `press_min_n` is the
    smallest force over baseline that counts as a press.
    """

    def __init__(self, channels: Sequence[str], rate_hz: float, glove: np.ndarray,
                 *, press: np.ndarray | None = None, press_min_n: float = 1.0,
                 initial_baseline: np.ndarray | None = None) -> None:
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.n = len(self.channels)
        self.glove = np.asarray(glove, dtype=bool)
        self.press = np.zeros(self.n, dtype=bool) if press is None else np.asarray(press, dtype=bool)
        self._press_cols = np.flatnonzero(self.press)
        self.press_min_n = float(press_min_n)
        self.chunk = max(2, int(round(CHUNK_S * rate_hz)))
        chunk_s = self.chunk / self.rate_hz
        self._base_gain = float(1.0 - np.exp(-chunk_s / BASELINE_TAU_S))
        self._noise_gain = float(1.0 - np.exp(-chunk_s / NOISE_TAU_S))
        self.baseline = np.full(self.n, np.nan)
        if initial_baseline is not None:
            seed = np.asarray(initial_baseline, dtype=np.float64)
            self.baseline = np.where(np.isfinite(seed), seed, np.nan)
        self._known = np.isfinite(self.baseline)
        self.noise = np.full(self.n, NOISE_PRIOR_N)
        self._noise_seen = np.zeros(self.n, dtype=bool)
        self._partial = np.zeros((0, self.n))     # samples of the chunk in progress
        self.excluded = np.zeros(self.n, dtype=bool)   # faulty channels left out of hand contact
        self.rest_chunks = 0                      # chunks in which the hand was judged at rest
        smooth = max(1, int(round(SMOOTH_S * rate_hz)))
        min_n = max(1, int(round(CONTACT_MIN_S * rate_hz)))
        self._smooth_len = smooth
        self._smooth_hand = MovingAverage(1, smooth)
        self._smooth_press = MovingAverage(len(self._press_cols), smooth)
        self.hand_gate = HysteresisGate(1, min_n, min_n)
        self.press_gate = HysteresisGate(len(self._press_cols), min_n, min_n)
        self._next_index: int | None = None

    # ---------------------------------------------------------------- baseline and noise
    def _fold_chunks(self, means: np.ndarray, spreads: np.ndarray) -> np.ndarray:
        """Fold complete chunks (k, ch) into baseline and noise; returns the baseline in force
        at the START of each chunk (k, ch)."""
        starts = np.empty_like(means)
        glove = self.glove & ~self.excluded
        base, noise, seen = self.baseline, self.noise, self._noise_seen
        bg, ng = self._base_gain, self._noise_gain
        for k in range(len(means)):
            m, sd = means[k], spreads[k]
            starts[k] = base
            ok = np.isfinite(m)
            fresh = np.isnan(base) & ok
            if fresh.any():
                base = np.where(fresh, m, base)
            drop = ok & (m < base - np.maximum(DROP_SIGMAS * noise, REST_BAND_MIN_N))
            near = ok & (np.abs(m - base) <= np.maximum(REST_SIGMAS * noise, REST_BAND_MIN_N))
            steady = sd <= np.maximum(STEADY_SIGMAS * noise, 2 * REST_BAND_MIN_N)
            # The glove's sensors learn their resting level only while the whole hand is off the
            # back: one sensor's light load is no different from its offset, the hand's is.
            excess = np.where(glove & ok, np.maximum(m - np.where(drop, m, base), 0.0), 0.0).sum()
            hand_rest = excess <= HAND_REST_N
            rest = near & steady & (hand_rest | ~self.glove)
            if hand_rest:
                self.rest_chunks += 1
            base = np.where(drop, m, np.where(rest, base + bg * (m - base), base))
            quiet = (rest | drop) & np.isfinite(sd)
            if quiet.any():
                first = quiet & ~seen
                tracked = noise + ng * (np.minimum(sd, NOISE_GROWTH * noise) - noise)
                noise = np.maximum(np.where(first, sd, np.where(quiet, tracked, noise)), NOISE_MIN_N)
                seen = seen | quiet
        self.baseline, self.noise, self._noise_seen = base, noise, seen
        return starts

    def _baselines(self, first: int, x: np.ndarray) -> np.ndarray:
        """Baseline per sample of the block (n, ch), folding the chunks completed by it."""
        n = len(x)
        done_before = len(self._partial)
        joined = np.concatenate([self._partial, x]) if done_before else x
        n_full = len(joined) // self.chunk
        full = joined[:n_full * self.chunk].reshape(n_full, self.chunk, self.n)
        if n_full:
            if np.isnan(full).any():
                with np.errstate(all="ignore"):
                    means, spreads = np.nanmean(full, axis=1), np.nanstd(full, axis=1)
            else:
                means, spreads = full.mean(axis=1), full.std(axis=1)
            starts = self._fold_chunks(means, spreads)
            per_sample = np.repeat(starts, self.chunk, axis=0)
        else:
            per_sample = np.zeros((0, self.n))
        tail = np.broadcast_to(self.baseline, (len(joined) - n_full * self.chunk, self.n))
        base = np.concatenate([per_sample, tail])[done_before:]
        unknown = np.isnan(base[:, ~self._known]).any(axis=1) if not self._known.all() else None
        if unknown is not None and unknown.any():
            # Before a channel's first chunk is complete: the lowest reading so far (a force
            # sensor rests at or below every reading it gives); per sample, so any block size
            # gives the same values.
            upto = done_before + int(np.flatnonzero(unknown)[-1]) + 1
            low = np.fmin.accumulate(joined[:upto], axis=0)[done_before:]
            head = base[:len(low)]
            base[:len(low)] = np.where(np.isnan(head), np.where(np.isnan(low), 0.0, low), head)
        self._known = np.isfinite(self.baseline)
        self._partial = joined[n_full * self.chunk:].copy()
        return base

    # ---------------------------------------------------------------- streaming
    def gap(self) -> None:
        """Samples were lost: the chunk in progress is dropped; contact states restart lifted."""
        self._partial = np.zeros((0, self.n))
        self._smooth_hand.reset()
        self._smooth_press.reset()
        self.hand_gate.reset()
        self.press_gate.reset()
        self._next_index = None

    def process(self, first_index: int, newtons: np.ndarray, saturated: np.ndarray, open_: np.ndarray
                ) -> ConditionedBlock:
        x = np.asarray(newtons, dtype=np.float64)
        n = x.shape[0]
        if self._next_index is not None and first_index != self._next_index:
            self.gap()
        if self._next_index is None and len(self._partial) == 0 and first_index % self.chunk:
            # Chunks sit on the session's index grid: the samples before the next boundary
            # count as the part of a chunk whose beginning was never seen.
            self._partial = np.full((first_index % self.chunk, self.n), np.nan)
        self._next_index = first_index + n
        any_open = bool(open_.any())
        # An open lead reads nothing; it tells nothing about the resting level either.
        base = self._baselines(first_index, np.where(open_, np.nan, x) if any_open else x)
        force = x - base
        if any_open:
            force[open_] = 0.0

        working = self.glove & ~self.excluded
        hand_sum = force[:, working].sum(axis=1, keepdims=True)
        hand = self._smooth_hand.process(hand_sum)
        sigma_hand = float(np.sqrt((self.noise[working] ** 2).sum() / self._smooth_len))
        on_level = max(HAND_ON_MIN_N, HAND_ON_SIGMAS * sigma_hand)
        hand_on = self.hand_gate.process(hand > on_level, hand < HAND_OFF_RATIO * on_level)[:, 0]

        pressing = np.zeros((n, self.n), dtype=bool)
        if len(self._press_cols):
            cols = self._press_cols
            per = self._smooth_press.process(force[:, cols])
            level = np.maximum(self.press_min_n, PRESS_SIGMAS * self.noise[cols] / np.sqrt(self._smooth_len))
            level = np.where(self.excluded[cols], np.inf, level)
            pressing[:, cols] = self.press_gate.process(per > level, per < HAND_OFF_RATIO * level)
        return ConditionedBlock(first_index, force, saturated, open_, hand_on, pressing,
                                self.current_baseline(), self.noise.copy())

    def current_baseline(self) -> np.ndarray:
        return np.where(np.isnan(self.baseline), 0.0, self.baseline)
