"""The issue's "3 devices x 20 channels", literally: a sensor map whose every station device
carries 20 channels (benchmarks/wide_sensor_map.py) is carried by the whole classroom, from the
broker to each station's recording, with nothing lost or shifted, and alerts reach the tiles.
The host reads its layout from the map (GLOVECOACH_SENSOR_MAP), so the map is chosen per
process: the classroom runs in the scale benchmark's own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glovecoach.vocabulary.resources import sensor_map_path
from glovecoach.vocabulary.sensors import parse_kinds, parse_sensor_map

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from wide_sensor_map import widened_sensor_map  # noqa: E402


def _base() -> dict:
    return json.loads(Path(sensor_map_path()).read_text(encoding="utf-8"))


@pytest.mark.parametrize("per_device", [12, 20, 32])
def test_every_station_device_carries_the_asked_channels_and_keeps_todays(per_device):
    base = _base()
    wide = widened_sensor_map(base, per_device)
    for role in ("left_glove", "right_glove", "spine_strip"):
        today = parse_sensor_map(base, role=role)
        device = parse_sensor_map(wide, role=role)
        assert len(device.ids) == per_device
        assert len(set(device.ids)) == per_device
        # Today's channels keep their ids and places: the widened device starts as today's.
        assert device.ids[:len(today.ids)] == today.ids
        assert set(today.ids) <= set(device.ids)
    # Every channel is on a multiplexer of its kind, on an input that multiplexer has.
    kinds = parse_kinds(wide)
    for channel in wide["channels"]:
        mux = wide["multiplexers"][channel["mux"]]
        assert 0 <= channel["mux_input"] < mux["inputs"]
        assert any(channel["mux"] in k.multiplexers for k in kinds.values())
    pins = [m["adc_gpio"] for m in wide["multiplexers"].values()] + [wide["battery"]["adc_gpio"]]
    assert len(set(pins)) == len(pins), "two multiplexers (or the battery) on one ADC pin"


def test_fewer_channels_than_todays_devices_or_more_than_two_multiplexers_is_refused():
    with pytest.raises(ValueError, match="fewer than today's 12"):
        widened_sensor_map(_base(), 10)
    with pytest.raises(ValueError, match="at most 32"):
        widened_sensor_map(_base(), 33)


@pytest.mark.mosquitto
@pytest.mark.slow
def test_a_room_of_twenty_channel_devices_is_recorded_whole_and_alerts_reach_the_tiles():
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_classroom.py"), "--channels", "20", "--stations", "2",
         "--seconds", "8", "--alerts", "lockstep"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "(20 / 20 / 20 channels recorded" in out.stdout, out.stdout
    row = next(line.split() for line in out.stdout.splitlines() if line.split()[:2] == ["2", "tiles"])
    samples, lost, shifted, alerts = int(row[3]), int(row[4]), int(row[5]), int(row[7])
    # 2 stations x 3 devices x 200 Hz over most of 8 s
    assert samples > 2 * 3 * 200 * 6
    assert (lost, shifted) == (0, 0)
    assert alerts >= 1
