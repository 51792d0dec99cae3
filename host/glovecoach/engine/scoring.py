"""Statistics and score of a session, and the report's force episodes found in hindsight.

- `ForceStats` accumulates, per technique and glove sensor, contact time, mean and peak force
  (the report's `per_region`) and the share of in-contact samples within the scoring maxima.
- `session_score()` turns that share, the phases' timing and the number of violations into
  the 0-100 score, with the weights of the protocol's `[score]` section (`ScoreWeights`,
  docs/protocol-files.md says why each weight is what it is).
- `HindsightScorer` keeps the conditioned forces of the session and, at the end, when the
  phases are known, finds the over-force and too-light episodes against the scoring limits of
  the phase each sample lies in (live limits can only lag behind a change of technique).
- `spine_map()` and `during_fault()` finish the report's spine and fault bookkeeping.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from glovecoach.engine.detectors import ExcursionDetector, LightPressDetector
from glovecoach.engine.limits import LimitTable
from glovecoach.engine.protocol_check import judged_phases
from glovecoach.engine.report import ForceEpisode
from glovecoach.protocols import Protocol, ScoreWeights

CONTACT_N = 0.5              # a glove sensor touching the back, for per-region statistics
FAULT_LOOKBACK_S = 60.0      # a sensor fault is told at most this long after it began (docs/engine.md)


class ForceStats:
    """Per-technique force statistics over the glove sensors, accumulated block by block."""

    def __init__(self, glove: Sequence[str], rate_hz: float) -> None:
        self.glove = tuple(glove)
        self.rate_hz = float(rate_hz)
        self._stats: dict[str, dict[str, np.ndarray]] = {}
        self.contact_samples = 0     # (sample, sensor) pairs in contact with the back
        self.within_samples = 0      # of those, not saturated and within the scoring maximum

    def add(self, stretches: Sequence[tuple], xg: np.ndarray, sg: np.ndarray, scoring_max: np.ndarray,
            noise: np.ndarray) -> None:
        """A block of conditioned glove forces `xg` (n, glove), saturated `sg`, the scoring
        maxima in force (broadcastable to xg), each sensor's noise floor, and the stretches
        [(start, end, technique, ...)] that tile it."""
        if xg.shape[1] == 0:
            return
        # A sensor touches the back above CONTACT_N over its baseline and clear of its noise.
        contact = xg > np.maximum(CONTACT_N, 3.0 * noise)[None, :]
        smax = np.broadcast_to(scoring_max, xg.shape)
        within = contact & ~sg & (xg <= smax)
        self.contact_samples += int(contact.sum())
        self.within_samples += int(within.sum())
        # Per stretch by reduceat over the stretches' starts (they tile the block).
        starts = np.array([a for a, b, *_ in stretches if b > a], dtype=np.intp)
        keys = [cur or "none" for a, b, cur, *_ in stretches if b > a]
        if not len(starts):
            return
        n_in = np.add.reduceat(contact, starts, axis=0)
        sums = np.add.reduceat(np.where(contact, xg, 0.0), starts, axis=0)
        peaks = np.maximum.reduceat(np.where(sg, 0.0, xg), starts, axis=0)
        sats = np.logical_or.reduceat(sg, starts, axis=0)
        g = xg.shape[1]
        for k, key in enumerate(keys):
            st = self._stats.get(key)
            if st is None:
                st = self._stats[key] = {"n": np.zeros(g), "sum": np.zeros(g), "peak": np.zeros(g),
                                         "sat": np.zeros(g, dtype=bool)}
            st["n"] += n_in[k]
            st["sum"] += sums[k]
            np.maximum(st["peak"], peaks[k], out=st["peak"])
            st["sat"] |= sats[k]

    @property
    def within_pct(self) -> float:
        """Share of in-contact samples within the scoring maxima, in %; 100 with no contact."""
        return 100.0 * self.within_samples / self.contact_samples if self.contact_samples else 100.0

    def per_region(self) -> dict:
        """{sensor: {technique: {peak_n, saturated, mean_n, contact_s}}} for the report."""
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


def timing_pct(protocol: Protocol, judged: Sequence) -> float:
    """Share of the judged phases whose length is inside their technique's window (± tolerance), in %."""
    in_window = 0
    for p in judged:
        spec = next((s for s in protocol.phases if s.technique == p.technique), None)
        if spec and spec.min_s - spec.tolerance_s <= p.duration_s <= spec.max_s + spec.tolerance_s:
            in_window += 1
    return 100.0 * in_window / len(judged) if judged else 0.0


