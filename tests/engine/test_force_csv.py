"""`read_force_csv` and `glovecoach analyze` on CSV files that are not what they should be.

Every refusal goes through the real command and must be one line naming the file, the line
and (where there is one) the column, with nothing on stdout and no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glovecoach.calibration import Calibration
from glovecoach.cli import main
from glovecoach.recording import RecordingWriter
from glovecoach.recording.export import export_csv
from glovecoach.recording.force_csv import ForceCsvError, read_force_csv
from glovecoach.vocabulary.sensors import ALL_CHANNELS


def rows(times, *columns, fmt: str = "{:.3f}") -> str:
    return "".join(f"{t}," + ",".join(fmt.format(c[k]) for c in columns) + "\n" for k, t in enumerate(times))


def refused(capsys, path: Path) -> str:
    """Run `glovecoach analyze PATH --json`; it must fail cleanly. Returns stderr."""
    code = main(["analyze", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    return tmp_path / "forces.csv"


# -- the time column ---------------------------------------------------------------------

@pytest.mark.parametrize("step_ms, rate", [(5, 200), (20, 50)])
def test_milliseconds_in_time_s_are_named(csv_path: Path, capsys, step_ms: int, rate: int) -> None:
    times = [k * step_ms for k in range(400)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(400, 2.0)))
    err = refused(capsys, csv_path)
    assert f"{csv_path}: line 3: column time_s: looks like milliseconds (steps of {step_ms}); " \
           f"divide it by 1000 to give seconds ({rate} Hz)" in err


def test_unix_epoch_seconds_are_named(csv_path: Path, capsys) -> None:
    start = 1_764_680_000.0   # 2025-12-02 12:53 UTC
    times = [f"{start + k / 200:.3f}" for k in range(400)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(400, 2.0)))
    err = refused(capsys, csv_path)
    assert (f"{csv_path}: line 2: column time_s: 1764680000 looks like Unix time in seconds "
            "(2025-12-02 12:53 UTC)") in err
    assert "time_s must count seconds from the start of the recording" in err


def test_unix_epoch_milliseconds_are_named(csv_path: Path, capsys) -> None:
    times = [1_764_680_000_000 + 5 * k for k in range(50)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(50, 2.0)))
    assert "looks like Unix time in milliseconds (2025-12-02 12:53 UTC)" in refused(capsys, csv_path)


def test_a_recording_that_starts_late_is_still_accepted(csv_path: Path) -> None:
    # A clip cut from the middle of a session: time_s counts from the session start.
    times = [f"{600 + k / 100:.2f}" for k in range(300)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(300, 2.0)))
    table = read_force_csv(csv_path)
    assert table.rate_hz == 100 and table.sample_index[0] == 60_000


@pytest.mark.parametrize("rate", [5, 2])
def test_rates_below_10_hz_are_refused(csv_path: Path, capsys, rate: int) -> None:
    times = [f"{k / rate:g}" for k in range(100)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(100, 2.0)))
    err = refused(capsys, csv_path)
    assert f"{csv_path}: line 3: column time_s: {rate} Hz (steps of {1 / rate:g} s) is below the 10 Hz minimum: " \
           "too slow to recognise techniques" in err


def test_10_hz_and_5000_hz_are_the_limits(csv_path: Path, capsys) -> None:
    for rate in (10, 5000):
        times = [f"{k / rate:.6f}" for k in range(200)]
        csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(200, 2.0)))
        assert read_force_csv(csv_path).rate_hz == rate
    times = [f"{k / 12000:.8f}" for k in range(200)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, np.full(200, 2.0)))
    err = refused(capsys, csv_path)
    assert "column time_s: 12000 Hz" in err and "above the 5000 Hz the glove can sample" in err
    assert "minutes? multiply by 60" in err


# -- cells ---------------------------------------------------------------------------------

def test_quoted_numbers_are_numbers(csv_path: Path) -> None:
    # Standard CSV quoting, as some spreadsheets write every cell.
    csv_path.write_text('"time_s","thumb_tip","palm_heel"\n"0","1.5","2"\n"0.005","1.25",3\n0.010,"0",4\n')
    table = read_force_csv(csv_path)
    assert table.channels == ("thumb_tip", "palm_heel")
    np.testing.assert_array_equal(table.newtons, [[1.5, 2], [1.25, 3], [0, 4]])
    np.testing.assert_array_equal(table.sample_index, [0, 1, 2])


@pytest.mark.parametrize("cell, message", [
    ('"abc"', "line 4: column thumb_tip: not a number: 'abc' (quoted text 'abc' is not a number)"),
    ('"1,5"', "line 4: column thumb_tip: '1,5' has a decimal comma: write numbers with a decimal point"),
    ("", "line 4: column thumb_tip: empty cell"),
    ("nan", "line 4: column thumb_tip: nan is not a finite number"),
    ("inf", "line 4: column thumb_tip: inf is not a finite number"),
    ("-0.2", "line 4: column thumb_tip: negative force -0.2 (forces are newtons >= 0)"),
])
def test_bad_cells_are_named(csv_path: Path, capsys, cell: str, message: str) -> None:
    csv_path.write_text(f"time_s,thumb_tip,palm_heel\n0,1,1\n0.005,1,1\n0.010,{cell},1\n0.015,1,1\n")
    assert f"{csv_path}: {message}" in refused(capsys, csv_path)


def test_the_row_named_is_the_one_the_parser_refused(csv_path: Path, capsys) -> None:
    # 50 000 good rows (a trailing comment is fine), then cells Python's float() would take but
    # the table parser does not: the search for the bad row uses the parser itself.
    good = "".join(f"{k / 200:.3f},1.5,2 # ok\n" for k in range(50_000))
    for cell in ("1_000", "0x10"):
        csv_path.write_text("time_s,thumb_tip,palm_heel\n" + good + f"250.000,{cell},1\n250.005,1,1\n")
        assert f"{csv_path}: line 50002: column thumb_tip: not a number: '{cell}'" in refused(capsys, csv_path)
    csv_path.write_text("time_s,thumb_tip,palm_heel\n" + good)
    assert read_force_csv(csv_path).newtons.shape == (50_000, 2)


def test_utf8_bom_crlf_comments_and_blank_lines(csv_path: Path) -> None:
    text = "# made by hand\r\ntime_s,thumb_tip\r\n0,1\r\n\r\n# a comment mid-file\r\n  \r\n0.01,2\r\n0.02,3\r\n"
    csv_path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    table = read_force_csv(csv_path)
    assert table.rate_hz == 100
    np.testing.assert_array_equal(table.newtons[:, 0], [1, 2, 3])


def test_line_numbers_count_comments_and_blank_lines(csv_path: Path, capsys) -> None:
    csv_path.write_text("# note\ntime_s,thumb_tip\n0,1\n\n# mid\n0.01,2\n0.02,-1\n")
    assert f"{csv_path}: line 7: column thumb_tip: negative force -1" in refused(capsys, csv_path)
    csv_path.write_text("# note\ntime_s,thumb_tip\n0,1\n\n# mid\n0.01,2\n0.01,1\n")
    assert f"{csv_path}: line 7: column time_s: times must increase (0.01 after 0.01)" in refused(capsys, csv_path)


# -- files that are not a CSV of newtons ------------------------------------------------

def test_binary_and_foreign_text_files(tmp_path: Path, capsys) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert f"{binary}: line 3: binary data (a NUL byte at byte 8), not a text CSV" in refused(capsys, binary)

    utf16 = tmp_path / "excel.csv"
    utf16.write_bytes("time_s,thumb_tip\r\n0,1\r\n".encode("utf-16"))
    assert f"{utf16}: line 1: UTF-16 text; save the CSV as UTF-8" in refused(capsys, utf16)

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("# Kraft in N, gemessen mit Handschuh für Rücken\ntime_s,thumb_tip\n0,1\n".encode("latin-1"))
    assert f"{latin1}: line 1: not UTF-8 text" in refused(capsys, latin1)

    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("time_s;thumb_tip\n0;1,5\n")
    assert f"{semicolons}: line 1: the columns are separated by ';'" in refused(capsys, semicolons)

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert f"{empty}: line 1: empty file" in refused(capsys, empty)


def test_a_recording_named_csv(tmp_path: Path, capsys) -> None:
    path = tmp_path / "session.csv"
    with RecordingWriter(path, device_info={"glove_id": "g"}, rate_hz=200, channels=("thumb_tip",)) as writer:
        writer.write_samples(0, np.full((10, 1), 300, np.uint16))
    assert f"{path}: this is a .gcrec recording, not a CSV" in refused(capsys, path)


def test_integer_adc_counts_without_a_comment_are_refused(csv_path: Path, capsys) -> None:
    # What a raw export looks like once its comment line is gone: resting sensors ~300 counts.
    rng = np.random.default_rng(3)
    counts = rng.integers(290, 330, size=(400, 3))
    counts[100:200, 0] = 2400
    times = [f"{k / 200:.3f}" for k in range(400)]
    csv_path.write_text("time_s,thumb_tip,palm_heel,spine_3\n" + rows(times, *counts.T, fmt="{:d}"))
    err = refused(capsys, csv_path)
    assert f"{csv_path}: this CSV holds ADC counts, not newtons (all whole numbers up to 2400, 100% of them " \
           "above 150 N): export it with --newtons, or analyze the .gcrec recording" in err


def test_whole_newtons_are_not_mistaken_for_counts(csv_path: Path) -> None:
    # Whole numbers, but forces a hand gives: read as newtons.
    values = np.tile([0, 2, 15, 40], 100)
    times = [f"{k / 200:.3f}" for k in range(400)]
    csv_path.write_text("time_s,thumb_tip\n" + rows(times, values, fmt="{:d}"))
    np.testing.assert_array_equal(read_force_csv(csv_path).newtons[:, 0], values)


def test_an_export_comment_decides_the_units(csv_path: Path, capsys) -> None:
    body = "time_s,thumb_tip\n0,1.5\n0.005,2.5\n"
    csv_path.write_text("# glovecoach export: units=adc_counts, rate_hz=200, glove_id=GC-1\n" + body)
    err = refused(capsys, csv_path)
    assert f"{csv_path}: line 1: this CSV holds ADC counts, not newtons (units=adc_counts): export it with " \
           "--newtons, or analyze the .gcrec recording" in err
    csv_path.write_text("# glovecoach export: units=kg\n" + body)
    assert f"{csv_path}: line 1: units=kg: analyze reads newtons" in refused(capsys, csv_path)
    # units=newtons is trusted even for whole numbers that would look like counts.
    csv_path.write_text("# glovecoach export: units=newtons, rate_hz=200\ntime_s,thumb_tip\n0,300\n0.005,310\n")
    table = read_force_csv(csv_path)
    assert table.export_info["units"] == "newtons"
    np.testing.assert_array_equal(table.newtons[:, 0], [300, 310])


# -- sat and open cells ---------------------------------------------------------------------

def test_sat_and_open_cells_become_masks(csv_path: Path) -> None:
    csv_path.write_text(
        "# glovecoach export: units=newtons, rate_hz=100, saturated=sat, open=open\n"
        "# ceiling_n: thumb_tip=400.5, palm_heel=390.25\n"
        "time_s,thumb_tip,palm_heel,spine_2\n"
        "0,1.5,sat,2\n0.01,sat,open,open\n0.02,\"sat\",3,sat\n")
    table = read_force_csv(csv_path)
    np.testing.assert_array_equal(table.saturated, [[0, 1, 0], [1, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(table.open, [[0, 0, 0], [0, 1, 1], [0, 0, 0]])
    # The ceiling from the export for the channels it names, the nominal one for spine_2;
    # an open lead reads 0 N, as a recording's conversion gives.
    spine_ceiling = Calibration.nominal_for(["spine_2"]).ceiling_n["spine_2"]
    np.testing.assert_allclose(table.newtons, [[1.5, 390.25, 2], [400.5, 0, 0], [400.5, 3, spine_ceiling]],
                               rtol=1e-6)
    assert table.newtons.dtype == np.float32 and np.isfinite(table.newtons).all()


def test_sat_in_the_time_column_or_mid_word_is_not_a_marker(csv_path: Path, capsys) -> None:
    csv_path.write_text("time_s,thumb_tip\nsat,1\n")
    assert "line 2: column time_s: not a number: 'sat'" in refused(capsys, csv_path)
    csv_path.write_text("time_s,thumb_tip\n0,1\n0.01,saturated\n")
    assert "line 3: column thumb_tip: not a number: 'saturated'" in refused(capsys, csv_path)


def test_adjacent_marked_cells_and_a_literal_stand_in(csv_path: Path, capsys) -> None:
    csv_path.write_text("time_s,thumb_tip,palm_heel,spine_2\n0,sat,sat,sat\n0.01,open,open,open\n0.02,1,sat,open")
    table = read_force_csv(csv_path)
    np.testing.assert_array_equal(table.saturated, [[1, 1, 1], [0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(table.open, [[0, 0, 0], [1, 1, 1], [0, 0, 1]])
    # The reader's stand-in number written literally is not taken for a marker.
    csv_path.write_text("time_s,thumb_tip\n0,-9.25e+307\n0.01,sat\n")
    assert "reserves; forces must be newtons >= 0" in refused(capsys, csv_path)


def test_a_bad_cell_after_marked_cells_is_the_one_named(csv_path: Path, capsys) -> None:
    csv_path.write_text("time_s,thumb_tip,palm_heel\n0,sat,open\n0.01,\"sat\",1\n0.02,1,x\n")
    assert f"{csv_path}: line 4: column palm_heel: not a number: 'x'" in refused(capsys, csv_path)


def test_counts_refused_even_without_rows(csv_path: Path, capsys) -> None:
    csv_path.write_text("# glovecoach export: units=adc_counts, rate_hz=200\ntime_s,thumb_tip\n")
    assert f"{csv_path}: line 1: this CSV holds ADC counts" in refused(capsys, csv_path)


def test_plain_csv_has_no_masks(csv_path: Path) -> None:
    csv_path.write_text("time_s,thumb_tip\n0,1\n0.01,2\n")
    table = read_force_csv(csv_path)
    assert table.saturated.shape == table.newtons.shape == table.open.shape
    assert not table.saturated.any() and not table.open.any() and table.export_info == {}


def test_error_type_is_force_csv_error(csv_path: Path) -> None:
    csv_path.write_text("time_s,thumb_tip\n0,1\n5,1\n10,1\n")
    with pytest.raises(ForceCsvError, match="looks like milliseconds"):
        read_force_csv(csv_path)


# -- the whole path: recording -> export -> analyze ----------------------------------------

def _saturating_recording(path: Path) -> None:
    """10 s at 200 Hz: a steady palm, and the heel pressing into saturation for 2 s."""
    cal = Calibration.nominal_for(ALL_CHANNELS)
    from glovecoach.calibration.fsr_model import force_to_raw
    rest = np.array([force_to_raw(0.0, cal.params[c]) for c in ALL_CHANNELS])
    raw = np.tile(np.round(rest), (2000, 1)).astype(np.uint16)
    palm, heel, spine = (ALL_CHANNELS.index(c) for c in ("palm_center", "palm_heel", "spine_4"))
    raw[:, palm] = np.round(force_to_raw(6.0, cal.params["palm_center"]))
    raw[800:1200, heel] = 4050                 # at the top of the ADC: saturated
    raw[:, spine] = 2                          # a broken lead
    with RecordingWriter(path, device_info={"glove_id": "GC-SAT-1"}, rate_hz=200, channels=ALL_CHANNELS) as w:
        w.write_samples(0, raw)


def test_exported_newtons_analyse_like_the_recording(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "no-calibrations"))
    rec = tmp_path / "sat.gcrec"
    _saturating_recording(rec)
    out = tmp_path / "sat.csv"
    assert main(["export", str(rec), "--csv", str(out), "--newtons"]) == 0
    capsys.readouterr()
    text = out.read_text()
    assert "sat" in text and "open" in text
    table = read_force_csv(out)
    heel, spine = ALL_CHANNELS.index("palm_heel"), ALL_CHANNELS.index("spine_4")
    assert table.saturated[:, heel].sum() == 400 and table.saturated.sum() == 400
    assert table.open[:, spine].all() and table.open.sum() == 2000

    reports = []
    for path in (rec, out):
        assert main(["analyze", str(path), "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    from_rec, from_csv = reports
    for key in ("phases", "overforce_events", "spine_contacts", "score", "protocol"):
        assert from_csv[key] == from_rec[key], key


def test_raw_export_fed_to_analyze_is_refused_in_a_real_process(tmp_path: Path) -> None:
    rec = tmp_path / "sat.gcrec"
    _saturating_recording(rec)
    out = tmp_path / "raw.csv"
    assert main(["export", str(rec), "--csv", str(out), "--raw"]) == 0
    result = subprocess.run([sys.executable, "-m", "glovecoach", "analyze", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"glovecoach analyze: {out}: line 1: this CSV holds ADC counts, not newtons "
                             "(units=adc_counts): export it with --newtons, or analyze the .gcrec recording\n")
    # Without its comment line, the numbers alone give it away.
    stripped = tmp_path / "stripped.csv"
    stripped.write_text("".join(out.read_text().splitlines(keepends=True)[1:]))
    result = subprocess.run([sys.executable, "-m", "glovecoach", "analyze", str(stripped)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "this CSV holds ADC counts, not newtons (all whole numbers" in result.stderr


def test_export_csv_api_marks_cells(tmp_path: Path) -> None:
    rec = tmp_path / "sat.gcrec"
    _saturating_recording(rec)
    from glovecoach.recording import open_recording
    recording = open_recording(rec)
    result = export_csv(recording, tmp_path / "api.csv", calibration=Calibration.nominal_for(ALL_CHANNELS))
    assert (result.rows, result.units, result.saturated_cells, result.open_cells) == (2000, "newtons", 400, 2000)
