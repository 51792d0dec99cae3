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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .features import WindowFeatures, glove_columns, window_features

TECHNIQUES = ("none", "stroking", "deep_stroking", "rubbing", "kneading", "vibration", "percussion")

WINDOW_S = 4.0
HOP_S = 0.5
_CHUNK_WINDOWS = 64


@dataclass(frozen=True)
class Thresholds:
    """The rule cascade's thresholds (tuned on simulator seeds 0-99 only)."""

    contact_min: float = 0.5          # below: hand lifted ("none"), unless it is percussion
    impulsive_contact_max: float = 0.55
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
    vibration_hf_ratio_min: float = 0.055
    vibration_hz: tuple[float, float] = (4.5, 13.0)
    vibration_periodicity_min: float = 0.5      # ... or a clean fast rhythm that dominates
    vibration_dominant_hf_ratio_min: float = 0.025
    rubbing_hz_min: float = 0.8
    rubbing_hz_max: float = 4.5
    deep_level_min_n: float = 17.0


DEFAULT_THRESHOLDS = Thresholds()


def _sure(margin: np.ndarray) -> np.ndarray:
    """Map a margin (in units of the threshold's own scale) to a confidence in 0.5..1."""
    return 0.5 + 0.5 * np.tanh(3.0 * np.abs(np.nan_to_num(margin, nan=0.0)))


