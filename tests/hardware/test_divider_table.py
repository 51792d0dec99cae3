"""hardware/divider_table.py: the arithmetic behind the resistor values in the sensor map."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from glovecoach.calibration.fsr_model import FsrParams, force_to_raw, raw_to_force, unloaded_raw
from glovecoach.vocabulary.resources import sensor_map_path
from glovecoach.vocabulary.sensors import load_sensor_map, parse_sensor_map
from hwscripts import HARDWARE_DIR, load_script

dt = load_script("divider_table")


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HARDWARE_DIR / "divider_table.py"), *args],
                          capture_output=True, text=True, timeout=60)


def write_map(tmp_path, mutate) -> str:
    data = json.loads(sensor_map_path().read_text())
    for ch in data["channels"]:
        mutate(ch)
    path = tmp_path / "sensor_map.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_table_for_the_real_map_covers_every_divider_and_passes():
    result = run_script()
    assert result.returncode == 0, result.stdout + result.stderr
    smap = load_sensor_map()
    for ch in smap.channels:
        assert ch.id in result.stdout
        p = FsrParams(divider_ohm=ch.divider_ohm, bias_ohm=ch.bias_ohm)
        header = f"divider {ch.divider_ohm / 1000:g} kOhm, bias {ch.bias_ohm / 1000:g} kOhm"
        assert header in result.stdout
        assert f"unloaded {unloaded_raw(p):.0f} counts" in result.stdout
    assert "threshold check: ok" in result.stdout


def test_quoted_counts_and_resolution_agree_with_the_fsr_model():
    p = FsrParams(divider_ohm=2200, bias_ohm=27000)
    forces = np.array([0.5, 2.0, 10.0, 40.0])
    res = dt.newtons_per_count(forces, p)
    counts = force_to_raw(forces, p)
    # One count more, turned back into force by the model's exact inverse.
    step = raw_to_force(counts + 1.0, p) - forces
    assert np.allclose(res, step, rtol=0.02)
    assert np.all(np.diff(res) > 0)            # resolution coarsens as force grows


def test_every_unloaded_sensor_sits_above_the_esp32_floor_and_open_threshold():
    smap = load_sensor_map()
    for ch in smap.channels:
        s = dt.summarize(ch.divider_ohm, ch.bias_ohm, smap)
        assert s.unloaded_mv > dt.ESP32_FLOOR_MV, ch.id
        assert s.unloaded_counts > 10 * smap.open_below, ch.id
        lo, hi = dt.REGION_FORCE_N[ch.region]
        assert s.peg_force_n > hi, ch.id        # the region's range is never lost to pegging


def test_one_megohm_bias_is_flagged_as_reading_like_a_broken_lead(tmp_path):
    path = write_map(tmp_path, lambda ch: ch.update(bias_ohm=1_000_000))
    result = run_script("--sensor-map", path)
    assert result.returncode == 1
    assert "PROBLEMS" in result.stdout
    assert "thumb_tip" in result.stdout and "below the ESP32's 150 mV floor" in result.stdout


def test_large_divider_is_flagged_when_it_loses_the_top_of_the_range(tmp_path):
    def big_fingertips(ch):
        if ch["region"] == "fingertips":
            ch["divider_ohm"], ch["bias_ohm"] = 22000, 270000
    path = write_map(tmp_path, big_fingertips)
    smap = parse_sensor_map(json.loads(open(path).read()), path)
    problems = dt.check_thresholds(smap)
    assert any("index_tip" in p and "pegs" in p for p in problems)
    assert not any("palm_heel" in p for p in problems)


def test_unreadable_map_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "glovecoach-sensor-map"}')
    result = run_script("--sensor-map", str(bad))
    assert result.returncode == 2
    assert "broken.json" in result.stderr and "malformed" in result.stderr