def weighted_total(weights: ScoreWeights, force_pct: float, timing: float, n_violations: int) -> float:
    """The 0-100 score before rounding: force and timing shares and the violations part
    (100 less `points_per_violation` each, floored at 0), weighted by `weights`."""
    return (weights.force * force_pct + weights.timing * timing
            + weights.violations * max(0.0, 100.0 - weights.points_per_violation * n_violations))


def session_score(protocol: Protocol, phases: Sequence, violations: Sequence, force_pct: float) -> dict:
    """The report's `score`: {total, graded, breakdown {force_within_window_pct, timing, violations}}."""
    merged = judged_phases(protocol, phases)
    if not merged:
        # Nothing was massaged: no grade at all (not a pass with a middling score).
        return {"total": 0, "breakdown": {"force_within_window_pct": None, "timing": None,
                                          "violations": len(violations)}, "graded": False}
    timing = timing_pct(protocol, merged)
    n_viol = len(violations)
    total = weighted_total(protocol.score, force_pct, timing, n_viol)
    return {"total": int(round(total)), "graded": True,
            "breakdown": {"force_within_window_pct": round(force_pct, 1), "timing": round(timing, 1),
                          "violations": n_viol}}


# The kept session is stored in runs of CHUNK_S to twice that (HindsightScorer). Making a run
# costs about 0.35 ms a hand for 2 s at 200 Hz (1.5 ms for 10 s); each scorer takes its own
# length in that range (`_run_lengths`), so that the 24 hands of a classroom started together
# do not all make theirs in the same pump (24 x 1.5 ms would be 36 ms at once, a quarter of the
# alert latency target). How a session is cut into runs changes nothing it is judged by.
CHUNK_S = 2.0
_run_lengths = itertools.count()