def classify(f: WindowFeatures, t: Thresholds = DEFAULT_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """(technique index into TECHNIQUES, confidence) per window, by the rule cascade.

    Order matters: impacts first (percussion lifts the hand between hits, so it must be
    caught before "hand lifted"), then lifted, then the grasp (kneading), the fast small
    oscillation (vibration), the 1-3 Hz back and forth (rubbing), and last the level that
    separates deep stroking from stroking.
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

    impulsive = ((f.contact < t.impulsive_contact_max) & (f.released >= t.impulsive_released_min)
                 & (f.impacts >= t.impulsive_impacts_min) & (f.peak_n >= t.impulsive_peak_min_n)
                 & (f.impact_span >= t.impulsive_span_min))
    decide(impulsive, "percussion",
           np.minimum((f.released - t.impulsive_released_min) / 0.2, (t.impulsive_contact_max - f.contact) / 0.2))
    decide(f.contact < t.contact_min, "none", (t.contact_min - f.contact) / 0.2)

    thumb, knuckles = f.shares["thumb"], f.shares["knuckles"]
    opposition = np.nan_to_num(f.opposition, nan=0.0)
    grasp = (((thumb >= t.knead_thumb_share_min) & (opposition >= t.knead_opposition_min))
             | (thumb >= t.knead_thumb_alone_min))
    fist = knuckles >= t.knead_knuckle_share_min
    decide(grasp | fist, "kneading",
           np.maximum(np.minimum((thumb - t.knead_thumb_share_min) / 0.05, (opposition - t.knead_opposition_min) / 0.2),
                      (knuckles - t.knead_knuckle_share_min) / 0.1))

    lo, hi = t.vibration_hz
    in_band = (f.hf_hz >= lo) & (f.hf_hz <= hi)
    dominant_fast = ((f.dominant_hz >= lo) & (f.dominant_hz <= hi) & (f.periodicity >= t.vibration_periodicity_min)
                     & (f.hf_ratio >= t.vibration_dominant_hf_ratio_min))
    vibrating = ((f.hf_ratio >= t.vibration_hf_ratio_min) & in_band) | dominant_fast
    decide(vibrating, "vibration", (f.hf_ratio - t.vibration_hf_ratio_min) / 0.02)
    decide((f.dominant_hz >= t.rubbing_hz_min) & (f.dominant_hz <= t.rubbing_hz_max), "rubbing",
           (f.dominant_hz - t.rubbing_hz_min) / 0.2)
    # A grasp without a clean rhythm (e.g. one digit squeezing harder than the others): the
    # digits carry the load and the thumb takes part. Stroking spreads the load over the palm.
    digits = thumb + f.shares["grasp_fingers"]
    held = (digits >= t.knead_digits_share_min) & (thumb >= t.knead_held_thumb_share_min)
    decide(held, "kneading", np.minimum((digits - t.knead_digits_share_min) / 0.1,
                                        (thumb - t.knead_held_thumb_share_min) / 0.05))
    decide(f.level_n >= t.deep_level_min_n, "deep_stroking", (f.level_n - t.deep_level_min_n) / 3.0)
    # Whatever is left is stroking; how sure depends on how far it is from every other rule.
    rest = np.minimum.reduce([
        (t.rubbing_hz_min - f.dominant_hz) / 0.2,
        (t.deep_level_min_n - f.level_n) / 3.0,
        (t.vibration_hf_ratio_min - f.hf_ratio) / 0.02,
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
        self._glove_ids = [self.channels[k] for k in self._cols]
        self._buf = np.zeros((0, len(self._cols)))
        self._buf_start = 0          # session index of self._buf[0]
        self._next_start: int | None = None   # session index of the next window to emit

    def reset(self) -> None:
        self._buf = np.zeros((0, len(self._cols)))
        self._next_start = None

    def _first_window_at_or_after(self, index: int) -> int:
        return -(-index // self.hop) * self.hop

    def process(self, newtons: np.ndarray, first_index: int) -> list[WindowLabel]:
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
            self._buf_start = first_index
            self._next_start = self._first_window_at_or_after(first_index)
        self._buf = np.concatenate([self._buf, block[:, self._cols].astype(np.float64)])
        end = self._buf_start + len(self._buf)
        if self._next_start + self.window > end or not self._cols:
            self._trim()
            return []
        count = (end - self.window - self._next_start) // self.hop + 1
        offset = self._next_start - self._buf_start
        span = self._buf[offset:offset + (count - 1) * self.hop + self.window]
        windows = sliding_window_view(span, (self.window, span.shape[1]))[::self.hop, 0]
        labels = self.label_windows(windows)
        starts = self._next_start + self.hop * np.arange(count)
        out = [WindowLabel(int(s), int(s) + self.window, TECHNIQUES[k], float(c))
               for s, (k, c) in zip(starts, labels)]
        self._next_start += count * self.hop
        self._trim()
        return out

    def label_windows(self, windows: np.ndarray) -> list[tuple[int, float]]:
        """(technique index, confidence) of each window (n_windows, window, glove channels)."""
        out: list[tuple[int, float]] = []
        # In chunks: the spectra of thousands of windows at once would need gigabytes.
        for k in range(0, len(windows), _CHUNK_WINDOWS):
            feats = window_features(windows[k:k + _CHUNK_WINDOWS], self._glove_ids, self.rate_hz)
            label, conf = classify(feats, self.thresholds)
            out += zip(label.tolist(), conf.tolist())
        return out

    def features(self, windows: np.ndarray) -> WindowFeatures:
        return window_features(windows, self._glove_ids, self.rate_hz)

    def _trim(self) -> None:
        keep_from = max(self._next_start - self._buf_start, 0) if self._next_start is not None else 0
        if keep_from:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from


def recognize(newtons: np.ndarray, channels: Sequence[str], rate_hz: float) -> list[WindowLabel]:
    """All window labels of a whole recording at once (offline use, benchmarks)."""
    return TechniqueRecognizer(channels, rate_hz).process(newtons, 0)


# ------------------------------------------------------------------------------ phases

@dataclass(frozen=True)
class Phase:
    technique: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PhaseChange:
    technique: str          # the new technique ("none": the hand has left the back)
    start_s: float          # back-dated: where the new technique began
    confirmed_at_s: float   # session time at which the change was confirmed
    previous: str | None    # the technique before (None at the start of a session)


CONFIRM_S = 6.0             # a new technique must dominate this long to be believed
CONFIRM_FRACTION = 0.75     # ... in at least this share of the windows in that span
NONE_CONFIRM_S = 8.0        # the hand must be off the back this long to end a phase


class PhaseSmoother:
    """Window labels in, phase changes out; no flicker.

    The current technique changes to X when X holds at least CONFIRM_FRACTION of the windows
    of the last CONFIRM_S seconds (NONE_CONFIRM_S for "hand lifted", so repositioning lifts
    never split a phase). The new phase starts where its first window of that span is
    centred, less half a hop (the window was labelled X because X filled most of it); the old
    phase ends where its own last window was centred, plus half a hop.

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
            horizon = max(self.confirm_s, self.none_confirm_s)
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

    def finish(self, end_s: float) -> list[Phase]:
        """All phases of the session ("none" stretches are not phases); call once at the end."""
        phases = list(self._phases)
        if self._technique != "none" and self._started:
            phases.append(Phase(self._technique, self._start_s,
                                min(max(self._last_own_s + self._half_hop, self._start_s), end_s)))
        return phases
