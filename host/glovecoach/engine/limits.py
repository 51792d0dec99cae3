"""Which force limits apply, per glove sensor and sample, from the protocol's force windows.

Three pieces, each usable alone:

- `LimitTable`: the protocol's windows as vectors over the glove channels, per technique and
  purpose ("live" feedback, "scoring" for the report). inf / NaN mean no maximum / minimum.
  It answers "the limits of kneading", "the most lenient of stroking and kneading" and, in
  hindsight, "the scoring limits of every sample of a finished session".
- `LimitSchedule`: which technique's limits apply while the session streams in. The confirmed
  technique (the last real one during a "none" stretch), relaxed to the most lenient of every
  technique the windows of the last `RECENT_LABELS_S` showed, so a trainee moving from
  stroking to kneading is not told off for kneading force before the change is confirmed.
  Limits switch at the sample where a window label or a confirmation arrived, which makes
  the result independent of how samples are split into blocks.
- `ReturnGrace`: for a window's length after the hand comes back from a lift, the default
  ("*") limits if they are more lenient: the hand may be starting a different technique that
  no window label can show yet.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from glovecoach.engine.technique import WINDOW_S
from glovecoach.protocols import Protocol
from glovecoach.vocabulary.sensors import channels_in_region
from glovecoach.vocabulary.techniques import TECHNIQUES

KNUCKLE_CHANNELS = channels_in_region("knuckles")

RECENT_LABELS_S = WINDOW_S   # a window label keeps its technique's limits in play this long
# In the report, a phase boundary is known to within about a second (on the messy benchmark:
# median error 0.4 s, p90 1.3 s), so the more lenient of two phases applies within this much
# of it, not a window's length: an over-force 3-4 s into vibration (fingertips 12 N) was
# judged against the kneading before it (25 N) and missed.
BOUNDARY_LENIENCY_S = 2.0
LIFT_MIN_S = 0.3             # the hand off the back this long, then back: the technique may have changed

LimitRow = dict[str, np.ndarray]   # "live_min", "live_max", "scoring_min", "scoring_max" -> (glove,)


class LimitTable:
    """Per-technique live/scoring limit vectors over the glove channels (inf / NaN: no bound)."""

    def __init__(self, protocol: Protocol, glove: Sequence[str]) -> None:
        self.glove = tuple(glove)
        self.table: dict[str | None, LimitRow] = {}
        for tech in (None,) + tuple(TECHNIQUES):
            row = {}
            for purpose in ("live", "scoring"):
                lims = [protocol.force_limit(None if tech in (None, "none") else tech, c, purpose) for c in self.glove]
                row[f"{purpose}_min"] = np.array([np.nan if lo is None else lo for lo, _ in lims])
                row[f"{purpose}_max"] = np.array([np.inf if hi is None else hi for _, hi in lims])
            self.table[tech] = row
        self.knuckle_cols = np.array([k for k, c in enumerate(self.glove) if c in KNUCKLE_CHANNELS], dtype=int)
        self._cache: dict = {}
        self._idle_knuckles: dict = {}

    @property
    def default(self) -> LimitRow:
        """The protocol's "*" limits: no technique, or one the protocol does not name."""
        return self.table[None]

    def row(self, technique: str | None) -> LimitRow:
        """The limits of one technique (the default ones for an unknown technique)."""
        return self.table.get(technique, self.table[None])

    def effective(self, current: str | None, recent: frozenset = frozenset()) -> LimitRow:
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
                lowest = np.where(np.isnan(stack), np.inf, stack).min(axis=0)
                out[k] = np.where(np.isnan(stack).any(axis=0), np.nan, lowest)
        self._cache[key] = out
        return out

    def for_stretch(self, current: str | None, recent: frozenset, knuckles_working: bool) -> LimitRow:
        """The limits of a stretch. The knuckles' window (too light and too hard) is the fist's:
        it applies only while the knuckles are the working surface; idle knuckles resting on
        nothing are not "presses" and are judged by no minimum of their own."""
        eff = self.effective(current, recent)
        if knuckles_working or not len(self.knuckle_cols):
            return eff
        key = (current, recent)
        cached = self._idle_knuckles.get(key)
        if cached is None:
            cached = {k: v.copy() for k, v in eff.items()}
            for purpose in ("live", "scoring"):
                cached[f"{purpose}_min"][self.knuckle_cols] = np.nan
            self._idle_knuckles[key] = cached
        return cached

    def per_sample(self, stretches: Sequence[tuple], n: int) -> LimitRow:
        """(n, glove) limit arrays for a block tiled by `stretches` [(start, end, technique,
        recent techniques, knuckles working)]; a single stretch gives (1, glove) rows that
        broadcast over the block (the table's own: not to be written), several give new arrays."""
        rows = [self.for_stretch(cur, recent, fist) for _, _, cur, recent, fist in stretches]
        if len(stretches) == 1:
            return {k: v[None, :] for k, v in rows[0].items()}
        lengths = [b - a for a, b, *_ in stretches]
        return {k: np.repeat(np.stack([r[k] for r in rows]), lengths, axis=0) for k in rows[0]}

    def live_now(self, current: str | None, recent: frozenset) -> dict[str, tuple[float | None, float | None]]:
        """{glove channel: (min_n, max_n)} of the live limits; None where there is no bound."""
        eff = self.effective(current, recent)
        return {c: (None if math.isnan(eff["live_min"][i]) else float(eff["live_min"][i]),
                    None if math.isinf(eff["live_max"][i]) else float(eff["live_max"][i]))
                for i, c in enumerate(self.glove)}

    # ---------------------------------------------------------------------- in hindsight
    def phase_spans(self, phases: Sequence, rate_hz: float, margin_s: float = BOUNDARY_LENIENCY_S
                    ) -> list[tuple[int, int, LimitRow, str]]:
        """Sample ranges of finished phases, widened by `margin_s` on both sides, with their limits."""
        margin = int(round(margin_s * rate_hz))
        return [(int(round(p.start_s * rate_hz)) - margin, int(round(p.end_s * rate_hz)) + margin,
                 self.row(p.technique), p.technique) for p in phases]

    def hindsight(self, first: int, n: int, spans: Sequence[tuple[int, int, LimitRow, str]]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample scoring (max, min) over the glove channels for samples [first, first + n).

        Inside a span: that phase's limits; where spans overlap (a window's length around a
        boundary) the more lenient of them; outside every span the default limits."""
        g = len(self.glove)
        default = self.default
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


class LimitSchedule:
    """Which technique's limits apply, as window labels and confirmed changes stream in."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        self.current: str | None = None       # confirmed technique ("none" included)
        self.last_real: str | None = None     # last confirmed technique that was not "none"
        self.candidate: str | None = None     # latest window's technique
        self.knuckles_working = False         # the latest window's knuckles carried the load
        # Techniques of the windows that ended in the last RECENT_LABELS_S ("none" as None):
        # until they all agree with the confirmed phase, the most lenient of them applies.
        self._recent_labels: deque[tuple[int, str | None]] = deque()
        self.recent: frozenset = frozenset()
        self._recent_span = int(round(RECENT_LABELS_S * self.rate_hz))
        self._technique_at: list[tuple[int, str | None]] = [(0, None)]   # for labelling episodes

    @property
    def applied(self) -> str | None:
        """Technique whose limits apply: the confirmed one, or the last real one during a "none" phase."""
        if self.current not in (None, "none"):
            return self.current
        return self.last_real

    @property
    def confirmed(self) -> str | None:
        """The confirmed technique, None before any and during "none"."""
        return self.current if self.current not in (None, "none") else None

    def stretches(self, labels: Sequence, changes: Sequence, first: int, n: int,
                  on_change: Callable[[Any], None]) -> list[tuple[int, int, str | None, frozenset, bool]]:
        """Split a block [first, first + n) where the applied limits change.

        `labels`: the recogniser's window labels (technique, end_index, knuckles_working);
        `changes`: the smoother's confirmed changes (technique, start_s, confirmed_at_s).
        At one sample, labels come before confirmations. `on_change(change)` is called at
        each confirmation, in order, after the schedule has taken it in.
        Returns [(start, end) offsets in the block, applied technique, recent techniques,
        knuckles working], tiling the block.
        """
        marks: list[tuple[int, int, str, Any]] = []
        for lab in labels:
            marks.append((min(max(lab.end_index - first, 0), n), 0, "cand", lab))
        for ch in changes:
            off = min(max(int(round(ch.confirmed_at_s * self.rate_hz)) - first, 0), n)
            marks.append((off, 1, "conf", ch))
        marks.sort(key=lambda m: (m[0], m[1]))
        out: list[tuple[int, int, str | None, frozenset, bool]] = []
        pos = 0
        for off, _, kind, value in marks:
            if off > pos:
                out.append((pos, off, self.applied, self.recent, self.knuckles_working))
                pos = off
            if kind == "cand":
                self.candidate = value.technique
                self.knuckles_working = value.knuckles_working
                self._recent_labels.append((first + off, None if value.technique == "none" else value.technique))
                while self._recent_labels and self._recent_labels[0][0] <= first + off - self._recent_span:
                    self._recent_labels.popleft()
                self.recent = frozenset(t for _, t in self._recent_labels)
            else:
                self._confirm(value)
                on_change(value)
        if pos < n or not out:
            out.append((pos, n, self.applied, self.recent, self.knuckles_working))
        return out

    def _confirm(self, change) -> None:
        self.current = change.technique
        if change.technique != "none":
            self.last_real = change.technique
        self._technique_at.append((int(round(change.confirmed_at_s * self.rate_hz)), self.applied))

    def technique_for(self, index: int) -> str | None:
        """The technique whose limits applied at sample `index` (live, as confirmed then)."""
        tech = None
        for at, t in self._technique_at:
            if at <= index:
                tech = t
            else:
                break
        return tech


