"""Pull the virtual glove's cable mid-recording, plug it back after a measured pause."""

from __future__ import annotations

import time

import numpy as np
import pytest

from e2e_helpers import pump, samples_in
from glovecoach.link import GapDetected, GloveClient, LinkDown, LinkUp, SamplesReceived
from glovecoach.link.device_clock import DeviceClockUnwrapper
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.recording import RecordingWriter, open_recording

RATE = 200


@pytest.mark.slow
def test_recording_survives_an_unplug_and_the_gap_matches_the_pause(tmp_path, signal_file):
    out = tmp_path / "unplug.gcrec"
    with VirtualGlove(signal_path=signal_file[0]) as glove, GloveClient(glove.port) as client:
        hello = client.connect(timeout=5.0)
        with RecordingWriter(out, device_info=hello.info, rate_hz=RATE,
                             channels=hello.channels) as writer:
            client.start(rate_hz=RATE)
            before = pump(client, writer, lambda ev: samples_in(ev) >= 2 * RATE, timeout=8)
            unplugged_at = time.monotonic()
            glove.unplug()
            during = pump(client, writer, lambda ev: any(isinstance(e, LinkDown) for e in ev),
                          timeout=3)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - unplugged_at)))
            plugged_at = time.monotonic()
            glove.plug()
            pause = plugged_at - unplugged_at
            after = pump(client, writer, lambda ev: samples_in(ev) >= 2 * RATE, timeout=10)
            client.stop()
        boot_ids = {e.hello.boot_id for e in before + after if isinstance(e, LinkUp)}

    events = before + during + after
    # (device_skipped gaps from a busy machine may come and go; they are not the point here)
    kinds = [type(e).__name__ for e in events if isinstance(e, (LinkDown, LinkUp))
             or isinstance(e, GapDetected) and e.reason != "device_skipped"]
    assert kinds == ["LinkUp", "LinkDown", "LinkUp", "GapDetected"], kinds
    assert len(boot_ids) == 2  # the replugged glove rebooted
    reset = [e for e in events if isinstance(e, GapDetected) and e.reason == "device_reset"]
    assert len(reset) == 1 and reset[0].exact is False
    gap = reset[0]
    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    last_before = max(b.first_index + len(b.raw) - 1 for b in blocks if b.first_index < gap.first_index)
    first_after = min(b.first_index for b in blocks if b.first_index > gap.first_index)
    assert last_before + 1 == gap.first_index and gap.first_index + gap.n_samples == first_after

    # Truth 1: the pause the test made. The glove was away at least that long; the gap also
    # holds the firmware's boot, the 0.3 s reconnect poll, HELLO and START: under 2 s more.
    gap_s = (gap.n_samples + 1) / RATE
    assert pause <= gap_s <= pause + 2.0, (pause, gap_s)
    # Truth 2: the device stamps. The unix port's ticks_us is the host's CLOCK_MONOTONIC, so
    # both boots share one clock. A stamp is the first sample's actual time (never before its
    # slot, at most a period after), so each stream's slot 0 is min(stamp - slot * period).
    frames = np.concatenate([b.frames for b in blocks])
    t_us = DeviceClockUnwrapper().unwrap(frames["t_us"]).astype(np.float64)
    slot = frames["sample_index"].astype(np.float64)
    period_us = 1e6 / RATE
    old = frames["sample_index"] < gap.first_index
    origin_old = np.min(t_us[old] - slot[old] * period_us)
    origin_new = np.min(t_us[~old] - slot[~old] * period_us)
    # Session index the new stream's slots would have had on the old stream's grid:
    true_first_after = (origin_new - origin_old) / period_us + first_after
    true_missing = round(true_first_after) - gap.first_index
    # Tolerance 2 samples (10 ms): the host sizes the gap from two clock fits, each anchored on
    # the least-delayed frames it has seen; right after the reboot the new fit has seen only a
    # few frames, so its anchor can be late by a read's scheduling delay (a few ms on a loaded
    # machine), and the new grid's origin is only known to within the lateness of its first
    # stamps; plus rounding.
    assert abs(gap.n_samples - true_missing) <= 2, (gap.n_samples, true_missing)

    rec = open_recording(out)
    assert rec.closed_cleanly
    assert [(g.first_index, g.n_samples, g.reason, g.exact) for g in rec.gaps
            if g.reason == "device_reset"] == [(gap.first_index, gap.n_samples, "device_reset", False)]
    assert rec.samples == samples_in(events)
    print(f"\npause {pause:.3f} s, gap {gap.n_samples} samples ({gap_s:.3f} s), "
          f"from device stamps {true_missing}")
