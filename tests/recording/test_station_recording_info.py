"""`glovecoach info` on station recordings and on today's one-device files, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from station_recording_helpers import write_station

from glovecoach.cli import main
from glovecoach.recording import RecordingWriter
from recording_helpers import HELLO, write_session


def _info_json(path: Path) -> dict:
    run = subprocess.run([sys.executable, "-m", "glovecoach", "info", str(path), "--json"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_info_json_lists_a_stations_devices_beside_todays_fields(tmp_path: Path) -> None:
    path = tmp_path / "station.gcrec"
    write_station(path)
    info = _info_json(path)
    assert info["format_version"] == 2 and info["sample_rate_hz"] == 200
    assert info["samples"] == 610 and info["station_samples"] == 610 and info["duration_s"] == pytest.approx(3.05)
    assert info["lost_samples"] == 0 + 48 + 100
    assert info["channels"][:2] == ["left.thumb_tip", "left.index_tip"] and "spine_1" in info["channels"]
    assert info["closed_cleanly"] is True and info["truncated"] is False and info["problems"] == []
    assert info["station_origin"] == 999.5
    assert {g["device"] for g in info["gaps"]} == {"right_glove", "spine_strip"}
    assert info["note_kinds"] == ["checklist", "station_origin", "transport"]
    devices = {d["role"]: d for d in info["devices"]}
    assert list(devices) == ["left_glove", "right_glove", "spine_strip"]
    assert {role: (d["id"], d["transport"], d["samples"], d["lost_samples"], d["first_index"], d["last_index"])
            for role, d in devices.items()} == {
        "left_glove": ("GL-0001", "usb", 600, 0, 0, 599),          # transport from its "transport" note
        "right_glove": ("GR-0002", None, 552, 48, 0, 599),          # never said
        "spine_strip": ("SP-0003", "mqtt", 300, 100, 100, 399),     # from metadata["transports"]
    }
    assert devices["right_glove"]["alignment"] == {"offset_s": 0.0123, "ppm": -41.5}
    assert devices["spine_strip"]["gaps"] == 1 and devices["right_glove"]["gaps"] == 2


def test_info_json_of_a_version_1_file_gains_its_one_device(tmp_path: Path) -> None:
    path = write_session(tmp_path / "one.gcrec", [(0, 40), (52, 8)])
    info = _info_json(path)
    assert info["format_version"] == 1 and info["glove_id"] == HELLO["glove_id"]
    assert info["samples"] == 48 and info["lost_samples"] == 12
    assert info["devices"] == [{
        "role": "kit", "id": HELLO["glove_id"], "transport": None, "firmware": "0.1.0", "board": "unix-sim",
        "channels": 20, "samples": 48, "lost_samples": 12, "first_index": 0, "last_index": 59,
        "duration_s": 0.3, "gaps": 1, "closed_cleanly": True, "alignment": None, "problems": [],
    }]
    # The HELLO of firmware that knows roles names it.
    path = tmp_path / "right.gcrec"
    with RecordingWriter(path, device_info={**HELLO, "role": "right_glove"}, rate_hz=200, channels=["a"]):
        pass
    assert _info_json(path)["devices"][0]["role"] == "right_glove"


def test_info_text_lists_the_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "station.gcrec"
    write_station(path)
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "station    3 device(s): left_glove, right_glove, spine_strip" in text
    assert "3.05 s at 200 Hz (610 station slots)" in text
    assert ("right_glove  GR-0002 (firmware 0.2.0, board esp32s3, transport ?): 552 recorded, 48 lost (8.00 %) "
            "in 2 gap(s), indices 0..599") in text
    assert "spine_strip  SP-0003 (firmware 0.2.0, board esp32, mqtt): 300 recorded, 100 lost" in text
    assert "at 1.640 s: 40 samples (estimated), device rebooted" in text
    assert "complete, closed cleanly" in text

    data = path.read_bytes()
    path.write_bytes(data[:-40])
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "not closed (the recorder stopped abruptly)" in text and "torn record at byte" in text