class ReturnGrace:
    """Default ("*") limits, if more lenient, for a window's length after the hand comes back.

    When the hand returns to the back after a lift of `LIFT_MIN_S` or more, it may be starting
    a different technique, and no window label can say so until a window has filled with it.
    The off-the-back run is carried across blocks, so any block size gives the same result.
    """

    def __init__(self, rate_hz: float, lift_min_s: float = LIFT_MIN_S, grace_s: float = WINDOW_S) -> None:
        self._off_run = 0                      # samples the hand has been off the back, at the last block's end
        self._was_off = True
        self._last_return = -(10 ** 12)
        self._lift_min = int(round(lift_min_s * rate_hz))
        self._grace_len = int(round(grace_s * rate_hz))

    def apply(self, lim: LimitRow, glove_on: np.ndarray, first: int, n: int, default: LimitRow) -> LimitRow:
        """`lim` with the grace windows of this block relaxed to `default` where it is more lenient."""
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
        # Grace comes in a few runs (one per return): they are relaxed as slices, not gathered
        # and scattered through a mask.
        edges = np.flatnonzero(np.diff(grace, prepend=False, append=False))
        runs = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
        out = {}
        for key, value in lim.items():
            # Rows already one per sample are this block's own (`LimitTable.per_sample` makes
            # them afresh) and are relaxed in place; shared rows (one for the whole block, the
            # table's cached ones) are spread into a new array first.
            rows = value if value.shape[0] == n and n > 1 else np.array(np.broadcast_to(value, (n, value.shape[1])))
            widen = key.endswith("_max")     # a maximum rises to the default's; a minimum is lifted
            for a, b in runs:
                if widen:
                    np.maximum(rows[a:b], default[key], out=rows[a:b])
                else:
                    rows[a:b] = np.nan
            out[key] = rows
        return out


__all__ = ["KNUCKLE_CHANNELS", "LIFT_MIN_S", "RECENT_LABELS_S", "LimitSchedule", "LimitTable", "ReturnGrace"]
