"""Streaming threshold detectors, vectorised over whole blocks of samples.

`ExcursionDetector` finds, per channel, stretches where a signal goes above a limit for at
least a minimum number of samples (debounce) and stays up until it falls below a lower release
level (hysteresis). The per-sample state machine is computed with cumulative numpy operations
(run lengths by `maximum.accumulate`, state by forward-filling the last trigger/release), so the
cost per block is a few array passes whatever its length; Python only loops over the
(rare) excursions that begin or end in the block.

`LightPressDetector` is the "too light" half of a force window, after CPR trainers' "4
consecutive faulty compressions": a press is a stretch above a contact level, it is light if its
peak stays under the window's minimum, and an alert begins after N light presses in a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def run_lengths(mask: np.ndarray, carried: np.ndarray) -> np.ndarray:
    """(n, ch): length of the run of True ending at each sample, runs carried over from the
    previous block (`carried`, per channel) continuing; 0 where mask is False."""
    n = mask.shape[0]
    idx = np.arange(n)[:, None]
    last_false = np.maximum.accumulate(np.where(mask, -1, idx), axis=0)
    run = np.where(last_false < 0, idx + 1 + carried[None, :], idx - last_false)
    return np.where(mask, run, 0)


@dataclass(frozen=True)
class Excursion:
    """One excursion on one channel; `end_index` is None while it is still going on."""

    channel: int
    start_index: int          # first sample of the above-limit run that triggered it
    trigger_index: int        # sample at which the debounce was satisfied (the alert time)
    end_index: int | None     # first sample below the release level (exclusive end)
    peak: float               # highest value of the signal (not meaningful if saturated)
    saturated: bool           # a saturated sample fell inside the excursion
    limit: float              # the limit in force when it triggered

    @property
    def stop_index(self) -> int:
        """End of a finished excursion (its trigger sample while it is still open)."""
        return self.end_index if self.end_index is not None else self.trigger_index


class ExcursionDetector:
    def __init__(self, n_channels: int, min_samples: int) -> None:
        self.n = n_channels
        self.min_samples = max(1, int(min_samples))
        self.reset()

    def reset(self) -> None:
        self.run_len = np.zeros(self.n, dtype=np.int64)           # above-limit run at the end of the last block
        self.run_peak = np.full(self.n, -np.inf)
        self.run_sat = np.zeros(self.n, dtype=bool)
        self.active = np.zeros(self.n, dtype=bool)
        self._open: dict[int, list] = {}   # channel -> [start, trigger, peak, saturated, limit]

    def open_excursions(self) -> list[Excursion]:
        return [Excursion(c, s, t, None, p, sat, lim) for c, (s, t, p, sat, lim) in self._open.items()]

    def close_all(self, at_index: int) -> list[Excursion]:
        """End every open excursion at `at_index` (a gap or the end of the session)."""
        ended = [Excursion(c, s, t, at_index, p, sat, lim) for c, (s, t, p, sat, lim) in sorted(self._open.items())]
        self.reset()
        return ended

    def process(self, first_index: int, x: np.ndarray, on_limit: np.ndarray | float, off_limit: np.ndarray | float,
                saturated: np.ndarray | None = None) -> tuple[list[Excursion], list[Excursion]]:
        """Feed a block. `x` (n, ch); limits broadcast against it (inf: no limit).

        A sample is above when x > on_limit, or when it is saturated and a limit exists (a
        saturated sensor carries at least its ceiling). It releases when x < off_limit and is
        not saturated. Returns (begun, ended) excursions; one that begins and ends inside the
        block is in both lists.
        """
        n = x.shape[0]
        if n == 0:
            return [], []
        above = x > on_limit
        if saturated is not None and saturated.any():   # (rare: skip the pass over the limits)
            above = above | (saturated & np.isfinite(on_limit))
        if not self._open and not above.any():
            # The common case: nothing going on and nothing starting. Skip the state machine.
            self.run_len[:] = 0
            return [], []
        below = x < off_limit
        if saturated is not None:
            below = below & ~saturated
        idx = np.arange(n)[:, None]
        run_len = run_lengths(above, self.run_len)
        trigger = above & (run_len >= self.min_samples)
        mark = np.where(trigger, 1, np.where(below, -1, 0))
        last_mark = np.maximum.accumulate(np.where(mark != 0, idx, -1), axis=0)
        cols = np.arange(self.n)[None, :]
        state = np.where(last_mark >= 0, mark[np.maximum(last_mark, 0), cols] == 1, self.active[None, :])

        prev = np.vstack([self.active[None, :], state[:-1]])
        rises = np.argwhere(state & ~prev)
        falls = np.argwhere(~state & prev)
        begun: list[Excursion] = []
        ended: list[Excursion] = []
        sat = saturated if saturated is not None else np.zeros_like(above)
        lim_full = np.broadcast_to(on_limit, x.shape)
        # Walk the (few) edges in time order per channel.
        edges = sorted([(int(i), int(c), 1) for i, c in rises] + [(int(i), int(c), 0) for i, c in falls],
                       key=lambda e: (e[1], e[0]))
        for i, c, rising in edges:
            if rising:
                rl = int(run_len[i, c])
                start = first_index + i - rl + 1
                lo = max(0, i - rl + 1)
                peak = float(x[lo:i + 1, c].max())
                s = bool(sat[lo:i + 1, c].any())
                if lo == 0 and self.run_len[c] > 0:       # the run began in an earlier block
                    peak = max(peak, float(self.run_peak[c]))
                    s = s or bool(self.run_sat[c])
                self._open[c] = [start, first_index + i, peak, s, float(lim_full[i, c])]
                begun.append(Excursion(c, start, first_index + i, None, peak, s, float(lim_full[i, c])))
            else:
                start, trig, peak, s, lim = self._open.pop(c)
                lo = max(0, trig - first_index)
                if i > lo:
                    peak = max(peak, float(x[lo:i, c].max()))
                    s = s or bool(sat[lo:i, c].any())
                ended.append(Excursion(c, start, trig, first_index + i, peak, s, lim))
        # Excursions still open: fold this block into their peak.
        for c, rec in self._open.items():
            lo = max(0, rec[1] - first_index)
            rec[2] = max(rec[2], float(x[lo:, c].max()))
            rec[3] = rec[3] or bool(sat[lo:, c].any())
        # Carry the trailing above-run (for debounce and for the peak of a run not yet triggered).
        tail = run_len[-1]
        for ch in np.nonzero((tail > 0) & (tail < n + self.run_len))[0]:
            lo = n - int(tail[ch])
            self.run_peak[ch] = float(x[lo:, ch].max())
            self.run_sat[ch] = bool(sat[lo:, ch].any())
        for ch in np.nonzero(tail >= n + self.run_len)[0]:   # run spans the whole block
            if self.run_len[ch] == 0:
                self.run_peak[ch], self.run_sat[ch] = -np.inf, False
            self.run_peak[ch] = max(float(self.run_peak[ch]), float(x[:, ch].max()))
            self.run_sat[ch] = bool(self.run_sat[ch]) or bool(sat[:, ch].any())
        self.run_len = np.asarray(tail, dtype=np.int64)
        self.active = state[-1].copy()
        return begun, ended


@dataclass(frozen=True)
class LightPressAlert:
    channel: int
    start_index: int          # start of the first light press of the series
    trigger_index: int        # end of the press that completed the series (alert time)
    end_index: int | None     # end of the first press that reached the minimum again
    peak: float               # strongest of the light presses
    minimum: float

    @property
    def stop_index(self) -> int:
        return self.end_index if self.end_index is not None else self.trigger_index


class LightPressDetector:
    """Alerts when `presses_to_alert` consecutive presses all peak below the window minimum."""

    def __init__(self, n_channels: int, contact_n: float, presses_to_alert: int, max_gap_samples: int) -> None:
        self.n = n_channels
        self.contact_n = contact_n
        self.presses_to_alert = presses_to_alert
        self.max_gap = max_gap_samples
        self.reset()

    def reset(self) -> None:
        self.in_press = np.zeros(self.n, dtype=bool)
        self.press_start = np.zeros(self.n, dtype=np.int64)
        self.press_peak = np.zeros(self.n)
        self.light_count = np.zeros(self.n, dtype=np.int64)
        self.series_start = np.zeros(self.n, dtype=np.int64)
        self.series_peak = np.zeros(self.n)
        self.last_press_end = np.full(self.n, -(10 ** 12), dtype=np.int64)
        self._open: dict[int, list] = {}   # channel -> [start, trigger, peak, minimum]

    def alerting_channels(self) -> np.ndarray:
        """(ch,) bool: channels whose too-light alert is open (a caller must keep watching them,
        even where no minimum applies any more, so that the alert can end)."""
        return np.array([c in self._open for c in range(self.n)], dtype=bool)

    def close_all(self, at_index: int) -> list[LightPressAlert]:
        ended = [LightPressAlert(c, s, t, at_index, p, m) for c, (s, t, p, m) in sorted(self._open.items())]
        self.reset()
        return ended

    def process(self, first_index: int, x: np.ndarray, minimum: np.ndarray, watch: np.ndarray,
                pressing: np.ndarray | None = None) -> tuple[list[LightPressAlert], list[LightPressAlert]]:
        """`minimum` (n, ch) or broadcastable: NaN where no minimum applies; `watch` (ch,) bool.

        `pressing` (n, ch) says where each sensor presses (decided upstream against its noise
        floor, with hysteresis and a minimum duration); without it a press is x > contact_n."""
        n = x.shape[0]
        begun: list[LightPressAlert] = []
        ended: list[LightPressAlert] = []
        if n == 0:
            return begun, ended
        minimum = np.broadcast_to(minimum, x.shape)
        cols = np.flatnonzero(watch | self.in_press & (self.light_count > 0))
        if cols.size == 0 and not self._open:
            # No window minimum anywhere: presses do not matter. Remember where they stand so
            # that a press already under way when a minimum appears is measured from here.
            now_pressing = pressing[-1] if pressing is not None else x[-1] > self.contact_n
            self.press_start = np.where(now_pressing & ~self.in_press, first_index, self.press_start)
            self.in_press = now_pressing
            return begun, ended
        if pressing is None:
            pressing = x > self.contact_n
        sub = pressing[:, cols]
        prev = np.vstack([self.in_press[None, cols], sub[:-1]])
        starts = np.argwhere(sub & ~prev)
        stops = np.argwhere(~sub & prev)
        edges = sorted([(int(cols[c]), int(i), 1) for i, c in starts] + [(int(cols[c]), int(i), 0) for i, c in stops])
        for c, i, is_start in edges:
            if is_start:
                self.press_start[c] = first_index + i
                self.press_peak[c] = 0.0
                if first_index + i - self.last_press_end[c] > self.max_gap:
                    self._end_series(c, first_index + i, ended)
                continue
            lo = max(0, int(self.press_start[c]) - first_index)
            peak = max(float(self.press_peak[c]), float(x[lo:i, c].max()) if i > lo else 0.0)
            limit = float(minimum[max(i - 1, 0), c]) if watch[c] else float("nan")
            self._press_done(c, int(self.press_start[c]), first_index + i, peak, limit, begun, ended)
        # Presses still going on at the end of the block: carry their peak.
        for c in cols[pressing[-1, cols]]:
            lo = int(self.press_start[c]) - first_index
            carried = float(self.press_peak[c]) if lo < 0 else 0.0
            self.press_peak[c] = max(carried, float(x[max(lo, 0):, c].max()))
        others = np.ones(self.n, dtype=bool)
        others[cols] = False
        self.press_start = np.where(others & pressing[-1] & ~self.in_press, first_index, self.press_start)
        self.in_press = pressing[-1].copy()
        return begun, ended

    def _press_done(self, c: int, start: int, end: int, peak: float, minimum: float,
                    begun: list[LightPressAlert], ended: list[LightPressAlert]) -> None:
        self.last_press_end[c] = end
        if not np.isfinite(minimum):
            self._end_series(c, end, ended)
            return
        if peak >= minimum:
            self._end_series(c, end, ended)
            return
        if self.light_count[c] == 0:
            self.series_start[c] = start
            self.series_peak[c] = 0.0
        self.light_count[c] += 1
        self.series_peak[c] = max(self.series_peak[c], peak)
        if c in self._open:
            self._open[c][2] = max(self._open[c][2], peak)
        elif self.light_count[c] >= self.presses_to_alert:
            series_start, series_peak = int(self.series_start[c]), float(self.series_peak[c])
            self._open[c] = [series_start, end, series_peak, minimum]
            begun.append(LightPressAlert(c, series_start, end, None, series_peak, minimum))

    def _end_series(self, c: int, at_index: int, ended: list[LightPressAlert]) -> None:
        self.light_count[c] = 0
        if c in self._open:
            s, t, p, m = self._open.pop(c)
            ended.append(LightPressAlert(c, s, t, at_index, p, m))
