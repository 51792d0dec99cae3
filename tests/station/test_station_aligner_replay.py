"""A live station and its replay give the same station slots: every device recorded to its own
ordinary .gcrec (RecordingWriter), read back, and aligned again with `align_recording`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from glovecoach.recording.reader import open_recording
from glovecoach.recording.writer import RecordingWriter
from glovecoach.station import StationAligner, align_recording, align_station_recording
from glovecoach.station.replay import station_arrays
from glovecoach.station.virtual_frames import Burst, Dropout, Reboot, VirtualDevice, deliver, simulate_device
from glovecoach.vocabulary.station import StationGap, StationLayout
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived

RATE = 200
LAYOUT = StationLayout.full()


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(21)
    devices = [
        VirtualDevice("left_glove", 12, skew_ppm=-100.0, offset_s=90.0, start_s=0.03,
                      reboots=(Reboot(40.0, 0.8, -5),), bursts=(Burst(70.0, 0.35),)),
        VirtualDevice("right_glove", 12, skew_ppm=100.0, offset_s=470.0, start_s=0.12,
                      dropouts=(Dropout(25.0, 0.4, announced=False), Dropout(80.0, 6.0))),
        VirtualDevice("spine_strip", 8, skew_ppm=12.0, offset_s=3.0, start_s=0.07,
                      bursts=(Burst(55.0, 0.15),)),
    ]
    return [simulate_device(d, 100.0, RATE, rng) for d in devices]


def live(runs, seed, *, max_join, lag_s, origin_delay_s=0.0):
    """The station as a live source gives it, and every device's messages as a recorder got them."""
    aligner = StationAligner(LAYOUT, RATE, origin_delay_s=origin_delay_s)
    blocks = []
    messages = {run.role: [] for run in runs}
    for _, poll in deliver(runs, poll_s=0.03, max_join=max_join, lag_s=lag_s, rng=np.random.default_rng(seed)):
        for m in poll:
            messages[m.role].append(m.message)
        blocks.extend(aligner.feed(poll))
    blocks.extend(aligner.finish())
    return aligner, blocks, messages


def record(messages, folder):
    """Each device to its own ordinary .gcrec, as the recorder listener writes one device."""
    recordings = {}
    for role, events in messages.items():
        path = folder / f"{role}.gcrec"
        with RecordingWriter(path, device_info={"role": role}, rate_hz=RATE,
                             channels=LAYOUT.device(role).channels) as writer:
            for event in events:
                if isinstance(event, SamplesReceived):
                    writer.write_samples(event.first_index, event.raw, event.frames)
                elif isinstance(event, GapDetected):
                    writer.write_gap(event.first_index, event.n_samples, event.reason, event.exact)
        recordings[role] = open_recording(path)
    return recordings


def test_replay_gives_the_slots_live_gave(runs, tmp_path):
    # live: devices polled 30 ms apart, up to 40 ms out of step with each other, frames joined
    # into blocks of up to 6 at random
    aligner, blocks, messages = live(runs, 3, max_join=6, lag_s=0.04)
    raw, present = station_arrays(blocks, LAYOUT)
    stats = aligner.stats()
    assert stats["left_glove"].refits == 1 and stats["left_glove"].late_samples > 0
    assert stats["right_glove"].gaps == 2

    recordings = record(messages, tmp_path)
    replay = align_recording(recordings, LAYOUT, RATE, origin=aligner.origin_host_s)
    assert replay.n_total == len(raw)
    assert np.array_equal(replay.raw, raw)
    assert np.array_equal(replay.present, present)
    for role, s in replay.devices.items():
        live_s = stats[role]
        assert (s.filled_slots, s.late_samples, s.absent_slots, s.refits, s.gaps, s.lost_samples) == \
            (live_s.filled_slots, live_s.late_samples, live_s.absent_slots, live_s.refits, live_s.gaps,
             live_s.lost_samples), role
        assert s.clock_ppm == pytest.approx(live_s.clock_ppm)
    print("\nreplay: " + ", ".join(f"{r} offset {s.offset_s * 1e3:+.1f} ms, {s.clock_ppm:+.1f} ppm"
                                   for r, s in replay.devices.items()))

    # another live run of the same devices, joined and interleaved differently: the same slots
    _, other_blocks, _ = live(runs, 9, max_join=2, lag_s=0.0)
    other_raw, other_present = station_arrays(other_blocks, LAYOUT)
    assert np.array_equal(other_raw, raw) and np.array_equal(other_present, present)


def test_replay_without_a_stored_origin_takes_the_first_sample_like_live(runs, tmp_path):
    # polled in step, the first frame handed in is the first to arrive, as in the replay
    aligner, blocks, messages = live(runs, 4, max_join=4, lag_s=0.0)
    raw, present = station_arrays(blocks, LAYOUT)
    replay = align_recording(record(messages, tmp_path), LAYOUT, RATE)
    assert replay.origin_host_s == aligner.origin_host_s
    assert np.array_equal(replay.raw, raw) and np.array_equal(replay.present, present)


