"""Streaming recognition of the massage technique, and its smoothing into phases.

`TechniqueRecognizer` cuts the glove's forces into overlapping windows (4 s, every 0.5 s, on
a grid fixed to the session sample index, so any block size gives the same windows) and
labels each with a transparent rule cascade over `glovecoach.engine.features`.
`PhaseSmoother` turns those labels into phases that last minutes: a change of technique is
confirmed only when it dominates several seconds of windows, and its start is back-dated to
where it began. The rules, thresholds and how they were tuned: docs/technique-recognition.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.engine.features import (
    CONTACT_N,
    REGIONS,
    WindowFeatures,
    decimation,
    glove_columns,
    impulse_decimation,
    span_features,
)
from glovecoach.vocabulary.techniques import TECHNIQUES, Phase

WINDOW_S = 4.0
HOP_S = 1.0
_CHUNK_WINDOWS = 256
OWN_STROKING_WINDOWS = 120   # the trainee's stroking level: median of the last 2 minutes of stroking
# The finger pads (the classify rules' "fingertips"): stroking spreads the load over them and
# the palm, deep stroking bears down with the palm and its heel.
FINGER_PADS = REGIONS["thumb"] + REGIONS["grasp_fingers"] + REGIONS["little"]


@dataclass(frozen=True)
class Thresholds:
    """The rule cascade's thresholds (tuned on simulator seeds 0-99 and messy seeds 0-99 only)."""

    contact_min: float = 0.5          # below: hand lifted ("none"), unless it is percussion
    touch_level_min_n: float = 2.0    # a whole-hand load under this is a touch, no technique (the
                                      # lightest stroking is about 6 N)
    impulsive_released_min: float = 0.45
    impulsive_impacts_min: float = 3
    impulsive_peak_min_n: float = 4.0
    impulsive_span_min: float = 0.5     # hits over at least half the window (else mostly lifted)
    knead_thumb_share_min: float = 0.14
    knead_thumb_alone_min: float = 0.25   # no other technique puts a quarter of the load on the thumb
    knead_opposition_min: float = 0.5
    knead_knuckle_share_min: float = 0.5
    knead_digits_share_min: float = 0.6      # after the rhythm rules: thumb + index..ring carry
    knead_held_thumb_share_min: float = 0.1  # ... most of the load, the thumb a tenth of it
    knead_pulse_digits_min: float = 0.55     # the digits carry the load and it swings by most of
    knead_pulse_modulation_min: float = 0.55  # ... its level: grasp and release ...
    knead_pulse_hz_min: float = 0.4          # ... at a grasp's pace (0.5-1.5 Hz), not one slow press,
    knead_pulse_spread_max: float = 0.6      # ... unless no one sensor holds more of the rhythm than this
    vibration_hf_ratio_min: float = 0.035    # the fast peak's swing, noise removed, over the level
    vibration_hz: tuple[float, float] = (4.5, 13.0)
    vibration_prominence_min: float = 8.0   # the fast peak stands this far over the noise floor
    vibration_dominance_min: float = 0.3     # ... and is not a small harmonic of a slow rhythm
    vibration_crest_max: float = 2.2         # ... on a held load (vibration's crest is 1.2-1.5)
    vibration_coherence_min: float = 0.4     # ... and the swing rides on the sensors' load (not hum)
    harmonic_rhythm_prominence_min: float = 20.0   # ... and is not the 2nd or 3rd harmonic of a
    harmonic_tolerance: float = 0.12               # ... strong slow rhythm (circular rubbing)
    rubbing_hz_min: float = 0.75
    rubbing_hz_max: float = 4.5
    rubbing_prominence_min: float = 4.0
    deep_level_min_n: float = 17.0        # heavy, and not carried by the finger pads ...
    deep_level_fingertips_max: float = 0.3
    deep_fingertips_max: float = 0.22     # ... or at any level, carried by the palm and its heel
    deep_palm_min: float = 0.6            #     (stroking spreads over palm and finger pads evenly)
    deep_palm_level_min_n: float = 6.0
    own_stroking_min_windows: int = 10       # this trainee's stroking level, once 10 windows show it:
    deep_over_own_stroking_min: float = 1.25  # deep stroking is at least 1.25x it ...
    deep_over_own_stroking_sure: float = 2.5  # ... and anything stroked at 2.5x it is deep,
    deep_palm_over_own_stroking_min: float = 1.0   # ... as is a stroke at least as heavy whose
    deep_tips_of_own_stroking_max: float = 0.5     # ... finger pads carry under half their share in it,
    deep_palm_over_own_palm_min: float = 2.5       # ... or one at 1.25x it whose palm (all but the
    deep_palm_tips_of_own_max: float = 0.7         # ... finger pads) bears 2.5x its part in the
                                                   # ... trainee's stroking, the pads' share at most 0.7x


