"""A station's recorded devices, put on the station index again.

A station recording keeps every device's own stream losslessly (its samples on its own
session index, its wire-frame table with the host receive times, its gaps). `align_recording`
plays those frames, in the host-time order they arrived, through the same `StationAligner`
the live session used; given the origin the live session stored, it gives the slots the live
session gave (the aligner decides per frame, from the frame's own receive time, what a late
device still delivers, so the order in which a live poll handed the devices' messages over
does not matter).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from glovecoach.recording.parts import NOT_RECORDED
from glovecoach.station.aligner import DeviceStats, StationAligner
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout, StationSamples
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived

# Frames fed per call: the aligner sorts within a call, the frames are already in order.
_CHUNK = 2048


@dataclass(frozen=True)
class AlignedStation:
    """A whole station on the station index: slot ``i`` is ``raw[i]``, taken
    ``origin_host_s + i / rate_hz`` (host seconds); ``present[i, d]`` says whether device ``d``
    (layout order) filled it (an absent device's columns are 0)."""

    layout: StationLayout
    rate_hz: float
    origin_host_s: float | None
    raw: np.ndarray        # (n_total, len(layout.columns)) uint16
    present: np.ndarray    # (n_total, len(layout.devices)) bool
    devices: dict[str, DeviceStats]   # per role: its clock fit (offset_s, clock_ppm) and counters

    @property
    def n_total(self) -> int:
        return int(self.raw.shape[0])

    @property
    def gap_slots(self) -> int:
        """Slots no device filled."""
        return int(np.count_nonzero(~self.present.any(axis=1)))

    def columns_of(self, role: str) -> np.ndarray:
        """Device ``role``'s columns, every slot (0 where it is absent)."""
        return self.raw[:, self.layout.slice_of(role)]


def _device_messages(role: str, recording: Any, rate_hz: float, n_channels: int) -> tuple[np.ndarray, list[Any]]:
    """One device's frames as one-frame `SamplesReceived`, with its gaps just before the frame
    that follows each; returns (host time of each message's frame, messages)."""
    if float(recording.rate_hz) != float(rate_hz):
        raise ValueError(f"{role}: recorded at {recording.rate_hz} Hz, the station runs at {rate_hz} Hz")
    raw = np.asarray(recording.raw)
    if raw.ndim != 2 or raw.shape[1] != n_channels:
        raise ValueError(f"{role}: the recording has {raw.shape[1] if raw.ndim == 2 else '?'} channels, "
                         f"the station layout gives this device {n_channels}")
    index = np.asarray(recording.sample_index, dtype=np.int64)
    frames = np.asarray(recording.frames)
    if len(frames):
        frames = frames[np.argsort(frames["sample_index"], kind="stable")]
    starts = frames["sample_index"].astype(np.int64) if len(frames) else np.zeros(0, np.int64)
    # The row of each frame's first sample; a frame whose samples the file lost is skipped.
    rows = np.searchsorted(index, starts)
    kept = (rows < len(index)) & (index[np.minimum(rows, max(len(index) - 1, 0))] == starts) if len(index) \
        else np.zeros(len(starts), dtype=bool)
    frames, starts, rows = frames[kept], starts[kept], rows[kept]
    # Contiguous runs of rows: a frame ends at the next frame or at the end of its run.
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    run_start_row = np.r_[0, breaks]
    run_end_row = np.r_[breaks, len(index)]
    run_of = np.searchsorted(run_start_row, rows, side="right") - 1
    end_rows = run_end_row[run_of] if len(rows) else np.zeros(0, np.int64)
    if len(rows) > 1:
        same_run = run_of[1:] == run_of[:-1]
        end_rows[:-1] = np.where(same_run, np.minimum(rows[1:], end_rows[:-1]), end_rows[:-1])
    # Rows of a run before its first frame have no receive time: they travel with that frame
    # (the aligner counts them as unframed, as it does live).
    first_in_run = np.r_[True, run_of[1:] != run_of[:-1]] if len(rows) else np.zeros(0, bool)
    begin_rows = np.where(first_in_run, run_start_row[run_of] if len(rows) else rows, rows)

    gaps = sorted(getattr(recording, "gaps", ()) or (), key=lambda g: g.first_index)
    gap_at = np.searchsorted(starts, [g.end_index for g in gaps], side="left") if gaps else []
    pending: dict[int, list[Any]] = {}
    trailing: list[Any] = []
    for gap, at in zip(gaps, gap_at):
        event = gap if isinstance(gap, GapDetected) else GapDetected(gap.first_index, gap.n_samples,
                                                                      gap.reason, gap.exact)
        if at < len(starts):
            pending.setdefault(int(at), []).append(event)
        else:
            trailing.append(event)

    host = frames["host_time"].astype(np.float64) if len(frames) else np.zeros(0)
    messages: list[Any] = []
    times: list[float] = []
    for i, (b, e) in enumerate(zip(begin_rows.tolist(), end_rows.tolist())):
        for event in pending.get(i, ()):
            messages.append(event)
            times.append(float(host[i]))
        messages.append(SamplesReceived(int(index[b]), raw[b:e], frames[i:i + 1]))
        times.append(float(host[i]))
    last = float(host[-1]) if len(host) else -np.inf
    for event in trailing:
        messages.append(event)
        times.append(last)
    return np.asarray(times, dtype=np.float64), messages


def align_recording(devices: Mapping[str, Any], layout: StationLayout, rate_hz: float,
                    origin: float | None = None, *, hold_s: float = 0.25, **options: Any) -> AlignedStation:
    """Put recorded devices on one station index.

    ``devices``: per role, anything with a recording's ``raw``, ``sample_index``, ``frames``
    (the wire-frame table), ``gaps`` and ``rate_hz`` (a `Recording`, or a station recording's
    ``devices``). ``origin``: the host time of station slot 0 the live session used (stored
    with the recording); None takes the first sample placed, as a live session does.
    ``hold_s`` and ``options`` are the `StationAligner`'s, and must be the live session's for
    the same slots."""
    blocks, aligner = _aligned_blocks(devices, layout, rate_hz, origin, hold_s, **options)
    raw, present = station_arrays(blocks, layout)
    return AlignedStation(layout, float(rate_hz), aligner.origin_host_s, raw, present, aligner.stats())


def _aligned_blocks(devices: Mapping[str, Any], layout: StationLayout, rate_hz: float, origin: float | None,
                    hold_s: float, **options: Any) -> tuple[list[StationSamples | StationGap], StationAligner]:
    """The station blocks `align_recording` puts together, and the aligner that made them."""
    for role in devices:
        if role not in layout.roles:
            raise ValueError(f"a recording of {role!r}, which is not a device of this station "
                             f"(it has {', '.join(layout.roles)})")
    aligner = StationAligner(layout, rate_hz, hold_s, origin_host_s=origin, **options)
    for role in layout.roles:
        if role not in devices:
            aligner.set_down(role)   # never there: nobody waits for it
    order = {role: i for i, role in enumerate(layout.roles)}
    all_times, all_order, all_seq, all_messages = [], [], [], []
    for role, recording in devices.items():
        times, messages = _device_messages(role, recording, rate_hz, len(layout.device(role).channels))
        # The aligner merges devices by host time keeping each device's own order: the same
        # key here (the running latest receive time), so chunks handed in are already merged.
        if len(times):
            times = np.maximum.accumulate(times)
        all_times.append(times)
        all_order.append(np.full(len(times), order[role]))
        all_seq.append(np.arange(len(times)))
        all_messages.extend(DeviceMessage(role, m) for m in messages)
    if all_messages:
        keys = np.concatenate(all_times)
        merged = np.lexsort((np.concatenate(all_seq), np.concatenate(all_order), keys))
    else:
        merged = np.zeros(0, np.int64)
    blocks: list[StationSamples | StationGap] = []
    for k in range(0, len(merged), _CHUNK):
        blocks.extend(aligner.feed([all_messages[i] for i in merged[k:k + _CHUNK].tolist()]))
    blocks.extend(aligner.finish())
    return blocks, aligner


def station_arrays(blocks: Iterable[StationSamples | StationGap],
                   layout: StationLayout) -> tuple[np.ndarray, np.ndarray]:
    """(raw, present) of station blocks that follow each other from slot 0, as a live session
    emitted them; raises ValueError where one does not start where the last ended."""
    blocks = list(blocks)
    n_total = blocks[-1].first_index + blocks[-1].n_samples if blocks else 0
    raw = np.zeros((n_total, len(layout.columns)), dtype=np.uint16)
    present = np.zeros((n_total, len(layout.devices)), dtype=bool)
    at = 0
    for block in blocks:
        if block.first_index != at:
            raise ValueError(f"station block at slot {block.first_index}, expected one at {at}")
        at = block.first_index + block.n_samples
        if isinstance(block, StationSamples):
            raw[block.first_index:at] = block.raw
            present[block.first_index:at] = block.present
    return raw, present


def align_station_recording(station: Any, *, hold_s: float = 0.25, **options: Any) -> AlignedStation:
    """`align_recording` of a station recording (anything with ``devices`` by role, ``layout``,
    ``rate_hz`` and ``station_origin``), on the origin its live session stored.

    A session recorded in parts (``parts``: a picked-up class, glovecoach.recording.parts) is
    aligned part by part, each with an aligner of its own from where the part before ended, as
    the run that recorded it aligned it live: that run fitted each device's clock afresh and
    counted its devices' samples from 0. One aligner over the joined streams fits on across
    the gap instead, and at host times of 1.8e9 s the two fits' last bits differ enough to put
    a sample a slot away now and then: the joined report then differed from the one the
    picked-up session gave live."""
    parts = getattr(station, "parts", ())
    if len(parts) < 2:
        return align_recording(station.devices, station.layout, station.rate_hz,
                               getattr(station, "station_origin", None), hold_s=hold_s, **options)
    layout, rate = station.layout, station.rate_hz
    origin = float(station.station_origin)
    blocks: list[StationSamples | StationGap] = []
    stats: dict[str, DeviceStats] = {}
    end = 0
    for part in parts:
        # A part that went on with the session's origin is at 0; one that aligned its devices
        # afresh, at the distance between the origins (as recording.parts joins them).
        offset = round((float(part.station_origin) - origin) * rate)
        part_blocks, aligner = _aligned_blocks(part.devices, layout, rate, float(part.station_origin), hold_s,
                                               start_slot=max(0, end - offset), **options)
        if part_blocks and part_blocks[0].first_index + offset > end:
            # a part aligned afresh begins where its own origin put it: the slots between
            # are the time no app recorded
            blocks.append(StationGap(end, part_blocks[0].first_index + offset - end, NOT_RECORDED))
        for block in part_blocks:
            blocks.append(dataclasses.replace(block, first_index=block.first_index + offset))
        if blocks:
            end = blocks[-1].first_index + blocks[-1].n_samples
        for role, part_stats in aligner.stats().items():
            stats[role] = part_stats if role not in stats else _add_stats(stats[role], part_stats)
    raw, present = station_arrays(blocks, layout)
    return AlignedStation(layout, float(rate), origin, raw, present, stats)


def _add_stats(before: DeviceStats, after: DeviceStats) -> DeviceStats:
    """One device's counters over two parts; its clock as the later part fitted it."""
    counts = {f.name: getattr(before, f.name) + getattr(after, f.name) for f in dataclasses.fields(DeviceStats)
              if f.type in ("int", int)}
    return dataclasses.replace(after, **counts)
