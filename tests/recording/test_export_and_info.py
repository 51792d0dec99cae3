"""CSV export and the `info` / `export` commands on real files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from recording_helpers import CHANNELS, HELLO, frames_for, pattern

from glovecoach.cli import main
from glovecoach.recording import RecordingWriter, export_csv, open_recording


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
    from glovecoach.sensor_map import ALL_CHANNELS

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
