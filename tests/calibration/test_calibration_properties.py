"""Property tests for the calibration loader: random, truncated, mutated and adversarial files.

`Calibration.load` either raises CalibrationError naming the file, or returns curves whose every
parameter is finite and inside its physical range and whose conversion gives finite newtons
over the whole ADC range.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glovecoach.calibration import (
    ALPHA_RANGE,
    BIAS_OHM_RANGE,
    CEILING_N_RANGE,
    R1_OHM_RANGE,
    Calibration,
    CalibrationError,
)
from glovecoach.vocabulary.sensors import load_sensor_map

SMAP = load_sensor_map()
# Tuned so the whole file runs in about 10 s on a loaded machine.
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORK = Path(tempfile.mkdtemp(prefix="gccal-props-"))
GOOD = {"r1_ohm": 5000.0, "alpha": 0.85, "divider_ohm": 2200.0, "bias_ohm": 27310.0, "tare_raw": 300.4,
        "points": [[4.9, 1510.2], [9.8, 2100.5]], "dropped_saturated_n": [49.0], "rms_log_error": 0.004}
VALID = json.dumps({"format": "glovecoach-calibration", "version": 1, "glove_id": "GC-1", "created": "x",
                    "sensors": {"thumb_tip": GOOD, "index_tip": GOOD}}, indent=2)
ALL_ADC = np.tile(np.arange(SMAP.adc_max + 1, dtype=np.uint16)[:, None], (1, len(SMAP.ids)))


def _load(data: bytes, glove_id: str | None = None) -> Calibration | None:
    path = WORK / "case.json"
    path.write_bytes(data)
    try:
        cal = Calibration.load(path, glove_id=glove_id)
    except CalibrationError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        return None
    for channel, p in cal.params.items():
        assert R1_OHM_RANGE[0] <= p.r1_ohm <= R1_OHM_RANGE[1] or channel in cal.nominal_channels
        assert ALPHA_RANGE[0] <= p.alpha <= ALPHA_RANGE[1] or channel in cal.nominal_channels
        assert BIAS_OHM_RANGE[0] <= p.bias_ohm <= BIAS_OHM_RANGE[1]
        assert p.divider_ohm == SMAP.by_id(channel).divider_ohm
    for fit in cal.fits.values():
        assert 0 <= fit.tare_raw <= SMAP.adc_max and 0 <= fit.rms_log_error <= 10
        assert all(0 <= f <= 500 and 0 <= r <= SMAP.adc_max for f, r in fit.points)
        assert all(0 <= f <= 500 for f in fit.dropped)
    newtons = cal.convert(ALL_ADC).newtons
    assert np.isfinite(newtons).all() and newtons.min() >= 0
    assert max(cal.ceiling_n.values()) <= CEILING_N_RANGE[1]
    assert cal.glove_id is None or isinstance(cal.glove_id, str)
    if glove_id is not None and cal.glove_id is not None:
        assert cal.glove_id == glove_id
    return cal


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@SETTINGS
@given(st.integers(0, len(VALID) - 1))
def test_truncated(cut: int) -> None:
    # A cut JSON text is never valid JSON (the closing brace is the last byte).
    assert _load(VALID[:cut].encode()) is None


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255), st.sampled_from(["set", "del", "ins"])),
                min_size=1, max_size=4))
def test_mutated_bytes(mutations) -> None:
    data = bytearray(VALID.encode())
    for at, byte, how in mutations:
        at %= len(data)
        if how == "set":
            data[at] = byte
        elif how == "del":
            del data[at]
        else:
            data.insert(at, byte)
    _load(bytes(data))


LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10), st.sampled_from([1e308, -1e308, 5e-324, 1e-300, 0.0, -0.0, 4095, 4096, 500.0, 1e7]),
)
JSON = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
FIELDS = list(GOOD) + ["format", "version", "glove_id", "created", "sensors"]


@SETTINGS
@given(st.sampled_from(FIELDS), JSON, st.sampled_from([None, "GC-1", "GC-2"]))
def test_adversarial_values(field: str, value: object, glove_id: str | None) -> None:
    doc = json.loads(VALID)
    if field in GOOD:
        doc["sensors"]["thumb_tip"][field] = value
    else:
        doc[field] = value
    text = json.dumps(doc, indent=2)            # NaN and Infinity written as the bare tokens
    _load(text.encode(), glove_id)


@settings(SETTINGS, max_examples=60)
@given(st.dictionaries(st.sampled_from(list(GOOD)), st.floats(allow_nan=False, allow_infinity=False)
                       | st.integers(-(10**400), 10**400), min_size=8))
def test_any_finite_numbers_load_only_inside_the_physical_ranges(curve: dict) -> None:
    curve["divider_ohm"] = 2200.0
    doc = {"format": "glovecoach-calibration", "version": 1, "sensors": {"ring_tip": {**GOOD, **{
        k: v for k, v in curve.items() if k in ("r1_ohm", "alpha", "bias_ohm", "tare_raw", "rms_log_error")}}}}
    cal = _load(json.dumps(doc).encode())
    if cal is not None:
        p = cal.params["ring_tip"]
        assert math.isfinite(p.r1_ohm) and math.isfinite(p.alpha)
