"""Channel health: is each sensor giving readings the coaching can trust?

A sensor can fail in ways that look like force (a shorted FSR reads full scale, a stuck
multiplexer input repeats one value) or like no force (a broken lead reads nothing, a loose
one drops out now and then). `SensorHealthMonitor` watches every channel for five faults and
says, in plain words, which sensor to check:

dead          no signal while the sensors next to it on the hand (its region in the sensor map;
              adjacent segments on the spine strip) are loaded and moving: flat with no noise
              at all near 0 N, or, for a glove sensor, flat (within STUCK_COUNTS ADC steps) at
              any resting level below STUCK_MIN_N once the glove has shown that its sensors
              are noisy at rest (with the hand off the back, every glove sensor but one
              under OFF_BACK_N, the median over the glove of each sensor's own noise, not
              shared with the others, at least GLOVE_NOISE_N: in most such chunks and in
              GLOVE_NOISE_S of them, among the first GLOVE_NOISE_JUDGED_S of such chunks).
              A broken lead can leave the divider at any constant level, so a dead sensor
              may read a steady resting offset rather than 0 N. A healthy idle sensor also
              reads its resting level for minutes (the knuckles while the palm strokes), so
              flatness alone proves nothing; flatness while the neighbours work does, where a
              live sensor could not be flat: near 0 N a live sensor reads exactly 0 N only
              when its readings are clipped there, and above that a live sensor on a noisy
              glove never holds one value for a whole chunk. On a glove with no
              noise at all every idle sensor reads exactly its offset, as a dead one does, and
              a sensor flat at an offset is not called dead. A lead that reads open for
              DEAD_OPEN_S in a row is dead whatever the neighbours do: a healthy sensor's bias
              resistor keeps it well above the open level.
intermittent  repeated dropouts: the reading falls from a load to 0 N (or open) in one sample,
              stays there DROPOUT_MIN_S..DROPOUT_MAX_S and jumps back, while the neighbours
              stay loaded (a lift or the gaps between percussion hits release every sensor
              together, and never in one sample from a load). DROPOUTS_TO_FLAG within
              DROPOUT_WINDOW_S.
stuck         the value stays within STUCK_COUNTS ADC steps (nominal curve of the sensor map)
              for STUCK_S of neighbour activity (for a glove sensor: of any other glove
              sensors' activity), at a level above STUCK_MIN_N. Real sensors
              and the ADC always show some noise; a held hand still moves by more than that.
saturated     pinned at the top of the range: at least 90 % of every chunk for SATURATED_S in a
              row, or SATURATED_SHARE of the last minute. A hard press that touches the
              ceiling for a moment is a force event for the force detectors, not a fault.
noisy         the noise floor at rest (robust: medians of three |second differences|) above
              NOISY_ABS_N (NOISY_FLOOR_N when the other channels at rest are quiet), judged
              only where the channel is at rest (low level), and only when its fast variation
              does not come at the same moments as another sensor's: the hits of percussion
              or the shaking of vibration reach lightly loaded sensors too, noise does not.
              NOISY_S of such chunks within NOISY_WINDOW_S, most of its noisy chunks alone.
              Once told, it stays noisy until it shows clean rest: RECOVER_S of quiet chunks at
              rest, above 0 N (a reading clipped at 0 N hides half its noise), none of them
              within NOISY_WINDOW_S of a chunk noisy on its own, which starts the count again.
              Under load its noise is not judged, so a load never clears it.

How the work is done: samples are grouped into CHUNK_S chunks aligned to the session's sample
index (like glovecoach.engine.spine), so results do not depend on how the session is split
into blocks. Every statistic is computed for all complete chunks of a block at once, on at
most POINTS_PER_CHUNK evenly spaced samples of each chunk laid out (points, chunks x channels)
so the reductions run down long contiguous rows; each fault is then a latch over the chunk sequence,
computed with cumulative operations: it turns on after `on` chunks of bad evidence with no
good evidence in between (chunks that say nothing, such as a flat sensor while its neighbours
are idle too, neither count nor reset), and off after `off` chunks of good evidence (the time
hysteresis that keeps states from flickering). Python loops only over state changes and over
the rare sample positions where a loaded channel drops to 0 N in one sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.calibration.fsr_model import FsrParams, force_to_raw, raw_to_force
from glovecoach.vocabulary.sensors import SensorMap, load_sensor_map, sensor_name

HEALTH_STATES = ("ok", "dead", "intermittent", "stuck", "saturated", "noisy")
# When several faults hold at once, the first of these is the one reported.
_PRIORITY = ("dead", "stuck", "saturated", "intermittent", "noisy")
# The latches whose evidence tells each fault (for its onset).
_LATCHES_OF = {"dead": ("dead_flat", "dead_open"), "stuck": ("stuck", "stuck_alone"),
               "saturated": ("saturated",), "intermittent": ("intermittent",), "noisy": ("noisy",)}
_SEVERITY = {s: k for k, s in enumerate(("ok", "noisy", "intermittent", "saturated", "stuck", "dead"))}

CHUNK_S = 0.5               # evidence is gathered per half-second chunk on the sample-index grid
MIN_RATE_HZ = 10.0          # below this a chunk holds too few samples to judge noise or flatness

ZERO_LEVEL_N = 0.05         # below this a flat channel reads "nothing" (dead), above it "stuck"
FLAT_EXACT_N = 1e-6         # "no noise at all": float32 readings of one ADC count are identical
GLOVE_NOISE_N = 0.01        # a glove's sensors are noisy at rest when their noise (median over the
                            # glove) is this much (RMS; ~10 ADC steps at rest levels)...
GLOVE_NOISE_S = 2.0         # ...in this long of chunks with the hand off the back, and in most of them
GLOVE_NOISE_JUDGED_S = 60.0  # ...judged on the first this long of chunks with the hand off the back
OFF_BACK_N = 2.0            # the hand is off the back: every glove sensor but one under this
STUCK_ALONE_S = 8.0         # flat at a load while every other sensor is idle this long: stuck
STUCK_MIN_N = 0.6           # stuck means stuck at a load: above any resting offset (up to 0.5 N)
STUCK_COUNTS = 2.0          # "within ADC quantisation": this many steps of the nominal curve
ACTIVE_N = 0.5              # a glove neighbour is working: mean over the chunk above this...
SPINE_ACTIVE_N = 0.05       # ...a spine neighbour: it carries the partner's load (and shows noise)
MIN_WORKING_NEIGHBOURS = 2  # (or all of them when a sensor has fewer neighbours)
DEAD_S = 20.0               # flat while the neighbours work this long: dead
DEAD_OPEN_S = 3.0           # reading open this long in a row: dead (a dropout is <= 0.5 s)
STUCK_S = 20.0              # flat above 0 N while the neighbours work this long: stuck
SATURATED_S = 5.0           # pinned at the ceiling this long in a row: saturated
SATURATED_CHUNK_SHARE = 0.9  # a chunk counts as pinned when this share of it is saturated
SATURATED_SHARE = 0.5       # ...or this share of the last minute was saturated
SATURATED_WINDOW_S = 60.0
DROP_N = 0.02               # a dropout reads 0 N within this (or open); a negative reading is noise
LOADED_N = 1.0              # the channel was loaded just before the drop and just after it
DROP_ABOVE_NOISE = 4.0      # ...and this many times its noise floor
NEIGHBOUR_LOADED_N = 1.0    # and a neighbour held a load when it went and when it came back
DROPOUT_MIN_S = 0.04        # dropouts last 50-500 ms; a little margin either side
DROPOUT_MAX_S = 0.6
DROPOUTS_TO_FLAG = 3
DROPOUT_WINDOW_S = 60.0
REST_N = 1.5                # a chunk whose mean is under this is "at rest" for the noise estimate
POINTS_PER_CHUNK = 33       # chunk statistics use at most this many evenly spaced samples
NOISY_ABS_N = 0.5           # RMS noise at rest above this is a fault (0.3 N RMS is normal, issue 9)...
NOISY_REL = 4.0             # ...lowered to this many times the median of the channels at rest...
NOISY_FLOOR_N = 0.45        # ...but never below this
NOISY_S = 8.0               # noisy and alone at rest this long (in chunks)...
NOISY_WINDOW_S = 20.0       # ...within this long...
NOISY_MAJORITY = 0.7        # ...and in most of the chunks where it was noisy
NOISY_SHARED = 0.65         # and its fast variation not shared with the others (see _coincidence)
NOISY_CLEAR = 0.6           # a rest chunk under this share of the threshold counts as healthy
RECOVER_S = 10.0            # healthy evidence this long before a channel is "ok" again

# Sensors next to each other on the hand whose regions hold only that one sensor.
_EXTRA_NEIGHBOURS = {"hand_edge": ("hypothenar", "little_tip", "palm_heel")}
_REGION_WORDS = {
    "fingertips": "the other fingertips press", "palm": "the rest of the palm presses",
    "knuckles": "the other knuckles press", "spine": "the neighbouring spine segments read the back",
}
# Mean of the median of three |second differences| of white noise, in units of its RMS.
_MEDIAN3_ABS_DIFF = 1.7933


@dataclass(frozen=True)
class HealthChange:
    channel: str          # channel id, e.g. "index_tip" or "spine_4"
    state: str            # new state (one of HEALTH_STATES)
    previous: str
    at_s: float           # session time (sample index / rate) when it was decided
    message: str          # which sensor to check and what to do, for a trainee or instructor

    def to_dict(self) -> dict:
        return {"channel": self.channel, "state": self.state, "previous": self.previous,
                "at_s": self.at_s, "message": self.message}


class _Latch:
    """Per-channel on/off decision over a sequence of chunks with bad/good/neutral evidence."""

    def __init__(self, n: int, on_chunks: np.ndarray, off_chunks: np.ndarray) -> None:
        self.on = np.maximum(1, np.asarray(on_chunks, dtype=np.int64))     # per column
        self.off = np.maximum(1, np.asarray(off_chunks, dtype=np.int64))
        self.bad_run = np.zeros(n, dtype=np.int32)    # bad chunks since the last good one
        self.good_run = np.zeros(n, dtype=np.int32)   # good chunks since the last bad one
        self.active = np.zeros(n, dtype=bool)

    def run(self, bad: np.ndarray, good: np.ndarray, hold: np.ndarray | None = None) -> np.ndarray:
        """(K, ch) evidence (bad and good never both) -> (K, ch) latch state after each chunk.

        `hold` (K, ch): chunks that are not bad enough to turn a latch on but show the fault is
        still there; they restart the count of healthy chunks an active latch needs to turn off.
        """
        k = bad.shape[0]
        state = np.zeros(bad.shape, dtype=bool)
        # Most columns are off and see no bad evidence: they stay off, and only their run
        # counts move. The full computation is for the others.
        busy = bad.any(axis=0) | self.active
        quiet = ~busy
        if quiet.any():
            any_good = good[:, quiet].any(axis=0)
            self.bad_run[quiet] = np.where(any_good, 0, self.bad_run[quiet])
            # (`hold` is left out here: an off latch needs its count of healthy chunks only
            # once it is on, and the bad chunk that turns it on restarts that count.)
            self.good_run[quiet] += np.count_nonzero(good[:, quiet], axis=0).astype(np.int32)
        cols = np.flatnonzero(busy)
        if not len(cols):
            return state
        # Work channel-major (ch, K): running sums and maxima along the contiguous axis are
        # several times faster than down the columns, and int32 halves the memory traffic.
        bad_t = np.ascontiguousarray(bad[:, cols].T)
        good_t = np.ascontiguousarray(good[:, cols].T)
        bad_run = self._runs(bad_t, good_t, self.bad_run[cols])
        stop = bad_t if hold is None else bad_t | np.ascontiguousarray(hold[:, cols].T)
        good_run = self._runs(good_t, stop, self.good_run[cols])
        # Forward-fill the last decision: 2 * chunk + 1 for "on", 2 * chunk for "off", -1 none;
        # the running maximum is then the latest decision (no fancy indexing needed).
        idx2 = 2 * np.arange(k, dtype=np.int32)[None, :]
        code = np.where(bad_t & (bad_run >= self.on[cols, None]), idx2 + 1,
                        np.where(good_t & (good_run >= self.off[cols, None]), idx2, -1))
        last = np.maximum.accumulate(code, axis=1)
        sub = np.where(last >= 0, (last & 1).astype(bool), self.active[cols, None])
        self.bad_run[cols], self.good_run[cols], self.active[cols] = bad_run[:, -1], good_run[:, -1], sub[:, -1]
        state[:, cols] = sub.T
        return state

    @staticmethod
    def _runs(hit: np.ndarray, reset: np.ndarray, carry: np.ndarray) -> np.ndarray:
        """Hits since the last reset, along axis 1 (carry: the count before this batch)."""
        count = np.cumsum(hit, axis=1, dtype=np.int32)
        # The count never decreases, so its value at the latest reset is the running maximum
        # of its values at resets.
        at_reset = np.maximum.accumulate(np.where(reset, count, -1), axis=1)
        return np.where(at_reset >= 0, count - at_reset, carry[:, None] + count)


class _Window:
    """Trailing sums of a per-chunk count over the last `length` chunks, streamed."""

    def __init__(self, n: int, length: int) -> None:
        self.length = max(1, int(length))
        self.history = np.zeros((self.length - 1, n), dtype=np.int64)

    def run(self, counts: np.ndarray) -> np.ndarray:
        full = np.concatenate([self.history, counts.astype(np.int64)])
        csum = np.concatenate([np.zeros((1, full.shape[1]), np.int64), np.cumsum(full, axis=0)])
        h = self.history.shape[0]
        end = np.arange(h + 1, h + 1 + counts.shape[0])
        sums = csum[end] - csum[end - self.length]
        self.history = full[full.shape[0] - h:] if h else full[:0]
        return sums


class SensorHealthMonitor:
    """Streaming health judge over all channels; see the module docstring for the rules."""

    def __init__(self, channels: Sequence[str], rate_hz: float, sensor_map: SensorMap | None = None) -> None:
        self.channels = tuple(channels)
        if not self.channels:
            raise ValueError("SensorHealthMonitor needs at least one channel")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"duplicate channel ids in {self.channels}")
        rate = float(rate_hz)
        if not math.isfinite(rate) or rate < MIN_RATE_HZ:
            raise ValueError(f"SensorHealthMonitor needs a sample rate of at least {MIN_RATE_HZ:g} Hz, got {rate_hz!r}")
        self.rate_hz = rate
        smap = sensor_map or load_sensor_map()
        n = len(self.channels)
        self.n = n
        self.chunk = max(4, int(round(CHUNK_S * rate)))
        self._stride = max(1, math.ceil(self.chunk / POINTS_PER_CHUNK))
        self._points = len(range(0, self.chunk, self._stride))   # samples per chunk in the statistics

        known = {c.id: c for c in smap.channels}
        regions = [known[c].region if c in known else None for c in self.channels]
        self._regions = regions
        self._is_spine = np.array([c in known and known[c].is_spine for c in self.channels], dtype=bool)
        self._is_glove = np.array([c in known and not known[c].is_spine for c in self.channels], dtype=bool)
        self._adj = self._neighbours(regions, known)            # adj[j, c]: j is a neighbour of c
        self._adj_f = self._adj.astype(np.float32)              # for counting by matrix product
        n_nb = self._adj.sum(axis=0)
        self._need = np.where(n_nb > 0, np.minimum(n_nb, MIN_WORKING_NEIGHBOURS), 10 ** 6)
        self._active_n = np.where(self._is_spine, SPINE_ACTIVE_N, ACTIVE_N)
        # Nominal transfer curve per channel, for the size of one ADC step at a given force.
        self._has_curve = np.array([c in known for c in self.channels], dtype=bool)
        ps = [known[c] for c in self.channels if c in known]
        self._curve = FsrParams(
            divider_ohm=np.array([float(c.divider_ohm) for c in ps]),  # type: ignore[arg-type]
            bias_ohm=np.array([float(c.bias_ohm) for c in ps]),  # type: ignore[arg-type]
            adc_max=smap.adc_max) if ps else None
        self._curve_col = np.cumsum(self._has_curve) - 1

        # One latch per fault and channel, side by side in one array (one pass for all).
        # Seconds of evidence to turn on and off, in chunks; dropouts are already counted over
        # a minute, so that latch follows the count directly.
        timing = {"dead_flat": (DEAD_S, RECOVER_S), "dead_open": (DEAD_OPEN_S, RECOVER_S),
                  "stuck": (STUCK_S, RECOVER_S), "stuck_alone": (STUCK_ALONE_S, RECOVER_S),
                  "saturated": (SATURATED_S, RECOVER_S),
                  "intermittent": (CHUNK_S, CHUNK_S), "noisy": (CHUNK_S, RECOVER_S)}
        self._latch_names = tuple(timing)
        on = np.repeat([round(a / CHUNK_S) for a, _ in timing.values()], n)
        off = np.repeat([round(b / CHUNK_S) for _, b in timing.values()], n)
        self._latches = _Latch(n * len(timing), on, off)
        self._sat_window = _Window(n, round(SATURATED_WINDOW_S / CHUNK_S))
        self._drop_window = _Window(n, round(DROPOUT_WINDOW_S / CHUNK_S))
        self._alone_window = _Window(n, round(NOISY_WINDOW_S / CHUNK_S))
        self._noisy_window = _Window(n, round(NOISY_WINDOW_S / CHUNK_S))
        self._drop_min = max(1, int(round(DROPOUT_MIN_S * rate)))
        self._drop_max = max(self._drop_min, int(round(DROPOUT_MAX_S * rate)))

        # Streaming position: the incomplete chunk at the end of the last block.
        self._next_index: int | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_n = 0
        self._pending_start = 0
        # Dropout tracking at sample level, carried across blocks. NaN: no previous sample
        # (start, or after a gap), which is neither loaded nor reading nothing.
        self._x_last = np.full(n, np.nan)
        self._open_last = np.zeros(n, dtype=bool)
        self._prev_nothing = np.zeros(n, dtype=bool)    # the last chunk: some reading of nothing...
        self._prev_loaded = np.zeros(n, dtype=bool)     # ...and some load
        self._prev_nb = np.zeros(n, dtype=bool)         # ...and a loaded neighbour
        self._drop_start = np.full(n, -1, dtype=np.int64)  # start of a dropout candidate still reading nothing

        self._state = np.zeros(n, dtype=np.int64)       # index into HEALTH_STATES
        self._end_index = 0
        self._episodes: list[list] = []   # [channel, state, start_s, end_s or None, message, onset_s]
        # Per latch column: the sample index where the latest chunk of healthy evidence ended
        # (-1: none yet). A fault that latches on most likely began there (`fault_spans`).
        self._last_good = np.full(n * len(timing), -1, dtype=np.int64)
        self._first_index: int | None = None
        self._open_episode: dict[int, int] = {}         # channel -> index in _episodes
        self._worst = np.zeros(n, dtype=np.int64)       # worst severity seen
        self._worst_msg: dict[int, str] = {}
        # Evidence kept for the messages and the summary.
        self._rest_chunks = np.zeros(n, dtype=np.int64)
        self._rest_var_sum = np.zeros(n)
        self._rest_mean_sum = np.zeros(n)
        # Chunks with the hand off the back in which the glove's sensors showed noise, and in
        # which they did not (whether a glove sensor flat at a resting offset can be dead).
        self._off_noisy = 0
        self._off_quiet = 0

    # ------------------------------------------------------------------ set-up
    def _neighbours(self, regions: list[str | None], known: dict) -> np.ndarray:
        n = len(self.channels)
        adj = np.zeros((n, n), dtype=bool)
        pos = {c: i for i, c in enumerate(self.channels)}
        for i, (ch, reg) in enumerate(zip(self.channels, regions)):
            if reg is None:
                continue
            if reg == "spine":
                # The spine strip is a line: the segments on either side, two deep (so one
                # faulty neighbour does not hide a dead segment).
                order = [c for c, r in zip(self.channels, regions) if r == "spine"]
                k = order.index(ch)
                for other in order[max(0, k - 2):k] + order[k + 1:k + 3]:
                    adj[pos[other], i] = True
                continue
            for j, r in enumerate(regions):
                if j != i and r == reg:
                    adj[j, i] = True
            for other in _EXTRA_NEIGHBOURS.get(ch, ()):
                if other in pos:
                    adj[pos[other], i] = True
        return adj

    # ------------------------------------------------------------------ streaming
    def process(self, first_index: int, newtons: np.ndarray, saturated: np.ndarray, open_: np.ndarray
                ) -> list[HealthChange]:
        """Feed a block of calibrated readings (not baseline-subtracted); returns state changes."""
        x = np.asarray(newtons)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"newtons must be (samples, {self.n}) for channels {', '.join(self.channels)}; "
                             f"got shape {x.shape}")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        sat = np.asarray(saturated, dtype=bool)
        opn = np.asarray(open_, dtype=bool)
        if sat.shape != x.shape or opn.shape != x.shape:
            raise ValueError(f"saturated {sat.shape} and open {opn.shape} masks must match newtons {x.shape}")
        first = int(first_index)
        if x.size and not np.isfinite(np.add.reduce(x, axis=None)):
            row, col = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(f"channel {self.channels[col]}: a reading that is not a number (NaN or infinite) "
                             f"at sample {first + int(row)}")
        changes: list[HealthChange] = []
        if self._next_index is not None and first < self._next_index:
            raise ValueError(f"block starts at sample {first}, before the next expected sample {self._next_index}")
        if self._next_index is not None and first > self._next_index:
            self.gap(self._next_index, first - self._next_index)
        n = x.shape[0]
        if n == 0:
            return changes
        self._next_index = first + n
        self._end_index = first + n
        if self._first_index is None:
            self._first_index = first

        parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []   # (first index, x, sat, open)
        pos = 0
        if self._pending_n:
            take = min(self.chunk - self._pending_n, n)
            # Copies: a live caller may reuse its buffer before the chunk is complete.
            self._pending.append((x[:take].copy(), sat[:take].copy(), opn[:take].copy()))
            self._pending_n += take
            pos = take
            if self._pending_n == self.chunk:
                parts.append((self._pending_start, *(np.concatenate(a) for a in zip(*self._pending))))
                self._pending, self._pending_n = [], 0
        elif first % self.chunk:
            # A chunk that began before this stream (or before a gap): not all of it was seen, skip it.
            pos = min(n, self.chunk - first % self.chunk)
        k = (n - pos) // self.chunk
        if k:
            end = pos + k * self.chunk
            parts.append((first + pos, x[pos:end], sat[pos:end], opn[pos:end]))
            pos = end
        if pos < n:
            self._pending = [(x[pos:].copy(), sat[pos:].copy(), opn[pos:].copy())]
            self._pending_n = n - pos
            self._pending_start = first + pos
        if not parts:
            return changes

        stats = [self._chunk_stats(*p[1:]) for p in parts]
        drops = np.concatenate([self._dropouts(p[0], p[1], p[3], sp) for p, sp in zip(parts, stats)])
        st = stats[0] if len(stats) == 1 else \
            {key: np.concatenate([s[key] for s in stats], axis=1 if key == "d2" else 0) for key in stats[0]}
        chunk_ends = np.concatenate([p[0] + self.chunk * np.arange(1, p[1].shape[0] // self.chunk + 1)
                                     for p in parts])
        changes += self._judge(st, drops, chunk_ends)
        return changes

    def gap(self, first_index: int, n_samples: int) -> None:
        """Samples [first_index, first_index + n_samples) will never arrive."""
        if n_samples <= 0:
            return
        # The chunk the gap cuts into is dropped, and no dropout run spans the gap.
        self._pending, self._pending_n = [], 0
        self._x_last[:] = np.nan
        self._open_last[:] = False
        self._prev_nothing[:] = False
        self._prev_loaded[:] = False
        self._prev_nb[:] = False
        self._drop_start[:] = -1
        self._next_index = max(self._next_index or 0, first_index + n_samples)
        self._end_index = max(self._end_index, first_index + n_samples)

    # ------------------------------------------------------------------ chunk statistics
    def _chunk_stats(self, x: np.ndarray, sat: np.ndarray, opn: np.ndarray) -> dict[str, np.ndarray]:
        """Level, spread, open/saturated shares and noise per chunk, from an even subsample.

        The statistics are taken on at most POINTS_PER_CHUNK evenly spaced samples of each
        chunk (all of them at 50 Hz, every 4th at 200 Hz, every 16th at 1000 Hz): enough to
        see a level, flatness, a pinned or open sensor and the noise, at a cost that does not
        grow with the sample rate. Dropouts, which need every sample, are found separately.
        """
        k = x.shape[0] // self.chunk
        step = self._stride
        # Points-major layout (points, chunks * channels): every statistic below is then a
        # reduction down long contiguous rows, several times faster than across 20 channels.
        xs = np.ascontiguousarray(x.reshape(k, self.chunk, self.n)[:, ::step, :].transpose(1, 0, 2))
        xs = xs.reshape(xs.shape[0], k * self.n)
        shape = (k, self.n)
        mean = (np.add.reduce(xs, axis=0) / xs.shape[0]).astype(np.float64).reshape(shape)
        lo = xs.min(axis=0).astype(np.float64).reshape(shape)
        hi = xs.max(axis=0).astype(np.float64).reshape(shape)
        # Open and saturated readings are rare: skip the counting when a block has none.
        n_open = np.count_nonzero(opn.reshape(k, self.chunk, self.n)[:, ::step, :], axis=1) \
            if opn.any() else np.zeros(shape, dtype=np.intp)
        n_sat = np.count_nonzero(sat.reshape(k, self.chunk, self.n)[:, ::step, :], axis=1) \
            if sat.any() else np.zeros(shape, dtype=np.intp)
        # Noise: second differences (blind to a steady slope, so slow real movement such as
        # rubbing barely shows), the median of three taken a third of the chunk apart, averaged.
        # Robust to an impact or a step (it spoils at most one value of each three) and needs
        # no sort. For white noise of RMS sigma the mean is 1.793 sigma.
        d = np.abs(xs[2:] - 2.0 * xs[1:-1] + xs[:-2])
        g = d.shape[0] // 3
        a, b, c = d[:g], d[g:2 * g], d[2 * g:3 * g]
        med3 = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
        sigma = (np.add.reduce(med3, axis=0) / (g * _MEDIAN3_ABS_DIFF)).astype(np.float64).reshape(shape)
        return {"mean": mean, "lo": lo, "hi": hi, "n_open": n_open, "n_sat": n_sat, "sigma": sigma,
                "d2": d.reshape(d.shape[0], k, self.n)}

    def _adc_step(self, level: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Newtons per ADC count of the nominal curve at `level` on channels `cols` (NaN: unknown)."""
        out = np.full(level.shape, np.nan)
        has = self._has_curve[cols]
        if self._curve is None or not has.any():
            return out
        cc = self._curve_col[cols[has]]
        p = FsrParams(divider_ohm=self._curve.divider_ohm[cc], bias_ohm=self._curve.bias_ohm[cc],  # type: ignore[index]
                      adc_max=self._curve.adc_max)
        f = np.maximum(level[has], 0.0)
        counts = force_to_raw(f, p)
        out[has] = np.abs(raw_to_force(np.minimum(counts + 1.0, p.adc_max - 1.0), p) - f)
        return out

    # ------------------------------------------------------------------ dropouts (sample level)
    def _dropouts(self, first: int, x: np.ndarray, opn: np.ndarray, st: dict[str, np.ndarray]) -> np.ndarray:
        """Dropouts per chunk (K, ch), each counted in the chunk of its recovery sample.

        Only chunks that can hold the edge of a dropout are looked at sample by sample: some
        reading of "nothing" in the chunk together with a load in it or in the chunk before,
        or the other way round (an edge right after a chunk boundary). Most chunks are not.
        """
        c = self.chunk
        k = x.shape[0] // c
        counts = np.zeros((k, self.n), dtype=np.int64)
        nothing = ((st["lo"] <= DROP_N) & (st["hi"] >= -DROP_N)) | (st["n_open"] > 0)
        loaded = st["hi"] > np.maximum(LOADED_N, DROP_ABOVE_NOISE * st["sigma"])
        nothing_before = np.vstack([self._prev_nothing[None, :], nothing[:-1]])
        loaded_before = np.vstack([self._prev_loaded[None, :], loaded[:-1]])
        nb = (st["hi"] > NEIGHBOUR_LOADED_N).astype(np.float32) @ self._adj_f > 0
        nb_before = np.vstack([self._prev_nb[None, :], nb[:-1]])
        self._prev_nothing, self._prev_loaded, self._prev_nb = nothing[-1].copy(), loaded[-1].copy(), nb[-1].copy()
        edge = (nothing & (loaded | loaded_before)) | (nothing_before & loaded)
        rows, cols = np.nonzero(edge & (nb | nb_before))
        starts: dict[int, list[int]] = {}       # channel -> local sample index of drops
        if len(rows):
            x3 = x.reshape(k, c, self.n)
            o3 = opn.reshape(k, c, self.n)
            before = np.maximum(rows * c - 1, 0)
            first_row = rows == 0
            px = np.where(first_row, self._x_last[cols], x[before, cols])
            po = np.where(first_row, self._open_last[cols], opn[before, cols])
            xx = np.concatenate([px[:, None], x3[rows, :, cols]], axis=1)
            z = (np.abs(xx) <= DROP_N) | np.concatenate([po[:, None], o3[rows, :, cols]], axis=1)
            # Loaded: above LOADED_N and clear of the channel's own noise (a noisy sensor whose
            # readings are clipped at 0 N would otherwise "drop out" all the time).
            ld = xx > np.maximum(LOADED_N, DROP_ABOVE_NOISE * st["sigma"][rows, cols])[:, None]
            sp, sk = np.nonzero(z[:, 1:] & ld[:, :-1])
            ep, ek = np.nonzero(ld[:, 1:] & z[:, :-1])
            s_at, s_ch = rows[sp] * c + sk, cols[sp]
            e_at, e_ch = rows[ep] * c + ek, cols[ep]
            # A neighbour must hold a load when the reading goes and when it comes back: a lift
            # or the pause between percussion hits releases the whole surface, a dropout one sensor.
            keep = self._neighbour_loaded(x[s_at], s_ch)
            s_at, s_ch = s_at[keep], s_ch[keep]
            prev_rows = x[np.maximum(e_at - 1, 0)]
            if (e_at == 0).any():
                prev_rows[e_at == 0] = self._x_last
            keep = self._neighbour_loaded(prev_rows, e_ch)
            e_at, e_ch = e_at[keep], e_ch[keep]
            for i, ch in sorted(zip(s_at.tolist(), s_ch.tolist())):
                starts.setdefault(ch, []).append(i)
            for e, ch in sorted(zip(e_at.tolist(), e_ch.tolist())):
                mine = [i for i in starts.get(ch, []) if i < e]
                if mine:
                    s_glob = first + mine[-1]
                elif self._drop_start[ch] >= 0:
                    s_glob = int(self._drop_start[ch])
                else:
                    continue
                lo_i = max(s_glob - first, 0)
                if self._drop_min <= first + e - s_glob <= self._drop_max and self._reads_nothing(x, opn, lo_i, e, ch):
                    counts[e // c, ch] += 1
        # Carry a drop that still reads nothing at the end of this part.
        end = first + x.shape[0]
        new_start = np.full(self.n, -1, dtype=np.int64)
        for ch in set(starts) | set(np.flatnonzero(self._drop_start >= 0).tolist()):
            mine = starts.get(ch, [])
            if mine and end - (first + mine[-1]) <= self._drop_max \
                    and self._reads_nothing(x, opn, mine[-1], x.shape[0], ch):
                new_start[ch] = first + mine[-1]
            elif not mine and self._drop_start[ch] >= 0 and end - self._drop_start[ch] <= self._drop_max \
                    and self._reads_nothing(x, opn, 0, x.shape[0], ch):
                new_start[ch] = self._drop_start[ch]
        self._drop_start = new_start
        self._x_last = x[-1].astype(np.float64)
        self._open_last = opn[-1].copy()
        return counts

    @staticmethod
    def _reads_nothing(x: np.ndarray, opn: np.ndarray, a: int, b: int, ch: int) -> bool:
        return bool(((np.abs(x[a:b, ch]) <= DROP_N) | opn[a:b, ch]).all())

    def _neighbour_loaded(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """For each (row of readings, channel): does a neighbour of that channel hold a load?"""
        loaded = rows > NEIGHBOUR_LOADED_N                     # (m, ch)
        return (loaded & self._adj[:, cols].T).any(axis=1)

    # ------------------------------------------------------------------ judging
    def _judge(self, st: dict[str, np.ndarray], drops: np.ndarray, chunk_ends: np.ndarray) -> list[HealthChange]:
        c = self._points
        mean, lo, hi, sigma = st["mean"], st["lo"], st["hi"], st["sigma"]
        n_open, n_sat = st["n_open"], st["n_sat"]
        spread = hi - lo
        any_open = n_open > 0
        all_open = n_open == c
        sat_share = n_sat / c
        flat_exact = spread <= FLAT_EXACT_N * np.maximum(1.0, np.abs(mean))
        # Within a few ADC steps: only worth the curve arithmetic where the spread is small.
        flat = flat_exact.copy()
        maybe = ~flat_exact & (spread <= 0.05 * np.abs(mean) + 0.01)
        if maybe.any():
            rows, cols = np.nonzero(maybe)
            step = self._adc_step(mean[rows, cols], cols)
            tol = np.where(np.isnan(step), 1e-4 * np.abs(mean[rows, cols]), STUCK_COUNTS * step)
            flat[rows, cols] = spread[rows, cols] <= tol
        low = mean < ZERO_LEVEL_N
        unsat = n_sat == 0

        # Neighbours at work: loaded, moving (not flat), not pinned, not open.
        working = (mean > self._active_n) & ~flat & (sat_share < 0.5) & ~any_open
        n_working = working.astype(np.float32) @ self._adj_f
        nb_ok = n_working >= self._need

        evidence: dict[str, tuple[np.ndarray, np.ndarray]] = {}     # fault -> (bad, good)
        # dead: no signal while the neighbours work: flat at nothing, or an open lead, or (a
        # glove sensor) flat at a resting level under any load on a glove whose live sensors
        # never hold one value at rest. A flat reading that high on a glove with no noise says
        # nothing: an idle live sensor there reads exactly its offset too.
        noisy_glove = self._glove_noisy_at_rest(hi, sigma, st["d2"], any_open | ~unsat)
        flat_offset = flat & ~low & (mean < STUCK_MIN_N) & unsat & ~any_open \
            & self._is_glove[None, :] & noisy_glove[:, None]
        no_signal = (flat_exact & low) | all_open | flat_offset
        evidence["dead_flat"] = (no_signal & nb_ok, ~flat & ~any_open)
        evidence["dead_open"] = (all_open, ~any_open)
        # stuck: flat at a load while the neighbours work (flat at a resting level is dead
        # above, or on a glove with no noise cannot be told from an idle sensor)
        # The hand may work with sensors that are not this one's neighbours (percussion with the
        # hand edge while a stuck thumb holds the load of the kneading before it): a glove sensor
        # flat at a load while other glove sensors work is stuck just the same.
        loaded = mean >= STUCK_MIN_N
        glove_working = working & ~self._is_spine[None, :]
        hand_ok = ((glove_working.sum(axis=1, keepdims=True) - glove_working) >= 1) \
            & ~self._is_spine[None, :]
        evidence["stuck"] = (flat & loaded & unsat & ~any_open & (nb_ok | hand_ok), ~flat & unsat)
        # ... or the one sensor holding a load, exactly still, while every other glove sensor
        # reads nothing: no hand leaves one sensor pressed that steadily (the hand lifted for
        # gel, say).
        hand = (mean > self._active_n) & ~self._is_spine[None, :]
        others_idle = ((hand.sum(axis=1, keepdims=True) - hand) == 0) & ~self._is_spine[None, :]
        evidence["stuck_alone"] = (flat & loaded & unsat & ~any_open & others_idle, ~flat & unsat)
        # saturated: pinned for seconds in a row or for much of the last minute
        share = self._sat_window.run(n_sat) / (c * self._sat_window.length)
        pinned = (sat_share >= SATURATED_CHUNK_SHARE) | (share >= SATURATED_SHARE)
        evidence["saturated"] = (pinned, ~pinned & (n_sat == 0) & (share < SATURATED_SHARE / 2))
        # intermittent: dropouts in the last minute
        recent = self._drop_window.run(drops)
        evidence["intermittent"] = (recent >= DROPOUTS_TO_FLAG, recent == 0)
        # noisy, judged at rest only
        rest = (mean < REST_N) & ~flat & ~any_open & unsat
        thr = self._noise_threshold(sigma, rest)
        # Noise is the sensor's own; force reaches several sensors at once. A channel at rest
        # whose fast variation comes at the same moments as the other channels' (the hits of
        # percussion reach a lightly loaded finger too) says nothing about its noise.
        # Judged over the last NOISY_WINDOW_S: enough noisy chunks, and most of them alone
        # (a lightly hit finger during percussion now and then looks alone by chance).
        noisy_now = rest & (sigma > thr)
        alone = noisy_now.copy()
        if noisy_now.any():
            rows, cols = np.nonzero(noisy_now)
            alone[rows, cols] = self._coincidence(st["d2"], rows, cols) < NOISY_SHARED
        n_alone = self._alone_window.run(alone)
        n_noisy = self._noisy_window.run(noisy_now)
        # Recovery needs clean rest, not the odd quiet chunk: a noisy sensor resting at 0 N has
        # its readings clipped there, and about one chunk in three of such half-wave noise
        # looks clean while others in between are plainly noisy. So a chunk counts as healthy
        # only when no chunk of the last NOISY_WINDOW_S was noisy on its own, and every such
        # chunk starts the RECOVER_S of healthy chunks afresh (`hold`). A sensor told noisy
        # thus stays out of recognition and force checks through any load (where its noise is
        # not judged) until it has shown about half a minute of clean rest.
        evidence["noisy"] = (alone & (n_alone >= round(NOISY_S / CHUNK_S)) & (n_alone >= NOISY_MAJORITY * n_noisy),
                             rest & (sigma < NOISY_CLEAR * thr) & (n_alone == 0) & (lo > 0.0))
        quiet = rest & (~noisy_now | alone)
        bad = np.concatenate([evidence[name][0] for name in self._latch_names], axis=1)
        good = np.concatenate([evidence[name][1] for name in self._latch_names], axis=1)
        hold = np.zeros_like(bad)
        col = self._latch_names.index("noisy") * self.n
        hold[:, col:col + self.n] = alone
        on = self._latches.run(bad, good, hold)
        latched = {name: on[:, i * self.n:(i + 1) * self.n] for i, name in enumerate(self._latch_names)}
        # Where the latest healthy evidence ended, per chunk and latch (for the fault's onset).
        last_good = np.maximum.accumulate(np.where(good, chunk_ends.astype(np.int64)[:, None], -1), axis=0)
        np.maximum(last_good, self._last_good[None, :], out=last_good)
        self._last_good = last_good[-1].copy()
        dead = latched["dead_flat"] | latched["dead_open"]
        dead_open = latched["dead_open"]
        stuck, saturated = latched["stuck"] | latched["stuck_alone"], latched["saturated"]
        intermittent, noisy = latched["intermittent"], latched["noisy"]

        # Evidence for messages and the summary.
        self._rest_chunks += quiet.sum(axis=0)
        self._rest_var_sum += np.where(quiet, sigma ** 2, 0.0).sum(axis=0)
        self._rest_mean_sum += np.where(quiet, mean, 0.0).sum(axis=0)

        code = np.zeros(mean.shape, dtype=np.int64)
        for name, flag in reversed(list(zip(_PRIORITY, (dead, stuck, saturated, intermittent, noisy)))):
            code = np.where(flag, HEALTH_STATES.index(name), code)
        prev = np.vstack([self._state[None, :], code[:-1]])
        out: list[HealthChange] = []
        for k, ch in np.argwhere(code != prev):
            k, ch = int(k), int(ch)
            new, old = HEALTH_STATES[code[k, ch]], HEALTH_STATES[prev[k, ch]]
            at_s = float(chunk_ends[k]) / self.rate_hz
            info = {"level": float(mean[k, ch]), "sigma": float(sigma[k, ch]), "drops": int(recent[k, ch]),
                    "all_open": bool(all_open[k, ch]) and dead_open[k, ch]}
            msg = self._message(ch, new, info)
            out.append(HealthChange(self.channels[ch], new, old, round(at_s, 6), msg))
            self._record(ch, new, at_s, msg, self._onset(new, k, ch, latched, last_good, at_s))
        self._state = code[-1].copy()
        out.sort(key=lambda h: (h.at_s, self.channels.index(h.channel)))
        return out

    def _glove_noisy_at_rest(self, hi: np.ndarray, sigma: np.ndarray, d2: np.ndarray,
                             unusable: np.ndarray) -> np.ndarray:
        """(K,) per chunk: has this glove shown, by the end of the chunk, that its sensors are
        noisy at rest, so that a live one never reads one value for a whole chunk?

        Judged only with the hand off the back (every glove sensor but one under OFF_BACK_N
        throughout the chunk; open or saturated ones aside): the median over the glove of each
        sensor's noise (`sigma`), counting only variation that is the sensor's own. Light work
        can leave every reading under OFF_BACK_N, but the shaking of vibration and the hits of
        percussion reach several sensors at the same moments, as noise does not
        (`_coincidence`), and slow movement barely shows in second differences. The median
        keeps a dead or stuck sensor or two from deciding it. Counted from the start of the
        stream over the first GLOVE_NOISE_JUDGED_S of such chunks (the noise is the hardware's,
        not the moment's), so the answer does not depend on how the stream is cut into blocks."""
        k = hi.shape[0]
        g = np.flatnonzero(self._is_glove)
        if len(g) < 3:
            return np.zeros(k, dtype=bool)
        usable = ~unusable[:, g]
        count = usable.sum(axis=1)
        off = ((hi[:, g] < OFF_BACK_N) | ~usable).sum(axis=1) >= len(g) - 1
        off &= count >= 3
        # A minute of the hand off the back settles it (and bounds the cost): later chunks
        # are not counted.
        seen = self._off_noisy + self._off_quiet
        off &= seen + np.cumsum(off) <= round(GLOVE_NOISE_JUDGED_S / CHUNK_S)
        noise = np.where(usable, sigma[:, g], np.inf)
        rows = np.flatnonzero(off)
        if len(rows):
            # Only where the median could reach the threshold is it worth asking whose it is.
            candidate = noise[rows] >= GLOVE_NOISE_N
            cand = np.flatnonzero(candidate.sum(axis=1) >= (count[rows] + 1) // 2)
            if len(cand):
                rr = np.repeat(rows[cand], len(g))
                cc = np.tile(g, len(cand))
                own = self._coincidence(d2, rr, cc) < NOISY_SHARED
                noise[rows[cand]] = np.where(own.reshape(len(cand), len(g)) | ~usable[rows[cand]],
                                             noise[rows[cand]], 0.0)
        # Median of the usable sensors (the lower one for an even count): unusable sort last.
        ordered = np.sort(noise, axis=1)
        median = ordered[np.arange(k), np.maximum(count - 1, 0) // 2]
        noisy = off & (median >= GLOVE_NOISE_N)
        quiet = off & ~noisy
        n_noisy = self._off_noisy + np.cumsum(noisy)
        n_quiet = self._off_quiet + np.cumsum(quiet)
        self._off_noisy, self._off_quiet = int(n_noisy[-1]), int(n_quiet[-1])
        return (n_noisy >= round(GLOVE_NOISE_S / CHUNK_S)) & (n_noisy > n_quiet)

    def _coincidence(self, d2: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """How much a channel's fast variation (|second differences| at the chunk's points)
        comes at the same moments as that of another channel of its kind, for chunks `rows` and
        channels `cols`: the correlation of the two patterns, for the other channel that
        matches best. Independent noise gives about 0 (rarely above 0.5 over ~23 points and a
        dozen channels); hits that reach both sensors give 0.7 or more."""
        out = np.zeros(len(rows))
        for kind in (self._is_spine, ~self._is_spine):
            pick = kind[cols]
            if not pick.any() or kind.sum() < 2:
                continue
            r, c = rows[pick], cols[pick]
            kind_cols = np.flatnonzero(kind)
            block = d2[:, r][:, :, kind_cols].transpose(1, 0, 2).astype(np.float64)   # (m, points, kind)
            block -= block.mean(axis=1, keepdims=True)
            block /= np.sqrt((block ** 2).sum(axis=1, keepdims=True)) + 1e-12
            own = block[np.arange(len(r)), :, np.searchsorted(kind_cols, c)]   # (m, points)
            match = (own[:, :, None] * block).sum(axis=1)                   # (m, channels of kind)
            match[kind_cols[None, :] == c[:, None]] = -1.0                  # not with itself
            out[pick] = match.max(axis=1)
        return out

    def _noise_threshold(self, sigma: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """Per chunk and channel: the noise floor above which a channel at rest is noisy."""
        thr = np.full(sigma.shape, NOISY_ABS_N)
        for kind in (self._is_spine, ~self._is_spine):
            cols = np.flatnonzero(kind)
            if len(cols) < 3:
                continue
            r = rest[:, cols]
            count = r.sum(axis=1)
            enough = count >= 3
            if not enough.any():
                continue
            # Median noise of the channels of this kind at rest in the same chunk (the lower
            # median for an even count): sort with the others pushed to the end.
            ordered = np.sort(np.where(r, sigma[:, cols], np.inf), axis=1)
            ref = ordered[np.arange(len(count)), np.maximum(count - 1, 0) // 2]
            rel = np.minimum(NOISY_ABS_N, np.maximum(NOISY_FLOOR_N, NOISY_REL * ref))
            thr[:, cols] = np.where(enough, rel, NOISY_ABS_N)[:, None]
        return thr

    def _message(self, ch: int, state: str, info: dict) -> str:
        name = sensor_name(self.channels[ch])
        if state == "ok":
            return f"The {name} sensor reads normally again."
        if state == "dead":
            if info["all_open"]:
                return f"The {name} sensor reads as disconnected (open lead): check its lead and plug."
            region = self._regions[ch]
            words = _REGION_WORDS.get(region or "", "the sensors next to it press")
            if self.channels[ch] == "hand_edge":
                words = "the palm and little finger press"
            # A dead lead may hold a steady resting level: say which, as the sensor would show it.
            level = "" if info["level"] < ZERO_LEVEL_N else f" (a constant {info['level']:.2f} N)"
            return f"The {name} sensor reads nothing{level} while {words}: check its lead."
        if state == "intermittent":
            return (f"The {name} sensor keeps dropping out ({info['drops']} times in the last minute): "
                    f"check its lead and connector.")
        if state == "stuck":
            return (f"The {name} sensor is stuck at {info['level']:.1f} N while the other sensors change: "
                    f"check the sensor and its lead.")
        if state == "saturated":
            return (f"The {name} sensor stays at the top of its range: check that nothing presses on it "
                    f"and that it is not shorted.")
        return (f"The {name} sensor is noisy ({info['sigma']:.1f} N of noise at rest): "
                f"check its lead and connector.")

    def _onset(self, state: str, k: int, ch: int, latched: dict[str, np.ndarray], last_good: np.ndarray,
               at_s: float) -> float:
        """When a fault told at chunk k most likely began: where the last chunk that showed the
        channel healthy (for the evidence that latched) ended, or the start of the stream."""
        if state == "ok":
            return at_s
        names = _LATCHES_OF[state]
        onsets = [int(last_good[k, self._latch_names.index(name) * self.n + ch])
                  for name in names if latched[name][k, ch]]
        first = self._first_index or 0
        onset = min(onsets) if onsets else -1
        return min(max(onset, first) / self.rate_hz, at_s)

    def _record(self, ch: int, state: str, at_s: float, msg: str, onset_s: float | None = None) -> None:
        k = self._open_episode.pop(ch, None)
        if k is not None:
            self._episodes[k][3] = at_s
        if state != "ok":
            self._open_episode[ch] = len(self._episodes)
            self._episodes.append([ch, state, at_s, None, msg, at_s if onset_s is None else onset_s])
            if _SEVERITY[state] >= self._worst[ch]:
                self._worst[ch] = _SEVERITY[state]
                self._worst_msg[ch] = msg

    # ------------------------------------------------------------------ queries
    def states(self) -> dict[str, str]:
        return {c: HEALTH_STATES[int(s)] for c, s in zip(self.channels, self._state)}

    def fault_spans(self) -> list[tuple[str, str, float, float, float]]:
        """(channel, state, onset_s, start_s, end_s) of every fault episode: `onset_s` is when
        the fault most likely began (after the last healthy evidence), `start_s` when it was
        told; readings between the two were taken at face value live."""
        end_s = self._end_index / self.rate_hz
        return [(self.channels[c], st, onset, a, end_s if b is None else b)
                for c, st, a, b, _, onset in self._episodes]

    def faulty(self) -> np.ndarray:
        """(ch,) bool: channels whose readings must not produce force violations now."""
        return self._state != 0

    def summary(self) -> dict:
        """Plain JSON data for `analyze --json` ("sensor_health")."""
        end_s = round(self._end_index / self.rate_hz, 3)
        by_state = {v: k for k, v in _SEVERITY.items()}
        out: dict = {}
        for i, ch in enumerate(self.channels):
            current = HEALTH_STATES[int(self._state[i])]
            episodes = [{"state": s, "start_s": round(a, 3), "end_s": round(b, 3) if b is not None else end_s}
                        for c, s, a, b, *_ in self._episodes if c == i]
            state = current if current != "ok" else by_state[int(self._worst[i])]
            check = None
            if current != "ok":
                check = self._episodes[self._open_episode[i]][4]
            elif self._worst[i] > 0:
                check = self._worst_msg[i]
            rest = int(self._rest_chunks[i])
            out[ch] = {
                "state": state, "episodes": episodes,
                "noise_n": round(float(math.sqrt(self._rest_var_sum[i] / rest)), 3) if rest else None,
                "offset_n": round(float(self._rest_mean_sum[i] / rest), 3) if rest else None,
                "check": check,
            }
        out["ok"] = not self._episodes
        return out
