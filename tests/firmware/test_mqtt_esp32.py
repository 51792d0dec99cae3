"""The ESP32 HAL's WiFi path: a provisioned net.json makes it join the network (fake radio,
`tests/firmware/mp/fake_machine/network.py`) and talk MQTT once joined, never before, and
the credentials go only where they belong (the radio, the broker's CONNECT), never to output."""

from __future__ import annotations

import json
import os
from pathlib import Path

from test_mqtt_client import PacketServer

from fwharness import FIRMWARE, SENSOR_MAP, run_micropython

HERE = Path(__file__).parent


def test_provisioned_glove_joins_wifi_then_connects_to_the_broker(tmp_path):
    server = PacketServer()
    (tmp_path / "net.json").write_text(json.dumps({
        "wifi": {"ssid": "massage-school", "password": "wifi-secret-9"},
        "mqtt": {"host": "127.0.0.1", "port": server.port, "room": "room-1",
                 "user": "glove-7", "password": "mqtt-secret-3"}}))
    (tmp_path / "glove_id.txt").write_text("GC-0007\n")
    env = {"MICROPYPATH": f"{HERE / 'mp' / 'fake_machine'}:{FIRMWARE}:.frozen"}
    old = os.getcwd()
    try:
        os.chdir(tmp_path)
        proc = run_micropython(str(HERE / "mp" / "mp_mqtt_esp32.py"), str(SENSOR_MAP), env=env)
    finally:
        os.chdir(old)
        server.close()
    lines = proc.stdout.decode().strip().splitlines()
    out = json.loads(lines[-1])
    assert out["link"] == "MqttLink" and out["link_bytes_per_s"] is None   # WiFi, not the UART
    assert out["wifi_calls"] == [["WLAN", 0], ["active", True], ["connect", "massage-school", "wifi-secret-9"]]
    assert out["connected_before_join"] is False and out["connected_after_join"] is True
    assert out["topic_frames"] == "glovecoach/room-1/GC-0007/frames"
    log = "\n".join(lines[:-1]) + proc.stderr.decode()
    assert "waiting for the network" in log and "connected to 127.0.0.1" in log
    assert "wifi-secret-9" not in log and "mqtt-secret-3" not in log
    # The MQTT credentials went to the broker in CONNECT, and nowhere else.
    assert b"glove-7" in server.packets[0] and b"mqtt-secret-3" in server.packets[0]
