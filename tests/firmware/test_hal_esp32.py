"""hal_esp32 on the unix port with `machine` replaced at the pin/ADC level."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fwharness import FIRMWARE, SENSOR_MAP, run_micropython

HERE = Path(__file__).parent
SCRIPT = HERE / "mp" / "mp_hal_esp32.py"


def run_hal(board: str, sensor_map: Path = SENSOR_MAP, cwd: Path | None = None) -> dict:
    env = {"MICROPYPATH": f"{HERE / 'mp' / 'fake_machine'}:{FIRMWARE}:.frozen"}
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        proc = run_micropython(str(SCRIPT), str(sensor_map), board, env=env)
    finally:
        os.chdir(old)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def test_classic_esp32_reads_every_channel_through_its_mux_input(tmp_path):
    out = run_hal("esp32", cwd=tmp_path)
    smap = json.loads(SENSOR_MAP.read_text())
    gpio = {name: m["adc_gpio"] for name, m in smap["multiplexers"].items()}
    assert out["values"] == [10 * gpio[c["mux"]] + c["mux_input"] for c in smap["channels"]]
    assert sorted(out["adc_gpios"]) == sorted(gpio.values())
    assert out["select_gpios"] == smap["select_gpio"]
    assert all(s == {"atten": 3, "width": 3} for k, s in out["settings"].items() if k.isdigit())
    # Shared select lines: one setting per distinct mux input, one read per channel.
    settings_used = {c["mux_input"] for c in smap["channels"]}
    assert out["reads"] == len(smap["channels"])
    assert out["select_writes"] == len(settings_used) * len(smap["select_gpio"])
    assert out["link"] == 11520 and out["board"] == "esp32"
    assert out["glove_id"] == "GC-240AC4123456"
    assert out["feeds"] == 1 and out["settings"]["wdt_timeout"] == 2000
    # reset() (MAINTENANCE) ends in machine.reset(), once, and does not come back.
    assert out["resets"] == 1 and out["reset_returned"] is False
    assert out["boot"] == "boot: watchdog reset on esp32"
    assert out["board_from_machine"] == ["esp32s3", "esp32"]


def test_glove_id_file_overrides_unique_id(tmp_path):
    (tmp_path / "glove_id.txt").write_text("GC-0042\n")
    assert run_hal("esp32", cwd=tmp_path)["glove_id"] == "GC-0042"


def test_esp32s3_uses_its_own_adc_pins_and_native_usb(tmp_path):
    out = run_hal("esp32s3", cwd=tmp_path)
    assert sorted(out["adc_gpios"]) == [1, 2] and out["select_gpios"] == [4, 5, 6, 7]
    assert out["link"] is None
    smap = json.loads(SENSOR_MAP.read_text())
    smap["multiplexers"]["glove_mux"]["adc_gpio_esp32s3"] = 9
    smap["select_gpio_esp32s3"] = [10, 11, 12, 13]
    custom = tmp_path / "map.json"
    custom.write_text(json.dumps(smap))
    out = run_hal("esp32s3", custom, cwd=tmp_path)
    assert sorted(out["adc_gpios"]) == [2, 9] and out["select_gpios"] == [10, 11, 12, 13]
    assert out["values"][0] == 90 + smap["channels"][0]["mux_input"]


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["channels"][2].update(mux="nope"), "channels[2] (middle_tip) uses mux 'nope'"),
    (lambda m: m["channels"][13].update(mux_input=8), "channels[13] (spine_2) mux_input 8 outside 0..7"),
    (lambda m: m["adc"].pop("saturated_at"), "missing field adc.saturated_at"),
    (lambda m: m["channels"][1].update(id="thumb_tip"), "duplicate channel id 'thumb_tip'"),
])
def test_malformed_sensor_map_is_named_in_the_error(tmp_path, edit, message):
    smap = json.loads(SENSOR_MAP.read_text())
    edit(smap)
    bad = tmp_path / "bad_map.json"
    bad.write_text(json.dumps(smap))
    with pytest.raises(AssertionError) as info:
        run_hal("esp32", bad, cwd=tmp_path)
    assert str(bad) in str(info.value) and message in str(info.value)
