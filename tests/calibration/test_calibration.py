"""Calibration: per-sensor fit, rejection of bad sensors, files, and conversion with masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import (
    Calibration,
    CalibrationError,
    calibration_for,
    calibration_path,
    fit_sensor,
    kg_to_newtons,
)
from glovecoach.calibration.fsr_model import FsrParams, force_to_raw, raw_to_force
from glovecoach.vocabulary.sensors import ALL_CHANNELS, load_sensor_map

SMAP = load_sensor_map()
WEIGHTS_KG = (0.5, 1.0, 2.0, 5.0)


def part(channel: str, **curve: float) -> FsrParams:
    """An FSR with the given curve wired into `channel`'s divider, as the sensor map says."""
    c = SMAP.by_id(channel)
    return FsrParams(divider_ohm=float(c.divider_ohm), bias_ohm=float(c.bias_ohm), adc_max=SMAP.adc_max, **curve)


def r1_saturating_between(channel: str, light_kg: float, heavy_kg: float) -> float:
    """An r1_ohm for which `heavy_kg` saturates `channel` but `light_kg` does not."""
    for r1 in np.geomspace(20000, 50, 200):
        raw = force_to_raw([kg_to_newtons(light_kg), kg_to_newtons(heavy_kg)], part(channel, r1_ohm=float(r1)))
        if raw[0] < SMAP.saturated_at - 20 and raw[1] >= SMAP.saturated_at + 5:
            return float(r1)
    raise AssertionError("no such part for this divider")


def readings(true: FsrParams, kgs=WEIGHTS_KG, noise: float = 0.0, seed: int = 0) -> tuple[float, list]:
    """Tare and (force, mean raw) the way the guided command measures them (1 s averages)."""
    rng = np.random.default_rng(seed)
    def measure(f: float) -> float:
        samples = np.round(force_to_raw(np.full(200, f), true) + rng.normal(0, noise, 200))
        return float(np.clip(samples, 0, 4095).mean())
    return measure(0.0), [(kg_to_newtons(k), measure(kg_to_newtons(k))) for k in kgs]


def fit(channel: str, tare: float, loaded: list):
    c = SMAP.by_id(channel)
    return fit_sensor(channel, tare, loaded, divider_ohm=c.divider_ohm, nominal_bias_ohm=c.bias_ohm,
                      adc_max=SMAP.adc_max, open_below=SMAP.open_below, saturated_at=SMAP.saturated_at)


def test_fit_recovers_a_sensor_that_differs_from_nominal() -> None:
    nominal = part("thumb_tip")
    true = part("thumb_tip", r1_ohm=4200.0, alpha=0.9)
    true = FsrParams(true.r1_ohm, true.alpha, true.divider_ohm, nominal.bias_ohm * 0.85, true.adc_max)
    tare, loaded = readings(true, noise=1.5)
    result = fit("thumb_tip", tare, loaded)
    assert result.params.r1_ohm == pytest.approx(4200, rel=0.05)
    assert result.params.alpha == pytest.approx(0.9, rel=0.03)
    assert result.params.bias_ohm == pytest.approx(true.bias_ohm, rel=0.05)
    # Forces from the fitted curve are within 3 % over the calibrated range; nominal is far off.
    forces = np.array([3.0, 8.0, 15.0, 40.0])
    raw = force_to_raw(forces, true)
    assert np.allclose(raw_to_force(raw, result.params), forces, rtol=0.03)
    assert not np.allclose(raw_to_force(raw, nominal), forces, rtol=0.15)
    assert result.rms_log_error < 0.02


def test_saturated_reference_points_are_dropped_not_fitted() -> None:
    r1 = r1_saturating_between("index_tip", 2.0, 5.0)   # a sensitive part: 5 kg saturates it
    tare, loaded = readings(part("index_tip", r1_ohm=r1))
    assert loaded[-1][1] >= SMAP.saturated_at
    result = fit("index_tip", tare, loaded)
    assert result.dropped == (pytest.approx(kg_to_newtons(5.0)),)
    assert len(result.points) == 3
    assert result.params.r1_ohm == pytest.approx(r1, rel=0.05)


def test_open_sensor_is_rejected_by_name() -> None:
    with pytest.raises(CalibrationError, match=r"sensor ring_tip: reads open"):
        fit("ring_tip", 2.0, [(4.9, 3.0), (9.8, 4.0)])


def test_shorted_sensor_is_rejected_by_name() -> None:
    with pytest.raises(CalibrationError, match=r"sensor palm_heel: reads saturated with no load"):
        fit("palm_heel", 4095.0, [(4.9, 4095.0), (9.8, 4095.0)])


