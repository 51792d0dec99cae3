"""Virtual station devices at the level of wire frames, each with its own clock.

What the station's alignment is measured with: every device samples on its own crystal
(an offset and a skew in ppm against the host's clock), sends a frame of `per_frame` samples
once the last of them is taken, and the host reads it some time later (a small fixed delay,
an exponential jitter, now and then a scheduling hiccup; frames of one device stay in order:
a late one holds up those behind it). On top: late bursts (the link holds frames, then hands
them over at once), link drops (exact gaps: the device kept counting), silent losses, and
reboots (the device's counters and clock restart; the host continues the session index by its
own clock, possibly a few samples off, and says so with an inexact gap).

The messages are what a `GloveClient` makes: `SamplesReceived` with their frame tables (host
receive times in seconds), `GapDetected`, `LinkDown`, `LinkUp`. The samples say which they
are, so a test can check where each one landed: channel 0 holds the session index's low 16
bits, channel 1 its high bits, channel 2 a step (0, then 1000 from ``step_at_s`` of true time
on), the rest 0.

True time is the host's clock. Nothing here is a Python loop per sample.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.vocabulary.station import DeviceMessage
from glovecoach.vocabulary.stream import GapDetected, LinkDown, LinkUp, SamplesReceived
from glovecoach.wire.continuity import TICKS_MASK
from glovecoach.wire.messages import Hello

STEP_VALUE = 1000


@dataclass(frozen=True)
class Dropout:
    """Frames sent in [at_s, at_s + duration_s) are lost. ``announced``: the link went down and
    came back (LinkDown, LinkUp, an exact ``link_lost`` gap); otherwise they just never came
    (an exact ``lost_frames`` gap, as QoS 0 over WiFi loses them)."""

    at_s: float
    duration_s: float
    announced: bool = True


@dataclass(frozen=True)
class Reboot:
    """The device restarts at ``at_s`` and streams again ``boot_s`` later: new counters, a new
    clock. The host's estimate of the samples missed is off by ``index_error``."""

    at_s: float
    boot_s: float = 1.0
    index_error: int = 0


@dataclass(frozen=True)
class Burst:
    """Frames that would arrive in [at_s, at_s + hold_s) arrive together at its end."""

    at_s: float
    hold_s: float


@dataclass(frozen=True)
class VirtualDevice:
    role: str
    n_channels: int
    skew_ppm: float = 0.0      # the device's clock runs this much fast (+) or slow (-)
    offset_s: float = 100.0    # its clock's reading at true time 0
    start_s: float = 0.0       # true time of its first sample
    dropouts: tuple[Dropout, ...] = ()
    reboots: tuple[Reboot, ...] = ()
    bursts: tuple[Burst, ...] = ()


@dataclass(frozen=True)
class LinkModel:
    """How late the host reads a frame: ``base_s`` + exponential(``jitter_s``), plus
    ``hiccup_s`` with probability ``hiccup_p``."""

    base_s: float = 0.0003
    jitter_s: float = 0.002
    hiccup_p: float = 0.01
    hiccup_s: float = 0.04


@dataclass
class DeviceRun:
    """One device's simulated session: its frames (arrival order = sending order), the events
    among them, and the true time of every sample it sent."""

    role: str
    frames: np.ndarray           # FRAME_DTYPE: session index of the first sample, stamp, arrival
    frame_rows: np.ndarray       # first row in `raw` of each frame, and len(raw) at the end
    raw: np.ndarray              # (n, n_channels) uint16, every sample that reached the host
    session_index: np.ndarray    # per row of raw
    true_time: np.ndarray        # per row of raw: when the sample was taken (host clock)
    events: list[tuple[int, float, Any]] = field(default_factory=list)  # (before frame f, arrival, event)

    def true_time_of(self, session_index: np.ndarray) -> np.ndarray:
        """True time of the samples with these session indices (all must have been sent)."""
        rows = np.searchsorted(self.session_index, session_index)
        rows = np.minimum(rows, len(self.session_index) - 1)
        if not np.array_equal(self.session_index[rows], session_index):
            raise KeyError("a session index this device never sent")
        return self.true_time[rows]

    def items(self) -> list[tuple[float, Any]]:
        """(arrival, frame number or event) in the order the link hands them over."""
        out: list[tuple[float, Any]] = []
        pending = sorted(self.events, key=lambda e: e[0])
        e = 0
        arrival = self.frames["host_time"]
        for f in range(len(self.frames) + 1):
            while e < len(pending) and pending[e][0] <= f:
                out.append((pending[e][1], pending[e][2]))
                e += 1
            if f < len(self.frames):
                out.append((float(arrival[f]), f))
        return out


def _hello(role: str, boot_id: int) -> Hello:
    return Hello(1, {"glove_id": f"virtual-{role}", "boot_id": boot_id, "firmware": "sim", "board": "sim",
                     "role": role})


