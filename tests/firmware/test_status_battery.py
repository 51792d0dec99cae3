"""STATUS battery_v and rssi_dbm: the real firmware (unix port, simulated LiPo) decoded by
the host, old 32-byte STATUS still parsing, the sampling loop still allocation-free, and the
LiPo curve behind battery_percent."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from test_mqtt_client import PacketServer

from fwharness import run_micropython
from glovecoach.wire import StreamDecoder, decode_frame, decode_message, encode_frame, encode_status
from glovecoach.wire.battery import battery_percent
from glovecoach.wire.messages import Status, encode_message

HERE = os.path.dirname(__file__)


def host_statuses(glove, seconds: float) -> list[Status]:
    """STATUS frames of the next `seconds`, decoded by the host's own decoder."""
    decoder = StreamDecoder(synced=True)
    out = [m for m in decoder.feed(glove.buf) if isinstance(m, Status)]
    import select
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([glove.fd_in], [], [], 0.05)
        if r:
            out += [m for m in decoder.feed(os.read(glove.fd_in, 65536)) if isinstance(m, Status)]
    assert decoder.stats.corrupt_frames == 0
    return out


def test_simulated_battery_discharges_in_status(glove_factory):
    # 36 V/h = 10 mV/s: a discharge visible within a few STATUS frames.
    glove = glove_factory(env={"GLOVECOACH_SIM_BATTERY_V": "4.10:36"})
    glove.wait_for(lambda m: m["type"] == "HELLO")
    statuses = host_statuses(glove, 3.6)
    assert len(statuses) >= 3
    volts = [s.battery_v for s in statuses]
    assert all(v is not None for v in volts)
    assert 4.05 <= volts[0] <= 4.10 and volts[-1] < volts[0]
    # One STATUS a second, 10 mV a second (the sim counts whole seconds).
    steps = np.diff(volts)
    assert np.all((steps <= 0) & (steps >= -0.021)), volts
    # USB only: no WiFi signal.
    assert all(s.rssi_dbm is None for s in statuses)


def test_without_a_battery_status_stays_32_bytes_and_reads_none(glove_factory):
    glove = glove_factory()
    glove.wait_for(lambda m: m["type"] == "HELLO")
    statuses = host_statuses(glove, 1.3)
    assert statuses and all(s.battery_v is None and s.rssi_dbm is None for s in statuses)


def test_battery_floor_is_three_volts(glove_factory):
    glove = glove_factory(env={"GLOVECOACH_SIM_BATTERY_V": "3.01:3600"})
    glove.wait_for(lambda m: m["type"] == "HELLO")
    statuses = host_statuses(glove, 2.3)
    assert statuses[-1].battery_v == 3.0


def test_sampling_loop_with_battery_allocates_nothing():
    proc = run_micropython(os.path.join(HERE, "mp", "mp_no_alloc.py"), "1000", "1500", "skip",
                           env={"GLOVECOACH_SIM_BATTERY_V": "3.9"}, timeout=30)
    errors = int(proc.stdout.rsplit(b"\nRESULT ", 1)[1].split()[0])
    assert errors == 0, "an allocation (MemoryError) at STATUS time with the battery read"


def test_mqtt_glove_reports_rssi_and_battery_without_allocating(tmp_path):
    server = PacketServer(keep_all=False)
    config = tmp_path / "net.json"
    config.write_text(json.dumps({"mqtt": {"host": "127.0.0.1", "port": server.port, "room": "lab"}}))
    try:
        proc = run_micropython(os.path.join(HERE, "mp", "mp_mqtt_no_alloc.py"), "200", "450",
                               env={"GLOVECOACH_NET_CONFIG": str(config), "GLOVECOACH_GLOVE_ID": "GC-BAT",
                                    "GLOVECOACH_SIM_BATTERY_V": "3.95", "GLOVECOACH_SIM_RSSI_DBM": "-61"})
    finally:
        server.close()
    errors = int(proc.stdout.rsplit(b"\nRESULT ", 1)[1].split()[0])
    assert errors == 0
    decoded = [decode_message(decode_frame(c + b"\x00")) for m in server.publish_payloads
               for c in m.split(b"\x00") if c]
    statuses = [m for m in decoded if isinstance(m, Status)]
    assert statuses, "no STATUS published"
    assert all(s.rssi_dbm == -61 and s.battery_v == 3.95 for s in statuses)


# --------------------------------------------------------------------------- host side


def test_old_status_parses_with_none():
    payload = struct.pack("<BBHIIIIIII", 0x04, 1, 200, 5, 6, 7, 0, 0, 0, 900)
    status = decode_message(payload)
    assert isinstance(status, Status)
    assert status.battery_v is None and status.rssi_dbm is None and status.loop_max_us == 900


def test_extended_status_roundtrip_and_forward_compatibility():
    frame = encode_status(1, 200, 5, 6, 7, loop_max_us=900, battery_v=3.871, rssi_dbm=-67)
    payload = decode_frame(frame)
    assert len(payload) == 36
    status = decode_message(payload)
    assert (status.battery_v, status.rssi_dbm, status.loop_max_us) == (3.871, -67, 900)
    assert encode_message(status) == frame
    # One known, one not: the other reads None.
    only_rssi = decode_message(decode_frame(encode_status(0, 200, 0, 0, 0, rssi_dbm=-90)))
    assert only_rssi.battery_v is None and only_rssi.rssi_dbm == -90
    # A later firmware may append fields: ignored, not corrupt.
    assert decode_message(payload + b"\x01\x02\x03\x04").battery_v == 3.871
    # Between the two layouts there is nothing valid.
    with pytest.raises(Exception, match="must be 32, or 36 and more"):
        decode_message(payload[:34])
    # And the 32-byte form is still what a status without either encodes to.
    assert len(decode_frame(encode_status(0, 200, 0, 0, 0))) == 32
    assert decode_frame(encode_frame(payload)) == payload


@pytest.mark.parametrize("kwargs", [{"battery_v": -0.1}, {"battery_v": 70.0}, {"battery_v": float("nan")},
                                    {"rssi_dbm": -128}, {"rssi_dbm": 128}])
def test_encode_status_refuses_values_the_wire_cannot_carry(kwargs):
    with pytest.raises(ValueError):
        encode_status(0, 200, 0, 0, 0, **kwargs)


def test_battery_percent_follows_the_lipo_curve():
    assert battery_percent(4.20) == 100.0 and battery_percent(4.35) == 100.0
    assert battery_percent(3.30) == 0.0 and battery_percent(3.0) == 0.0
    assert battery_percent(3.84) == 50.0
    assert battery_percent(None) is None
    # The flat middle: 3.75..3.95 V holds 25..70 %, not a straight line from 3.3 to 4.2 V.
    assert battery_percent(3.75) == 25.0 and battery_percent(3.95) == 70.0
    volts = np.linspace(3.3, 4.2, 200)
    percent = battery_percent(volts)
    assert np.all(np.diff(percent) >= 0)
    assert np.isnan(battery_percent(np.array([np.nan, 0.02, 3.9])))[:2].all()
    with pytest.raises(ValueError, match="no LiPo cell"):
        battery_percent(0.1)
