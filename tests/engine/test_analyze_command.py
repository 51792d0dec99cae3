"""`glovecoach analyze` on real files: a .gcrec written by the recorder, and CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import (
    Calibration,
    calibration_path,
    fit_sensor,
    kg_to_newtons,
)
from glovecoach.calibration.fsr_model import FsrParams, force_to_raw
from glovecoach.cli import main
from glovecoach.recording import RecordingWriter
from glovecoach.simulate import simulate
from glovecoach.simulate.files import (
    SIMULATED_GLOVE_ID,
    device_info,
    write_csv,
    write_recording,
)
from glovecoach.vocabulary.sensors import ALL_CHANNELS, load_sensor_map


@pytest.fixture(scope="module")
def kneading_session():
    return simulate("excessive_force_kneading", 31)


def analyze(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_shape_on_a_real_recording(tmp_path: Path, capsys, kneading_session, monkeypatch) -> None:
    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "none-here"))
    path = write_recording(kneading_session, tmp_path / "s.gcrec")
    code, out, err = analyze(capsys, str(path), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert set(d) >= {"duration_s", "phases", "overforce_events", "spine_contacts", "protocol", "calibration",
                      "spine_check", "per_region", "spine_map", "score"}
    assert d["duration_s"] == pytest.approx(kneading_session.duration_s, abs=0.01)
    assert all(set(p) == {"technique", "start_s", "end_s", "paused_s"} for p in d["phases"])
    assert d["protocol"]["verdict"] in ("passed", "not_passed")
    assert "sensor_health" in d
    assert [p["technique"] for p in d["phases"]] == [p.technique for p in kneading_session.phases]
    assert all({"region", "start_s", "end_s", "peak_n"} <= set(e) for e in d["overforce_events"])
    assert {e.region for e in kneading_session.overforce} <= {e["region"] for e in d["overforce_events"]}
    assert set(d["protocol"]) >= {"passed", "violations"} and d["protocol"]["passed"] is False
    assert all(set(v) == {"rule", "message", "at_s"} for v in d["protocol"]["violations"])
    assert d["calibration"] == {**d["calibration"], "nominal": True, "glove_id": SIMULATED_GLOVE_ID}
    assert d["spine_check"] is True and set(d["spine_map"]) == {f"spine_{k}" for k in range(1, 9)}
    assert set(d["score"]["breakdown"]) == {"force_within_window_pct", "timing", "violations"}
    assert 0 <= d["score"]["total"] <= 100
    # The readable summary says the glove ran uncalibrated.
    code, out, _ = analyze(capsys, str(path))
    assert "none for this glove" in out and "Too much force" in out


def test_a_stored_calibration_is_used_for_the_glove(tmp_path: Path, capsys, monkeypatch) -> None:
    smap = load_sensor_map()
    c = smap.by_id("thumb_tip")
    true = FsrParams(r1_ohm=3000.0, alpha=0.8, divider_ohm=c.divider_ohm, bias_ohm=c.bias_ohm)
    loaded = [(kg_to_newtons(k), float(force_to_raw(kg_to_newtons(k), true))) for k in (0.2, 0.5, 1.0)]
    fit = fit_sensor("thumb_tip", float(force_to_raw(0.0, true)), loaded, divider_ohm=c.divider_ohm,
                     nominal_bias_ohm=c.bias_ohm, adc_max=smap.adc_max, open_below=smap.open_below,
                     saturated_at=smap.saturated_at)
    Calibration.from_fits([fit], ALL_CHANNELS, "glove-42").save(calibration_path("glove-42", tmp_path))
    # The hand at rest for 2 s, then 3 s of this thumb pressing 12 N: nominally it would read
    # differently.
    raw = np.zeros((1000, 20), np.uint16)
    for k, ch in enumerate(ALL_CHANNELS):
        raw[:, k] = np.round(force_to_raw(0.0, Calibration.nominal_for([ch]).params[ch]))
    raw[:400, 0] = np.round(force_to_raw(0.0, true))
    raw[400:, 0] = np.round(force_to_raw(12.0, true))
    info = {**device_info(simulate("good_session", 1)), "glove_id": "glove-42"}
    rec = tmp_path / "cal.gcrec"
    with RecordingWriter(rec, device_info=info, rate_hz=200, channels=ALL_CHANNELS, metadata={}) as w:
        w.write_samples(0, raw)
    code, out, err = analyze(capsys, str(rec), "--json", "--calibrations-dir", str(tmp_path))
    assert code == 0, err
    d = json.loads(out)
    assert d["calibration"]["nominal"] is False and d["calibration"]["glove_id"] == "glove-42"
    assert d["per_region"]["thumb_tip"]["none"]["mean_n"] == pytest.approx(12.0, rel=0.02)


def test_csv_without_spine_channels(tmp_path: Path, capsys) -> None:
    n = 2000
    t = np.arange(n) / 200
    path = tmp_path / "glove_only.csv"
    cols = {"palm_center": np.full(n, 3.0), "thumb_tip": np.where((t > 2) & (t < 4), 40.0, 1.0)}
    lines = ["time_s," + ",".join(cols)] + [f"{t[i]:.3f}," + ",".join(f"{v[i]:.2f}" for v in cols.values())
                                            for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    code, out, err = analyze(capsys, str(path), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["spine_check"] is False and d["spine_contacts"] == []
    assert [(e["region"], e["start_s"], e["end_s"]) for e in d["overforce_events"]] == [("thumb_tip", 2.005, 4.0)]
    code, out, _ = analyze(capsys, str(path))
    assert "Spine check: not done" in out


def test_csv_from_the_simulator_matches_its_recording(tmp_path: Path, capsys, kneading_session) -> None:
    path = write_csv(kneading_session, tmp_path / "k.csv")
    code, out, err = analyze(capsys, str(path), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert {e.region for e in kneading_session.overforce} <= {e["region"] for e in d["overforce_events"]}
    assert [p["technique"] for p in d["phases"]] == [p.technique for p in kneading_session.phases]


@pytest.mark.parametrize("text, message", [
    ("time_s,thumb_tip,elbow\n0,1,2\n", "line 1: unknown column 'elbow'"),
    ("time_s,thumb_tip\n0,1\n0.005,abc\n0.010,2\n", "line 3: column thumb_tip: not a number: 'abc'"),
    ("time_s,thumb_tip,palm_heel\n0,1,2\n0.005,1\n", "line 3: 2 cells, the header has 3"),
    ("seconds,thumb_tip\n0,1\n", "line 1: the first column must be time_s"),
    ("time_s,thumb_tip\n0,1\n0.005,1\n0.005,1\n", "line 4: column time_s: times must increase"),
    ("time_s,thumb_tip,thumb_tip\n0,1,1\n", "line 1: column 'thumb_tip' appears twice"),
    ("time_s,thumb_tip\n0,1\n0.005,-3\n", "line 3: column thumb_tip: negative force"),
])
def test_csv_errors_name_line_and_column_and_print_nothing(tmp_path: Path, capsys, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, out, err = analyze(capsys, str(path), "--json")
    assert code == 2
    assert out == ""
    assert f"{path}: {message}" in err


def test_bad_protocol_and_missing_file_are_clear_errors(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "ok.csv"
    csv.write_text("time_s,thumb_tip\n0,1\n")
    bad = tmp_path / "p.toml"
    bad.write_text('format = "glovecoach-protocol"\nversion = 1\nname = 3\n')
    code, out, err = analyze(capsys, str(csv), "--protocol", str(bad))
    assert code == 2 and out == "" and f"{bad}:3: name: must be a string" in err
    code, out, err = analyze(capsys, str(tmp_path / "missing.gcrec"))
    assert code == 2 and "no such file" in err


def test_one_row_csv_and_header_only_csv(tmp_path: Path, capsys) -> None:
    for text in ("time_s,thumb_tip\n", "time_s,thumb_tip\n0,1\n"):
        path = tmp_path / "tiny.csv"
        path.write_text(text)
        code, out, err = analyze(capsys, str(path), "--json")
        assert code == 0, err
        assert json.loads(out)["phases"] == []


def test_recording_gaps_are_respected(tmp_path: Path, capsys) -> None:
    """Samples lost in the recording end an over-force at the gap; nothing spans it."""
    params = Calibration.nominal_for(ALL_CHANNELS).params
    row = np.array([force_to_raw(0.0, params[c]) for c in ALL_CHANNELS])
    raw = np.tile(np.round(row), (2000, 1)).astype(np.uint16)
    palm = ALL_CHANNELS.index("palm_center")
    heel = ALL_CHANNELS.index("palm_heel")
    raw[:, palm] = np.round(force_to_raw(3.0, params["palm_center"]))
    raw[900:1400, heel] = np.round(force_to_raw(45.0, params["palm_heel"]))    # over the 36 N scoring limit
    info = {**device_info(simulate("good_session", 1)), "glove_id": "gap-glove"}
    rec = tmp_path / "gap.gcrec"
    with RecordingWriter(rec, device_info=info, rate_hz=200, channels=ALL_CHANNELS, metadata={}) as w:
        w.write_samples(0, raw[:1000])
        w.write_gap(1000, 200, "link lost")
        w.write_samples(1200, raw[1200:])
    code, out, err = analyze(capsys, str(rec), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["gaps"] == [{"start_s": 5.0, "end_s": 6.0}]
    assert [(e["start_s"], e["end_s"]) for e in d["overforce_events"]] == [(4.5, 5.0), (6.0, 7.0)]
    assert d["duration_s"] == 10.0
