"""`glovecoach calibrate`, driven through real stdin, against a recorded session and the virtual glove."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import Calibration, kg_to_newtons
from glovecoach.calibration.fsr_model import FsrParams, force_to_raw
from glovecoach.recording import RecordingWriter
from glovecoach.simulate.files import SIGNAL_HEADER, SIGNAL_MAGIC
from glovecoach.vocabulary.sensors import ALL_CHANNELS, load_sensor_map

SMAP = load_sensor_map()
RATE = 200
WEIGHTS = (0.5, 1.0, 2.0)


def part(channel: str, r1_ohm: float = 6000.0, alpha: float = 0.78) -> FsrParams:
    c = SMAP.by_id(channel)
    return FsrParams(r1_ohm=r1_ohm, alpha=alpha, divider_ohm=float(c.divider_ohm), bias_ohm=float(c.bias_ohm))


def unloaded_row(rng: np.random.Generator) -> np.ndarray:
    return np.array([force_to_raw(0.0, part(c)) for c in ALL_CHANNELS]) + rng.normal(0, 0.8, len(ALL_CHANNELS))


def calibration_session(path: Path, truths: dict[str, FsrParams], broken: dict[str, float] | None = None) -> Path:
    """What a person doing the guided steps would have recorded: 1 s per reading, in order."""
    rng = np.random.default_rng(1)
    blocks = [np.array([unloaded_row(rng) for _ in range(RATE)])]          # tare
    for channel, true in truths.items():
        for kg in WEIGHTS:
            block = np.array([unloaded_row(rng) for _ in range(RATE)])
            level = float(force_to_raw(kg_to_newtons(kg), true))
            if broken and channel in broken and kg == WEIGHTS[-1]:
                level = broken[channel]
            block[:, ALL_CHANNELS.index(channel)] = level + rng.normal(0, 1.5, RATE)
            blocks.append(block)
    raw = np.clip(np.round(np.concatenate(blocks)), 0, 4095).astype(np.uint16)
    info = {"glove_id": "GC-TEST-7", "firmware": "test", "channels": list(ALL_CHANNELS)}
    with RecordingWriter(path, device_info=info, rate_hz=RATE, channels=ALL_CHANNELS, metadata={}) as w:
        w.write_samples(0, raw)
    return path


def calibrate(*args: str, input_text: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", "calibrate", *args], input=input_text,
                          capture_output=True, text=True, timeout=timeout)


def enters(n_sensors: int) -> str:
    # condition, tare, then per sensor: one per weight plus "weight off".
    return "\n" * (2 + n_sensors * (len(WEIGHTS) + 1))


def test_guided_calibration_from_a_recorded_session(tmp_path: Path) -> None:
    truths = {"thumb_tip": part("thumb_tip", 4500.0, 0.85),
              "knuckles_index_middle": part("knuckles_index_middle", 8000.0, 0.7)}
    rec = calibration_session(tmp_path / "cal.gcrec", truths)
    out = tmp_path / "glove.json"
    result = calibrate("--replay", str(rec), "--sensors", ",".join(truths), "--weights-kg", "0.5,1,2",
                       "-o", str(out), input_text=enters(2))
    assert result.returncode == 0, result.stderr
    assert "Press it to about 2.2 kg" in result.stdout                # conditioning at 110 % of 2 kg
    assert "Put 1 kg on the index and middle knuckles (knuckles_index_middle)" in result.stdout
    assert f"wrote {out}: 2 sensor(s) calibrated" in result.stdout
    cal = Calibration.load(out)
    assert cal.glove_id == "GC-TEST-7" and not cal.nominal
    for channel, true in truths.items():
        assert cal.params[channel].r1_ohm == pytest.approx(true.r1_ohm, rel=0.06)
        assert cal.params[channel].alpha == pytest.approx(true.alpha, rel=0.04)
    assert "index_tip" in cal.nominal_channels

    # Redoing one sensor keeps the other's stored curve.
    rec2 = calibration_session(tmp_path / "cal2.gcrec", {"thumb_tip": part("thumb_tip", 5000.0, 0.8)})
    result = calibrate("--replay", str(rec2), "--sensors", "thumb_tip", "--weights-kg", "0.5,1,2",
                       "-o", str(out), input_text=enters(1))
    assert result.returncode == 0, result.stderr
    assert "kept 1 earlier sensor curve(s)" in result.stdout
    data = json.loads(out.read_text())
    assert set(data["sensors"]) == {"thumb_tip", "knuckles_index_middle"}
    assert data["sensors"]["thumb_tip"]["r1_ohm"] == pytest.approx(5000, rel=0.06)


def test_a_non_monotonic_sensor_is_rejected_by_name_and_nothing_written(tmp_path: Path) -> None:
    truths = {"thumb_tip": part("thumb_tip"), "ring_tip": part("ring_tip")}
    low = float(force_to_raw(kg_to_newtons(0.5), truths["ring_tip"])) - 40    # 2 kg reads below 0.5 kg
    rec = calibration_session(tmp_path / "cal.gcrec", truths, broken={"ring_tip": low})
    out = tmp_path / "glove.json"
    result = calibrate("--replay", str(rec), "--sensors", "thumb_tip,ring_tip", "--weights-kg", "0.5,1,2",
                       "-o", str(out), input_text=enters(2))
    assert result.returncode == 2
    assert "sensor ring_tip: not monotonic" in result.stderr and "nothing was written" in result.stderr
    assert "thumb_tip" not in result.stderr
    assert not out.exists()


def test_input_ending_early_writes_nothing(tmp_path: Path) -> None:
    rec = calibration_session(tmp_path / "cal.gcrec", {"thumb_tip": part("thumb_tip")})
    out = tmp_path / "glove.json"
    result = calibrate("--replay", str(rec), "--sensors", "thumb_tip", "--weights-kg", "0.5,1,2",
                       "-o", str(out), input_text="\n\n\n")
    assert result.returncode == 2 and "input ended" in result.stderr and not out.exists()


def test_bad_arguments(tmp_path: Path) -> None:
    rec = calibration_session(tmp_path / "cal.gcrec", {"thumb_tip": part("thumb_tip")})
    r = calibrate("--replay", str(rec), "--weights-kg", "1", input_text="")
    assert r.returncode == 2 and "at least two reference weights" in r.stderr
    r = calibrate("--replay", str(rec), "--sensors", "thumb,thumb_tip", input_text="")
    assert r.returncode == 2 and "--sensors: thumb not on this glove" in r.stderr


@pytest.mark.timeout(60)
def test_virtual_glove_holding_one_load_is_rejected_as_not_monotonic(tmp_path: Path) -> None:
    """Through the real firmware: a glove whose thumb never changes cannot be calibrated."""
    row = np.array([force_to_raw(0.0, part(c)) for c in ALL_CHANNELS])
    row[0] = force_to_raw(8.0, part("thumb_tip"))                 # a held load on the thumb
    raw = np.tile(np.round(row).astype("<u2"), (RATE, 1))
    signal = tmp_path / "held.gcsig"
    signal.write_bytes(SIGNAL_HEADER.pack(SIGNAL_MAGIC, len(ALL_CHANNELS), RATE, RATE) + raw.tobytes())
    out = tmp_path / "v.json"
    result = calibrate("--virtual", "--signal", str(signal), "--sensors", "thumb_tip", "--weights-kg", "0.5,1",
                       "--read-seconds", "0.5", "-o", str(out), input_text="\n" * 5)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Calibrating 1 sensor(s) of glove" in result.stdout
    assert "thumb_tip at 0.5 kg reads" in result.stdout
    assert "sensor thumb_tip: not monotonic" in result.stderr
    assert not out.exists()