def test_non_monotonic_sensor_is_rejected_by_name() -> None:
    tare, loaded = readings(part("hand_edge"))
    loaded[2] = (loaded[2][0], loaded[1][1] - 30)    # 2 kg reads lower than 1 kg
    with pytest.raises(CalibrationError, match=r"sensor hand_edge: not monotonic: 19.6 N reads"):
        fit("hand_edge", tare, loaded)
    # A loaded reading no higher than the tare is the same fault.
    with pytest.raises(CalibrationError, match=r"sensor hand_edge: not monotonic.*unloaded reading"):
        fit("hand_edge", tare, [(4.9, tare), (9.8, tare + 100)])


def test_too_few_usable_points_is_rejected() -> None:
    tare, loaded = readings(part("thenar", r1_ohm=r1_saturating_between("thenar", 0.5, 1.0)))   # saturates from 1 kg on
    with pytest.raises(CalibrationError, match=r"sensor thenar: needs at least two reference loads"):
        fit("thenar", tare, loaded)


def test_save_load_round_trip_and_partial_calibration(tmp_path: Path) -> None:
    tare, loaded = readings(part("thumb_tip", r1_ohm=5000.0, alpha=0.85))
    f = fit("thumb_tip", tare, loaded)
    cal = Calibration.from_fits([f], ALL_CHANNELS, "glove-7")
    assert not cal.nominal and "thumb_tip" not in cal.nominal_channels and "index_tip" in cal.nominal_channels
    path = calibration_path("glove-7", tmp_path)
    cal.save(path)
    again = calibration_for("glove-7", ALL_CHANNELS, tmp_path)
    assert again.glove_id == "glove-7" and not again.nominal and again.source == str(path)
    assert again.params["thumb_tip"].r1_ohm == pytest.approx(f.params.r1_ohm)
    assert again.params["index_tip"] == cal.params["index_tip"]
    # A glove without a file runs on the nominal curve, and says so.
    other = calibration_for("glove-8", ALL_CHANNELS, tmp_path)
    assert other.nominal and other.describe()["nominal"] is True


@pytest.mark.parametrize("content, message", [
    ("{not json", "line 1: not valid JSON"),
    ('{"format": "something-else"}', "field format"),
    ('{"format": "glovecoach-calibration", "version": 1, "sensors": {"pinky": {}}}', "sensors.pinky: unknown sensor"),
    ('{"format": "glovecoach-calibration", "version": 1, "sensors": {"thumb_tip": {"r1_ohm": -1}}}',
     "line 1: field sensors.thumb_tip.r1_ohm: -1 is outside 10..1e+07 ohm"),
    ('{"format": "glovecoach-calibration", "version": 1, "sensors": {"thumb_tip": {"r1_ohm": 5000, "alpha": 0.8, '
     '"divider_ohm": 123, "bias_ohm": 1e6}}}', "divider_ohm: 123 does not match the sensor map"),
])
def test_bad_calibration_file_errors_name_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_convert_masks_saturation_and_open_leads() -> None:
    cal = Calibration.nominal_for(ALL_CHANNELS)
    forces = np.array([0.0, 1.0, 5.0, 20.0])
    raw = np.zeros((4, len(ALL_CHANNELS)), dtype=np.uint16)
    for k, ch in enumerate(ALL_CHANNELS):
        raw[:, k] = np.round(force_to_raw(forces, cal.params[ch]))
    raw[2, 3] = 4095                 # ring_tip saturated
    raw[1, 5] = 0                    # thenar: broken lead
    block = cal.convert(raw, first_index=100)
    assert block.first_index == 100
    assert np.allclose(block.newtons[[0, 1, 3], 0], [0, 1, 20], atol=0.1)
    assert block.saturated[2, 3] and block.saturated.sum() == 1
    assert block.open[1, 5] and block.open.sum() == 1 and block.newtons[1, 5] == 0.0
    # A saturated sample holds the ceiling, the least it could be, never the raw conversion.
    assert block.newtons[2, 3] == pytest.approx(cal.ceiling_n["ring_tip"], rel=1e-5)
    # Nominal conversion is exactly fsr_model.raw_to_force with the sensor map's divider.
    knuckle = ALL_CHANNELS.index("knuckles_index_middle")
    expected = raw_to_force(raw[:, knuckle], part("knuckles_index_middle"))
    assert np.allclose(block.newtons[:, knuckle], expected, rtol=1e-5)
    newtons, saturated = cal.to_newtons(raw)
    assert np.array_equal(saturated, block.saturated)


def test_calibration_file_is_json_with_the_fit(tmp_path: Path) -> None:
    tare, loaded = readings(part("middle_tip", r1_ohm=5500.0, alpha=0.8))
    cal = Calibration.from_fits([fit("middle_tip", tare, loaded)], ALL_CHANNELS, "g1")
    cal.save(tmp_path / "g1.json")
    data = json.loads((tmp_path / "g1.json").read_text())
    assert data["glove_id"] == "g1" and set(data["sensors"]) == {"middle_tip"}
    assert len(data["sensors"]["middle_tip"]["points"]) == 4
