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

import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.engine.detectors import run_lengths

CHUNK_S = 1.0               # baseline and noise are judged on chunks this long
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
PRESS_RELEASE_SIGMAS = 3.0
CONTACT_MIN_S = 0.1         # a contact state must hold this long before it changes
HAND_STEADY_SIGMAS = 4.0    # a resting chunk's tenths wander within this many of their noise ...
HAND_STEADY_MIN_N = 0.1     # ... or this, whichever is more
BOOT_HAND_MAX_N = 7.0       # resting offsets (up to 0.5 N a sensor) never sum to more than this
ENVELOPE_S = 120.0          # the hand at rest sits at the lowest whole-hand level of this long
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

    def process(self, above: np.ndarray, below: np.ndarray) -> np.ndarray:
        """`above`/`below` (n, ch) bool (not both true at once); returns the state per sample."""
        n = above.shape[0]
        if n == 0:
            return np.zeros((0, self.n), dtype=bool)
        if not above.any() and not self.state.any():
            # The common case while idle: nothing on and nothing turning on.
            self.run_above[:] = 0
            self.run_below = self.run_below + n if below.all() else run_lengths(below, self.run_below)[-1]
            return np.zeros((n, self.n), dtype=bool)
        ra = run_lengths(above, self.run_above)
        rb = run_lengths(below, self.run_below)
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
        # Rows k of this block in `joined` average rows lo..k, lo = max(k + 1 - length, 0): the
        # sums are differences of two stretches of `c`, sliced (not gathered).
        first, end = len(joined) - len(x), len(joined)
        short = max(0, min(self.length - 1 - first, len(x)))   # rows with fewer than `length` before them
        count = np.full(len(x), self.length, dtype=np.int64)
        count[:short] = np.arange(first + 1, first + 1 + short)
        lo_start = first + 1 - self.length + short            # lo of row `short` (>= 0)
        below = np.concatenate([np.zeros((short, self.n)), c[lo_start:lo_start + len(x) - short]]) \
            if short else c[lo_start:lo_start + len(x)]
        out = (c[first + 1:end + 1] - below) / count[:, None]
        self._tail = joined[-(self.length - 1):].copy()
        return out