def test_a_delayed_origin_moves_slot_0_and_nothing_else(runs, tmp_path):
    """A classroom delays each station's slot 0 by its own fraction of a second: the slots are
    the undelayed ones moved by that many samples, the samples before it are counted (and in
    the recording), and the replay on the stored origin gives the live slots."""
    aligner, blocks, messages = live(runs, 4, max_join=4, lag_s=0.0)
    raw, present = station_arrays(blocks, LAYOUT)
    delay = 0.37
    shift = round(delay * RATE)
    later, later_blocks, _ = live(runs, 4, max_join=4, lag_s=0.0, origin_delay_s=delay)
    later_raw, later_present = station_arrays(later_blocks, LAYOUT)
    assert later.origin_host_s == pytest.approx(aligner.origin_host_s + delay)
    assert np.array_equal(later_raw, raw[shift:]) and np.array_equal(later_present, present[shift:])
    for role, stats in later.stats().items():
        # each device's samples before the moved slot 0: those it had there undelayed
        moved = stats.before_origin - aligner.stats()[role].before_origin
        assert moved == present[:shift, LAYOUT.roles.index(role)].sum()
    replay = align_recording(record(messages, tmp_path), LAYOUT, RATE, origin=later.origin_host_s)
    assert np.array_equal(replay.raw, later_raw) and np.array_equal(replay.present, later_present)
    with pytest.raises(ValueError, match="origin_delay_s"):
        StationAligner(LAYOUT, RATE, origin_delay_s=-0.1)


def test_a_station_recording_is_aligned_on_its_stored_origin(runs, tmp_path):
    aligner, blocks, messages = live(runs, 5, max_join=3, lag_s=0.02)
    recordings = record(messages, tmp_path)
    station = SimpleNamespace(devices=recordings, layout=LAYOUT, rate_hz=RATE,
                              station_origin=aligner.origin_host_s)
    replay = align_station_recording(station)
    raw, present = station_arrays(blocks, LAYOUT)
    assert np.array_equal(replay.raw, raw) and np.array_equal(replay.present, present)
    assert np.array_equal(replay.columns_of("spine_strip"), raw[:, LAYOUT.slice_of("spine_strip")])


def test_a_recorded_device_missing_from_the_station_or_wrong_is_refused(runs, tmp_path):
    _, _, messages = live(runs[:1], 1, max_join=1, lag_s=0.0)
    recordings = record(messages, tmp_path)
    left = recordings["left_glove"]
    with pytest.raises(ValueError, match="not a device of this station"):
        align_recording({"kit": left}, LAYOUT, RATE)
    with pytest.raises(ValueError, match="recorded at 200 Hz"):
        align_recording({"left_glove": left}, LAYOUT, 100)
    with pytest.raises(ValueError, match="channels"):
        align_recording({"spine_strip": left}, LAYOUT, RATE)
    # a station with only one device recorded: the others are absent throughout
    alone = align_recording({"left_glove": left}, LAYOUT, RATE)
    assert alone.present[:, 0].sum() > 0 and not alone.present[:, 1:].any()


def test_a_session_resumed_at_a_slot_goes_on_from_it_on_the_same_origin(runs):
    """A classroom app restarted mid-class: a new aligner on the session's origin, told the slot
    its session reached, emits nothing before that slot, and puts what it receives after the
    restart in the slots the whole live session put it in."""
    whole, blocks, _ = live(runs, 3, max_join=6, lag_s=0.04)
    raw, present = station_arrays(blocks, LAYOUT)
    start = 30 * RATE                          # the first run coached up to 30 s, then stopped
    resumed = StationAligner(LAYOUT, RATE, origin_host_s=whole.origin_host_s, start_slot=start)
    after = []
    for host, poll in deliver(runs, poll_s=0.03, max_join=6, lag_s=0.04, rng=np.random.default_rng(3)):
        if host - whole.origin_host_s >= 32.0:      # 2 s nobody received
            after.extend(resumed.feed(poll))
    after.extend(resumed.finish())
    assert after[0].first_index == start
    again_raw, again_present = station_arrays(
        [StationGap(0, start, "earlier run"), *after], LAYOUT)
    settled = slice(34 * RATE, len(raw))       # a second after the first frames, the clocks fitted
    same = np.all(again_raw[settled] == raw[settled], axis=1) & np.all(again_present[settled] == present[settled],
                                                                       axis=1)
    assert same.mean() > 0.99, same.mean()
    with pytest.raises(ValueError, match="start_slot needs origin_host_s"):
        StationAligner(LAYOUT, RATE, start_slot=10)
