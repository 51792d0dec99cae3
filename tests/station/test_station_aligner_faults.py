"""A station whose devices drop out, come back and reboot: the others keep flowing, gaps are
counted, nothing shifts; a reboot re-fits the device's clock."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.station import StationAligner
from glovecoach.station.replay import station_arrays
from glovecoach.station.virtual_frames import (
    Dropout,
    Reboot,
    VirtualDevice,
    deliver,
    placement_errors,
    simulate_device,
)
from glovecoach.vocabulary.station import DeviceMessage, StationLayout, StationSamples
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived

RATE = 200
LAYOUT = StationLayout.full()
HOLD_S = 0.25


def _devices(**extra):
    base = {
        "left_glove": dict(skew_ppm=-100.0, offset_s=55.0, start_s=0.02),
        "right_glove": dict(skew_ppm=100.0, offset_s=640.0, start_s=0.09),
        "spine_strip": dict(skew_ppm=-30.0, offset_s=301.0, start_s=0.05),
    }
    return [VirtualDevice(role, len(LAYOUT.device(role).channels), **{**base[role], **extra.get(role, {})})
            for role in LAYOUT.roles]


def run_live(devices, seconds, seed, drop=None):
    """Simulate, poll every 25 ms into a StationAligner; returns the aligner, runs, station
    arrays and per poll (host time, slots not yet emitted behind that time)."""
    rng = np.random.default_rng(seed)
    runs = [simulate_device(d, seconds, RATE, rng) for d in devices]
    aligner = StationAligner(LAYOUT, RATE, HOLD_S)
    blocks, behind = [], []
    for now, poll in deliver(runs, poll_s=0.025, max_join=3, rng=np.random.default_rng(seed + 1)):
        if drop is not None:
            poll = [m for m in poll if not drop(m)]
        blocks.extend(aligner.feed(poll))
        if aligner.origin_host_s is not None:
            behind.append((now, (now - aligner.origin_host_s) * RATE - aligner.emitted_to))
    blocks.extend(aligner.finish())
    raw, present = station_arrays(blocks, LAYOUT)
    return aligner, runs, blocks, raw, present, np.array(behind)


def worst_errors(aligner, runs, raw, present, since_s=0.0):
    errors = {}
    for d, run in enumerate(runs):
        slots, err = placement_errors(run, raw[:, LAYOUT.slice_of(run.role)], present[:, d],
                                      aligner.origin_host_s, RATE)
        errors[run.role] = (slots, err)
    common = np.median(np.concatenate([e for _, e in errors.values()]))
    since = (since_s - aligner.origin_host_s) * RATE
    return {role: float(np.abs(err[slots >= since] - common).max()) for role, (slots, err) in errors.items()}


@pytest.mark.parametrize("announced", [True, False], ids=["link_down", "silent"])
def test_a_device_out_for_30_s_holds_up_nobody_and_shifts_nothing(announced):
    devices = _devices(spine_strip={"dropouts": (Dropout(40.0, 30.0, announced),)})
    aligner, runs, blocks, raw, present, behind = run_live(devices, 100.0, 7)
    stats = aligner.stats()
    strip = LAYOUT.roles.index("spine_strip")

    # the others keep flowing: while the strip is out, slots go out at most hold_s (silent) or
    # reorder_s + rejoin_s (LinkDown) behind the newest frame, plus a poll and a frame
    during = behind[(behind[:, 0] > 41.0) & (behind[:, 0] < 69.0), 1]
    limit_s = (aligner.down_wait_s if announced else HOLD_S) + 0.025 + 0.02 + 0.01
    print(f"\nstrip out ({'LinkDown' if announced else 'silent'}): slots out {np.median(during) / RATE * 1e3:.0f} ms "
          f"behind the newest poll (median), {during.max() / RATE * 1e3:.0f} ms at most")
    assert during.max() < limit_s * RATE, during.max()
    assert np.all(present[int((45 - aligner.origin_host_s) * RATE):int((65 - aligner.origin_host_s) * RATE),
                          [0, 1]])

    # the gap is counted, once, and it is the strip's absent stretch
    assert stats["spine_strip"].gaps == 1
    assert abs(stats["spine_strip"].lost_samples - 30 * RATE) <= 4
    absent = ~present[:, strip]
    assert abs(int(absent.sum()) - 30 * RATE) < 0.05 * RATE
    # the gap is one stretch: it starts where the strip went out and ends where it came back
    edges = np.flatnonzero(np.diff(absent.astype(np.int8)))
    inner = edges[(edges > RATE) & (edges < len(absent) - RATE)]
    assert len(inner) == 2
    assert abs(inner[0] / RATE + aligner.origin_host_s - 40.0) < 0.05
    assert abs(inner[1] / RATE + aligner.origin_host_s - 70.0) < 0.05

    # nothing shifts: after it rejoins every device is within a sample period, and nothing was
    # refused for a slot already out (the rejoining frames never find their slots gone)
    after = worst_errors(aligner, runs, raw, present, since_s=70.5)
    assert max(after.values()) < 1.0, after
    assert all(s.reordered_samples == 0 for s in stats.values()), stats
    assert stats["spine_strip"].refits == 0
    # no block spans the strip leaving or coming back
    for block in blocks:
        if isinstance(block, StationSamples):
            assert np.all(present[block.first_index:block.first_index + block.n_samples] == block.present)


@pytest.mark.parametrize("tell_gap", [True, False], ids=["inexact_gap", "stamps_only"])
def test_a_reboot_refits_the_device_clock(tell_gap):
    """The left glove reboots at 30 s; the host continues its session index by its own clock,
    9 samples off. Its clock starts afresh, so its mapping must too: after the re-fit its
    samples are where they belong again. Without the inexact gap (a restart the link did not
    report), the stamps that no longer fit the session index give it away."""
    devices = _devices(left_glove={"reboots": (Reboot(30.0, 1.0, 9),)})

    def drop(message: DeviceMessage) -> bool:
        return not tell_gap and isinstance(message.message, GapDetected)

    aligner, runs, _, raw, present, _ = run_live(devices, 70.0, 3, drop)
    stats = aligner.stats()
    assert stats["left_glove"].refits == 1
    assert stats["right_glove"].refits == 0 and stats["spine_strip"].refits == 0
    before = worst_errors(aligner, runs, raw, present)
    print(f"\nreboot ({'gap' if tell_gap else 'stamps only'}): worst error {before}")
    assert max(before.values()) < 1.0, before
    assert stats["left_glove"].reordered_samples == 0
    # the device is back within the warm-up and a frame or two after it streams again
    left = LAYOUT.roles.index("left_glove")
    back = np.flatnonzero(present[:, left] & (np.arange(len(present)) > (31.0 - aligner.origin_host_s) * RATE))[0]
    assert back / RATE + aligner.origin_host_s < 31.0 + 0.05


def test_late_data_for_a_slot_already_out_is_counted_not_placed():
    """Handed in after its slot went out (far out of host-time order): counted, and what was
    emitted stays as it was."""
    rng = np.random.default_rng(1)
    runs = [simulate_device(d, 5.0, RATE, rng) for d in _devices()]
    aligner = StationAligner(LAYOUT, RATE)
    held = []
    out = []
    for _, poll in deliver(runs, poll_s=0.02):
        keep = []
        for m in poll:
            # the strip's frames from 2.0 s on reach the aligner only at the end
            frames = m.message.frames if isinstance(m.message, SamplesReceived) else None
            if m.role == "spine_strip" and frames is not None and frames["host_time"][0] >= 2.0:
                held.append(m)
            else:
                keep.append(m)
        out.extend(aligner.feed(keep))
    emitted = aligner.emitted_to
    raw_before, present_before = station_arrays(out, LAYOUT)
    out.extend(aligner.feed(held))
    out.extend(aligner.finish())
    raw, present = station_arrays(out, LAYOUT)
    assert np.array_equal(raw[:emitted], raw_before[:emitted])
    assert np.array_equal(present[:emitted], present_before[:emitted])
    stats = aligner.stats()["spine_strip"]
    # the others went on without it from 2.0 s on, hold_s behind; what came late for those
    # slots was on time by its own arrival, but its slots were out
    assert stats.late_samples > 2.5 * RATE
    assert stats.reordered_samples == stats.late_samples
    strip = LAYOUT.roles.index("spine_strip")
    assert not present[int((2.1 - aligner.origin_host_s) * RATE):emitted, strip].any()
    assert present[emitted:emitted + 10, strip].all()   # the slots not out yet took them


def test_a_device_that_never_comes_is_waited_for_only_hold_s():
    rng = np.random.default_rng(2)
    runs = [simulate_device(d, 3.0, RATE, rng) for d in _devices()[:2]]
    aligner = StationAligner(LAYOUT, RATE)
    lags = []
    for now, poll in deliver(runs, poll_s=0.02):
        aligner.feed(poll)
        if aligner.origin_host_s is not None and now > 1.0:
            lags.append((now - aligner.origin_host_s) * RATE - aligner.emitted_to)
    assert max(lags) < (HOLD_S + 0.05) * RATE
    assert aligner.stats()["spine_strip"].absent_slots == aligner.emitted_to
    # ... and one said to be down not even that long
    aligner = StationAligner(LAYOUT, RATE)
    aligner.set_down("spine_strip")
    lags = []
    for now, poll in deliver(runs, poll_s=0.02):
        aligner.feed(poll)
        if aligner.origin_host_s is not None and now > 1.0:
            lags.append((now - aligner.origin_host_s) * RATE - aligner.emitted_to)
    assert max(lags) < (aligner.down_wait_s + 0.05) * RATE


def test_bad_input_is_refused_with_a_clear_error():
    aligner = StationAligner(LAYOUT, RATE)
    frames = np.zeros(1, dtype=[("sample_index", "<i8"), ("t_us", "<u4"), ("host_time", "<f8")])
    with pytest.raises(ValueError, match="not a device of this station"):
        aligner.feed([DeviceMessage("kit", SamplesReceived(0, np.zeros((4, 20), np.uint16), frames))])
    with pytest.raises(ValueError, match="12 channels"):
        aligner.feed([DeviceMessage("left_glove", SamplesReceived(0, np.zeros((4, 20), np.uint16), frames))])
    with pytest.raises(ValueError, match="hold_s"):
        StationAligner(LAYOUT, RATE, hold_s=0.05)
    with pytest.raises(ValueError, match="rate_hz"):
        StationAligner(LAYOUT, 0)
    # samples without a frame table have no receive time: counted, not placed
    aligner.feed([DeviceMessage("left_glove", SamplesReceived(0, np.zeros((4, 12), np.uint16), frames[:0]))])
    assert aligner.stats()["left_glove"].unframed_samples == 4
    # ... nor a frame with no usable receive time (a damaged table)
    frames["sample_index"], frames["host_time"] = 4, np.nan
    aligner.feed([DeviceMessage("left_glove", SamplesReceived(4, np.zeros((4, 12), np.uint16), frames))])
    assert aligner.stats()["left_glove"].unframed_samples == 8
    # a block's frame table out of order is an error, not a guess
    two = np.zeros(2, dtype=frames.dtype)
    two["sample_index"], two["host_time"] = (12, 8), (1.0, 1.0)
    with pytest.raises(ValueError, match="left_glove: the frame table of a block is not in increasing sample order"):
        aligner.feed([DeviceMessage("left_glove", SamplesReceived(8, np.zeros((8, 12), np.uint16), two))])
    assert aligner.finish() == []


def test_the_kit_is_a_station_of_one_device():
    kit = StationLayout.kit()
    rng = np.random.default_rng(4)
    run = simulate_device(VirtualDevice("kit", 20, skew_ppm=60.0, offset_s=12.0), 60.0, RATE, rng)
    aligner = StationAligner(kit, RATE)
    blocks = []
    for _, poll in deliver([run], poll_s=0.02, max_join=4):
        blocks.extend(aligner.feed(poll))
    blocks.extend(aligner.finish())
    raw, present = station_arrays(blocks, kit)
    assert present.all() and len(blocks) > 100
    _, err = placement_errors(run, raw, present[:, 0], aligner.origin_host_s, RATE)
    assert np.ptp(err) < 1.0
    stats = aligner.stats()["kit"]
    assert stats.filled_slots == len(present) and stats.late_samples == 0
    # a fast device gives up a row now and then (60 ppm of 12,000: about one)
    assert 0 <= stats.dropped_rows <= 3


def test_samples_before_a_given_origin_are_counted_not_placed():
    rng = np.random.default_rng(6)
    runs = [simulate_device(d, 4.0, RATE, rng) for d in _devices()]
    aligner = StationAligner(LAYOUT, RATE, origin_host_s=1.0)
    blocks = []
    for _, poll in deliver(runs, poll_s=0.02):
        blocks.extend(aligner.feed(poll))
    blocks.extend(aligner.finish())
    stats = aligner.stats()
    # every device started within 0.1 s of true time 0: about a second of each is before slot 0
    for role in LAYOUT.roles:
        assert abs(stats[role].before_origin - 0.95 * RATE) < 0.1 * RATE, stats[role]
    assert blocks[0].first_index == 0 and aligner.origin_host_s == 1.0
