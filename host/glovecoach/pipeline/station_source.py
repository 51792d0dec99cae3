"""Sources of a station's pipeline: the live devices, and an aligned station recording.

`StationSource` polls one client per device and hands on, in order, every device's own
messages (`DeviceMessage`: what a recorder writes, losslessly, on each device's own session
index) and then the station blocks those messages complete (`StationSamples` /
`StationGap` on the one station index, what the coaching takes).

`StationRecordingSource` plays an aligned station (`glovecoach.station.replay.align_recording`)
into a pipeline the way `RecordingSource` plays one device: blocks of at most so many slots,
never across a change in which devices are present, with a `StationGap` for slots no device
filled (the blocks a live session gave, joined differently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np

from glovecoach.pipeline.notifier import join_sample_runs
from glovecoach.station.aligner import NO_DEVICE, DeviceStats, StationAligner
from glovecoach.station.replay import AlignedStation
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout, StationSamples

StationBlock = StationSamples | StationGap


class PollingClient(Protocol):
    def poll(self) -> list[Any]:
        """The link events since the last call (never blocks): a `GloveClient`."""
        ...


def join_station_blocks(blocks: Iterable[StationBlock]) -> list[StationBlock]:
    """Join consecutive station blocks that continue each other with the same devices present
    (the aligner gives a block per frame it completes; a listener's cost is per call)."""
    out: list[StationBlock] = []
    run: list[StationSamples] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(StationSamples(run[0].first_index, np.concatenate([b.raw for b in run]), run[0].present))
        run.clear()

    for block in blocks:
        if isinstance(block, StationSamples):
            if run and (block.present != run[-1].present
                        or block.first_index != run[-1].first_index + run[-1].n_samples):
                close_run()
            run.append(block)
            continue
        close_run()
        if out and isinstance(out[-1], StationGap) and out[-1].end_index == block.first_index \
                and out[-1].reason == block.reason:
            out[-1] = StationGap(out[-1].first_index, out[-1].n_samples + block.n_samples, block.reason)
        else:
            out.append(block)
    close_run()
    return out


class StationSource:
    """`poll()`: every device's messages since the last poll, then the station blocks they
    complete. A device of the layout without a client is never waited for."""

    def __init__(self, clients: Mapping[str, PollingClient], layout: StationLayout, rate_hz: float,
                 hold_s: float = 0.25, *, origin_host_s: float | None = None, **options: Any) -> None:
        unknown = [role for role in clients if role not in layout.roles]
        if unknown:
            raise ValueError(f"clients for {', '.join(map(repr, unknown))}, which this station does not have "
                             f"(it has {', '.join(layout.roles)})")
        self.clients = dict(clients)
        self.layout = layout
        self.aligner = StationAligner(layout, rate_hz, hold_s, origin_host_s=origin_host_s, **options)
        for role in layout.roles:
            if role not in self.clients:
                self.aligner.set_down(role)

    @property
    def origin_host_s(self) -> float | None:
        """Host time of station slot 0 (None before the first sample): a recorder stores it."""
        return self.aligner.origin_host_s

    def stats(self) -> dict[str, DeviceStats]:
        return self.aligner.stats()

    def poll(self) -> list[Any]:
        # A device's consecutive frames joined into one block (as the Notifier joins a single
        # glove's): the recorder then writes once per device per poll, not once per 20 ms frame;
        # the aligner still places every frame by its own row of the frame table.
        messages = [DeviceMessage(role, event) for role, client in self.clients.items()
                    for event in join_sample_runs(client.poll())]
        if not messages:
            return []
        return [*messages, *join_station_blocks(self.aligner.feed(messages))]

    def finish(self) -> list[Any]:
        """The devices' last messages and every station slot still held (the session is over)."""
        out = self.poll()
        return [*out, *join_station_blocks(self.aligner.finish())]


class StationRecordingSource:
    """`poll()` gives the station blocks up to the slot set by `advance_to`."""

    def __init__(self, aligned: AlignedStation, block_rows: int) -> None:
        self.aligned = aligned
        self.block_rows = max(1, int(block_rows))
        self.total = aligned.n_total
        self.end_index = 0   # one past the last slot delivered
        self._stop = 0

    def advance_to(self, index: int) -> None:
        """The next `poll()` delivers the station index up to (not including) `index`."""
        self._stop = int(min(max(index, 0), self.total))

    def advance_to_end(self) -> None:
        self._stop = self.total

    def poll(self) -> list[StationBlock]:
        start, stop = self.end_index, self._stop
        if stop <= start:
            return []
        present = self.aligned.present[start:stop]
        changes = np.flatnonzero(np.any(present[1:] != present[:-1], axis=1)) + 1
        run_starts = np.r_[0, changes]
        run_stops = np.r_[changes, stop - start]
        out: list[StationBlock] = []
        raw = self.aligned.raw
        for a, b in zip(run_starts.tolist(), run_stops.tolist()):
            flags = tuple(bool(p) for p in present[a])
            if not any(flags):
                out.append(StationGap(start + a, b - a, NO_DEVICE))
                continue
            for s in range(start + a, start + b, self.block_rows):
                e = min(s + self.block_rows, start + b)
                out.append(StationSamples(s, raw[s:e], flags))
        self.end_index = stop
        return out
