"""`StationAligner`: the messages of a station's devices, each on its own session index, turned
into blocks on the one station index.

What goes in: `DeviceMessage`s, each a link event (`SamplesReceived`, `GapDetected`,
`LinkDown`, ...) of one device on that device's own session index, as its `GloveClient` made
it or as its recording holds it. What comes out: `StationSamples` (station slots with every
device's columns and which devices are present) and `StationGap` (slots no device filled).

**Per wire frame.** Every `SamplesReceived` carries the table of the wire frames it came in
(session index of the first sample, device stamp, host receive time). The notifier may join
blocks and a recording merges them, but the frames are the same in every case, so the aligner
works frame by frame: observe the frame's (device time, host time) pair, then place its
samples (`glovecoach.station.alignment`). That is what makes a live session and its replay
give the same slots.

**Device time** is the device's own session index over the rate: within one stream the
session index counts the device's sample counter exactly, across lost frames and link drops
too, and it never wraps (the 30-bit stamp does, and restarts at every boot). Where the
session index was continued by the host clock instead (an inexact gap: a reboot, a restarted
stream), the device's clock relates to the host's differently from then on, so the device's
mapping is fitted afresh. The frame stamps are checked as a second witness: a stamp that no
longer fits the session index (a restart without a gap event) also starts a fresh fit.

**Warm-up.** A fresh mapping rests on the first frame alone, and that frame may have been read
late. So a device's first frames (after its start and after every re-fit) are held until its
frames span `warmup_s` of device time and then placed with the fit of all of them: the
least-delayed frame among them sets the clock.

**When a slot goes out.** A slot is emitted once every device has delivered it (its next slot
is past it) or can no longer deliver it, or once the newest frame from any device arrived more
than `hold_s` after the slot's time (then the late device is absent from it). A device that
is down (`LinkDown`, `LinkStalled`) is not waited for beyond `reorder_s + rejoin_s` (see
below).

**What a device may still deliver** is decided by each frame alone, so that the order in which
devices' messages are handed in (and when slots went out) cannot change the result:

* a sample is kept only if its frame arrived at most ``hold_s - reorder_s`` after its slot's
  time. The slot waits `hold_s`, so messages handed in up to `reorder_s` out of host-time
  order (the devices are polled one after the other) still find their slot open;
* the first frame after a gap in the device's own stream (it was down, or lost frames) keeps
  only samples at most `rejoin_s` older than its arrival: while a device is down the others'
  slots go out `reorder_s + rejoin_s` behind the newest frame, so a device coming back never
  finds its slot gone already, live or in a replay that never knew it was down.

Everything else that comes for a slot is counted (`DeviceStats.late_samples`) and dropped:
nothing already placed or emitted ever moves.

Time is host time in seconds as the frames carry it (Unix time from `GloveClient`). The
station's slot 0 is the host time of the first sample placed (`origin_host_s`), or
`origin_delay_s` after it, unless given: a replay is given the origin the live session stored,
so its slots are the live ones. (A classroom delays each station's origin by its own fraction
of the technique hop, so the stations' recognition windows do not all close in the same instant.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.station.alignment import StationTimebase
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout, StationSamples
from glovecoach.vocabulary.stream import GapDetected, LinkDown, LinkResumed, LinkStalled, LinkUp, SamplesReceived
from glovecoach.wire.continuity import TICKS_MODULUS

StationOutput = StationSamples | StationGap

NO_DEVICE = "no_device"
"""The reason of a `StationGap`: no device filled these slots."""

# A frame's stamp against its session index moves only by drift (100 ppm: 0.1 ms per second
# apart) and by a stamp taken late on a busy device (up to a scheduling hiccup, 0.25 s on the
# virtual glove). A restarted stream or a rebooted device lands anywhere in the 1073 s range
# of the 30-bit stamp: a step beyond this is a new clock.
_STAMP_STEP_LIMIT_S = 1.0
_STAMP_DRIFT_LIMIT = 500e-6
# How long (device time) a device's clock fit is used before it is computed again: a fit costs
# half a millisecond to a millisecond, a frame comes every 20 ms (see DeviceAlignment.refit_s).
# Refitting every 0.5 s instead of 2 s changed no measured error by 0.01 sample and cost 2.5
# times the time per frame.
REFIT_S = 2.0
# A sample is never taken after it was received; a clock fit this far wrong is not a fit.
MAX_AHEAD_S = 5.0


@dataclass
class DeviceStats:
    """What happened to one device's samples on the way to the station index."""

    role: str
    samples: int = 0            # samples handed in with their frames
    filled_slots: int = 0       # station slots this device filled
    dropped_rows: int = 0       # rows with no slot of their own (the device runs fast)
    late_samples: int = 0       # slots whose data came after the slot was given up
    reordered_samples: int = 0  # of those: in time by their own arrival, but the slot was out
    before_origin: int = 0      # samples taken before station slot 0
    ahead_samples: int = 0      # samples placed implausibly far ahead (a broken fit): dropped
    unframed_samples: int = 0   # samples that came without a frame table: cannot be placed
    absent_slots: int = 0       # station slots emitted without this device
    gaps: int = 0               # gaps in the device's own stream (GapDetected)
    lost_samples: int = 0       # samples those gaps cover
    refits: int = 0             # fresh clock mappings after the first
    offset_s: float | None = None   # station time (s after slot 0) of the device's session sample 0
    clock_ppm: float | None = None  # how fast the device's clock runs against the host's