def simulate_device(device: VirtualDevice, seconds: float, rate_hz: int, rng: np.random.Generator, *,
                    per_frame: int = 4, link: LinkModel = LinkModel(), step_at_s: float | None = None) -> DeviceRun:
    """The frames and events one device gives over ``seconds`` of true time."""
    scale = 1.0 + device.skew_ppm * 1e-6
    period = 1.0 / rate_hz
    reboots = sorted(device.reboots, key=lambda r: r.at_s)
    # Streams: (true start, true end, device clock offset, boot index).
    streams = []
    begin, offset = device.start_s, device.offset_s
    for k, reboot in enumerate(reboots):
        streams.append((begin, reboot.at_s, offset, k))
        begin = reboot.at_s + reboot.boot_s
        offset = 0.3 - begin * scale   # a fresh clock reads 0.3 s when streaming starts
    streams.append((begin, seconds, offset, len(reboots)))

    frames_parts, raw_parts, index_parts, true_parts, rows_first = [], [], [], [], []
    events: list[tuple[int, float, Any]] = []
    n_frames_so_far = 0
    next_index = 0
    last_true = None
    for s, (t_begin, t_end, clock_offset, boot) in enumerate(streams):
        d_begin = clock_offset + t_begin * scale
        n = int(np.floor(((t_end - t_begin) * scale) * rate_hz))
        n -= n % per_frame
        if n <= 0:
            continue
        k = np.arange(n)
        device_t = d_begin + k * period
        true_t = (device_t - clock_offset) / scale
        if s == 0:
            session_offset = 0
        else:
            # The host places a new stream by its own clock: the samples missed, as it estimates them.
            reboot = reboots[s - 1]
            missing = max(0, int(round((true_t[0] - last_true) * rate_hz)) - 1 + reboot.index_error)
            session_offset = next_index + missing
            down_at = float(reboot.at_s + 0.05)
            events.append((n_frames_so_far, down_at, LinkDown("device rebooted")))
            events.append((n_frames_so_far, None, LinkUp(_hello(device.role, boot + 1), True)))
            if missing:
                events.append((n_frames_so_far, None, GapDetected(next_index, missing, "device_reset", exact=False)))
        index = k + session_offset
        n_frames = n // per_frame
        send = true_t[per_frame - 1::per_frame]
        delay = link.base_s + rng.exponential(link.jitter_s, n_frames)
        delay += (rng.random(n_frames) < link.hiccup_p) * link.hiccup_s
        arrival = send + delay
        # Link drops: frames sent inside are lost; the gap is told before the next frame.
        keep = np.ones(n_frames, dtype=bool)
        drops = []
        for drop in device.dropouts:
            inside = (send >= drop.at_s) & (send < drop.at_s + drop.duration_s)
            if inside.any():
                keep[inside] = False
                drops.append((drop, np.flatnonzero(inside)))
        for drop, lost in drops:
            after = int(lost[-1]) + 1
            if after >= n_frames:
                continue   # the session ended inside it: no gap is ever told
            before = n_frames_so_far + int(np.count_nonzero(keep[:after]))
            first_lost = int(index[lost[0] * per_frame])
            n_lost = int(index[after * per_frame]) - first_lost
            if drop.announced:
                events.append((before, float(drop.at_s + 0.1), LinkDown("link lost")))
                events.append((before, None, LinkUp(_hello(device.role, boot), True)))
                events.append((before, None, GapDetected(first_lost, n_lost, "link_lost", exact=True)))
            else:
                events.append((before, None, GapDetected(first_lost, n_lost, "lost_frames", exact=True)))
        for burst in device.bursts:
            held = (arrival >= burst.at_s) & (arrival < burst.at_s + burst.hold_s)
            arrival[held] = burst.at_s + burst.hold_s
        # One link delivers in order: a late frame holds up those behind it.
        arrival = np.maximum.accumulate(arrival)
        # The device stamps a frame with the time its first sample was taken (a little after
        # the slot's deadline, never before).
        stamp_s = device_t[::per_frame] + rng.uniform(0.0, 0.0002, n_frames)
        table = np.zeros(n_frames, dtype=FRAME_DTYPE)
        table["sample_index"] = index[::per_frame]
        table["t_us"] = (np.floor(stamp_s * 1e6).astype(np.int64) & TICKS_MASK).astype(np.uint32)
        table["host_time"] = arrival
        sample_keep = np.repeat(keep, per_frame)
        kept_index = index[sample_keep]
        kept_true = true_t[sample_keep]
        raw = np.zeros((len(kept_index), device.n_channels), dtype=np.uint16)
        raw[:, 0] = kept_index & 0xFFFF
        if device.n_channels > 1:
            raw[:, 1] = (kept_index >> 16) & 0xFFFF
        if device.n_channels > 2 and step_at_s is not None:
            raw[:, 2] = np.where(kept_true >= step_at_s, STEP_VALUE, 0)
        start_row = sum(len(p) for p in raw_parts)
        rows_first.append(start_row + np.arange(int(keep.sum())) * per_frame)
        frames_parts.append(table[keep])
        raw_parts.append(raw)
        index_parts.append(kept_index)
        true_parts.append(kept_true)
        n_frames_so_far += int(keep.sum())
        next_index = int(index[-1]) + 1
        last_true = float(true_t[-1])

    frames = np.concatenate(frames_parts) if frames_parts else np.zeros(0, FRAME_DTYPE)
    n_rows = sum(len(p) for p in raw_parts)
    frame_rows = np.r_[np.concatenate(rows_first) if rows_first else np.zeros(0, np.int64), n_rows]
    # Events without their own time come with the frame after them (just before it).
    arrivals = frames["host_time"]
    timed = []
    for before, at, event in events:
        if at is None:
            at = float(arrivals[before]) if before < len(frames) else float(arrivals[-1])
        elif before > 0:
            at = max(at, float(arrivals[before - 1]))   # after the frames before it
        timed.append((before, at, event))
    return DeviceRun(device.role, frames, frame_rows.astype(np.int64),
                     np.concatenate(raw_parts) if raw_parts else np.zeros((0, device.n_channels), np.uint16),
                     np.concatenate(index_parts) if index_parts else np.zeros(0, np.int64),
                     np.concatenate(true_parts) if true_parts else np.zeros(0), timed)


