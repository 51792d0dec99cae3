"""The ESP32 HAL's battery sense (ADC1 GPIO35 through 100k/100k, sensor map "battery") and
WiFi signal, against the fake `machine` and `network` (the physical edge only)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fwharness import FIRMWARE, SENSOR_MAP, run_micropython

HERE = Path(__file__).parent
MAP = json.loads(SENSOR_MAP.read_text())


def run(tmp_path: Path, role: str) -> dict:
    env = {"MICROPYPATH": f"{HERE / 'mp' / 'fake_machine'}:{FIRMWARE}:.frozen"}
    old = os.getcwd()
    try:
        os.chdir(tmp_path)
        proc = run_micropython(str(HERE / "mp" / "mp_status_battery_esp32.py"), str(SENSOR_MAP), role, env=env)
    finally:
        os.chdir(old)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("role", ["right_glove", "left_glove", "spine_strip"])
def test_units_read_their_battery_through_the_divider_on_adc1(tmp_path, role):
    out = run(tmp_path, role)
    battery = MAP["battery"]
    assert battery["adc_gpio"] == 35 and battery["adc_unit"] == 1   # ADC2 is unusable with WiFi on
    assert 35 in out["adc_gpios"]
    # 1.953 V at the pin, times (100k + 100k) / 100k, in mV; averaged over 8 reads per STATUS.
    assert out["first"] == out["battery"] == 3906
    assert out["uv_reads"] == 16
    # No net.json: USB only, no WiFi, no signal.
    assert out["link"] == "StdioLink" and out["rssi_before"] == out["rssi"] == -128
    assert out["wifi"] == {"ssid": None, "configured": False} and out["wifi_calls"] == []


def test_the_usb_powered_kit_has_no_battery(tmp_path):
    out = run(tmp_path, "kit")
    assert 35 not in out["adc_gpios"] and out["battery"] == 0xFFFF and out["uv_reads"] == 0


def test_wifi_without_a_broker_joins_and_reports_signal_but_keeps_usb(tmp_path):
    (tmp_path / "net.json").write_text(json.dumps({"wifi": {"ssid": "school", "password": "pw-123456"}}))
    out = run(tmp_path, "right_glove")
    assert out["wifi_calls"] == [["WLAN", 0], ["active", True], ["connect", "school", "pw-123456"]]
    assert out["link"] == "StdioLink" and out["link_bytes_per_s"] == 11520
    assert out["wifi"] == {"ssid": "school", "configured": True}
    # Not joined yet: unknown; joined: the radio's RSSI.
    assert out["rssi_before"] == -128 and out["rssi"] == -58
