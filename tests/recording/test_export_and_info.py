"""CSV export and the `info` / `export` commands on real files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glovecoach.cli import main
from glovecoach.recording import RecordingWriter, export_csv, open_recording
from recording_helpers import CHANNELS, HELLO, frames_for, pattern


@pytest.fixture
def gappy_session(tmp_path: Path) -> Path:
    path = tmp_path / "gappy.gcrec"
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS,
                         metadata={"trainee": "Bo"}) as writer:
        writer.write_samples(0, pattern(0, 40), frames_for(0, 40))
        writer.write_gap(40, 12, "link: 3 frames lost")
        writer.write_status(1000.2, {"seq": 13})
        writer.write_samples(52, pattern(52, 8), frames_for(52, 8))
        writer.write_note("screening", {"pain": "none"})
        writer.write_note("alert", {"text": "press lighter"}, host_time=1000.3)
    return path


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and numbers, past the export's `#` comment lines (as a plain csv reader would)."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if not row[0].startswith("#")]
    return rows[0], np.array(rows[1:], dtype=np.float64)


def test_export_raw_counts_leaves_gap_rows_out(gappy_session: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    rec = open_recording(gappy_session)
    export_csv(rec, out)
    header, table = read_csv(out)
    assert header == ["time_s", *CHANNELS]
    assert table.shape == (48, 21)
    expected_index = np.r_[0:40, 52:60]
    np.testing.assert_allclose(table[:, 0], expected_index / 200, atol=1e-9)
    np.testing.assert_array_equal(table[:, 1:], pattern(0, 60)[expected_index])
    # Integers, not "123.0": raw counts stay counts.
    lines = out.read_text().splitlines()
    assert lines[0] == "# glovecoach export: units=adc_counts, rate_hz=200, glove_id=GC-TEST-0007"
    assert lines[3].split(",")[1] == str(pattern(1, 1)[0, 0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_through_to_newtons(gappy_session: Path, tmp_path: Path) -> None:
    rec = open_recording(gappy_session)
    out = tmp_path / "n.csv"
    export_csv(rec, out, to_newtons=lambda raw: raw * 0.0125)
    _, table = read_csv(out)
    np.testing.assert_allclose(table[:, 1:], rec.raw * 0.0125, atol=5e-5)
    # A calibration's (newtons, saturated) tuple is accepted as well.
    out2 = tmp_path / "n2.csv"
    export_csv(rec, out2, to_newtons=lambda raw: (raw * 0.0125, raw > 4000))
    assert out2.read_text() == out.read_text()


def test_failed_export_leaves_nothing_behind(gappy_session: Path, tmp_path: Path) -> None:
    rec = open_recording(gappy_session)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    out = out_dir / "n.csv"
    with pytest.raises(ValueError, match=r"to_newtons returned shape \(48, 19\)"):
        export_csv(rec, out, to_newtons=lambda raw: raw[:, 1:] * 1.0)
    assert list(out_dir.iterdir()) == []

    # An existing export is not clobbered by a failed one.
    out.write_text("previous export\n")
    def failing(raw: np.ndarray) -> np.ndarray:
        raise RuntimeError("calibration missing for spine_3")
    with pytest.raises(RuntimeError, match="spine_3"):
        export_csv(rec, out, to_newtons=failing)
    assert out.read_text() == "previous export\n"
    assert [p.name for p in out_dir.iterdir()] == ["n.csv"]


def test_info_json_fields(gappy_session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(gappy_session), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["duration_s"] == pytest.approx(60 / 200)
    assert info["sample_rate_hz"] == 200
    assert info["channels"] == list(CHANNELS)
    assert info["samples"] == 48 and info["lost_samples"] == 12
    assert info["glove_id"] == "GC-TEST-0007" and info["firmware"] == "0.1.0"
    assert info["started_at"] == open_recording(gappy_session).started_at
    assert info["gaps"] == [{"first_index": 40, "n_samples": 12, "start_s": 0.2,
                             "reason": "link: 3 frames lost", "exact": True}]
    assert info["truncated"] is False and info["closed_cleanly"] is True
    assert info["notes"] == 2 and info["note_kinds"] == ["alert", "screening"]
    assert info["statuses"] == 1 and info["frames"] == 12
    assert info["metadata"] == {"trainee": "Bo"}


def test_info_text_summary(gappy_session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(gappy_session)]) == 0
    text = capsys.readouterr().out
    assert "GC-TEST-0007" in text
    assert "0.30 s at 200 Hz" in text
    assert "48 recorded, 12 lost (20.00 %) in 1 gap(s)" in text
    assert "at 0.200 s: 12 samples, link: 3 frames lost" in text
    assert "complete, closed cleanly" in text


def test_info_reports_a_torn_file(gappy_session: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = gappy_session.read_bytes()
    gappy_session.write_bytes(data[:-30])  # tear the END record
    assert main(["info", str(gappy_session), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["truncated"] is True and info["closed_cleanly"] is False
    assert "torn record at byte" in info["truncation_reason"]
    assert info["samples"] == 48


def test_commands_fail_clearly_on_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    assert main(["info", str(bad)]) == 2
    assert "not a glovecoach recording" in capsys.readouterr().err
    assert main(["export", str(bad), "--csv", str(tmp_path / "o.csv")]) == 2
    assert "not a glovecoach recording" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_export_command_in_a_real_process(gappy_session: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    result = subprocess.run(
        [sys.executable, "-m", "glovecoach", "export", str(gappy_session), "--csv", str(out), "--raw"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "48 rows x 20 channels (raw ADC counts)" in result.stdout
    header, table = read_csv(out)
    assert header[0] == "time_s" and table.shape == (48, 21)


def test_export_through_the_real_calibration(tmp_path: Path) -> None:
    # The hook as the calibration module provides it: Calibration.to_newtons -> (newtons, saturated).
    from glovecoach.calibration import Calibration
    from glovecoach.vocabulary.sensors import ALL_CHANNELS

    path = tmp_path / "glove.gcrec"
    raw = pattern(0, 30, len(ALL_CHANNELS))
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=ALL_CHANNELS) as writer:
        writer.write_samples(0, raw)
    rec = open_recording(path)
    calibration = Calibration.nominal_for(rec.channels)
    out = tmp_path / "glove.csv"
    export_csv(rec, out, to_newtons=calibration.to_newtons)
    header, table = read_csv(out)
    assert header == ["time_s", *ALL_CHANNELS]
    np.testing.assert_allclose(table[:, 1:], calibration.to_newtons(raw)[0], atol=5e-5, rtol=1e-6)


# -- newtons ---------------------------------------------------------------------------------

def _full_glove_recording(path: Path, raw: np.ndarray, glove_id: str = "GC-TEST-0007") -> Path:
    from glovecoach.vocabulary.sensors import ALL_CHANNELS

    with RecordingWriter(path, device_info={**HELLO, "glove_id": glove_id}, rate_hz=200,
                         channels=ALL_CHANNELS) as writer:
        writer.write_samples(0, raw[:20])
        writer.write_gap(20, 5, "link: 1 frame lost")
        writer.write_samples(25, raw[20:])
    return path


def _raw_with_extremes(n: int = 60) -> np.ndarray:
    from glovecoach.vocabulary.sensors import ALL_CHANNELS

    raw = (pattern(0, n, len(ALL_CHANNELS)) % 3500 + 300).astype(np.uint16)
    raw[5, 0] = 4095      # saturated (>= 4000)
    raw[6, 0] = 4000      # exactly at the threshold: saturated
    raw[7, 0] = 3999      # just below: a force
    raw[8:12, 3] = 3      # an open lead (< 8 counts)
    return raw


def test_export_command_writes_newtons_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from glovecoach.calibration import Calibration
    from glovecoach.recording.force_csv import read_force_csv
    from glovecoach.vocabulary.sensors import ALL_CHANNELS

    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "none-stored"))
    raw = _raw_with_extremes()
    rec = _full_glove_recording(tmp_path / "g.gcrec", raw)
    out = tmp_path / "g.csv"
    assert main(["export", str(rec), "--csv", str(out)]) == 0
    said = capsys.readouterr().out
    assert said == (f"wrote 60 rows x 20 channels (newtons, nominal curves: no calibration stored for glove "
                    f"GC-TEST-0007; 2 saturated cell(s) written as 'sat', 4 open-lead cell(s) as 'open') to {out}\n")
    lines = out.read_text().splitlines()
    assert lines[0] == ("# glovecoach export: units=newtons, rate_hz=200, glove_id=GC-TEST-0007, "
                        "calibration=nominal, saturated=sat, open=open")
    assert lines[1].startswith("# ceiling_n: thumb_tip=436.5464, index_tip=436.5464,")
    assert lines[2] == "time_s," + ",".join(ALL_CHANNELS)
    rows = [line.split(",") for line in lines[3:]]
    newtons = Calibration.nominal_for(["thumb_tip"]).convert(raw[7:8, :1]).newtons[0, 0]
    assert [r[1] for r in rows[5:8]] == ["sat", "sat", f"{newtons:.4f}"]
    assert [r[4] for r in rows[8:12]] == ["open"] * 4
    assert sum(cell in ("sat", "open") for r in rows for cell in r) == 6    # nothing else is a word

    # Every other cell is the force `analyze` would use, and the gap stays a gap.
    table = read_force_csv(out)
    expected = Calibration.nominal_for(ALL_CHANNELS).convert(raw)
    np.testing.assert_array_equal(table.sample_index, np.r_[0:20, 25:65])
    np.testing.assert_array_equal(table.saturated, expected.saturated)
    np.testing.assert_array_equal(table.open, expected.open)
    np.testing.assert_allclose(table.newtons, expected.newtons, atol=5e-5, rtol=1e-6)


def test_export_uses_the_gloves_stored_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As `analyze` picks it: the glove id's file in the calibrations directory, or --calibration.
    from glovecoach.calibration import Calibration, calibration_path, fit_sensor, kg_to_newtons
    from glovecoach.calibration.fsr_model import FsrParams, force_to_raw
    from glovecoach.recording.force_csv import read_force_csv
    from glovecoach.vocabulary.sensors import ALL_CHANNELS, load_sensor_map

    smap = load_sensor_map()
    c = smap.by_id("thumb_tip")
    true = FsrParams(r1_ohm=3000.0, alpha=0.8, divider_ohm=c.divider_ohm, bias_ohm=c.bias_ohm)
    loaded = [(kg_to_newtons(k), float(force_to_raw(kg_to_newtons(k), true))) for k in (0.2, 0.5, 1.0)]
    fit = fit_sensor("thumb_tip", float(force_to_raw(0.0, true)), loaded, divider_ohm=c.divider_ohm,
                     nominal_bias_ohm=c.bias_ohm, adc_max=smap.adc_max, open_below=smap.open_below,
                     saturated_at=smap.saturated_at)
    stored = Calibration.from_fits([fit], ALL_CHANNELS, "GC-TEST-0007")
    cal_dir = tmp_path / "cals"
    stored.save(calibration_path("GC-TEST-0007", cal_dir))
    raw = _raw_with_extremes()
    raw[:, 0] = np.round(force_to_raw(12.0, true))
    rec = _full_glove_recording(tmp_path / "g.gcrec", raw)
    out = tmp_path / "g.csv"
    assert main(["export", str(rec), "--csv", str(out), "--newtons", "--calibrations-dir", str(cal_dir)]) == 0
    assert f"calibration {calibration_path('GC-TEST-0007', cal_dir)}" in capsys.readouterr().out
    text = out.read_text()
    assert "calibration=stored (nominal for 19 channel(s))" in text.splitlines()[0]
    table = read_force_csv(out)
    np.testing.assert_allclose(table.newtons[:, 0], 12.0, rtol=0.02)
    assert table.export_info["glove_id"] == "GC-TEST-0007"
    # --calibration FILE overrides the stored one, as for analyze.
    out2 = tmp_path / "g2.csv"
    assert main(["export", str(rec), "--csv", str(out2), "--calibration",
                 str(calibration_path("GC-TEST-0007", cal_dir))]) == 0
    capsys.readouterr()
    assert out2.read_text() == text


def test_export_option_conflicts(gappy_session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.csv"
    assert main(["export", str(gappy_session), "--csv", str(out), "--raw", "--calibration", "x.json"]) == 2
    assert "apply to newtons, not to --raw counts" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(gappy_session), "--csv", str(out), "--raw", "--newtons"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["export", str(gappy_session), "--csv", str(out), "--calibration", str(bad)]) == 2
    assert f"{bad}: line 1: not valid JSON" in capsys.readouterr().err
    assert not out.exists()


def test_comment_values_cannot_break_the_comment(tmp_path: Path) -> None:
    path = tmp_path / "odd.gcrec"
    with RecordingWriter(path, device_info={**HELLO, "glove_id": "lab,glove=2\nx"}, rate_hz=200,
                         channels=CHANNELS) as writer:
        writer.write_samples(0, pattern(0, 3))
    out = tmp_path / "odd.csv"
    export_csv(open_recording(path), out)
    assert out.read_text().splitlines()[0] == \
        "# glovecoach export: units=adc_counts, rate_hz=200, glove_id=lab_glove_2_x"


def test_newton_export_in_a_real_process(tmp_path: Path) -> None:
    rec = _full_glove_recording(tmp_path / "g.gcrec", _raw_with_extremes())
    out = tmp_path / "cli.csv"
    env = {**os.environ, "GLOVECOACH_CALIBRATIONS": str(tmp_path / "none")}
    result = subprocess.run([sys.executable, "-m", "glovecoach", "export", str(rec), "--csv", str(out)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "60 rows x 20 channels (newtons, nominal curves" in result.stdout
    assert out.read_text().startswith("# glovecoach export: units=newtons, rate_hz=200, glove_id=GC-TEST-0007")


def test_channels_without_a_curve_cannot_be_newtons(gappy_session: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # The test recordings' channels (ch00...) are not in the sensor map: counts only.
    out = tmp_path / "o.csv"
    assert main(["export", str(gappy_session), "--csv", str(out)]) == 2
    assert capsys.readouterr().err == ("glovecoach export: cannot convert to newtons: unknown sensor id 'ch00' "
                                       "(not in the sensor map); --raw exports the ADC counts\n")
    assert not out.exists()