def hand_contact(hand_sum: np.ndarray, on_level: np.ndarray, rate_hz: float) -> np.ndarray:
    """Hand on the back per sample, by `SignalConditioner`'s rule, for a whole stretch at once
    from a lifted start: `hand_sum` (n,) whole-hand force over baseline, `on_level` (n,) the
    level it must exceed (`ConditionedBlock.hand_on_level`). The report uses it to decide
    contact again without a sensor that turned out to be faulty."""
    hand_sum = np.asarray(hand_sum, dtype=np.float64)[:, None]
    level = np.asarray(on_level, dtype=np.float64)[:, None]
    hand = MovingAverage(1, max(1, int(round(SMOOTH_S * rate_hz)))).process(hand_sum)
    min_n = max(1, int(round(CONTACT_MIN_S * rate_hz)))
    return HysteresisGate(1, min_n, min_n).process(hand > level, hand < HAND_OFF_RATIO * level)[:, 0]


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
    # (n,) the smoothed whole-hand force above which the hand is on the back, per sample (the
    # report re-decides contact with it when a sensor turns out to have been faulty).
    hand_on_level: np.ndarray | None = None

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
                 *, press: np.ndarray | None = None, press_min_n: float = 1.0, hand_on_min_n: float = HAND_ON_MIN_N,
                 initial_baseline: np.ndarray | None = None) -> None:
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.n = len(self.channels)
        self.glove = np.asarray(glove, dtype=bool)
        self.press = np.zeros(self.n, dtype=bool) if press is None else np.asarray(press, dtype=bool)
        self._press_cols = np.flatnonzero(self.press)
        self.press_min_n = float(press_min_n)
        self.hand_on_min_n = float(hand_on_min_n)
        self.chunk = max(2, int(round(CHUNK_S * rate_hz)))
        chunk_s = self.chunk / self.rate_hz
        self._base_gain = float(1.0 - np.exp(-chunk_s / BASELINE_TAU_S))
        self._noise_gain = float(1.0 - np.exp(-chunk_s / NOISE_TAU_S))
        self.baseline = np.full(self.n, np.nan)
        if initial_baseline is not None:
            seed = np.asarray(initial_baseline, dtype=np.float64)
            self.baseline = np.where(np.isfinite(seed), seed, np.nan)
        self._unset = bool(np.isnan(self.baseline).any())
        self._envelope: deque[tuple[int, float]] = deque()
        self._chunk_no = 0
        self._envelope_chunks = max(1, int(round(ENVELOPE_S / CHUNK_S)))
        self._sqrt_chunk = float(np.sqrt(self.chunk))
        self._tenth = max(1, self.chunk // 10)
        self._sqrt_tenth = float(np.sqrt(self._tenth))
        self.noise = np.full(self.n, NOISE_PRIOR_N)
        self._noise_seen = np.zeros(self.n, dtype=bool)
        self._partial = np.zeros((0, self.n))     # samples of the chunk in progress
        self.excluded = np.zeros(self.n, dtype=bool)   # faulty channels left out of hand contact
        smooth = max(1, int(round(SMOOTH_S * rate_hz)))
        min_n = max(1, int(round(CONTACT_MIN_S * rate_hz)))
        self._smooth_len = smooth
        self._smooth_hand = MovingAverage(1, smooth)
        self._smooth_press = MovingAverage(len(self._press_cols), smooth)
        self.hand_gate = HysteresisGate(1, min_n, min_n)
        self.press_gate = HysteresisGate(len(self._press_cols), min_n, min_n)
        self._next_index: int | None = None

    # ---------------------------------------------------------------- baseline and noise
    def _fold_chunks(self, means: np.ndarray, spread_of, hand_means: np.ndarray, hand_spreads: np.ndarray,
                     hand_noise: np.ndarray, busy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fold complete chunks (k, ch) into baseline and noise; returns the baseline and the
        noise floor in force at the START of each chunk (k, ch) each. `spread_of(k)` gives
        chunk k's spread per channel (computed only for the chunks that need it: most chunks
        of a working hand never do). `hand_means`/`hand_spreads` (k,) are the chunks'
        whole-hand (working glove channels) mean and spread of the readings, `busy` (k,) the
        chunks in which the hand is not steady (`_busy`)."""
        n_chunks = len(means)
        starts = np.empty_like(means)
        noise_starts = np.empty_like(means)
        glove = self.glove & ~self.excluded
        base, noise, seen = self.baseline, self.noise, self._noise_seen
        bg, ng = self._base_gain, self._noise_gain
        finite = np.isfinite(means)
        all_finite = bool(finite.all())
        env = self._envelope
        # A chunk in which the hand is not steady cannot be a resting one; if no channel is
        # clearly under its baseline either, it changes nothing (the common case while the
        # trainee works): only the whole-hand envelope moves.
        only_glove = bool(self.glove.all())
        # Where each run of busy chunks ends (the first chunk at or after k that is not busy).
        idle_at = np.flatnonzero(~busy)
        run_end = np.searchsorted(idle_at, np.arange(n_chunks))
        run_end = np.append(idle_at, n_chunks)[run_end]
        envelope_chunks = self._envelope_chunks
        k = 0
        while k < n_chunks:
            if busy[k] and only_glove and all_finite and not self._unset:
                # Skip the whole run of busy chunks in which no channel falls under its
                # baseline: baseline and noise stand still over it, so the test is one array
                # operation for the run instead of one per chunk.
                stop = min(int(run_end[k]), k + 256)
                drop_level = -np.maximum(DROP_SIGMAS * noise, REST_BAND_MIN_N)
                falls = ((means[k:stop] - base) < drop_level).any(axis=1)
                skip_to = k + int(falls.argmax()) if falls.any() else stop
                if skip_to > k:
                    starts[k:skip_to] = base
                    noise_starts[k:skip_to] = noise
                    for hm in hand_means[k:skip_to].tolist():
                        # Lower envelope of the whole hand's chunk means over ENVELOPE_S
                        # (monotonic deque), as below.
                        self._chunk_no += 1
                        while env and env[-1][1] >= hm:
                            env.pop()
                        env.append((self._chunk_no, hm))
                        while env[0][0] <= self._chunk_no - envelope_chunks:
                            env.popleft()
                    k = skip_to
                    continue
            m = means[k]
            starts[k] = base
            noise_starts[k] = noise
            self._chunk_no += 1
            # Lower envelope of the whole hand's chunk means over ENVELOPE_S (monotonic deque).
            hm = float(hand_means[k])
            while env and env[-1][1] >= hm:
                env.pop()
            env.append((self._chunk_no, hm))
            while env[0][0] <= self._chunk_no - envelope_chunks:
                env.popleft()
            if (busy[k] and only_glove and all_finite and not self._unset
                    and not (m - base < -np.maximum(DROP_SIGMAS * noise, REST_BAND_MIN_N)).any()):
                k += 1
                continue
            sd = spread_of(k)
            ok = finite[k] if not all_finite else None
            unset = np.isnan(base) if self._unset else None
            diff = m - base if all_finite else np.where(ok, m - base, 0.0)
            if unset is not None:
                diff = np.where(unset, 0.0, diff)
            band = np.maximum(REST_SIGMAS * noise, REST_BAND_MIN_N)
            drop = diff < -np.maximum(DROP_SIGMAS * noise, REST_BAND_MIN_N)
            # The whole hand at rest: steady and at the lowest level of the last minutes, and
            # (once the baselines are known) no more than HAND_REST_N over them. One sensor's
            # light load is no different from its offset; the hand's is.
            # Steady: the means of the chunk's tenths wander no more than its own sample-to-sample
            # noise explains (mains hum and white noise average out over a tenth; a hand that
            # moves does not).
            sigma_hand = float(hand_noise[k])
            steady_hand = hand_spreads[k] <= max(HAND_STEADY_SIGMAS * sigma_hand / self._sqrt_tenth, HAND_STEADY_MIN_N)
            low_hand = hm <= env[0][1] + max(HAND_REST_N, REST_SIGMAS * sigma_hand / self._sqrt_chunk)
            excess = float(np.maximum(diff, 0.0)[glove].sum())
            # While some glove baselines are still unknown the hand's excess cannot be measured:
            # then a hand at rest is one whose whole load is no more than resting offsets can be.
            booting = unset is not None and bool(unset[glove].any())
            hand_rest = steady_hand and low_hand and (excess <= HAND_REST_N if not booting
                                                      else hm <= BOOT_HAND_MAX_N)
            steady = sd <= np.maximum(STEADY_SIGMAS * noise, 2 * REST_BAND_MIN_N)
            rest = steady & (np.abs(diff) <= band)
            if not hand_rest:
                rest &= ~self.glove
            if unset is not None:
                fresh = rest & unset if ok is None else rest & unset & ok
                if fresh.any():
                    base = np.where(fresh, m, base)
                    diff = np.where(fresh, 0.0, diff)
                    self._unset = bool(np.isnan(base).any())
            k += 1
            quiet = rest | drop
            if not quiet.any():
                continue
            base = base + np.where(drop, diff, np.where(rest, bg * diff, 0.0))
            first = quiet & ~seen
            tracked = noise + ng * (np.minimum(sd, NOISE_GROWTH * noise) - noise)
            noise = np.maximum(np.where(first, sd, np.where(quiet, tracked, noise)), NOISE_MIN_N)
            seen = seen | quiet
        self.baseline, self.noise, self._noise_seen = base, noise, seen
        return starts, noise_starts

    def _busy(self, hand_spreads: np.ndarray, hand_noise: np.ndarray) -> np.ndarray:
        """Chunks in which the hand is not steady (the tenths' means wander more than the
        sample-to-sample noise explains): never resting ones."""
        return hand_spreads > np.maximum(HAND_STEADY_SIGMAS * hand_noise / self._sqrt_tenth, HAND_STEADY_MIN_N)

    def _baselines(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Fold the chunks completed by the block `x` (n, ch) into baseline and noise floor.

        Returns them per stretch, not per sample: `rows_base` and `rows_noise` (k + 1, ch) are
        the values in force over each of the k chunks completed by this block and then over
        the chunk still in progress, `counts` (k + 1,) how many samples of the chunk in progress
        before this block plus this block's each covers, and `skip` how many of the first
        stretch's samples came before this block. Per-sample arrays are made only where a
        per-sample value is needed (`_per_sample`)."""
        done_before = len(self._partial)
        joined = np.concatenate([self._partial, x]) if done_before else x
        n_full = len(joined) // self.chunk
        if n_full:
            full = joined[:n_full * self.chunk].reshape(n_full, self.chunk, self.n)
            working = self.glove & ~self.excluded
            # (All channels working, the usual case: the same sums without a copy.)
            hand = full.sum(axis=2) if working.all() else full[:, :, working].sum(axis=2)
            has_nan = bool(np.isnan(full).any())
            with np.errstate(all="ignore"):
                hand_noise = np.nan_to_num(np.diff(hand, axis=1).std(axis=1) / np.sqrt(2.0), nan=0.0)
                tenth = self._tenth
                hand_spreads = hand[:, :10 * tenth].reshape(n_full, 10, tenth).mean(axis=2).std(axis=1)
                if has_nan:
                    hand_spreads = np.where(np.isnan(hand).any(axis=1), np.inf, hand_spreads)
            busy = self._busy(hand_spreads, hand_noise)
            if has_nan:
                # A chunk with a channel open throughout has no mean: NaN, and it is skipped.
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    means, spreads = np.nanmean(full, axis=1), np.nanstd(full, axis=1)
                    hand_means = np.nanmean(hand, axis=1)
                hand_means = np.where(np.isnan(hand_means), np.inf, hand_means)

                def spread_of(k: int) -> np.ndarray:
                    return spreads[k]
            else:
                means = full.mean(axis=1)
                hand_means = hand.mean(axis=1)
                # Spreads (the same numbers as full.std(axis=1)) of the chunks that may be
                # resting ones, in one pass; a busy chunk needs its own only if some channel
                # falls under its baseline in it, which is rare.
                idle = ~busy
                idle_spreads = full[idle].std(axis=1)
                idle_row = np.cumsum(idle) - 1

                def spread_of(k: int) -> np.ndarray:
                    return full[k].std(axis=0) if busy[k] else idle_spreads[idle_row[k]]
            starts, noise_starts = self._fold_chunks(means, spread_of, hand_means, hand_spreads, hand_noise, busy)
        else:
            starts = noise_starts = np.zeros((0, self.n))
        rows_base = np.concatenate([starts, self.baseline[None, :]])
        rows_noise = np.concatenate([noise_starts, self.noise[None, :]])
        counts = np.full(n_full + 1, self.chunk)
        counts[-1] = len(joined) - n_full * self.chunk
        if self._unset or np.isnan(rows_base).any():
            # Before a channel's first resting chunk its baseline is taken as zero: the nominal
            # and fitted calibrations both put an unloaded sensor at about 0 N, and a press held
            # from the very first sample must still count in full.
            rows_base = np.where(np.isnan(rows_base), 0.0, rows_base)
        self._partial = joined[n_full * self.chunk:].copy()
        return rows_base, rows_noise, counts, done_before

    @staticmethod
    def _per_sample(rows: np.ndarray, counts: np.ndarray, skip: int) -> np.ndarray:
        """Stretch values `rows` (k, ...) as one row per sample of the block."""
        return np.repeat(rows, counts, axis=0)[skip:]

    def _less_baseline(self, x: np.ndarray, rows: np.ndarray, counts: np.ndarray, skip: int) -> np.ndarray:
        """x (n, ch) minus the baseline of each sample's stretch, without a per-sample baseline
        array: the chunks completed by the block are one broadcast subtraction."""
        out = np.empty_like(x)
        pos = 0
        k = len(counts) - 1                  # complete chunks; row k is the chunk in progress
        if k:
            head = self.chunk - skip         # the rest of the chunk begun before this block
            np.subtract(x[:head], rows[0], out=out[:head])
            body = (k - 1) * self.chunk
            if body:
                np.subtract(x[head:head + body].reshape(k - 1, self.chunk, self.n), rows[1:k, None, :],
                            out=out[head:head + body].reshape(k - 1, self.chunk, self.n))
            pos = head + body
        np.subtract(x[pos:], rows[k], out=out[pos:])
        return out

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
        rows_base, rows_noise, counts, skip = self._baselines(np.where(open_, np.nan, x) if any_open else x)
        force = self._less_baseline(x, rows_base, counts, skip)
        if any_open:
            force[open_] = 0.0

        working = self.glove & ~self.excluded
        all_working = bool(working.all())
        hand_sum = (force if all_working else force[:, working]).sum(axis=1, keepdims=True)
        hand = self._smooth_hand.process(hand_sum)
        # Levels follow the noise floor as it stood at each sample's chunk (block-size
        # independent); they are worked out once per chunk and then spread over its samples.
        noise_w = rows_noise if all_working else rows_noise[:, working]
        sigma_hand = np.sqrt((noise_w ** 2).sum(axis=1, keepdims=True) / self._smooth_len)
        on_level = self._per_sample(np.maximum(self.hand_on_min_n, HAND_ON_SIGMAS * sigma_hand), counts, skip)
        hand_on = self.hand_gate.process(hand > on_level, hand < HAND_OFF_RATIO * on_level)[:, 0]

        pressing = np.zeros((n, self.n), dtype=bool)
        if len(self._press_cols):
            cols = self._press_cols
            per = self._smooth_press.process(force[:, cols])
            sigma = rows_noise[:, cols] / np.sqrt(self._smooth_len)
            level = np.maximum(self.press_min_n, PRESS_SIGMAS * sigma)
            level = np.where(self.excluded[cols][None, :], np.inf, level)
            # Released a few noise floors under the press level: presses in quick succession
            # (fist kneading rolls on between them) stay separate presses.
            release = np.maximum(level - PRESS_RELEASE_SIGMAS * sigma, HAND_OFF_RATIO * level)
            level, release = self._per_sample(level, counts, skip), self._per_sample(release, counts, skip)
            pressing[:, cols] = self.press_gate.process(per > level, per < release)
        return ConditionedBlock(first_index, force, saturated, open_, hand_on, pressing,
                                self.current_baseline(), self.noise.copy(), on_level[:, 0])

    def current_baseline(self) -> np.ndarray:
        return np.where(np.isnan(self.baseline), 0.0, self.baseline)