@dataclass
class _Device:
    role: str
    order: int
    columns: slice
    n_channels: int
    stats: DeviceStats
    key: float = -math.inf            # host time of the last frame handed in (merge order)
    last_host: float = -math.inf      # host time of the last frame taken
    session_end: int | None = None    # session index after the last frame taken
    stamp_residual: float | None = None   # (stamp - session index * period), µs, last frame
    stamp_index: int = 0
    fitted: bool = False              # has a clock mapping to restart
    refit_pending: bool = False
    down: bool = False
    # Frames taken but not placed yet (warm-up): (host, first, n, raw, follows).
    pending: list[tuple[float, int, int, np.ndarray, bool]] = field(default_factory=list)
    warm: bool = False


class StationAligner:
    """Devices' messages in, station blocks out: `feed(messages)` returns what they complete,
    `finish()` the rest. See the module's docstring for the rules."""

    def __init__(self, layout: StationLayout, rate_hz: float, hold_s: float = 0.25, *,
                 reorder_s: float = 0.05, rejoin_s: float = 0.05, warmup_s: float = 0.1,
                 origin_host_s: float | None = None, refit_s: float = REFIT_S,
                 origin_delay_s: float = 0.0, start_slot: int = 0) -> None:
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be a positive number, got {rate_hz!r}")
        if not (hold_s > 0 and math.isfinite(hold_s)):
            raise ValueError(f"hold_s must be a positive number of seconds, got {hold_s!r}")
        if not (reorder_s >= 0 and rejoin_s >= 0 and warmup_s >= 0):
            raise ValueError(f"reorder_s, rejoin_s and warmup_s are durations (>= 0), got "
                             f"{reorder_s!r}, {rejoin_s!r}, {warmup_s!r}")
        if reorder_s + rejoin_s >= hold_s or reorder_s + warmup_s >= hold_s:
            # A device coming back, or a device warming up, is waited for that long.
            raise ValueError(f"reorder_s + rejoin_s and reorder_s + warmup_s must stay below hold_s "
                             f"({hold_s}), got {reorder_s}, {rejoin_s}, {warmup_s}")
        if origin_host_s is not None and not math.isfinite(origin_host_s):
            raise ValueError(f"origin_host_s must be a finite host time, got {origin_host_s!r}")
        if start_slot and origin_host_s is None:
            # slots counted from a given slot are slots of a given origin (a session resumed)
            raise ValueError("start_slot needs origin_host_s: the slots it counts are that origin's")
        if int(start_slot) != start_slot or start_slot < 0:
            raise ValueError(f"start_slot must be a whole slot >= 0, got {start_slot!r}")
        if not (0.0 <= origin_delay_s < 10.0):
            raise ValueError(f"origin_delay_s must be 0-10 s after the first sample, got {origin_delay_s!r}")
        self.layout = layout
        self.rate_hz = float(rate_hz)
        self.hold_s = float(hold_s)
        self.reorder_s = float(reorder_s)
        self.rejoin_s = float(rejoin_s)
        self.warmup_s = float(warmup_s)
        self.accept_s = self.hold_s - self.reorder_s
        self.down_wait_s = self.reorder_s + self.rejoin_s
        self.timebase = StationTimebase(rate_hz, refit_s=refit_s, origin_delay_s=origin_delay_s)
        if origin_host_s is not None:
            self.timebase.origin_host_s = float(origin_host_s)
        self._devices: dict[str, _Device] = {}
        for order, device in enumerate(layout.devices):
            self._devices[device.role] = _Device(device.role, order, layout.slice_of(device.role),
                                                 len(device.channels), DeviceStats(device.role))
        self._n_columns = len(layout.columns)
        self._all_present = (True,) * len(layout.devices)
        # Pending slots: buffer row r holds slot `_buf_start + r`; rows before `emitted_to` are
        # out already and are dropped at the next compaction.
        capacity = max(64, int(4 * self.hold_s * self.rate_hz))
        self._raw = np.zeros((capacity, self._n_columns), dtype=np.uint16)
        self._filled = np.zeros((capacity, len(layout.devices)), dtype=bool)
        # A resumed session (`start_slot`: its slots before it were emitted by an earlier run)
        # goes on from there.
        self._buf_start = int(start_slot)
        self.emitted_to = int(start_slot)   # every slot before this one has been emitted
        self._high = int(start_slot)        # one past the last slot holding data
        self.newest_host_s = -math.inf
        self.gap_slots = 0         # slots emitted as StationGap

    # ------------------------------------------------------------------ state
    @property
    def origin_host_s(self) -> float | None:
        """Host time (seconds, the frames' clock) of station slot 0: store it with a recording
        so that its replay gives the same slots."""
        return self.timebase.origin_host_s

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._devices)

    def is_down(self, role: str) -> bool:
        return self._device(role).down

    def set_down(self, role: str, down: bool = True) -> None:
        """Say a device is down (not connected at all, say) so that nobody waits for it; the
        link events do this for a connected one."""
        self._device(role).down = bool(down)

    def stats(self) -> dict[str, DeviceStats]:
        """A snapshot per device, with its clock fit as it stands."""
        out = {}
        origin = self.origin_host_s
        for role, dev in self._devices.items():
            fit = self.timebase.devices[role].mapper.fit() if role in self.timebase.devices else None
            offset = ppm = None
            if fit is not None:
                ppm = (1.0 / fit.slope - 1.0) * 1e6
                if origin is not None:
                    offset = float(fit.to_host(0.0)) - origin
            out[role] = dataclasses.replace(dev.stats, offset_s=offset, clock_ppm=ppm)
        return out

    def _device(self, role: str) -> _Device:
        try:
            return self._devices[role]
        except KeyError:
            raise ValueError(f"a message from {role!r}, which is not a device of this station "
                             f"(it has {', '.join(self._devices)})") from None

    # ------------------------------------------------------------------ feeding
    def feed(self, messages: Iterable[DeviceMessage]) -> list[StationOutput]:
        """Take the devices' messages (one poll's worth, or any number) and return the station
        blocks they complete, in station order.

        Frames of different devices are handled in host-time order (each device's own order
        is kept); a device's other messages stay where they were among its frames."""
        units: list[tuple[float, int, int, _Device, Any]] = []
        seq = 0
        for message in messages:
            dev = self._device(message.role)
            event = message.message
            if isinstance(event, SamplesReceived):
                for frame in self._frames_of(dev, event):
                    dev.key = max(dev.key, frame[0])
                    units.append((dev.key, dev.order, seq, dev, frame))
                    seq += 1
            else:
                units.append((dev.key, dev.order, seq, dev, event))
                seq += 1
        if len(self._devices) > 1:
            units.sort(key=lambda u: (u[0], u[1], u[2]))
        for _, _, _, dev, item in units:
            if type(item) is tuple:
                self._take_frame(dev, *item)
            else:
                self._event(dev, item)
        # Emitting once per call, after everything handed in is placed, gives a poll's blocks
        # at once.
        out: list[StationOutput] = []
        self._emit(self._settled_to(), out)
        return out

    def finish(self) -> list[StationOutput]:
        """Everything still held, whoever has not delivered it (the session is over)."""
        for dev in self._devices.values():
            self._place_pending(dev)
        out: list[StationOutput] = []
        self._emit(self._high, out)
        return out

    def _frames_of(self, dev: _Device, message: SamplesReceived) -> list[tuple]:
        """(host time, first session index, n, stamp, raw rows) per wire frame of a block."""
        raw = np.asarray(message.raw)
        if raw.ndim != 2 or raw.shape[1] != dev.n_channels:
            raise ValueError(f"{dev.role}: samples of shape {raw.shape}, the station layout gives this "
                             f"device {dev.n_channels} channels")
        n_rows = int(raw.shape[0])
        if n_rows == 0:
            return []
        first = int(message.first_index)
        frames = message.frames
        if len(frames) == 1 and frames.dtype == FRAME_DTYPE:
            # The live case (a block per wire frame), without the table arithmetic; item()
            # gives the row's fields as Python numbers in one call.
            index, t_us, host = frames.item(0)
            if index == first and math.isfinite(host):
                return [(float(host), first, n_rows, int(t_us), raw)]
        # A few frames a block (a poll's worth): plain Python numbers, not table arithmetic. A
        # frame without a usable receive time places nothing: its rows go with the frame before
        # it in the block, or count as unframed.
        end = first + n_rows
        table = [(s, t, h) for s, t, h in zip(frames["sample_index"].tolist(), frames["t_us"].tolist(),
                                              frames["host_time"].tolist())
                 if first <= s < end and math.isfinite(h)]
        if any(b[0] <= a[0] for a, b in zip(table, table[1:])):
            raise ValueError(f"{dev.role}: the frame table of a block is not in increasing sample order")
        lead = table[0][0] - first if table else n_rows
        if lead:
            # Rows before the first frame row have no receive time to place them by.
            dev.stats.unframed_samples += lead
        ends = [row[0] for row in table[1:]] + [end]
        return [(float(h), s, e - s, int(t), raw[s - first:e - first]) for (s, t, h), e in zip(table, ends)]

    def _event(self, dev: _Device, event: Any) -> None:
        if isinstance(event, GapDetected):
            dev.stats.gaps += 1
            dev.stats.lost_samples += int(event.n_samples)
            if not event.exact and dev.fitted:
                # The session index after this gap was continued by the host clock: its
                # relation to the host clock is new.
                dev.refit_pending = True
        elif isinstance(event, (LinkDown, LinkStalled)):
            dev.down = True
        elif isinstance(event, (LinkUp, LinkResumed)):
            dev.down = False
        # STATUS, logs, problems: nothing to place

    def _take_frame(self, dev: _Device, host: float, first: int, n: int, t_us: int, raw: np.ndarray) -> None:
        rate = self.rate_hz
        stats = dev.stats
        stats.samples += n
        dev.down = False
        if dev.session_end is not None and first < dev.session_end:
            # The session index never goes back in one device's stream (its link drops
            # duplicates): a frame that does is not placeable without moving what is placed.
            stats.late_samples += n
            return
        follows = dev.session_end is not None and first == dev.session_end
        # The stamp's offset from the session grid, in µs modulo the stamp's range.
        residual = (t_us - first * 1e6 / rate) % TICKS_MODULUS
        if dev.stamp_residual is not None and dev.fitted and not dev.refit_pending:
            half = TICKS_MODULUS / 2
            step = (residual - dev.stamp_residual + half) % TICKS_MODULUS - half
            apart = (first - dev.stamp_index) / rate
            if abs(step) > 1e6 * (_STAMP_STEP_LIMIT_S + _STAMP_DRIFT_LIMIT * apart):
                dev.refit_pending = True
        dev.stamp_residual, dev.stamp_index = residual, first
        alignment = self.timebase.device(dev.role)
        if dev.refit_pending:
            self._place_pending(dev)   # what the old clock took, by the old clock
            alignment.restart_clock()
            stats.refits += 1
            dev.refit_pending = False
            dev.warm = False
        # A frame leaves the device once its last sample is taken: that sample's time and the
        # receive time bound the clock (the same pair the link's own timeline fits).
        alignment.observe((first + n - 1) / rate, host)
        dev.fitted = True
        dev.session_end = first + n
        dev.last_host = max(dev.last_host, host)
        if host > self.newest_host_s:
            self.newest_host_s = host
        if dev.warm:
            self._place(dev, host, first, n, raw, follows)
            return
        dev.pending.append((host, first, n, raw, follows))
        if (first + n - dev.pending[0][1]) / rate >= self.warmup_s:
            self._place_pending(dev)
            dev.warm = True

    def _place_pending(self, dev: _Device) -> None:
        pending, dev.pending = dev.pending, []
        for frame in pending:
            self._place(dev, *frame)

    def _place(self, dev: _Device, host: float, first: int, n: int, raw: np.ndarray, follows: bool) -> None:
        rate = self.rate_hz
        stats = dev.stats
        placed = self.timebase.place(dev.role, first / rate, n, follows)
        m = placed.n_samples
        if m == 0:
            stats.dropped_rows += n
            return
        rows = placed.rows
        if not placed.one_to_one:     # nearly every frame is one to one: nothing dropped
            distinct = 1 + int(np.count_nonzero(rows[1:] != rows[:-1]))
            stats.dropped_rows += n - distinct
        lo = placed.first_index
        hi = lo + m
        origin = self.timebase.origin_host_s
        assert origin is not None
        # Kept: slots not before 0; not given up by this frame's own arrival time (nor, right
        # after a gap, older than rejoin_s); not out already; not absurdly ahead of the time
        # the frame arrived.
        by_time = math.ceil((host - origin - (self.accept_s if follows else self.rejoin_s)) * rate)
        a = max(lo, 0, by_time, self.emitted_to)
        b = min(hi, math.floor((host - origin + MAX_AHEAD_S) * rate))
        if lo < 0:
            stats.before_origin += min(hi, 0) - lo
        late_from = max(lo, 0)
        if a > late_from:
            stats.late_samples += min(a, hi) - late_from
            stats.reordered_samples += max(0, min(a, hi) - max(late_from, by_time))
        if b < hi:
            stats.ahead_samples += hi - max(b, lo)
        if b <= a:
            return
        self._make_room(b)
        r0, r1 = a - self._buf_start, b - self._buf_start
        self._raw[r0:r1, dev.columns] = raw[a - lo:b - lo] if placed.one_to_one else raw[rows[a - lo:b - lo]]
        self._filled[r0:r1, dev.order] = True
        stats.filled_slots += b - a
        if b > self._high:
            self._high = b

    # ------------------------------------------------------------------ emitting
    def _settled_to(self) -> int:
        """One past the last slot that nothing can still come for, or that was held long
        enough."""
        origin = self.timebase.origin_host_s
        if origin is None:
            return self.emitted_to
        rate = self.rate_hz
        newest = self.newest_host_s
        settled = math.ceil((newest - origin - self.hold_s) * rate)
        waiting = math.inf
        for dev in self._devices.values():
            if dev.down and not dev.pending:
                bound = math.ceil((newest - origin - self.down_wait_s) * rate)
            else:
                # A device's frames come in arrival order: one not placed yet (warming up, even
                # if the device went down since), or one still to come, cannot fill a slot its
                # own arrival has given up.
                since = dev.pending[0][0] if dev.pending else dev.last_host
                if since == -math.inf:
                    waiting = -math.inf   # never heard from: waited for up to hold_s
                    break
                bound = math.ceil((since - origin - self.accept_s) * rate)
                # ... nor one below the slots it filled (placing never goes back).
                placed = self.timebase.devices[dev.role].next_index if dev.fitted else None
                if placed is not None:
                    bound = max(bound, placed)
            waiting = min(waiting, bound)
        return int(min(self._high, max(settled, waiting)))

    def _emit(self, upto: int, out: list[StationOutput]) -> None:
        start = self.emitted_to
        if upto <= start:
            return
        r0, r1 = start - self._buf_start, upto - self._buf_start
        filled = self._filled[r0:r1]
        if filled.all():
            # Every device in every slot (nearly every emit of a live station): one block, no
            # device absent, with one reduction instead of the three below.
            out.append(StationSamples(start, self._raw[r0:r1].copy(), self._all_present))
            self.emitted_to = upto
            return
        # Runs of slots with the same devices present: a block never spans a change.
        changes = np.flatnonzero(np.any(filled[1:] != filled[:-1], axis=1)) + 1
        bounds = [0, *changes.tolist(), r1 - r0]
        absent = (r1 - r0) - filled.sum(axis=0)
        for dev in self._devices.values():
            dev.stats.absent_slots += int(absent[dev.order])
        for a, b in zip(bounds[:-1], bounds[1:]):
            present = tuple(bool(p) for p in filled[a])
            if any(present):
                out.append(StationSamples(start + a, self._raw[r0 + a:r0 + b].copy(), present))
            else:
                out.append(StationGap(start + a, b - a, NO_DEVICE))
                self.gap_slots += b - a
        self.emitted_to = upto

    def _make_room(self, upto: int) -> None:
        """Make buffer rows exist for every slot before `upto` (compacting what is out)."""
        if upto - self._buf_start <= len(self._raw):
            return
        keep_from = self.emitted_to - self._buf_start
        keep_to = max(self._high, self.emitted_to) - self._buf_start
        live = keep_to - keep_from
        capacity = len(self._raw)
        while upto - self.emitted_to > capacity:
            capacity *= 2
        if capacity != len(self._raw):
            raw = np.zeros((capacity, self._n_columns), dtype=np.uint16)
            filled = np.zeros((capacity, self._filled.shape[1]), dtype=bool)
        else:
            raw, filled = self._raw, self._filled
        raw[:live] = self._raw[keep_from:keep_to]
        filled[:live] = self._filled[keep_from:keep_to]
        raw[live:] = 0
        filled[live:] = False
        self._raw, self._filled = raw, filled
        self._buf_start = self.emitted_to