class _KeptRun:
    """A run of the kept session without a gap, stored exactly in as little memory as is cheap:
    the forces (n, glove) float32 and the hand-on level (n,) float32 deflated (zlib's fastest
    level: a sensor's conditioned forces take few distinct values, about half the bytes on
    simulated sessions, at about a millisecond per run); the saturated and pressing flags
    (n, glove) and the knuckles' working flag (n,) packed eight to a byte."""

    __slots__ = ("first", "n", "glove", "_force", "_level", "_sat", "_press", "_work")

    def __init__(self, first: int, force: np.ndarray, sat: np.ndarray, press: np.ndarray, work: np.ndarray,
                 level: np.ndarray | None) -> None:
        self.first = first
        self.n, self.glove = force.shape
        self._force = zlib.compress(np.ascontiguousarray(force, dtype=np.float32).tobytes(), 1)
        self._level = None if level is None else zlib.compress(np.ascontiguousarray(level, np.float32).tobytes(), 1)
        self._sat = np.packbits(sat, axis=1)
        self._press = np.packbits(press, axis=1)
        self._work = np.packbits(np.asarray(work).astype(bool))

    @property
    def force(self) -> np.ndarray:
        """(n, glove) float32, as kept (read-only)."""
        return np.frombuffer(zlib.decompress(self._force), np.float32).reshape(self.n, self.glove)

    @property
    def level(self) -> np.ndarray | None:
        return None if self._level is None else np.frombuffer(zlib.decompress(self._level), np.float32)

    def flags(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(saturated, pressing, working) as bool arrays again."""
        return (np.unpackbits(self._sat, axis=1, count=self.glove).view(bool),
                np.unpackbits(self._press, axis=1, count=self.glove).view(bool),
                np.unpackbits(self._work, count=self.n).view(bool))

    @property
    def nbytes(self) -> int:
        return (len(self._force) + (len(self._level) if self._level is not None else 0)
                + self._sat.nbytes + self._press.nbytes + self._work.nbytes)


class HindsightScorer:
    """Keeps what the scoring pass needs while the session streams in, and runs it at the end.

    Live, a change of technique is known only some seconds after it began, so live limits lag
    behind (and are relaxed while a change is unconfirmed). At the end the session's phases are
    known: each sample is judged against the scoring limits of the phase it lies in, and within
    a window's length of a phase boundary against the more lenient of the two phases; outside
    every phase, against the protocol's default limits. The knuckles' window applies only where
    they were the working surface.
    """

    def __init__(self, protocol: Protocol, limits: LimitTable, rate_hz: float) -> None:
        self.protocol = protocol
        self.limits = limits
        self.rate_hz = float(rate_hz)
        # The session so far in runs without a gap (see CHUNK_S), each a `_KeptRun`; the
        # blocks since the last run are `_pending` until they make one (a run is one set of
        # arrays, not one per block: at 10 blocks a second the arrays' own overhead was a
        # third of what was kept).
        self._runs: list[_KeptRun] = []
        self._pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_n = 0
        spread = (next(_run_lengths) * 0.618034) % 1.0      # golden-ratio steps fill [0, 1) evenly
        self._chunk = max(1, int(round(CHUNK_S * (1.0 + spread) * self.rate_hz)))

    def keep(self, first: int, xg: np.ndarray, sg: np.ndarray, pressing: np.ndarray, working: np.ndarray,
             hand_on_level: np.ndarray | None = None) -> None:
        """One block of conditioned glove forces (kept as float32: half the memory, and the
        scoring limits are whole newtons), saturated and pressing (n, glove), knuckles working
        (n,), and the level over which the hand was on the back (n,) or None."""
        if len(xg) == 0:
            return
        level = None if hand_on_level is None else np.asarray(hand_on_level, dtype=np.float32)
        if self._pending:
            last_first, last_x, *_, last_level = self._pending[-1]
            if first != last_first + len(last_x) or (level is None) != (last_level is None):
                self._seal()
        self._pending.append((first, xg.astype(np.float32), sg.copy(), pressing.copy(), np.array(working), level))
        self._pending_n += len(xg)
        if self._pending_n >= self._chunk:
            self._seal()

    def _seal(self) -> None:
        """The pending blocks as one run."""
        if not self._pending:
            return
        parts = list(zip(*self._pending))
        levels = parts[5]
        self._runs.append(_KeptRun(parts[0][0], np.concatenate(parts[1]), np.concatenate(parts[2]),
                                   np.concatenate(parts[3]), np.concatenate(parts[4]),
                                   None if levels[0] is None else np.concatenate(levels)))
        self._pending = []
        self._pending_n = 0

    @property
    def kept_bytes(self) -> int:
        """The bytes the kept session takes (the pending blocks' included)."""
        pending = sum(sum(a.nbytes for a in block[1:] if a is not None) for block in self._pending)
        return pending + sum(run.nbytes for run in self._runs)

    def stretches(self, a: int, b: int) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """The kept glove forces and hand-on levels over session indices [a, b), as
        (first index, forces, levels) of each run without a gap (copies)."""
        self._seal()
        out: list[tuple[int, list, list]] = []
        end: int | None = None
        for run in self._runs:
            first = run.first
            lo, hi = max(a, first), min(b, first + run.n)
            if lo >= hi:
                continue
            xg, level = run.force, run.level
            piece, lev = xg[lo - first:hi - first], None if level is None else level[lo - first:hi - first]
            if out and end == lo:
                out[-1][1].append(piece)
                out[-1][2].append(lev)
            else:
                out.append((lo, [piece], [lev]))
            end = hi
        return [(first, np.concatenate(xs), None if any(v is None for v in ls) else np.concatenate(ls))
                for first, xs, ls in out]

    def episodes(self, phases: Sequence, end: int, technique_for: Callable[[int], str | None]
                 ) -> tuple[list[ForceEpisode], list[ForceEpisode]]:
        """(over-force, too-light) episodes against the scoring limits of `phases` (the
        judged phases); `technique_for(index)` labels an episode outside every phase."""
        self._seal()
        if not self._runs:
            return [], []
        ff = self.protocol.force_feedback
        limits = self.limits
        g = len(limits.glove)
        rate = self.rate_hz
        over = ExcursionDetector(g, round(ff.min_duration_s("scoring") * rate))
        light = LightPressDetector(g, ff.press_contact_n, ff.light_presses_to_alert, round(ff.press_gap_s * rate))
        ratio = ff.release_ratio("scoring")
        spans = limits.phase_spans(phases, rate)
        knuckles = limits.knuckle_cols
        over_eps = []
        light_eps = []
        next_index: int | None = None
        for run in self._runs:
            first, xg, (sg, pressing, working) = run.first, run.force, run.flags()
            n = len(xg)
            if next_index is not None and first != next_index:
                over_eps += over.close_all(next_index)
                light_eps += light.close_all(next_index)
            next_index = first + n
            mx, mn = limits.hindsight(first, n, spans)
            if len(knuckles):
                mn[:, knuckles] = np.where(working[:, None], mn[:, knuckles], np.nan)
            over_eps += over.process(first, xg, mx, mx * ratio, sg)[1]
            watch = np.isfinite(mn).any(axis=0) | light.alerting_channels()
            light_eps += light.process(first, xg, mn, watch, pressing)[1]
        over_eps += over.close_all(end)
        light_eps += light.close_all(end)
        labelled = [(int(round(p.start_s * rate)), int(round(p.end_s * rate)), p.technique) for p in phases]

        def technique_at(index: int) -> str | None:
            return next((t for a, b, t in labelled if a <= index < b), technique_for(index))

        glove = limits.glove
        out_over = [ForceEpisode(glove[e.channel], e.start_index / rate, e.stop_index / rate,
                                 None if e.saturated else e.peak, e.saturated, technique_at(e.trigger_index),
                                 e.limit if math.isfinite(e.limit) else None) for e in over_eps]
        out_under = [ForceEpisode(glove[a.channel], a.start_index / rate, a.stop_index / rate, a.peak, False,
                                  technique_at(a.trigger_index), a.minimum) for a in light_eps]
        return out_over, out_under


def during_fault(health: dict, episode: ForceEpisode) -> bool:
    """An episode on a sensor found faulty around then is the fault's doing, not the hand's.
    The fault may have begun up to FAULT_LOOKBACK_S before it could be told."""
    for ep in (health.get(episode.channel) or {}).get("episodes", []):
        if ep["start_s"] - FAULT_LOOKBACK_S <= episode.end_s and episode.start_s <= ep["end_s"]:
            return True
    return False


def spine_map(tracker, segments: Sequence[str], contact_s: np.ndarray) -> dict:
    """{segment: {peak_n, saturated, baseline_n, contact_s}} from a SpineTracker (None: no strip)."""
    if tracker is None:
        return {}
    out = {}
    base = tracker.current_baseline()
    for i, seg in enumerate(segments):
        peak = tracker.peak_excess[i]
        out[seg] = {"peak_n": None if tracker.peak_saturated[i] or not np.isfinite(peak)
                    else round(float(max(peak, 0.0) + base[i]), 2),
                    "saturated": bool(tracker.peak_saturated[i]),
                    "baseline_n": round(float(base[i]), 2),
                    "contact_s": round(float(contact_s[i]), 2)}
    return out


__all__ = ["CONTACT_N", "FAULT_LOOKBACK_S", "ForceStats", "HindsightScorer", "during_fault", "session_score",
           "spine_map", "timing_pct", "weighted_total"]
