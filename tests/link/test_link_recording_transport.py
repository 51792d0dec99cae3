"""A recording replayed through GloveClient (replay device → wire encoders → decoder) gives
back identical raw values, on the same session indices, with the same gap."""

from __future__ import annotations

import time

import numpy as np
import pytest

from glovecoach.link import DeviceCommandError, GapDetected, GloveClient, LinkUp, SamplesReceived
from glovecoach.recording import RecordingWriter
from glovecoach.wire import Command

CHANNELS = [f"ch{i}" for i in range(20)]


def _write_recording(path, rate_hz=200):
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 4096, size=(1203, 20), dtype=np.uint16)  # not a multiple of the frame
    with RecordingWriter(path, device_info={"glove_id": "GC-TEST-7", "firmware": "0.1.0"},
                         rate_hz=rate_hz, channels=CHANNELS) as writer:
        writer.write_samples(0, raw[:700])
        writer.write_gap(700, 37, "link_lost")
        writer.write_samples(737, raw[700:])
    return raw


def _collect(client, until_samples, timeout):
    events = []
    got = 0
    deadline = time.monotonic() + timeout
    while got < until_samples and time.monotonic() < deadline:
        for event in client.poll():
            events.append(event)
            if isinstance(event, SamplesReceived):
                got += len(event.raw)
        time.sleep(0.01)
    return events


def test_replay_gives_back_identical_raw_values_and_gap(tmp_path):
    path = tmp_path / "session.gcrec"
    raw = _write_recording(path)
    with GloveClient(f"replay://{path}?speed=25") as client:
        hello = client.connect(timeout=2.0)
        assert hello.glove_id == "GC-TEST-7" and hello.info["board"] == "replay"
        client.start(rate_hz=200)
        events = _collect(client, len(raw), timeout=10.0)
    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    gaps = [e for e in events if isinstance(e, GapDetected)]
    index = np.concatenate([b.first_index + np.arange(len(b.raw)) for b in blocks])
    got = np.concatenate([b.raw for b in blocks])
    np.testing.assert_array_equal(got, raw)
    np.testing.assert_array_equal(index, np.r_[np.arange(700), np.arange(737, 737 + 503)])
    assert [(g.first_index, g.n_samples, g.exact) for g in gaps] == [(700, 37, True)]
    assert any(isinstance(e, LinkUp) for e in events)


def test_replay_refuses_another_rate_and_tare(tmp_path):
    path = tmp_path / "session.gcrec"
    _write_recording(path)
    with GloveClient(f"replay://{path}") as client:
        client.connect(timeout=2.0)
        with pytest.raises(DeviceCommandError, match="BAD_ARGUMENT.*200 Hz") as info:
            client.command(Command.SET_RATE, rate_hz=1000)
        assert info.value.code == 3
        with pytest.raises(DeviceCommandError, match="NOT_ALLOWED"):
            client.tare()
        ack, rtt = client.ping(nonce=1234)
        assert ack.detail["nonce"] == 1234 and rtt < 0.5


def test_replay_of_missing_file_names_it(tmp_path):
    from glovecoach.link import LinkLost

    with pytest.raises(LinkLost, match="nothere.gcrec"):
        GloveClient(f"replay://{tmp_path}/nothere.gcrec").connect(timeout=1.0)
