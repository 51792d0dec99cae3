"""Calibration files that are damaged, hand-edited, foreign or for another glove: each is refused
with the file, the line and the field, never loaded into a curve that gives nonsense newtons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import Calibration, CalibrationError, calibration_for, calibration_path
from glovecoach.vocabulary.sensors import ALL_CHANNELS

GOOD_SENSOR = {"r1_ohm": 5000.0, "alpha": 0.85, "divider_ohm": 2200.0, "bias_ohm": 27310.0, "tare_raw": 300.4,
               "points": [[4.9, 1510.2], [9.8, 2100.5]], "dropped_saturated_n": [49.0], "rms_log_error": 0.004}


def good_text(glove_id: str | None = "GC-1234") -> str:
    """A calibration file as `Calibration.save` lays it out: one field per line."""
    data = {"format": "glovecoach-calibration", "version": 1, "glove_id": glove_id,
            "created": "2026-12-01T10:00:00+00:00",
            "sensors": {"index_tip": dict(GOOD_SENSOR), "thumb_tip": dict(GOOD_SENSOR)}}
    return json.dumps(data, indent=2) + "\n"


THUMB, INDEX = '"thumb_tip"', '"index_tip"'


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


# (old text in thumb_tip's entry -- the second sensor, so the line found must be the right one --,
#  new text, the field the error must name, what it must say)
CASES = [
    ('"r1_ohm": 5000.0', '"r1_ohm": "5000"', "sensors.thumb_tip.r1_ohm", "must be a number, got string '5000'"),
    ('"r1_ohm": 5000.0', '"r1_ohm": null', "sensors.thumb_tip.r1_ohm", "must be a number, got null"),
    ('"r1_ohm": 5000.0', '"r1_ohm": [5000]', "sensors.thumb_tip.r1_ohm", "must be a number, got list [5000]"),
    ('"r1_ohm": 5000.0', '"r1_ohm": true', "sensors.thumb_tip.r1_ohm", "must be a number, got boolean True"),
    ('"r1_ohm": 5000.0', '"r1_ohm": NaN', "sensors.thumb_tip.r1_ohm", "must be a finite number, got nan"),
    ('"r1_ohm": 5000.0', '"r1_ohm": Infinity', "sensors.thumb_tip.r1_ohm", "must be a finite number, got inf"),
    ('"r1_ohm": 5000.0', '"r1_ohm": 1e400', "sensors.thumb_tip.r1_ohm", "must be a finite number, got inf"),
    # 1e308 used to load and read "inf N".
    ('"r1_ohm": 5000.0', '"r1_ohm": 1e308', "sensors.thumb_tip.r1_ohm", "1e+308 is outside 10..1e+07 ohm"),
    ('"r1_ohm": 5000.0', '"r1_ohm": 1e-300', "sensors.thumb_tip.r1_ohm", "1e-300 is outside 10..1e+07 ohm"),
    ('"alpha": 0.85', '"alpha": 1e-9', "sensors.thumb_tip.alpha", "1e-09 is outside 0.2..3"),
    ('"alpha": 0.85', '"alpha": 40', "sensors.thumb_tip.alpha", "40 is outside 0.2..3"),
    ('"bias_ohm": 27310.0', '"bias_ohm": 1e300', "sensors.thumb_tip.bias_ohm", "1e+300 is outside 10..1e+07 ohm"),
    ('"tare_raw": 300.4', '"tare_raw": -5', "sensors.thumb_tip.tare_raw", "-5 is outside 0..4095 ADC counts"),
    ('"tare_raw": 300.4', '"tare_raw": "high"', "sensors.thumb_tip.tare_raw", "must be a number, got string 'high'"),
    ('"rms_log_error": 0.004', '"rms_log_error": -1', "sensors.thumb_tip.rms_log_error", "-1 is outside 0..10"),
    ('"dropped_saturated_n": [\n        49.0\n      ]', '"dropped_saturated_n": {"a": 1}',
     "sensors.thumb_tip.dropped_saturated_n", "must be a list, got object {'a': 1}"),
    ('        1510.2', '        1e9', "sensors.thumb_tip.points[0][1]", "1e+09 is outside 0..4095 ADC counts"),
    ('        4.9,', '        1e6,', "sensors.thumb_tip.points[0][0]", "1e+06 is outside 0..500 N"),
    ('"r1_ohm": 5000.0,', '"r1_ohm": 5000.0, "r1_ohms": 1,', "sensors.thumb_tip.r1_ohms", "unknown field"),
]


@pytest.mark.parametrize("old, new, field, problem", CASES, ids=[c[1].strip()[:30] for c in CASES])
def test_bad_values_are_refused_with_file_line_and_field(tmp_path: Path, old: str, new: str, field: str,
                                                         problem: str) -> None:
    text = good_text()
    start = text.index('"thumb_tip"')
    assert old in text[start:], old
    text = text[:start] + text[start:].replace(old, new, 1)
    path = tmp_path / "GC-1234.json"
    path.write_text(text)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    expected_line = line_of(text, new.strip().splitlines()[0], 1)
    assert str(err.value).startswith(f"{path}: line {expected_line}: field {field}: {problem}")


def test_a_missing_field_names_the_line_of_its_sensor(tmp_path: Path) -> None:
    text = good_text()
    start = text.index('"thumb_tip"')
    text = text[:start] + text[start:].replace('"alpha": 0.85,', "", 1)
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert str(err.value) == f"{path}: line {line_of(text, THUMB)}: field sensors.thumb_tip.alpha: missing"


@pytest.mark.parametrize("sensor, message", [
    ("null", "must be an object (the sensor's curve), got null"),
    ("[1, 2]", "must be an object (the sensor's curve), got list [1, 2]"),
    ("7", "must be an object (the sensor's curve), got number 7"),
])
def test_a_sensor_that_is_not_an_object(tmp_path: Path, sensor: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"format": "glovecoach-calibration", "version": 1,\n "sensors": {\n  "thumb_tip": '
                    + sensor + "}}")
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert str(err.value) == f"{path}: line 3: field sensors.thumb_tip: {message}"


@pytest.mark.parametrize("content, message", [
    ("[]", "line 1: not a glovecoach calibration file"),
    ('{"format": "glovecoach-calibration", "version": 1.5, "sensors": {}}',
     "line 1: field version: unsupported version 1.5"),
    ('{"format": "glovecoach-calibration", "version": true, "sensors": {}}', "field version: unsupported version True"),
    ('{"format": "glovecoach-calibration",\n"version": 1,\n"sensors": null}',
     "line 3: field sensors: must be an object"),
    ('{"format": "glovecoach-calibration",\n"version": 1,\n"glove_id": 7, "sensors": {}}',
     "line 3: field glove_id: must be a glove id"),
    ('{"format": "glovecoach-calibration", "version": 1, "sensors": {"pinky": {}}}',
     "field sensors.pinky: unknown sensor id"),
    ("[" * 100_000, "nested too deeply"),
    ('{"format": "glovecoach-calibration", "version": ' + "9" * 5000 + "}", "not valid JSON"),
])
def test_files_that_are_not_calibrations(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


@pytest.mark.parametrize("encode, message", [
    (lambda t: t.encode("utf-16"), "line 1: UTF-16 text; a calibration file is UTF-8 JSON"),
    (lambda t: t.encode("utf-16-le"), "line 1: UTF-16 text"),
    (lambda t: t.encode()[:40] + bytes(range(256)), "binary data (a NUL byte)"),
    (lambda t: t.encode().replace(b"GC-1234", b"GC-\xff\xfe34"), "line 4: not UTF-8 text"),
    (lambda t: b"\x89PNG\r\n\x1a\n" + bytes(64), "binary data"),
    (lambda t: b" " * (2 << 20), "larger than 1024 KiB"),
])
def test_binary_and_utf16_files_are_named(tmp_path: Path, encode, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(encode(good_text()))
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf" + good_text().encode())
    assert Calibration.load(path).params["thumb_tip"].r1_ohm == 5000.0


def test_a_curve_that_gives_impossible_newtons_is_refused(tmp_path: Path) -> None:
    # Each value within its own range, but together: 1e7 ohm at 1 N and a flat exponent read
    # astronomically many newtons at saturation.
    text = good_text().replace('"r1_ohm": 5000.0', '"r1_ohm": 9000000.0').replace('"alpha": 0.85', '"alpha": 0.2')
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(path)
    assert f"{path}: line {line_of(text, INDEX)}: field sensors.index_tip: this curve reads" in str(err.value)
    assert "N at saturation, outside the physical 1..100000 N" in str(err.value)


def test_a_file_for_another_glove_is_refused(tmp_path: Path) -> None:
    # Glove ids map to file names by replacing unsafe characters, so "GC/1234" and "GC_1234"
    # share a file: the id stored inside decides.
    path = calibration_path("GC_1234", tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(good_text("GC_1234"))
    assert calibration_path("GC/1234", tmp_path) == path
    with pytest.raises(CalibrationError) as err:
        calibration_for("GC/1234", ALL_CHANNELS, tmp_path)
    assert str(err.value) == (f"{path}: line {line_of(good_text('GC_1234'), 'glove_id')}: field glove_id: "
                              f"this calibration is for glove 'GC_1234', not for glove 'GC/1234'")
    with pytest.raises(CalibrationError, match="not for glove 'GC-9'"):
        Calibration.load(path, glove_id="GC-9")
    cal = calibration_for("GC_1234", ALL_CHANNELS, tmp_path)
    assert cal.glove_id == "GC_1234" and not cal.nominal
    # Every loaded curve converts the whole ADC range to finite newtons.
    newtons = cal.convert(np.tile(np.arange(0, 4096, dtype=np.uint16)[:, None], (1, len(ALL_CHANNELS)))).newtons
    assert np.isfinite(newtons).all() and newtons.max() <= 1e5


def test_a_flat_but_real_fsr_curve_still_loads(tmp_path: Path) -> None:
    # Alpha 0.5 (a flat part) behind the 1.5 kΩ knuckle divider extrapolates to ~12 kN at
    # saturation: implausible as a force, but a fit real weights can give, so it must load.
    text = good_text().replace('"r1_ohm": 5000.0', '"r1_ohm": 4000.0').replace('"alpha": 0.85', '"alpha": 0.5')
    text = text.replace('"index_tip"', '"knuckles_index_middle"', 1)
    text = text.replace('"divider_ohm": 2200.0', '"divider_ohm": 1500.0', 1)
    text = text.replace('"bias_ohm": 27310.0', '"bias_ohm": 18000.0', 1)
    path = tmp_path / "c.json"
    path.write_text(text)
    cal = Calibration.load(path)
    assert 5000 < cal.ceiling_n["knuckles_index_middle"] < 1e5
