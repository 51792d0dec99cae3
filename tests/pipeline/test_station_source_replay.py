"""`StationRecordingSource`: an aligned station played into a pipeline in blocks, as the
live station source gave it."""

from __future__ import annotations

import numpy as np

from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.notifier import Notifier
from glovecoach.pipeline.station_source import StationRecordingSource
from glovecoach.station.aligner import NO_DEVICE, DeviceStats
from glovecoach.station.replay import AlignedStation, station_arrays
from glovecoach.vocabulary.station import StationGap, StationLayout, StationSamples

RATE = 200
LAYOUT = StationLayout.full()


def aligned_with_holes() -> AlignedStation:
    """1,000 slots: all three devices, the strip out for 200, nobody for 50, the left glove
    out for the last 100."""
    n = 1000
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 4096, (n, len(LAYOUT.columns))).astype(np.uint16)
    present = np.ones((n, 3), dtype=bool)
    present[300:500, 2] = False
    present[600:650] = False
    present[900:, 0] = False
    for d, role in enumerate(LAYOUT.roles):
        raw[~present[:, d], LAYOUT.slice_of(role)] = 0
    return AlignedStation(LAYOUT, RATE, 1234.5, raw, present, {r: DeviceStats(r) for r in LAYOUT.roles})


def test_blocks_up_to_an_index_never_across_a_change_of_presence():
    aligned = aligned_with_holes()
    source = StationRecordingSource(aligned, block_rows=64)
    out = []
    for stop in (0, 10, 333, 333, 640, 2000):
        source.advance_to(stop)
        got = source.poll()
        assert source.end_index == min(stop, aligned.n_total)
        out.extend(got)
    assert source.poll() == []
    for block in out:
        if isinstance(block, StationSamples):
            assert block.n_samples <= 64
            span = aligned.present[block.first_index:block.first_index + block.n_samples]
            assert np.all(span == block.present)
        else:
            assert block.reason == NO_DEVICE
    gaps = [b for b in out if isinstance(b, StationGap)]
    # the gap is cut where a poll stopped, as a live source cuts it
    assert [(g.first_index, g.n_samples) for g in gaps] == [(600, 40), (640, 10)]
    raw, present = station_arrays(out, LAYOUT)
    assert np.array_equal(raw, aligned.raw) and np.array_equal(present, aligned.present)


def test_played_through_a_notifier_to_a_listener():
    aligned = aligned_with_holes()
    source = StationRecordingSource(aligned, block_rows=200)

    class Collect(Listener):
        def __init__(self) -> None:
            self.got = []

        def on_other(self, message):
            self.got.append(message)

    listener = Collect()
    notifier = Notifier(source, [listener], join_samples=False)
    source.advance_to_end()
    notifier.pump()
    raw, present = station_arrays(listener.got, LAYOUT)
    assert np.array_equal(raw, aligned.raw) and np.array_equal(present, aligned.present)
    assert aligned.gap_slots == 50