DEFAULT_THRESHOLDS = Thresholds()


def _sure(margin: np.ndarray) -> np.ndarray:
    """Map a margin (in units of the threshold's own scale) to a confidence in 0.5..1."""
    return 0.5 + 0.5 * np.tanh(3.0 * np.abs(np.nan_to_num(margin, nan=0.0)))


def classify(f: WindowFeatures, t: Thresholds = DEFAULT_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """(technique index into TECHNIQUES, confidence) per window, by the rule cascade.

    Order matters: impacts first (percussion lifts the hand between hits, so it must be
    caught before "hand lifted"), then lifted, then the fast small oscillation standing out
    of the noise (vibration; finger-pad vibration loads thumb and fingers together, like a
    grasp), then the grasp (kneading), the 1-3 Hz back and forth (rubbing), and last the
    level that separates deep stroking from stroking.
    """
    n = len(f.level_n)
    label = np.zeros(n, dtype=np.int64)
    conf = np.zeros(n)
    undecided = np.ones(n, dtype=bool)

    def decide(mask: np.ndarray, technique: str, margin: np.ndarray) -> None:
        nonlocal undecided
        take = undecided & mask
        label[take] = TECHNIQUES.index(technique)
        conf[take] = _sure(margin[take])
        undecided &= ~take

    # Hits: brief contacts, released between them. The conditioned contact mask cannot say
    # "released" here (its minimum duration bridges the gaps between fast hits), so the
    # samples themselves are read.
    impulsive = ((f.released >= t.impulsive_released_min)
                 & (f.impacts >= t.impulsive_impacts_min) & (f.peak_n >= t.impulsive_peak_min_n)
                 & (f.impact_span >= t.impulsive_span_min))
    decide(impulsive, "percussion",
           (f.released - t.impulsive_released_min) / 0.2)
    decide(f.contact < t.contact_min, "none", (t.contact_min - f.contact) / 0.2)
    # (Resting offsets that wander with mains hum folded to near 0 Hz, a hand hovering: the
    # glove reads something, the back gets no massage.)
    decide(f.level_n < t.touch_level_min_n, "none", (t.touch_level_min_n - f.level_n) / 0.5)

    # A clean fast rhythm that stands out of the noise: vibration. Checked before the grasp,
    # since finger-pad vibration loads the thumb and fingers together (they move as one).
    lo, hi = t.vibration_hz
    # (a small oscillation on a held load: hits that spike far over the window's RMS are
    # percussion, even where too few of them were counted to make the percussion rule)
    # The same holds for the hand without its most loaded sensor when one finger squeezes.
    # A fast peak at twice or three times a strong slow rhythm is that rhythm's harmonic: circular
    # rubbing moves the load from finger to finger, so the whole hand's sum (or the hand without
    # its heaviest finger) loses the rhythm itself and keeps its harmonics.
    strong_slow = (f.rhythm_prominence >= t.harmonic_rhythm_prominence_min) & (f.dominant_hz > 0)

    def harmonic(hz):
        ratio = np.divide(hz, f.dominant_hz, out=np.zeros(n), where=f.dominant_hz > 0)
        return strong_slow & ((np.abs(ratio - 2.0) <= 2.0 * t.harmonic_tolerance)
                              | (np.abs(ratio - 3.0) <= 3.0 * t.harmonic_tolerance))

    def shaking(hz, prominence, ratio, dominance, coherence):
        return ((hz >= lo) & (hz <= hi) & (prominence >= t.vibration_prominence_min)
                & (ratio >= t.vibration_hf_ratio_min) & (dominance >= t.vibration_dominance_min)
                & (coherence >= t.vibration_coherence_min) & ~harmonic(hz))

    vibrating = (f.crest < t.vibration_crest_max) & (
        shaking(f.hf_hz, f.hf_prominence, f.hf_ratio, f.hf_dominance, f.hf_coherence)
        | shaking(f.rest_hf_hz, f.rest_hf_prominence, f.rest_hf_ratio, f.rest_hf_dominance, f.rest_hf_coherence)
        | shaking(f.load_hf_hz, f.load_hf_prominence, f.load_hf_ratio, f.load_hf_dominance, f.load_hf_coherence))
    decide(vibrating, "vibration", np.minimum((f.hf_ratio - t.vibration_hf_ratio_min) / 0.02,
                                              np.log10(np.maximum(f.hf_prominence, 1e-9) / t.vibration_prominence_min)))

    thumb, knuckles = f.shares["thumb"], f.shares["knuckles"]
    opposition = np.nan_to_num(f.opposition, nan=0.0)
    grasp = (((thumb >= t.knead_thumb_share_min) & (opposition >= t.knead_opposition_min))
             | (thumb >= t.knead_thumb_alone_min))
    fist = knuckles >= t.knead_knuckle_share_min
    decide(grasp | fist, "kneading",
           np.maximum(np.minimum((thumb - t.knead_thumb_share_min) / 0.05, (opposition - t.knead_opposition_min) / 0.2),
                      (knuckles - t.knead_knuckle_share_min) / 0.1))

    # Grasp and release: the digits carry the load and it rises and falls almost to nothing
    # each cycle (rubbing keeps contact, its swing is a fraction of the level). This holds
    # when the thumb sensor is missing or broken too.
    # (A single squeeze of one finger rises and falls too, but once: its slowest rhythm, under
    # any grasp's pace, dominates the window.)
    # Slow kneading with an irregular hand (a late or missed grasp) can leave a 4 s window
    # with little more than one grasp, its rhythm then under that pace; several digits rising
    # and falling together still tell it from one finger's squeeze, whose own sensor holds
    # nearly all of the window's slow swing.
    digits = thumb + f.shares["grasp_fingers"]
    paced = (f.dominant_hz >= t.knead_pulse_hz_min) | (f.slow_top_share <= t.knead_pulse_spread_max)
    pulsing = ((digits >= t.knead_pulse_digits_min) & (f.modulation >= t.knead_pulse_modulation_min) & paced)
    decide(pulsing, "kneading", np.minimum((digits - t.knead_pulse_digits_min) / 0.1,
                                           (f.modulation - t.knead_pulse_modulation_min) / 0.15))
    rhythmic = f.rhythm_prominence >= t.rubbing_prominence_min
    decide((f.dominant_hz >= t.rubbing_hz_min) & (f.dominant_hz <= t.rubbing_hz_max) & rhythmic, "rubbing",
           (f.dominant_hz - t.rubbing_hz_min) / 0.2)
    # A grasp without a clean rhythm (e.g. one digit squeezing harder than the others): the
    # digits carry the load and the thumb takes part. Stroking spreads the load over the palm.
    held = (digits >= t.knead_digits_share_min) & (thumb >= t.knead_held_thumb_share_min)
    decide(held, "kneading", np.minimum((digits - t.knead_digits_share_min) / 0.1,
                                        (thumb - t.knead_held_thumb_share_min) / 0.05))
    fingertips = thumb + f.shares["grasp_fingers"] + f.shares["little"]
    palm = f.shares["palm"] + f.shares["palm_heel"]
    heavy = (f.level_n >= t.deep_level_min_n) & (fingertips < t.deep_level_fingertips_max)
    palm_borne = ((fingertips <= t.deep_fingertips_max) & (palm >= t.deep_palm_min)
                  & (f.level_n >= t.deep_palm_level_min_n))
    decide(heavy | palm_borne, "deep_stroking",
           np.maximum((f.level_n - t.deep_level_min_n) / 3.0, (t.deep_fingertips_max - fingertips) / 0.05))
    # Whatever is left is stroking; how sure depends on how far it is from every other rule.
    rest = np.minimum.reduce([
        (t.rubbing_hz_min - f.dominant_hz) / 0.2,
        np.maximum((t.deep_level_min_n - f.level_n) / 3.0, (fingertips - t.deep_fingertips_max) / 0.05),
        np.where(f.hf_prominence >= t.vibration_prominence_min, (t.vibration_hf_ratio_min - f.hf_ratio) / 0.02, 1.0),
        (f.contact - t.contact_min) / 0.2,
    ])
    decide(np.ones(n, dtype=bool), "stroking", rest)
    return label, conf


@dataclass(frozen=True)
class WindowLabel:
    start_index: int
    end_index: int          # exclusive
    technique: str
    confidence: float
    knuckles_working: bool = False   # the knuckles carry most of the load (fist work)


class TechniqueRecognizer:
    """Labels fixed windows of the glove's forces as they stream in.

    `process(newtons, first_index)` takes a block of any size (all of `channels`, spine
    columns included; they are ignored) and returns the windows completed by it. Windows
    start on multiples of the hop from session index 0. A block that does not continue the
    previous one (lost samples) restarts the buffer: windows never span a gap.
    """

    def __init__(self, channels: Sequence[str], rate_hz: float, *, window_s: float = WINDOW_S,
                 hop_s: float = HOP_S, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.window = max(int(round(window_s * rate_hz)), 4)
        self.hop = max(int(round(hop_s * rate_hz)), 1)
        self.thresholds = thresholds
        self._cols = glove_columns(self.channels)
        self._all_glove = self._cols == list(range(len(self.channels)))
        self._glove_ids = [self.channels[k] for k in self._cols]
        self._buf = np.zeros((0, len(self._cols)))
        self._contact = np.zeros(0, dtype=bool)
        self._decimate = decimation(self.rate_hz, self.hop)
        self._impulse_decimate = impulse_decimation(self.rate_hz, self.hop)
        self._buf_start = 0          # session index of self._buf[0]
        # Glove sensors left out (faulty, set by the engine): they read zero from then on, so the
        # trainee's own stroking level is compared without their share of it too.
        self.excluded = np.zeros(len(self._cols), dtype=bool)
        # The trainee's stroking windows: whole-hand level and each sensor's share of it (and the
        # finger pads' part, summed once per window rather than per comparison).
        self._stroking_levels: deque[float] = deque(maxlen=OWN_STROKING_WINDOWS)
        self._stroking_shares: deque[np.ndarray] = deque(maxlen=OWN_STROKING_WINDOWS)
        self._stroking_tips: deque[float] = deque(maxlen=OWN_STROKING_WINDOWS)
        self._tips = np.array([c in FINGER_PADS for c in self._glove_ids], dtype=bool)
        # The whole-hand spectrum of the latest window wholly off the back: its steady lines
        # (mains hum) are the sensors' own (features.span_features).
        self._rest_spectrum: np.ndarray | None = None
        self._next_start: int | None = None   # session index of the next window to emit
        # Every window labelled so far, before the own-stroking pass: (starts, labels,
        # confidences, knuckles working, levels, sensor shares, sensors left out) per batch, so
        # the report can label a stretch again and replay the session's windows (`relabel`,
        # `replay`).
        self._history: list[tuple[np.ndarray, ...]] = []

    def reset(self) -> None:
        self._buf = np.zeros((0, len(self._cols)))
        self._contact = np.zeros(0, dtype=bool)
        self._next_start = None

    def _first_window_at_or_after(self, index: int) -> int:
        return -(-index // self.hop) * self.hop

    def process(self, newtons: np.ndarray, first_index: int, contact: np.ndarray | None = None) -> list[WindowLabel]:
        """Windows completed by this block. `newtons` are forces over baseline; `contact` (n,)
        the conditioned hand-on-the-back mask (without it: whole-hand force over 1 N)."""
        block = np.asarray(newtons)
        if block.ndim != 2 or block.shape[1] != len(self.channels):
            raise ValueError(f"newtons must have shape (n, {len(self.channels)}) for channels "
                             f"{self.channels}, got {block.shape}")
        if len(block) == 0:
            return []
        first_index = int(first_index)
        if self._next_start is None or first_index != self._buf_start + len(self._buf):
            # First block, or a gap: start afresh at the next window boundary.
            self._buf = np.zeros((0, len(self._cols)))
            self._contact = np.zeros(0, dtype=bool)
            self._buf_start = first_index
            self._next_start = self._first_window_at_or_after(first_index)
        # One copy of the block into the buffer (the concatenation converts to float64); the
        # column selection is skipped when every column is a glove channel.
        glove = block if self._all_glove else block[:, self._cols]
        if contact is None:
            contact = np.asarray(glove, dtype=np.float64).sum(axis=1) > CONTACT_N
        self._buf = np.concatenate([self._buf, glove])
        self._contact = np.concatenate([self._contact, np.asarray(contact, dtype=bool)])
        end = self._buf_start + len(self._buf)
        if self._next_start + self.window > end or not self._cols:
            self._trim()
            return []
        count = (end - self.window - self._next_start) // self.hop + 1
        offset = self._next_start - self._buf_start
        span = self._buf[offset:offset + (count - 1) * self.hop + self.window]
        cspan = self._contact[offset:offset + (count - 1) * self.hop + self.window]
        starts = self._next_start + self.hop * np.arange(count)
        raw = self._raw_labels(span, cspan, count, carry=True)
        excluded = np.broadcast_to(self.excluded, (count, len(self._cols)))
        self._history.append((starts.astype(np.int64), *raw, excluded))
        labels = self._with_own_stroking(*raw, excluded)
        out = [WindowLabel(int(s), int(s) + self.window, TECHNIQUES[k], float(c), bool(fist))
               for s, (k, c, fist) in zip(starts, labels)]
        self._next_start += count * self.hop
        self._trim()
        return out

    def _raw_labels(self, span: np.ndarray, contact: np.ndarray, count: int, carry: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(labels, confidences, knuckles working, levels, sensor shares) of the windows by the
        rule cascade alone (before the trainee's own stroking level is taken into account). `carry`: these
        windows follow the ones labelled before (the resting spectrum is taken on to the next)."""
        rest = self._rest_spectrum
        labels, confs, fists, levels, shares = [], [], [], [], []
        # In chunks of windows: the spectra of thousands of windows at once would need gigabytes.
        for k in range(0, count, _CHUNK_WINDOWS):
            n = min(_CHUNK_WINDOWS, count - k)
            a = k * self.hop
            b = a + (n - 1) * self.hop + self.window
            feats = span_features(span[a:b], contact[a:b], self.hop * np.arange(n), self.window,
                                  self._glove_ids, self.rate_hz, self._decimate, self._impulse_decimate, rest)
            rest = feats.rest_spectrum
            label, conf = classify(feats, self.thresholds)
            labels.append(label)
            confs.append(conf)
            fists.append(feats.shares["knuckles"] >= self.thresholds.knead_knuckle_share_min)
            levels.append(feats.level_n)
            shares.append(feats.channel_share)
        if carry:
            self._rest_spectrum = rest
        if not labels:
            return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool), np.zeros(0),
                    np.zeros((0, len(self._cols))))
        return (np.concatenate(labels).astype(np.int64), np.concatenate(confs).astype(np.float64),
                np.concatenate(fists).astype(bool), np.concatenate(levels).astype(np.float64),
                np.concatenate(shares).astype(np.float64))

    def _with_own_stroking(self, label: np.ndarray, conf: np.ndarray, fist: np.ndarray, level: np.ndarray,
                           shares: np.ndarray, excluded: np.ndarray) -> list[tuple[int, float, bool]]:
        label = self._relative_to_own_stroking(label, level, shares, excluded)
        return list(zip(label.tolist(), conf.tolist(), fist.tolist()))

    # ---------------------------------------------------------------- in hindsight (the report)
    def window_starts(self) -> np.ndarray:
        """Session index of the first sample of every window labelled so far, in order."""
        return np.concatenate([h[0] for h in self._history]) if self._history else np.zeros(0, np.int64)

    def relabel(self, positions: np.ndarray, span: np.ndarray, contact: np.ndarray, span_first: int,
                excluded: np.ndarray) -> None:
        """Label again the windows at `positions` (indices into `window_starts()`, in order, hop
        apart) from `span` (forces of all `channels`, spine columns ignored) and `contact`,
        whose first row is session index `span_first`; every window must lie inside the span.
        `excluded` (len(positions), glove sensors): sensors now known to have been left out of
        those windows (their columns zeroed in `span`), added to the ones left out live."""
        if not len(positions):
            return
        starts = self.window_starts()
        glove = span if self._all_glove else span[:, self._cols]
        offset = int(starts[positions[0]]) - span_first
        count = len(positions)
        length = (count - 1) * self.hop + self.window
        raw = self._raw_labels(np.asarray(glove[offset:offset + length], dtype=np.float64),
                               np.asarray(contact[offset:offset + length], dtype=bool), count)
        joined = [np.concatenate([h[k] for h in self._history]) for k in range(7)]
        for k in range(5):
            joined[k + 1][positions] = raw[k]
        joined[6][positions] |= np.asarray(excluded, dtype=bool)
        self._history = [tuple(joined)]

    def replay(self) -> list[WindowLabel]:
        """Every window labelled so far, its label made again from the cascade's (with any
        `relabel` applied) and the trainee's own stroking level followed from the start, as
        `process` would have labelled them."""
        if not self._history:
            return []
        starts, *raw = (np.concatenate([h[k] for h in self._history]) for k in range(7))
        saved = self._stroking_levels, self._stroking_shares, self._stroking_tips
        self._stroking_levels = deque(maxlen=OWN_STROKING_WINDOWS)
        self._stroking_shares = deque(maxlen=OWN_STROKING_WINDOWS)
        self._stroking_tips = deque(maxlen=OWN_STROKING_WINDOWS)
        try:
            labels = self._with_own_stroking(*raw)
        finally:
            self._stroking_levels, self._stroking_shares, self._stroking_tips = saved
        return [WindowLabel(int(s), int(s) + self.window, TECHNIQUES[k], float(c), bool(f))
                for s, (k, c, f) in zip(starts.tolist(), labels)]

    def _relative_to_own_stroking(self, label: np.ndarray, level: np.ndarray, shares: np.ndarray,
                                  excluded: np.ndarray) -> np.ndarray:
        """Deep stroking is stroking at 2-4 times the force: once this trainee's own stroking
        level is known (the protocol begins with stroking), a window is deep stroking only if it
        is well over it, and stroking at well over twice it is deep stroking whatever surface
        carries it. Window by window in order, so any block size gives the same labels.

        The surface counts too: a stroke at least as heavy as the trainee's own stroking whose
        finger pads carry under half their share of it is borne by the palm, deep stroking; so
        is one at 1.25x it whose palm (every sensor but the finger pads) bears 2.5x its part in
        the trainee's stroking while the pads' share falls (the pads keep much the same force in
        both, so their share in deep stroking is under half of stroking's only when the palm
        heel, a third of deep stroking's load, is read; without it, about 0.55).

        Both sides are read on the same sensors: a window with sensors left out (`excluded`,
        per window) is compared with the stroking level, and the finger pads' share, less
        those sensors' part in them. (A broken palm heel, which carries a third of deep
        stroking's load, would otherwise leave deep stroking under a level it helped to make.)"""
        t = self.thresholds
        stroking, deep = TECHNIQUES.index("stroking"), TECHNIQUES.index("deep_stroking")
        if not ((label == stroking) | (label == deep)).any():
            return label
        label = label.copy()
        level_list = level.tolist()
        tips = shares[:, self._tips].sum(axis=1).tolist()
        for k in np.flatnonzero((label == stroking) | (label == deep)).tolist():
            if len(self._stroking_levels) >= t.own_stroking_min_windows:
                out = excluded[k]
                if out.any():
                    shares_then = np.asarray(self._stroking_shares)
                    levels_then = np.asarray(self._stroking_levels)
                    kept = np.maximum(1.0 - shares_then[:, out].sum(axis=1), 1e-9)
                    ref = float(np.median(levels_then * kept))
                    ref_tips = float(np.median(np.asarray(self._stroking_tips) / kept))
                    ref_palm = float(np.median(levels_then * shares_then[:, ~self._tips & ~out].sum(axis=1)))
                else:
                    ref, ref_tips = _median(self._stroking_levels), _median(self._stroking_tips)
                    # (the palm's part of each stroking window: all but the finger pads')
                    ref_palm = _median(lv * (1.0 - tp) for lv, tp in zip(self._stroking_levels, self._stroking_tips))
                # (a sensor left out reads zero, so this window's palm part is all but the pads)
                palm_part = level_list[k] * (1.0 - tips[k])
                palm_borne = ((level_list[k] >= t.deep_palm_over_own_stroking_min * ref
                               and tips[k] <= t.deep_tips_of_own_stroking_max * ref_tips)
                              or (level_list[k] >= t.deep_over_own_stroking_min * ref
                                  and palm_part >= t.deep_palm_over_own_palm_min * ref_palm
                                  and tips[k] <= t.deep_palm_tips_of_own_max * ref_tips))
                if label[k] == deep and level_list[k] < t.deep_over_own_stroking_min * ref and not palm_borne:
                    label[k] = stroking
                elif label[k] == stroking and (level_list[k] >= t.deep_over_own_stroking_sure * ref or palm_borne):
                    label[k] = deep
            if label[k] == stroking:
                self._stroking_levels.append(level_list[k])
                self._stroking_shares.append(shares[k])
                self._stroking_tips.append(tips[k])
        return label

    def _trim(self) -> None:
        keep_from = max(self._next_start - self._buf_start, 0) if self._next_start is not None else 0
        if keep_from:
            self._buf = self._buf[keep_from:]
            self._contact = self._contact[keep_from:]
            self._buf_start += keep_from


def _median(values: Iterable[float]) -> float:
    """Median of at most a few hundred floats (cheaper than np.median at this size)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


# ------------------------------------------------------------------------------ phases

@dataclass(frozen=True)
class PhaseChange:
    technique: str          # the new technique ("none": the hand has left the back)
    start_s: float          # back-dated: where the new technique began
    confirmed_at_s: float   # session time at which the change was confirmed
    previous: str | None    # the technique before (None at the start of a session)


CONFIRM_S = 6.0             # a new technique must dominate this long to be believed
CONFIRM_FRACTION = 0.75     # ... in at least this share of the windows in that span
NONE_CONFIRM_S = 8.0        # the hand must be off the back this long to end a phase
BOUNDARY_LOOKBACK_S = 16.0  # a change between two techniques is placed within this long before it


class PhaseSmoother:
    """Window labels in, phase changes out; no flicker.

    The current technique changes to X when X holds at least CONFIRM_FRACTION of the windows
    of the last CONFIRM_S seconds (NONE_CONFIRM_S for "hand lifted", so repositioning lifts
    never split a phase). The new phase starts where its first window of that span is
    centred, less half a hop (the window was labelled X because X filled most of it); the old
    phase ends where its own last window was centred, plus half a hop. Between two techniques
    A and X the start is placed earlier where that agrees better with the windows of the last
    BOUNDARY_LOOKBACK_S: at the split that leaves the most windows labelled A before it and X
    after it (a squeeze or a stumble in X's first seconds can make a few windows read as
    something else; the windows on either side of them still say where X began).

    `current` is the phase in progress (its end is provisional: the latest window's end),
    or None before the first phase and while the hand is off the back.
    """

    def __init__(self, rate_hz: float, *, confirm_s: float = CONFIRM_S, none_confirm_s: float = NONE_CONFIRM_S,
                 fraction: float = CONFIRM_FRACTION) -> None:
        self.rate_hz = float(rate_hz)
        self.confirm_s = confirm_s
        self.none_confirm_s = none_confirm_s
        self.fraction = fraction
        self._recent: deque[tuple[float, float, str]] = deque()   # (centre_s, end_s, technique)
        self._first_window: tuple[float, float] | None = None      # (centre_s, start_s) of the very first
        self._technique: str = "none"
        self._start_s = 0.0
        self._last_own_s = 0.0        # centre of the latest window labelled with _technique
        self._last_s = 0.0
        self._half_hop = 0.0
        self._phases: list[Phase] = []
        self._started = False

    @property
    def technique(self) -> str:
        return self._technique

    @property
    def current(self) -> Phase | None:
        if self._technique == "none" or not self._started:
            return None
        return Phase(self._technique, self._start_s, max(self._last_s, self._start_s))  # provisional end

    def update(self, labels: list[WindowLabel]) -> list[PhaseChange]:
        changes: list[PhaseChange] = []
        for w in labels:
            centre = (w.start_index + w.end_index) / 2 / self.rate_hz
            end = w.end_index / self.rate_hz
            if self._first_window is None:
                self._first_window = (centre, w.start_index / self.rate_hz)
            if self._recent and centre > self._recent[-1][0]:
                # The hop is not told; it is the smallest step between window centres seen.
                step = (centre - self._recent[-1][0]) / 2
                self._half_hop = step if self._half_hop == 0.0 else min(self._half_hop, step)
            self._recent.append((centre, end, w.technique))
            horizon = max(self.confirm_s, self.none_confirm_s, BOUNDARY_LOOKBACK_S)
            while self._recent and self._recent[0][0] < centre - horizon:
                self._recent.popleft()
            self._last_s = end
            if w.technique == self._technique:
                self._last_own_s = centre
                continue
            change = self._try_change(w.technique, centre, end)
            if change:
                changes.append(change)
        return changes

    def _try_change(self, candidate: str, now_s: float, end_s: float) -> PhaseChange | None:
        span = self.none_confirm_s if candidate == "none" else self.confirm_s
        recent = [r for r in self._recent if r[0] > now_s - span]
        if not recent or recent[0][0] > now_s - span + 2 * self._half_hop + 1e-9:
            return None           # not yet seen a full confirmation span
        votes = sum(1 for r in recent if r[2] == candidate)
        if votes < self.fraction * len(recent):
            return None
        first = next(r for r in recent if r[2] == candidate)
        if candidate != "none" and self._technique != "none" and self._started:
            first = self._best_split(candidate, first)
        if self._first_window is not None and first[0] == self._first_window[0]:
            start_s = self._first_window[1]     # there from the very first sample seen
        else:
            start_s = max(first[0] - self._half_hop, 0.0)
        previous = self._technique if self._started else None
        if self._technique != "none" and self._started:
            end_prev = min(self._last_own_s + self._half_hop, start_s)
            self._phases.append(Phase(self._technique, self._start_s, max(end_prev, self._start_s)))
        self._technique = candidate
        self._start_s = start_s
        self._last_own_s = now_s
        self._started = True
        return PhaseChange(candidate, start_s, end_s, previous)

    def _best_split(self, candidate: str, first: tuple[float, float, str]) -> tuple[float, float, str]:
        """The window where `candidate` began, moved earlier (never later than `first`, the
        first of the confirmation span) to the split of the lookback windows that leaves the
        most windows of the current technique before it and of `candidate` from it on; on a
        tie, the latest such split. Only windows after the current phase's own start count."""
        window = [r for r in self._recent if r[0] > self._start_s and r[0] <= first[0]]
        if len(window) < 2:
            return first
        old = np.array([r[2] == self._technique for r in window], dtype=np.int64)
        new = np.array([r[2] == candidate for r in window], dtype=np.int64)
        # Split before window j: old windows before j, new ones from j up to `first`.
        score = np.concatenate([[0], np.cumsum(old)]) + np.concatenate([np.cumsum(new[::-1])[::-1], [0]])
        j = len(score) - 1 - int(np.argmax(score[::-1]))
        if j >= len(window) or not new[j]:
            # The split lands on a window of neither: start at the next window of `candidate`.
            later = np.flatnonzero(new[j:])
            if not len(later):
                return first
            j += int(later[0])
        return window[j]

    def finish(self, end_s: float) -> list[Phase]:
        """All phases of the session ("none" stretches are not phases); call once at the end."""
        phases = list(self._phases)
        if self._technique != "none" and self._started:
            phases.append(Phase(self._technique, self._start_s,
                                min(max(self._last_own_s + self._half_hop, self._start_s), end_s)))
        return phases
