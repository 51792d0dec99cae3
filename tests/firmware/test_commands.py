"""Every command through the real firmware on a pty: exactly one ACK or ERROR, with details."""

from __future__ import annotations

import json
import struct

import pytest

from fwharness import (
    CMD_INFO,
    CMD_PING,
    CMD_SET_RATE,
    CMD_START,
    CMD_STOP,
    CMD_TARE,
    GOLDEN,
    N_CHANNELS,
    check_stream,
    command,
    encode_frame,
    write_gcsig,
)

GOLDEN_DOC = json.loads(GOLDEN.read_text())

BAD_FRAME, UNKNOWN_COMMAND, BAD_ARGUMENT, BUSY, NOT_ALLOWED = 1, 2, 3, 4, 5


@pytest.fixture
def glove(glove_factory):
    g = glove_factory()
    g.hello = g.wait_for(lambda x: x["type"] == "HELLO")["info"]
    return g


def test_ping_echoes_nonce_and_reports_device_clock(glove):
    status = glove.wait_for(lambda x: x["type"] == "STATUS", timeout=3)
    ack = glove.request(CMD_PING, 0xFFFE, struct.pack("<I", 0xCAFEF00D))
    assert ack["type"] == "ACK" and ack["command"] == CMD_PING
    assert ack["detail"]["nonce"] == 0xCAFEF00D
    # Device clock moved forward since the STATUS, by less than the test's own waiting.
    assert 0 <= (ack["detail"]["t_us"] - status["t_us"]) & 0x3FFFFFFF < 5_000_000


def test_info_acks_then_sends_hello(glove):
    ack = glove.request(CMD_INFO, 6)
    assert ack["type"] == "ACK" and ack["detail"] == {}
    hello = glove.wait_for(lambda x: x["type"] == "HELLO")["info"]
    assert hello == glove.hello
    assert hello["glove_id"] == "GC-SIM-0001" and hello["board"] == "unix-sim"
    assert hello["protocol"] == 1 and hello["adc_bits"] == 12 and hello["adc_max"] == 4095
    assert len(hello["channels"]) == N_CHANNELS and hello["tare"] is None
    assert hello["link_bytes_per_s"] is None and 0 <= hello["boot_id"] < 2**32
    golden_hello = next(v for v in GOLDEN_DOC["vectors"] if v["name"] == "hello")
    # The golden HELLO is one from before device roles; today's adds role and hand, and a
    # board without a role file is the kit, a right hand; and wifi, which says whether a
    # network is provisioned (never its password).
    assert set(hello) == set(golden_hello["fields"]["info"]) | {"role", "hand", "wifi"}
    assert hello["role"] == "kit" and hello["hand"] == "right"
    assert hello["wifi"] == {"ssid": None, "configured": False}


@pytest.mark.parametrize("rate", [2000, 49, 0, 1001])
def test_set_rate_out_of_range_is_refused(glove, rate):
    err = glove.request(CMD_SET_RATE, 9, struct.pack("<H", rate))
    assert err == {"type": "ERROR", "token": 9, "command": CMD_SET_RATE, "code": BAD_ARGUMENT,
                   "message": f"rate_hz {rate} outside 50..1000"}


@pytest.mark.parametrize("rate,spf", [(50, 1), (1000, 20), (333, 6)])
def test_set_rate_changes_rate_and_frame_size(glove, rate, spf):
    ack = glove.request(CMD_SET_RATE, 3, struct.pack("<H", rate))
    assert ack["detail"] == {"rate_hz": rate, "samples_per_frame": spf}
    assert glove.request(CMD_START, 4)["detail"] == {"rate_hz": rate, "samples_per_frame": spf}
    items = glove.collect(1.3)
    glove.request(CMD_STOP, 5)
    after_stop = glove.wait_for(lambda x: x["type"] == "STATUS", timeout=2)
    items += glove.consumed + [after_stop]
    frames = [x for x in items if x["type"] == "SAMPLES"]
    statuses = [x for x in items if x["type"] == "STATUS"]
    assert all(s["rate_hz"] == rate for s in statuses)
    # Full frames of spf samples (short only before skipped slots), drift-free timestamps
    # on the grid even at 333 Hz (3003.003 us), skipped slots all reported.
    received = check_stream(frames, statuses, rate)
    assert received >= 0.8 * rate


