"""`glovecoach simulate` and the writers: real files, read back with the real readers."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.cli import main
from glovecoach.recording import open_recording
from glovecoach.simulate import simulate, write_signal_file
from glovecoach.simulate.files import read_signal_file

RATE = 50   # a short, cheap session for file round trips


@pytest.fixture(scope="module")
def small_session():
    return simulate("spine_contact_stroking", 5, rate_hz=RATE)


def test_cli_writes_a_recording_that_opens_with_its_ground_truth(tmp_path: Path, small_session) -> None:
    out = tmp_path / "s.gcrec"
    assert main(["simulate", "--scenario", "spine_contact_stroking", "--seed", "5", "--rate", str(RATE),
                 "-o", str(out)]) == 0
    rec = open_recording(out)
    assert rec.closed_cleanly and not rec.problems
    assert rec.rate_hz == RATE and rec.channels == small_session.channels
    assert rec.lost_samples == 0
    assert np.array_equal(rec.raw, small_session.raw)
    assert rec.metadata["scenario"] == "spine_contact_stroking" and rec.metadata["seed"] == 5
    (note,) = rec.notes_of("ground_truth")
    truth = note.payload
    assert truth == json.loads(json.dumps(small_session.truth_dict()))
    assert [p["technique"] for p in truth["phases"]] == [p.technique for p in small_session.phases]
    assert truth["spine_contacts"] and truth["expected_violations"] == ["spine_contact"]


def test_cli_csv_has_time_and_one_newton_column_per_channel(tmp_path: Path, small_session) -> None:
    out = tmp_path / "s.csv"
    assert main(["simulate", "--scenario", "spine_contact_stroking", "--seed", "5", "--rate", str(RATE),
                 "--csv", "-o", str(out)]) == 0
    with open(out, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(3)]
    assert header == ["time_s", *small_session.channels]
    assert [float(r[0]) for r in rows] == [0.0, 1 / RATE, 2 / RATE]
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert table.shape == (small_session.n_samples, 21)
    measured = Calibration.nominal_for(small_session.channels).convert(small_session.raw).newtons
    assert np.allclose(table[:, 1:], measured, atol=2e-3)
    truth = json.loads(Path(f"{out}.truth.json").read_text())
    assert truth["scenario"] == "spine_contact_stroking" and truth["rate_hz"] == RATE
    assert truth["segments"][0]["technique"] == "none"


def test_signal_file_round_trips_the_raw_counts(tmp_path: Path, small_session) -> None:
    out = write_signal_file(small_session, tmp_path / "s.gcsig")
    data = out.read_bytes()
    assert data[:8] == b"GCSIG1\n\0"
    assert int.from_bytes(data[8:10], "little") == 20
    assert int.from_bytes(data[10:12], "little") == RATE
    assert int.from_bytes(data[12:16], "little") == small_session.n_samples
    rate, raw = read_signal_file(out)
    assert rate == RATE and np.array_equal(raw, small_session.raw)


def test_truncated_signal_file_is_named(tmp_path: Path, small_session) -> None:
    out = write_signal_file(small_session, tmp_path / "s.gcsig")
    out.write_bytes(out.read_bytes()[:-3])
    with pytest.raises(ValueError, match="s.gcsig"):
        read_signal_file(out)


def test_cli_refuses_unknown_scenario_and_existing_file(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "--scenario", "bogus", "-o", str(tmp_path / "x.gcrec")]) == 2
    assert "unknown scenario 'bogus'" in capsys.readouterr().err
    existing = tmp_path / "y.gcrec"
    existing.write_bytes(b"keep me")
    assert main(["simulate", "--scenario", "good_session", "-o", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert existing.read_bytes() == b"keep me"


def test_cli_entry_point_runs_as_a_program(tmp_path: Path) -> None:
    out = tmp_path / "t.gcsig"
    done = subprocess.run([sys.executable, "-m", "glovecoach", "simulate", "--scenario", "technique_tour",
                           "--seed", "1", "--rate", "20", "--signal", "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "technique_tour seed 1" in done.stdout
    assert read_signal_file(out)[0] == 20
