"""Loss accounting from docs/protocol.md section 2 and the 30-bit clock unwrapping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from glovecoach.wire import (
    TICKS_MODULUS,
    ContinuityTracker,
    MissingSlots,
    SampleBatch,
    StaleFrame,
    StreamRestart,
    unwrap_ticks,
)

_clock = itertools.count(1000, 20_000)  # device stamps: every frame is sent after the one before


def batch(frames: list[tuple[int, int, int]], flags: list[int] | None = None, channels: int = 2,
          t_us: list[int] | None = None) -> SampleBatch:
    """Batch from (seq, sample_index, n_samples) per frame, stamped later than any frame made
    before it (as a device stamps frames) unless ``t_us`` is given (a repeated or old frame)."""
    n = np.array([f[2] for f in frames], np.uint16)
    stamps = t_us if t_us is not None else [next(_clock) for _ in frames]
    return SampleBatch(np.zeros((int(n.sum()), channels), np.uint16), np.array([f[0] for f in frames], np.uint32),
                       np.array([f[1] for f in frames], np.uint32), np.array(stamps, np.uint32), n,
                       np.array(flags or [0] * len(frames), np.uint8))


def test_contiguous_frames_report_nothing():
    tracker = ContinuityTracker()
    assert tracker.update(batch([(0, 0, 4), (1, 4, 4), (2, 8, 4)])) == []
    assert tracker.update(batch([(3, 12, 4)])) == []
    assert (tracker.lost_frames, tracker.missing_samples, tracker.frames, tracker.samples) == (0, 0, 4, 16)
    assert tracker.next_sample_index == 16


def test_lost_frames_inside_and_across_batches():
    tracker = ContinuityTracker()
    events = tracker.update(batch([(0, 0, 4), (1, 4, 4), (4, 16, 4)]))
    assert events == [MissingSlots(device_sample_index=8, missing_samples=8, lost_frames=2, frame=2, row=8)]
    events = tracker.update(batch([(6, 24, 4), (7, 28, 4)]))
    assert events == [MissingSlots(20, 4, 1, frame=0, row=0)]
    assert (tracker.lost_frames, tracker.missing_samples) == (3, 12)


def test_device_skip_is_missing_samples_without_lost_frames():
    tracker = ContinuityTracker()
    # frame 1 sent early with 2 samples, then the device skipped 3 slots
    events = tracker.update(batch([(0, 0, 4), (1, 4, 2), (2, 9, 4)]))
    assert events == [MissingSlots(6, 3, 0, frame=2, row=6)]
    assert (tracker.lost_frames, tracker.missing_samples) == (0, 3)


def test_start_flag_and_backwards_index_are_restarts():
    tracker = ContinuityTracker()
    first = tracker.update(batch([(0, 0, 4), (1, 4, 4)], flags=[1, 0]))
    assert first == [StreamRestart(0, 0, "start_flag", frame=0, row=0)]
    events = tracker.update(batch([(2, 8, 4), (0, 0, 4), (1, 4, 4), (1, 8, 4)], flags=[0, 1, 0, 0]))
    assert events == [StreamRestart(0, 0, "start_flag", frame=1, row=4),
                      StreamRestart(8, 1, "seq_not_increasing", frame=3, row=12)]
    # START's first frame lost: the stream starts again at seq 1, sample_index 4 (< 12 expected)
    events = tracker.update(batch([(1, 4, 4), (3, 12, 4)]))
    assert events == [StreamRestart(4, 1, "sample_index_backwards", 0, 0), MissingSlots(8, 4, 1, frame=1, row=4)]
    assert tracker.restarts == 4 and tracker.lost_frames == 1


def test_first_frame_without_flag_is_taken_as_is_and_reset_forgets():
    tracker = ContinuityTracker()
    assert tracker.update(batch([(100, 400, 4)])) == []
    tracker.reset()  # new boot_id seen
    assert tracker.update(batch([(5, 20, 4)])) == []  # no false gap or restart against the old boot
    assert tracker.next_sample_index == 24


def test_unwrap_across_several_wraps_in_pieces():
    rng = np.random.default_rng(3)
    steps = rng.integers(0, TICKS_MODULUS // 2 - 1, 400)
    true = 123 + np.cumsum(steps)  # ~50 wraps
    assert true[-1] > 5 * TICKS_MODULUS
    stamps = (true & (TICKS_MODULUS - 1)).astype(np.uint32)
    out, last = [], None
    for piece in np.array_split(stamps, [1, 7, 8, 100, 250]):
        unwrapped = unwrap_ticks(piece, last)
        if unwrapped.size:
            last = int(unwrapped[-1])
        out.append(unwrapped)
    result = np.concatenate(out)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result - result[0], true - true[0])
    np.testing.assert_array_equal(result % TICKS_MODULUS, stamps)


def test_unwrap_small_backwards_step_stays_backwards():
    result = unwrap_ticks(np.array([TICKS_MODULUS - 10, 5, 3], np.uint32))
    assert result.tolist() == [TICKS_MODULUS - 10, TICKS_MODULUS + 5, TICKS_MODULUS + 3]
    assert unwrap_ticks(np.array([], np.uint32), 7).size == 0
    assert unwrap_ticks(np.array([2], np.uint32), 3 * TICKS_MODULUS - 4).tolist() == [3 * TICKS_MODULUS + 2]


@pytest.mark.parametrize("n_frames", [1, 50])
def test_tracker_on_empty_and_single_batches(n_frames):
    tracker = ContinuityTracker()
    empty = batch([(0, 0, 1)]).frames(0, 0)
    assert empty.n_frames == 0 and tracker.update(empty) == []
    frames = [(k, 3 * k, 3) for k in range(n_frames)]
    assert tracker.update(batch(frames)) == []
    assert tracker.samples == 3 * n_frames


def test_a_frame_received_twice_is_dropped_and_counted_not_a_restart():
    tracker = ContinuityTracker()
    tracker.update(batch([(0, 0, 4), (1, 4, 4)], flags=[1, 0]))
    stamp = next(_clock)
    events = tracker.update(batch([(2, 8, 4), (2, 8, 4), (3, 12, 4)], t_us=[stamp, stamp, stamp + 20_000]))
    assert events == [StaleFrame(8, 2, duplicate=True, frame=1, row=4)]
    # ... also when the copy comes in a later batch, and for the first frame of a stream
    assert tracker.update(batch([(3, 12, 4)], t_us=[stamp + 20_000])) == [StaleFrame(12, 3, True)]
    assert (tracker.duplicates, tracker.out_of_order, tracker.restarts, tracker.lost_frames) == (2, 0, 1, 0)
    assert tracker.next_sample_index == 16 and tracker.samples == 16


def test_a_repeated_start_frame_is_a_duplicate_but_a_new_start_is_a_restart():
    tracker = ContinuityTracker()
    start = next(_clock)
    tracker.update(batch([(0, 0, 4)], flags=[1], t_us=[start]))
    assert tracker.update(batch([(0, 0, 4)], flags=[1], t_us=[start])) == [StaleFrame(0, 0, True)]
    tracker.update(batch([(1, 4, 4)]))
    # START again: seq and slots restart, but the stamp is later: a new stream, not a copy
    assert tracker.update(batch([(0, 0, 4)], flags=[1])) == [StreamRestart(0, 0, "start_flag")]


def test_a_late_frame_after_its_successor_is_a_gap_then_dropped_as_out_of_order():
    tracker = ContinuityTracker()
    a, b, c = next(_clock), next(_clock), next(_clock)
    tracker.update(batch([(0, 0, 4)], flags=[1], t_us=[a]))
    events = tracker.update(batch([(2, 8, 4), (1, 4, 4)], t_us=[c, b]))
    assert events == [MissingSlots(4, 4, 1, frame=0, row=0), StaleFrame(4, 1, duplicate=False, frame=1, row=4)]
    assert (tracker.out_of_order, tracker.duplicates, tracker.lost_frames) == (1, 0, 1)
    assert tracker.next_sample_index == 12


def test_lost_start_frame_of_a_new_stream_is_still_a_restart_not_stale():
    """seq and slots both went back without the flag (START's first frame lost): the stamp is
    later than everything taken, so it is a new stream."""
    tracker = ContinuityTracker()
    tracker.update(batch([(0, 0, 4), (1, 4, 4), (2, 8, 4)], flags=[1, 0, 0]))
    assert tracker.update(batch([(1, 4, 4)])) == [StreamRestart(4, 1, "sample_index_backwards")]
    assert tracker.duplicates == tracker.out_of_order == 0
