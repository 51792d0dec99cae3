"""hal_esp32 on the unix port with `machine` replaced at the pin/ADC level."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fwharness import FIRMWARE, SENSOR_MAP, run_micropython

HERE = Path(__file__).parent
SCRIPT = HERE / "mp" / "mp_hal_esp32.py"


def run_hal(board: str, sensor_map: Path = SENSOR_MAP, cwd: Path | None = None,
            role: str | None = None) -> dict:
    env = {"MICROPYPATH": f"{HERE / 'mp' / 'fake_machine'}:{FIRMWARE}:.frozen"}
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        proc = run_micropython(str(SCRIPT), str(sensor_map), board, *([role] if role else []), env=env)
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
    # The map's adc section: 11 dB is ATTN_11DB (3), 12 bits is WIDTH_12BIT.
    assert (smap["adc"]["attenuation_db"], smap["adc"]["bits"]) == (11, 12)
    assert all(s == {"atten": 3, "width": 12} for k, s in out["settings"].items() if k.isdigit())
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


def _edited_map(tmp_path, edit) -> Path:
    smap = json.loads(SENSOR_MAP.read_text())
    edit(smap)
    path = tmp_path / "map.json"
    path.write_text(json.dumps(smap))
    return path


@pytest.mark.parametrize("attenuation_db,atten", [(0, 0), (6, 2), (11, 3)])
@pytest.mark.parametrize("bits", [10, 12])
def test_adc_is_set_up_as_the_sensor_map_says(tmp_path, attenuation_db, atten, bits):
    def edit(m):
        m["adc"].update(attenuation_db=attenuation_db, bits=bits, max=(1 << bits) - 1,
                        saturated_at=(1 << bits) - 64)
    out = run_hal("esp32", _edited_map(tmp_path, edit), cwd=tmp_path)
    adcs = [s for k, s in out["settings"].items() if k.isdigit()]
    assert len(adcs) == 2 and all(s == {"atten": atten, "width": bits} for s in adcs)


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["adc"].update(attenuation_db=3), "adc.attenuation_db 3 is not one the ESP32 ADC offers"),
    (lambda m: m["adc"].update(bits=14, max=16383), "adc.bits 14 is not a width this board's ADC offers"),
])
def test_adc_setup_the_board_cannot_do_stops_the_boot(tmp_path, edit, message):
    path = _edited_map(tmp_path, edit)
    out = run_hal("esp32", path, cwd=tmp_path)
    assert str(path) in out["refused"] and message in out["refused"]


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["adc"].update(max=1023), "adc.max 1023 does not match adc.bits 12 (expected 4095)"),
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
