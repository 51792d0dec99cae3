"""SessionTimeline alone: hand-made SAMPLES sequences (as a glove at 200 Hz sends them, 4 samples
a frame every 20 ms) placed on the session timeline, with no thread, port or firmware."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.link.events import GapDetected, SamplesReceived
from glovecoach.link.session_timeline import SessionTimeline
from glovecoach.wire import TICKS_MODULUS, SampleBatch
from glovecoach.wire.messages import SAMPLES_FIRST_AFTER_START

RATE = 200
N = 4             # samples per frame
PERIOD_US = 5000  # 1e6 / RATE
HOST0 = 1000.0    # monotonic host time of device time 0
DELAY = 0.003     # a frame reaches the host 3 ms after its last sample


def frames(*specs, t0_us: int = 0, wrap_at: int | None = None) -> SampleBatch:
    """One batch of frames given as (seq, device sample_index) or (seq, index, flags); each frame's
    stamp is its slot time from ``t0_us`` (mod 2^30, as the glove stamps), its values encode its
    device slot so a test can see where every row went."""
    seq = np.array([s[0] for s in specs], np.uint32)
    index = np.array([s[1] for s in specs], np.uint32)
    flags = np.array([s[2] if len(s) > 2 else 0 for s in specs], np.uint8)
    t_us = (t0_us + index.astype(np.int64) * PERIOD_US) % TICKS_MODULUS
    slots = (index.astype(np.int64)[:, None] + np.arange(N)).reshape(-1)
    raw = np.stack([slots % 4096, (slots * 7) % 4096], axis=1).astype(np.uint16)
    return SampleBatch(raw, seq, index, t_us.astype(np.uint32), np.full(len(specs), N, np.uint16), flags)


def received(batch: SampleBatch, t0_us: int = 0, host0: float = HOST0) -> float:
    """Host time the batch arrives: after the last sample of its last frame."""
    last = int(batch.sample_index[-1]) + N - 1
    return host0 + (t0_us + last * PERIOD_US) / 1e6 + DELAY


def place(timeline: SessionTimeline, batch: SampleBatch, **kw) -> list:
    return timeline.place(batch, received(batch, **kw), RATE)


def samples(events) -> list[tuple[int, int]]:
    return [(e.first_index, len(e.raw)) for e in events if isinstance(e, SamplesReceived)]


def gaps(events) -> list[GapDetected]:
    return [e for e in events if isinstance(e, GapDetected)]


def test_a_contiguous_stream_starts_the_session_at_zero_and_keeps_every_row():
    timeline = SessionTimeline(wall_minus_mono=1.7e9)
    events = place(timeline, frames((0, 1000, SAMPLES_FIRST_AFTER_START), (1, 1004), (2, 1008)))
    events += place(timeline, frames((3, 1012)))
    assert gaps(events) == []
    assert samples(events) == [(0, 12), (12, 4)]
    rows = np.concatenate([e.raw for e in events])
    assert rows[:, 0].tolist() == list(range(1000, 1016))  # device slot 1000 is session sample 0
    table = events[0].frames
    assert table["sample_index"].tolist() == [0, 4, 8]
    assert table["host_time"][0] == pytest.approx(received(frames((2, 1008))) + 1.7e9)
    assert timeline.next_index == 16 and timeline.samples == 16


def test_frames_lost_on_the_link_are_an_exact_gap_and_the_rest_stays_in_place():
    timeline = SessionTimeline()
    place(timeline, frames((0, 0), (1, 4)))
    events = place(timeline, frames((4, 16), (5, 20)))  # seq 2, 3 (slots 8..15) never came
    assert gaps(events) == [GapDetected(8, 8, "lost_frames", exact=True)]
    assert samples(events) == [(16, 8)]
    assert timeline.lost_frames == 2


def test_a_gap_inside_one_batch_splits_it_into_contiguous_blocks():
    timeline = SessionTimeline()
    events = place(timeline, frames((0, 0), (1, 4), (3, 12), (4, 16)))
    assert [type(e).__name__ for e in events] == ["SamplesReceived", "GapDetected", "SamplesReceived"]
    assert samples(events) == [(0, 8), (12, 8)]
    assert gaps(events) == [GapDetected(8, 4, "lost_frames", exact=True)]


def test_slots_the_device_skipped_itself_are_told_apart_from_link_loss():
    timeline = SessionTimeline()
    place(timeline, frames((0, 0)))
    events = place(timeline, frames((1, 12)))  # seq follows on, slots 4..11 were never sampled
    assert gaps(events) == [GapDetected(4, 8, "device_skipped", exact=True)]
    assert timeline.lost_frames == 0


def test_a_duplicate_frame_is_dropped_and_shifts_nothing():
    timeline = SessionTimeline()
    place(timeline, frames((0, 0), (1, 4)))
    events = place(timeline, frames((1, 4), (2, 8)))  # seq 1 again (a retransmission)
    assert samples(events) == [(8, 4)] and gaps(events) == []
    assert timeline.duplicates == 1 and timeline.out_of_order == 0
    assert place(timeline, frames((1, 4))) == []  # alone, twice: still nothing
    assert timeline.duplicates == 2


def test_a_late_frame_overtaken_by_later_ones_stays_a_gap():
    timeline = SessionTimeline()
    place(timeline, frames((0, 0)))
    first = place(timeline, frames((2, 8)))   # seq 1 is late...
    late = place(timeline, frames((1, 4)))    # ...and arrives after seq 2
    after = place(timeline, frames((3, 12)))
    assert gaps(first) == [GapDetected(4, 4, "lost_frames", exact=True)]
    assert late == [] and timeline.out_of_order == 1
    assert samples(after) == [(12, 4)]


def test_the_30_bit_clock_wrapping_mid_stream_changes_nothing():
    # Slot 0 is stamped 100 ms before the wrap: the wrap falls inside the third frame's span.
    t0 = TICKS_MODULUS - 100_000 - 10 * PERIOD_US
    timeline = SessionTimeline()
    events = []
    for k in range(0, 60, 3):  # 20 reads of 3 frames: 240 samples, 1.2 s, across the wrap
        batch = frames(*[(j, 4 * j) for j in range(k, k + 3)], t0_us=t0)
        events += place(timeline, batch, t0_us=t0)
    assert gaps(events) == []
    assert samples(events)[-1] == (228, 12) and timeline.next_index == 240
    # The clock fit went across the wrap too: the last sample's host time is where it was taken.
    assert timeline.last_sample_host_time() == pytest.approx(HOST0 + (t0 + 239 * PERIOD_US) / 1e6, abs=0.004)


def test_a_new_stream_is_placed_by_the_host_clock():
    timeline = SessionTimeline()
    for k in range(0, 150, 3):  # 3 s of stream: the clock fit is settled
        place(timeline, frames(*[(j, 4 * j) for j in range(k, k + 3)]))
    assert timeline.next_index == 600
    # STOP, then START 1 s after the last sample: the device restarts its counters at 0, and its
    # first new slot is taken at device time 4.0 s (the old stream's slot 800).
    t0_new = 800 * PERIOD_US
    events = place(timeline, frames((0, 0, SAMPLES_FIRST_AFTER_START), (1, 4), t0_us=t0_new), t0_us=t0_new)
    assert gaps(events) == [GapDetected(600, 200, "stream_restart", exact=False)]
    assert samples(events) == [(800, 8)]


def test_after_this_session_stops_a_stream_another_screen_starts_is_not_placed():
    """Our STOP went out; frames still on their way are ours. Another screen of the same device
    then STARTs it again: that stream is not this session's (no gap, no samples), whether its
    first frame arrives or is lost, until this session starts again."""
    timeline = SessionTimeline()
    for k in range(0, 150, 3):
        place(timeline, frames(*[(j, 4 * j) for j in range(k, k + 3)]))
    timeline.stream_stopped()
    in_flight = place(timeline, frames((150, 600), (151, 604)))
    assert samples(in_flight) == [(600, 8)] and not gaps(in_flight)
    t0_new = 700 * PERIOD_US
    for batch in (frames((0, 0, SAMPLES_FIRST_AFTER_START), (1, 4), t0_us=t0_new),
                  frames((2, 8), (3, 12), t0_us=t0_new), frames((4, 16), t0_us=t0_new)):
        assert place(timeline, batch, t0_us=t0_new) == []
    assert timeline.next_index == 608 and timeline.refused_after_stop == 20
    # The same, when the new stream's first frame was lost on the way.
    lost_first = SessionTimeline()
    place(lost_first, frames((0, 0), (1, 4), (2, 8)))
    lost_first.stream_stopped()
    assert place(lost_first, frames((1, 4), (2, 8), t0_us=t0_new), t0_us=t0_new) == []
    # Starting again makes the next stream this session's, placed by the host clock.
    timeline.stream_wanted()
    t0_again = 900 * PERIOD_US
    events = place(timeline, frames((0, 0, SAMPLES_FIRST_AFTER_START), (1, 4), t0_us=t0_again),
                   t0_us=t0_again)
    assert gaps(events) == [GapDetected(608, 292, "stream_restart", exact=False)]
    assert samples(events) == [(900, 8)]


def test_after_a_reboot_the_gap_says_device_reset():
    timeline = SessionTimeline()
    for k in range(0, 150, 3):
        place(timeline, frames(*[(j, 4 * j) for j in range(k, k + 3)]))
    timeline.new_boot()  # the device's clock restarted: the host clock places the new boot
    boot_host0 = HOST0 + 4.0  # the new boot's device time 0 is host time 1004.0 (slot 800 of the old)
    t0 = 0
    batch = frames((0, 0, SAMPLES_FIRST_AFTER_START), (1, 4))
    events = timeline.place(batch, received(batch, t0, boot_host0), RATE)
    [gap] = gaps(events)
    assert (gap.first_index, gap.reason, gap.exact) == (600, "device_reset", False)
    # No fit yet for the new boot: the first pair's delay puts it a few samples late, never early.
    assert 199 <= gap.n_samples <= 201
    assert samples(events)[0][0] == 600 + gap.n_samples


@pytest.mark.parametrize("tell, reason", [
    (SessionTimeline.resuming_after_link_loss, "link_lost"),
    (SessionTimeline.frames_rejected, "rejected_frames"),
    (SessionTimeline.stall_began, "stalled"),
])
def test_what_the_coordinator_learned_names_the_next_gap(tell, reason):
    timeline = SessionTimeline()
    place(timeline, frames((0, 0), (1, 4)))
    tell(timeline)
    events = place(timeline, frames((5, 20)))
    assert gaps(events) == [GapDetected(8, 12, reason, exact=True)]
    # Only that gap: the next one is what the counters say again.
    assert gaps(place(timeline, frames((7, 28)))) == [GapDetected(24, 4, "lost_frames", exact=True)]


def test_frames_of_an_old_stream_after_a_reset_never_overlap_the_timeline():
    timeline = SessionTimeline()
    place(timeline, frames((0, 0), (1, 4), (2, 8)))
    timeline.new_boot()  # a STATUS said new boot, but a late frame of the old stream arrives
    events = place(timeline, frames((3, 4)))
    [(first, n)] = samples(events)
    assert first >= 12 and n == 4


def test_the_device_slot_counter_wrapping_at_2_32_keeps_the_session_contiguous():
    """After 2^32 slots (248 days at 200 Hz) sample_index wraps to 0 while seq counts on: the
    tracker sees a restart, and the host clock places it right after the last sample."""
    timeline = SessionTimeline()
    first_slot = 2**32 - 600 * N
    events = []
    for k in range(0, 603, 3):  # 603 frames: the last 3 after the wrap
        slots = [(first_slot + N * j) % 2**32 for j in range(k, k + 3)]
        stamps = [(N * j * PERIOD_US) % TICKS_MODULUS for j in range(k, k + 3)]
        batch = SampleBatch(np.zeros((3 * N, 2), np.uint16), np.arange(k, k + 3, dtype=np.uint32),
                            np.array(slots, np.uint32), np.array(stamps, np.uint32),
                            np.full(3, N, np.uint16), np.zeros(3, np.uint8))
        events += timeline.place(batch, HOST0 + (N * (k + 3) - 1) * PERIOD_US / 1e6 + DELAY, RATE)
    assert gaps(events) == []
    assert samples(events)[-1] == (2400, 12) and timeline.next_index == 2412