def deliver(runs: Sequence[DeviceRun], *, poll_s: float = 0.02, max_join: int = 1,
            lag_s: float = 0.0, rng: np.random.Generator | None = None) -> Iterator[tuple[float, list[DeviceMessage]]]:
    """The devices' messages as a station source polls them: every ``poll_s`` each device hands
    over what arrived by then (``lag_s``: up to that much later, at random per device and poll:
    the devices are not polled at the same instant), consecutive frames joined into blocks of
    up to ``max_join`` frames (at random), in an order of devices that changes every poll.
    Yields (the poll's host time, its messages)."""
    rng = rng or np.random.default_rng(0)
    items = [run.items() for run in runs]
    pos = [0] * len(runs)
    cut = [-np.inf] * len(runs)
    ends = [it[-1][0] for it in items if it]
    if not ends:
        return
    first = min(it[0][0] for it in items if it)
    last = max(ends)
    n_polls = int(np.ceil((last - first) / poll_s)) + 2
    for j in range(n_polls):
        now = first + j * poll_s
        final = j == n_polls - 1
        poll: list[DeviceMessage] = []
        for d in rng.permutation(len(runs)).tolist():
            run, its = runs[d], items[d]
            cut[d] = max(cut[d], now - (rng.uniform(0.0, lag_s) if lag_s else 0.0))
            i = pos[d]
            block: list[int] = []
            limit = int(rng.integers(1, max_join + 1))
            while i < len(its) and (final or its[i][0] <= cut[d]):
                what = its[i][1]
                if isinstance(what, int):
                    if block and (len(block) >= limit or run.frames["sample_index"][what]
                                  != _end_of(run, block[-1])):
                        poll.append(DeviceMessage(run.role, _block(run, block)))
                        block = []
                        limit = int(rng.integers(1, max_join + 1))
                    block.append(what)
                else:
                    if block:
                        poll.append(DeviceMessage(run.role, _block(run, block)))
                        block = []
                    poll.append(DeviceMessage(run.role, what))
                i += 1
            if block:
                poll.append(DeviceMessage(run.role, _block(run, block)))
            pos[d] = i
        yield now, poll


def _end_of(run: DeviceRun, f: int) -> int:
    return int(run.frames["sample_index"][f]) + int(run.frame_rows[f + 1] - run.frame_rows[f])


def _block(run: DeviceRun, frames: list[int]) -> SamplesReceived:
    f0, f1 = frames[0], frames[-1] + 1
    r0, r1 = int(run.frame_rows[f0]), int(run.frame_rows[f1])
    return SamplesReceived(int(run.frames["sample_index"][f0]), run.raw[r0:r1], run.frames[f0:f1])


def session_indices(raw_columns: np.ndarray) -> np.ndarray:
    """The session index a device's simulated samples carry in their first two channels."""
    return raw_columns[:, 0].astype(np.int64) | (raw_columns[:, 1].astype(np.int64) << 16)


def placement_errors(run: DeviceRun, columns: np.ndarray, present: np.ndarray, origin_host_s: float,
                     rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(slots, error) of one device on the station index: for every slot the device filled,
    its slot minus where its sample's true time puts it, ``(true - origin) * rate``. The same
    constant for every device (the frames' least delay) is left in; the spread is what matters."""
    slots = np.flatnonzero(present)
    true = run.true_time_of(session_indices(columns[slots]))
    return slots, slots - (true - origin_host_s) * rate_hz
