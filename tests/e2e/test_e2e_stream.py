"""Virtual glove (real firmware, MicroPython unix port) → pty → pyserial → decoder → recording."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_helpers import expected_rows, pump, samples_in
from glovecoach.link import GapDetected, GloveClient, SamplesReceived, StatusReceived
from glovecoach.link.device_clock import DeviceClockUnwrapper
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.recording import RecordingWriter, open_recording

RATE = 200
SECONDS = 10


@pytest.mark.slow
def test_ten_seconds_at_200hz_nothing_lost(tmp_path, signal_file):
    path, rows = signal_file
    out = tmp_path / "stream.gcrec"
    target = RATE * SECONDS
    with VirtualGlove(signal_path=path) as glove, GloveClient(glove.port) as client:
        hello = client.connect(timeout=5.0)
        with RecordingWriter(out, device_info=hello.info, rate_hz=RATE,
                             channels=hello.channels) as writer:
            client.start(rate_hz=RATE)
            events = pump(client, writer, lambda ev: samples_in(ev) >= target, timeout=SECONDS + 8)
            client.stop()
        fit = client.clock_fit()
        clock_rate = client.measured_rate_hz()
        continuity = client.continuity
        stats = client.decoder_stats

    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    gaps = [e for e in events if isinstance(e, GapDetected)]
    statuses = [e.status for e in events if isinstance(e, StatusReceived)]
    # Nothing lost on the link: seq continuous, no corrupt frame.
    assert continuity.lost_frames == 0
    assert stats.corrupt_frames == 0
    # No lost samples at all. The unix-port firmware shares the machine's cores with
    # everything else; its simulated ADC is a signal indexed by slot, so it takes a slot it
    # was late for back to back instead of skipping it (hal_sim.catch_up_slots: up to 250 ms
    # of stall), exactly as an on-time device would have read it.
    assert gaps == [], gaps
    assert continuity.missing_samples == 0
    assert max((s.dropped_samples for s in statuses), default=0) == 0
    skipped = 0
    index = np.concatenate([b.first_index + np.arange(len(b.raw)) for b in blocks])
    raw = np.concatenate([b.raw for b in blocks])
    assert np.array_equal(index, np.arange(len(index))), "session sample index not continuous"
    assert len(index) >= target
    # Every value is the row the firmware read from the signal file for that slot: nothing
    # corrupted, duplicated or reordered between its ADC stand-in and our array.
    assert np.array_equal(raw, expected_rows(rows, raw, index))

    # The file holds all of it, with one frame row per wire frame.
    rec = open_recording(out)
    assert rec.closed_cleanly and not rec.truncated
    assert rec.samples == len(raw) and rec.lost_samples == skipped
    assert [(g.first_index, g.n_samples) for g in rec.gaps] == [(g.first_index, g.n_samples) for g in gaps]
    np.testing.assert_array_equal(rec.raw, raw)
    np.testing.assert_array_equal(rec.sample_index, index)
    frames = rec.frames
    assert len(frames) == sum(len(b.frames) for b in blocks)
    assert len(rec.statuses) >= SECONDS - 1

    # Rate, three ways. (1) The clock fit: nominal rate / slope of host time vs device time.
    assert fit.span_s > SECONDS - 2
    assert clock_rate == pytest.approx(RATE, rel=0.005)
    # (2) The device's own grid: slots per device second, from the frames' t_us stamps.
    t_us = DeviceClockUnwrapper().unwrap(frames["t_us"])  # the 30-bit clock may wrap mid-test
    device_rate = (frames["sample_index"][-1] - frames["sample_index"][0]) / ((t_us[-1] - t_us[0]) / 1e6)
    assert device_rate == pytest.approx(RATE, rel=0.005)
    # (3) Arrival at the host: samples per host second between the first and last frame.
    host = frames["host_time"]
    host_rate = (frames["sample_index"][-1] - frames["sample_index"][0]) / (host[-1] - host[0])
    assert host_rate == pytest.approx(RATE, rel=0.005)
    # (4) The clock fit against the truth: the unix port's ticks_us is the host's
    # CLOCK_MONOTONIC, so a frame's mapped host time minus its device time (modulo the 30-bit
    # wrap) is the pty path's minimum latency: positive and a few ms at most.
    # Device time of a sample is its grid slot (stamps are the first sample's actual time,
    # never early, sometimes late): origin = min(stamp - slot * period).
    period_us = 1e6 / RATE
    slot = frames["sample_index"].astype(np.float64)
    origin_us = np.min(t_us - slot * period_us)
    device_last_s = (origin_us + (slot + 3) * period_us) / 1e6
    monotonic_mapped = fit.to_host(device_last_s)
    latency = (monotonic_mapped - device_last_s) % (2**30 / 1e6)
    window = device_last_s > device_last_s[-1] - 5
    assert np.all(latency[window] < 0.02), latency[window].max()
    print(f"\nmapped latency {latency[window].min() * 1e3:.2f}..{latency[window].max() * 1e3:.2f} ms")
    print(f"\n{len(raw)} samples, {skipped} slots skipped by the firmware; "
          f"rate: clock fit {clock_rate:.3f} Hz (drift {fit.drift_ppm:+.0f} ppm), "
          f"device grid {device_rate:.3f} Hz, host arrival {host_rate:.3f} Hz")