def test_set_rate_while_streaming_is_not_allowed(glove):
    glove.request(CMD_START, 1)
    err = glove.request(CMD_SET_RATE, 2, struct.pack("<H", 100))
    assert err["type"] == "ERROR" and err["code"] == NOT_ALLOWED and err["token"] == 2
    assert "streaming" in err["message"]
    glove.request(CMD_STOP, 3)
    assert glove.request(CMD_SET_RATE, 4, struct.pack("<H", 100))["type"] == "ACK"


def test_start_while_streaming_restarts_the_stream(glove):
    glove.request(CMD_START, 1)
    glove.collect(0.3)
    glove.request(CMD_START, 2, drop_earlier=True)   # frames of the first stream are gone
    first = glove.wait_for(lambda x: x["type"] == "SAMPLES")
    assert first["seq"] == 0 and first["sample_index"] == 0 and first["flags"] == 1


def test_stop_sends_no_more_samples(glove):
    glove.request(CMD_START, 1)
    glove.collect(0.2)
    assert glove.request(CMD_STOP, 2, drop_earlier=True)["detail"] == {}
    assert not [x for x in glove.collect(0.5) if x["type"] == "SAMPLES"]


def test_unknown_command(glove):
    glove.send(encode_frame(struct.pack("<BH", 0x99, 77)))
    err = glove.reply(77)
    assert err["type"] == "ERROR" and err["code"] == UNKNOWN_COMMAND and err["command"] == 0x99
    assert "0x99" in err["message"]


@pytest.mark.parametrize("mangle", ["crc", "short", "cobs", "overlong"])
def test_corrupt_frame_gets_bad_frame_and_link_recovers(glove, mangle):
    good = command(CMD_PING, 5, struct.pack("<I", 1))
    if mangle == "crc":
        bad = bytearray(good)
        bad[3] ^= 0x40
    elif mangle == "short":
        bad = encode_frame(b"")[1:]        # 4 CRC bytes only: no type, no token
    elif mangle == "cobs":
        bad = bytes([0x09, 1, 2, 0])        # code says 8 bytes follow, only 2 do
    else:
        bad = bytes([0x55] * 200) + b"\x00"
    glove.send(bytes(bad))
    err = glove.reply(0xFFFF)
    assert err["type"] == "ERROR" and err["code"] == BAD_FRAME and err["command"] == 0
    # Exactly one reply for the corrupt frame, and the next good command works.
    glove.send(good)
    assert glove.reply(5)["detail"]["nonce"] == 1
    assert not [x for x in glove.collect(0.3) if x["type"] in ("ACK", "ERROR")]


def test_command_with_wrong_argument_length(glove):
    glove.send(encode_frame(struct.pack("<BHB", CMD_SET_RATE, 12, 200)))
    err = glove.reply(12)
    assert err["code"] == BAD_FRAME and err["command"] == CMD_SET_RATE


@pytest.fixture
def tare_glove(glove_factory, tmp_path):
    # A 4-row cycle: any 64 consecutive rows average to base + 15 exactly, wherever the
    # TARE starts in the file.
    base = [100 + 37 * c for c in range(N_CHANNELS)]
    rows = [[b + 10 * k for b in base] for k in range(4)]
    g = glove_factory({"GLOVECOACH_SIM_SIGNAL": str(write_gcsig(tmp_path / "t.gcsig", rows))})
    g.wait_for(lambda x: x["type"] == "HELLO")
    g.expected_offsets = [b + 15 for b in base]
    return g


@pytest.mark.parametrize("n_arg", [0, 64, 8])
def test_tare_averages_signal_rows(tare_glove, n_arg):
    ack = tare_glove.request(CMD_TARE, 4, struct.pack("<H", n_arg))
    assert ack["type"] == "ACK" and ack["command"] == CMD_TARE
    expected = tare_glove.expected_offsets   # 0 means 64; 8 and 64 are whole cycles
    assert ack["detail"] == {"offsets": expected}
    tare_glove.send(command(CMD_INFO, 5))
    hello = tare_glove.wait_for(lambda x: x["type"] == "HELLO")["info"]
    assert hello["tare"] == expected


