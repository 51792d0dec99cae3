"""The power budget: the table in hardware/units.md is what scripts/power_budget.py computes
from hardware/power_budget.toml, and the battery-sense pin in the sensor map is an ADC1 pin
that no multiplexer or select line uses."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "power_budget.py"
UNITS_MD = REPO / "hardware" / "units.md"
SENSOR_MAP = json.loads((REPO / "hardware" / "sensor_map.json").read_text())
# hal_esp32's ESP32-S3 defaults (ESP32S3_DEFAULT_ADC_GPIO, ESP32S3_DEFAULT_SELECT_GPIO).
S3_DEFAULT_PINS = {1, 2, 4, 5, 6, 7}
CLASSIC_ADC1 = set(range(32, 40))      # GPIO32..39: ADC1_CH0..CH7
S3_ADC1 = set(range(1, 11))            # GPIO1..10: ADC1_CH0..CH9


def load_script():
    spec = importlib.util.spec_from_file_location("power_budget_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_in_units_md_is_the_scripts_output():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True).stdout
    doc = UNITS_MD.read_text()
    quoted = re.search(r"<!-- power-budget-table:start -->\n(.*?)\n<!-- power-budget-table:end -->", doc, re.S)
    assert quoted, "units.md has no power-budget table markers"
    assert quoted.group(1).strip() == out.strip(), "run scripts/power_budget.py and paste its table into units.md"


def test_hours_follow_from_capacity_and_current():
    pb = load_script()
    budget = pb.load()
    results = pb.compute(budget)
    assert len(results) == len(budget["scenarios"])
    for r in results:
        unit = budget["units"][r.unit]
        terms = r.base_ma + r.wake_ma + r.tx_ma + r.cpu_ma + r.sensors_ma + r.misc_ma
        assert r.total_ma == pytest.approx(terms)
        assert r.hours == pytest.approx(unit["capacity_mah"] * unit["usable_fraction"] / r.total_ma)
    by = {(r.unit, r.mode, r.rate_hz): r for r in results}
    # Modem sleep lies between the radio off and the radio always listening, for both units.
    for unit in ("glove", "strip"):
        assert by[(unit, "usb_only", 200)].hours > by[(unit, "modem_sleep", 200)].hours \
            > by[(unit, "always_on", 200)].hours
    assert by[("glove", "modem_sleep", 1000)].hours < by[("glove", "modem_sleep", 200)].hours


def test_every_figure_of_the_budget_names_a_known_source():
    text = (REPO / "hardware" / "power_budget.toml").read_text()
    sources = set(load_script().load()["sources"])
    cited = set(re.findall(r"# \[([A-Z])\]", text))
    assert cited and cited <= sources


def test_a_scenario_with_an_unknown_rate_is_a_clear_error(tmp_path):
    pb = load_script()
    budget = pb.load()
    budget["scenarios"] = [{"unit": "glove", "mode": "modem_sleep", "rate_hz": 500}]
    with pytest.raises(ValueError, match="no value for 500 Hz"):
        pb.compute(budget)


def test_battery_sense_pin_is_adc1_and_collides_with_nothing():
    battery = SENSOR_MAP["battery"]
    muxes = SENSOR_MAP["multiplexers"].values()
    classic_used = set(SENSOR_MAP["select_gpio"]) | {m["adc_gpio"] for m in muxes}
    assert battery["adc_gpio"] in CLASSIC_ADC1 and battery["adc_unit"] == 1
    assert battery["adc_gpio"] not in classic_used
    s3_used = S3_DEFAULT_PINS | set(SENSOR_MAP.get("select_gpio_esp32s3", [])) \
        | {m["adc_gpio_esp32s3"] for m in muxes if "adc_gpio_esp32s3" in m}
    assert battery["adc_gpio_esp32s3"] in S3_ADC1 and battery["adc_gpio_esp32s3"] not in s3_used
    # The divider halves a full cell (4.2 V) to inside the ADC's 11 dB range (<= 2.45 V).
    ratio = battery["divider_bottom_ohm"] / (battery["divider_top_ohm"] + battery["divider_bottom_ohm"])
    assert 4.2 * ratio <= 2.45
    # Only the battery units read it: the kit is powered over USB.
    kinds = SENSOR_MAP["kinds"]
    assert kinds["glove"]["battery_sense"] and kinds["spine_strip"]["battery_sense"]
    assert not kinds["kit"].get("battery_sense")
