"""The firmware streaming over a real pseudo-terminal (and a pipe), as the virtual glove runs it."""

from __future__ import annotations

import json
import os
import time

import pytest

from fwharness import CMD_START, CMD_STOP, N_CHANNELS, SENSOR_MAP, check_stream, write_gcsig
from glovecoach.calibration.fsr_model import FsrParams, unloaded_raw


def _boot(glove) -> dict:
    hello = glove.wait_for(lambda x: x["type"] == "HELLO")
    assert hello["protocol_version"] == 1
    return hello["info"]


@pytest.mark.parametrize("use_pty", [True, False], ids=["pty", "pipe"])
def test_stream_at_200hz_is_continuous_and_drift_free(glove_factory, use_pty):
    glove = glove_factory(use_pty=use_pty)
    info = _boot(glove)
    assert info["rate_hz"] == 200 and info["samples_per_frame"] == 4 and not info["streaming"]
    ack = glove.request(CMD_START, 1)
    assert ack["type"] == "ACK" and ack["detail"] == {"rate_hz": 200, "samples_per_frame": 4}
    started = time.monotonic()
    items = glove.collect(2.5)
    stop = glove.request(CMD_STOP, 2)
    elapsed = time.monotonic() - started
    assert stop["type"] == "ACK" and stop["detail"] == {}
    after_stop = glove.wait_for(lambda x: x["type"] == "STATUS", timeout=2)
    assert after_stop["flags"] & 1 == 0
    # wait_for consumed everything up to that STATUS: the rest of the stream came before it.
    items += glove.consumed + [after_stop]
    samples = [x for x in items if x["type"] == "SAMPLES"]
    statuses = [x for x in items if x["type"] == "STATUS"]
    assert all(s["n_channels"] == N_CHANNELS for s in samples)
    received = check_stream(samples, statuses, 200)
    last = samples[-1]
    slots = last["sample_index"] + last["n_samples"]
    # The stream covers the time between START and STOP at 200 Hz on the device's clock.
    assert 200 * 2.4 <= slots <= 200 * (elapsed + 0.2)
    assert received == slots - statuses[-1]["dropped_samples"]
    # STATUS arrives about once a second with the stream's counters.
    assert 3 <= len(statuses) <= 5
    assert all(s["rate_hz"] == 200 and s["flags"] & 1 for s in statuses[:-1])
    assert all(s["boot_id"] == info["boot_id"] for s in statuses)
    # Positive and sane; its size depends on how busy the test machine is.
    assert all(0 < s["loop_max_us"] < 1_000_000 for s in statuses)


def test_signal_file_is_played_back_exactly(glove_factory, tmp_path):
    n_rows = 37   # not a multiple of samples_per_frame: playback loops mid-frame
    rows = [[(131 * r + 17 * c + 5) % 4096 for c in range(N_CHANNELS)] for r in range(n_rows)]
    path = write_gcsig(tmp_path / "sig.gcsig", rows)
    glove = glove_factory({"GLOVECOACH_SIM_SIGNAL": str(path)})
    _boot(glove)
    assert glove.request(CMD_START, 1)["type"] == "ACK"
    items = glove.collect(1.0)
    glove.request(CMD_STOP, 2)
    played = [row for x in items if x["type"] == "SAMPLES" for row in x["raw"]]
    assert len(played) > 2 * n_rows
    start = rows.index(played[0])
    expected = [rows[(start + k) % n_rows] for k in range(len(played))]
    assert played == expected


def test_status_flags_open_and_saturated_channels(glove_factory, tmp_path):
    rows = [[500] * N_CHANNELS for _ in range(10)]
    for r in rows:
        r[3] = 2          # broken lead: below open_below (8) all the time
        r[N_CHANNELS - 1] = 4095
    rows[4][7] = 4000      # one touch of saturated_at on channel 7
    glove = glove_factory({"GLOVECOACH_SIM_SIGNAL": str(write_gcsig(tmp_path / "f.gcsig", rows))})
    _boot(glove)
    status = glove.wait_for(lambda x: x["type"] == "STATUS", timeout=3)
    assert status["flags"] == 0          # not streaming: STATUS still comes
    assert status["open_mask"] == 1 << 3
    assert status["saturated_mask"] == (1 << (N_CHANNELS - 1)) | (1 << 7)
    assert status["rate_hz"] == 200 and status["seq"] == 0


def test_closing_the_pty_ends_the_firmware(glove_factory):
    glove = glove_factory()
    _boot(glove)
    os.close(glove.fd_in)
    glove.proc.wait(timeout=3)
    assert glove.proc.returncode == 0


def test_builtin_pattern_strokes_glove_channels_and_leaves_spine_at_floor(glove_factory):
    glove = glove_factory()
    info = _boot(glove)
    glove.request(CMD_START, 1)
    items = glove.collect(3.2)   # a stroke cycle is 600 slots = 3 s at 200 Hz
    raw = [row for x in items if x["type"] == "SAMPLES" for row in x["raw"]]
    sensor_map = json.loads(SENSOR_MAP.read_text())
    assert info["channels"] == [c["id"] for c in sensor_map["channels"]]
    for i, ch in enumerate(sensor_map["channels"]):
        # A healthy unloaded FSR reads the bias-resistor floor of its divider.
        floor = int(unloaded_raw(FsrParams(divider_ohm=ch["divider_ohm"], bias_ohm=ch["bias_ohm"])) + 0.5)
        values = [row[i] for row in raw]
        assert min(values) == floor, ch["id"]
        if ch["id"].startswith("spine_"):
            assert max(values) == floor, ch["id"]
        else:
            assert max(values) > floor + 1500, ch["id"]