def test_tare_while_streaming_keeps_the_stream_raw(tare_glove):
    tare_glove.request(CMD_START, 1)
    ack = tare_glove.request(CMD_TARE, 2, struct.pack("<H", 16))
    assert ack["detail"]["offsets"] == tare_glove.expected_offsets
    raw = [r for x in tare_glove.collect(0.3) if x["type"] == "SAMPLES" for r in x["raw"]]
    assert raw and all(r[0] in (100, 110, 120, 130) for r in raw)


def test_second_tare_while_running_is_busy(tare_glove):
    tare_glove.send(command(CMD_TARE, 1, struct.pack("<H", 400)))   # 2 s at 200 Hz
    status = tare_glove.wait_for(lambda x: x["type"] == "STATUS", timeout=3)
    assert status["flags"] & 2, "STATUS shows the TARE running"
    err = tare_glove.request(CMD_TARE, 2, struct.pack("<H", 4))
    assert err["type"] == "ERROR" and err["code"] == BUSY
    assert tare_glove.reply(1, timeout=5)["detail"]["offsets"] == tare_glove.expected_offsets


def test_link_capacity_limits_rate(glove_factory):
    g = glove_factory({"GLOVECOACH_SIM_LINK_BPS": "11520"})   # a classic ESP32's UART
    hello = g.wait_for(lambda x: x["type"] == "HELLO")["info"]
    assert hello["link_bytes_per_s"] == 11520
    err = g.request(CMD_SET_RATE, 1, struct.pack("<H", 250))
    assert err["code"] == BAD_ARGUMENT and "11520" in err["message"]
    assert g.request(CMD_SET_RATE, 2, struct.pack("<H", 200))["type"] == "ACK"


def test_boot_fails_clearly_on_a_mismatched_signal_file(glove_factory, tmp_path):
    path = write_gcsig(tmp_path / "three.gcsig", [[1, 2, 3]])
    g = glove_factory({"GLOVECOACH_SIM_SIGNAL": str(path)})
    log = g.wait_for(lambda x: x["type"] == "LOG", timeout=5)
    assert log["level"] == 2
    assert str(path) in log["message"] and "3 channels" in log["message"]
    assert g.proc.wait(5) != 0


@pytest.mark.parametrize("rate, n, most", [(200, 65535, 1000), (200, 1001, 1000), (50, 251, 250), (1000, 5001, 5000)])
def test_tare_longer_than_five_seconds_is_refused_at_once(glove, rate, n, most):
    # TARE n=65535 used to be accepted: 5.5 minutes at 200 Hz of BUSY for every other TARE.
    if rate != 200:
        assert glove.request(CMD_SET_RATE, 1, struct.pack("<H", rate))["type"] == "ACK"
    err = glove.request(CMD_TARE, 2, struct.pack("<H", n))
    assert err == {"type": "ERROR", "token": 2, "command": CMD_TARE, "code": BAD_ARGUMENT,
                   "message": f"TARE n {n} outside 1..{most} (5 s at {rate} Hz; 0 means 64)"}
    # Nothing was started: a short TARE runs straight away and answers.
    ack = glove.request(CMD_TARE, 3, struct.pack("<H", 4), timeout=3)
    assert ack["type"] == "ACK" and len(ack["detail"]["offsets"]) == N_CHANNELS


def test_tare_at_the_bound_is_accepted_and_rate_cannot_stretch_it(glove):
    glove.send(command(CMD_TARE, 1, struct.pack("<H", 1000)))      # exactly 5 s at 200 Hz
    busy = glove.request(CMD_TARE, 2, struct.pack("<H", 4))
    assert busy["type"] == "ERROR" and busy["code"] == BUSY, "the 1000-sample TARE is running"
    # Dropping to 50 Hz now would make it last 20 s: refused until the TARE is done.
    err = glove.request(CMD_SET_RATE, 3, struct.pack("<H", 50))
    assert err["type"] == "ERROR" and err["code"] == BUSY and err["command"] == CMD_SET_RATE
    assert "TARE running" in err["message"] and "SET_RATE after its ACK" in err["message"]
