"""The virtual station over MQTT: three real firmware processes publishing over real sockets
to a real broker (the embedded amqtt one, or Mosquitto), as WiFi gloves do."""

from __future__ import annotations

import pytest
from test_virtual_station_serial import check_on_true_timeline, collect

from glovecoach.link.broker import BROKER_ENV
from glovecoach.simulate.files import read_signal_file
from glovecoach.simulate.station import virtual_station
from glovecoach.vocabulary.sensors import device_map
from glovecoach.vocabulary.station import STATION_ROLES
from mqtt_helpers import MOSQUITTO, Mosquitto


def check_station_streams(station, seconds: float = 2.5) -> None:
    """Every device announces its role, hand and channels, and streams its own signal's rows."""
    clients = station.clients()
    try:
        for role, client in clients.items():
            hello = client.connect(timeout=10)
            assert hello.info["role"] == role and hello.glove_id == station.glove_ids[role]
            assert hello.info["hand"] == {"left_glove": "left", "right_glove": "right", "spine_strip": None}[role]
            assert tuple(hello.channels) == device_map(role).ids
        for client in clients.values():
            client.start(200)
        got = collect(clients, seconds)
        for client in clients.values():
            assert client.stats.lost_frames == 0 and client.stats.corrupt_frames == 0
    finally:
        for client in clients.values():
            client.close()
    for role in station.roles:
        _, signal = read_signal_file(station.signals[role])
        assert sum(len(b.raw) for b in got[role]) >= 100 * seconds   # half of what 200 Hz gives
        check_on_true_timeline(got[role], signal, station.clock_offset_us[role], station.signal_epoch_us)


def test_three_wifi_devices_through_the_embedded_broker(monkeypatch):
    monkeypatch.delenv(BROKER_ENV, raising=False)
    with virtual_station(6, 120, transport="mqtt") as station:
        assert station.roles == STATION_ROLES
        assert station.broker is not None and station.broker.host == "127.0.0.1"
        for role in STATION_ROLES:
            assert station.urls[role] == (f"mqtt://127.0.0.1:{station.broker.port}/station/"
                                          f"{station.glove_ids[role]}")
        check_station_streams(station)


@pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto not installed")
def test_three_wifi_devices_through_a_given_mosquitto():
    with Mosquitto() as broker, \
            virtual_station(6, 120, transport="mqtt", broker_url=f"mqtt://127.0.0.1:{broker.port}",
                            room="lab2") as station:
        assert station.broker.port == broker.port
        assert all(f"/lab2/{station.glove_ids[r]}" in station.urls[r] for r in STATION_ROLES)
        check_station_streams(station, seconds=1.5)


_HOST = """
import sys, time
from glovecoach.simulate.station import virtual_station
with virtual_station(2, 120, transport="mqtt") as station:
    print(" ".join(str(station.glove(r).pid) for r in station.roles), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_wifi_devices_do_not_outlive_a_killed_host(monkeypatch):
    """A WiFi glove does not read its pty, but watches it: when the host is killed (no
    cleanup at all), the three firmware processes end on their own within seconds."""
    import subprocess
    import sys
    import time

    monkeypatch.delenv(BROKER_ENV, raising=False)
    host = subprocess.Popen([sys.executable, "-c", _HOST], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in host.stdout.readline().split()]
        assert len(pids) == 3 and all(_alive(p) for p in pids)
    finally:
        host.kill()
        host.wait(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


_LOCKED_WIFI_LOOP = """
import micropython
from glove.device import build
import glove.sampler
hal, writer, sampler, handler = build("main.py")
clock = glove.sampler.time
link = hal.link
assert link.client.sock is not None, "not connected to the broker"
sampler.set_rate(200)
sampler.start()
poll = handler.poll
sampler.deadline = clock.ticks_us()
warm = 0
while warm < 8 or not link.client.subacks:
    sampler.run_slot(poll)
    warm += 1
    assert warm < 1000, "no SUBACK from the broker"
def run(slots):
    micropython.heap_lock()
    try:
        for _ in range(slots):
            sampler.run_slot(poll)
    finally:
        micropython.heap_unlock()
run(500)
print("\\nRESULT", sampler.errors_total, sampler.dropped, link.frames_sent)
"""


def test_a_wifi_station_device_on_a_crystal_watching_its_pty_allocates_nothing(tmp_path, monkeypatch):
    """The whole WiFi device path of the virtual station under heap_lock: MQTT link to the
    embedded broker, the crystal, and the USB side (read every slot: a hang-up there ends the
    device) (500 slots: it runs)."""
    import json

    from test_virtual_station_clock import _run_firmware_script

    from glovecoach.link.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        config = tmp_path / "net.json"
        config.write_text(json.dumps({"mqtt": {"host": broker.address.host, "port": broker.address.port,
                                               "room": "lab"}}))
        proc = _run_firmware_script(tmp_path, _LOCKED_WIFI_LOOP, env={
            "GLOVECOACH_NET_CONFIG": str(config), "GLOVECOACH_SIM_EXIT_ON_HANGUP": "1",
            "GLOVECOACH_SIM_CLOCK_PPM": "100", "GLOVECOACH_GLOVE_ID": "GC-LOCK"})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    errors, dropped, sent = map(int, proc.stdout.rsplit(b"\nRESULT ", 1)[1].split())
    assert errors == 0, "an allocation (MemoryError) was caught in the sampling loop"
    assert dropped == 0 and sent >= 500 // 4
