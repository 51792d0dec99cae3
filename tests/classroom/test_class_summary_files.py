"""The class summary: real station reports (the station engine on simulated stations, see
tests/app/test_station_report_data.py) side by side, written as CSV, HTML and PDF and read
back; a trainee with no massage and a station that could not be analysed stay in it."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_lib
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from test_station_report_data import full_station, idle_station, short_station  # noqa: E402

from glovecoach.classroom.room import Room  # noqa: E402
from glovecoach.classroom.summary import ClassSummary, SummaryError  # noqa: E402
from glovecoach.engine.events import RULES  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402

STARTED = dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC)
BROKEN = "recording table-4.gcrec ends inside a frame at byte 1024"


def entries():
    return [("table 1", "Ana Lima", full_station(), "table-1.html"),
            ("table 2", "Ben Okafor", short_station(), "table-2.html"),
            ("table 3", "Chen Wei", idle_station(), "table-3.html"),
            ("table 4", "Dana Roy", ValueError(BROKEN)),
            ("table 5", "Eli Moss", None)]


@pytest.fixture(scope="module")
def summary():
    room = Room("room-a")
    return ClassSummary.from_reports(entries(), room, STARTED)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def test_csv_has_one_row_per_trainee_with_numbers_that_read_back(summary, tmp_path):
    path = summary.to_csv(tmp_path / "class.csv")
    header, rows = read_csv(path)
    assert header == summary.columns()
    assert [r["trainee"] for r in rows] == ["Ana Lima", "Ben Okafor", "Chen Wei", "Dana Roy", "Eli Moss"]
    ana = rows[0]
    report = full_station()
    st = report["station"]
    assert ana["station"] == "table 1" and ana["verdict"] == "not passed"
    assert int(ana["score"]) == st["score"]["total"]
    assert int(ana["score left hand"]) == report["hands"]["left"]["score"]["total"]
    assert int(ana["score right hand"]) == report["hands"]["right"]["score"]["total"]
    assert int(ana["violations"]) == len(st["protocol"]["violations"]) == 2
    assert int(ana["violations spine contact"]) == 1 and int(ana["violations excessive force"]) == 1
    assert sum(int(ana[f"violations {r.replace('_', ' ')}"]) for r in RULES) + int(ana["violations other"]) == 2
    assert int(ana["spine contacts"]) == 1
    assert float(ana["technique agreement %"]) == pytest.approx(st["technique_agreement_pct"], abs=0.05)
    # each protocol phase in its own column: the four done, the optional ones empty
    lengths = [p["end_s"] - p["start_s"] for p in st["phases"]]
    done = [ana["phase 1 stroking (s)"], ana["phase 3 rubbing (s)"], ana["phase 4 kneading (s)"],
            ana["phase 7 stroking (s)"]]
    assert [float(x) for x in done] == pytest.approx(lengths, abs=0.05)
    assert ana["phase 2 deep stroking (s)"] == ana["phase 5 vibration (s)"] == ""
    assert float(ana["duration (s)"]) == pytest.approx(report["duration_s"], abs=0.05)
    assert ana["debrief"] == "table-1.html" and ana["not analysed because"] == ""
    ben = rows[1]
    assert {k for k, v in ben.items() if k.startswith("violations ") and v not in ("", "0")} == {
        "violations phase too short", "violations missing phase", "violations excessive force",
        "violations phase too long", "violations must end with stroking"}
    assert ben["phase 3 rubbing (s)"] == "" and float(ben["phase 4 kneading (s)"]) > 180


def test_a_trainee_with_no_massage_has_no_score_and_no_phases(summary, tmp_path):
    _, rows = read_csv(summary.to_csv(tmp_path / "class.csv"))
    chen = rows[2]
    assert chen["verdict"] == "no massage found"
    assert chen["score"] == chen["score left hand"] == chen["score right hand"] == ""
    assert chen["violations"] == "0" and chen["spine contacts"] == "0"
    assert all(chen[c] == "" for c in chen if c.startswith("phase ") and c != "phases out of the protocol (s)")
    assert float(chen["duration (s)"]) > 30


def test_stations_that_could_not_be_analysed_stay_with_the_reason(summary, tmp_path):
    _, rows = read_csv(summary.to_csv(tmp_path / "class.csv"))
    dana, eli = rows[3], rows[4]
    assert dana["verdict"] == eli["verdict"] == "not analysed"
    assert dana["not analysed because"] == f"ValueError: {BROKEN}"
    assert eli["not analysed because"] == "no recording"
    # nothing made up for them: every number empty
    numbers = [c for c in summary.columns() if c not in ("station", "trainee", "verdict", "debrief",
                                                           "not analysed because")]
    assert all(dana[c] == "" for c in numbers)
    page = summary.to_html()
    row = re.search(r"<tr class='trainee failed'><td>table 4</td>.*?</tr>", page, re.S).group(0)
    assert "Dana Roy" in row and html_lib.escape(BROKEN) in row and "not analysed" in row
    assert "Not analysed: ValueError: " + html_lib.escape(BROKEN) in page


def test_the_columns_do_not_depend_on_who_was_in_the_class(summary):
    alone = ClassSummary.from_reports([("table 9", "Zoe", idle_station())], "room-b", STARTED)
    assert alone.columns() == summary.columns()
    assert alone.rows()[0].keys() == summary.rows()[0].keys()
    assert all(isinstance(summary.rows()[0][c], (int, float)) for c in ("score", "violations", "duration (s)"))


def test_html_puts_trainees_side_by_side_with_phase_bars_and_their_debriefs(summary, tmp_path):
    path = summary.write_html(tmp_path / "class.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "glovecoach class summary — room-a" in page
    assert "http://" not in page and "https://" not in page
    header = re.search(r"<p id='summary-header'>(.*?)</p>", page).group(1)
    assert "Room: room-a" in header and "Class: 2026-12-02 14:00" in header
    assert "5 trainee(s), 0 passed, 2 not analysed" in header
    body = re.search(r"<table class='class-summary'.*?<tbody>(.*?)</tbody>", page, re.S).group(1)
    rows = re.split(r"<tr class='trainee", body)[1:]        # (each row holds the small tables of its bars)
    assert len(rows) == 5
    assert "<a href='table-1.html'>table-1.html</a>" in rows[0]
    # Ben's stroking too short and his kneading too long, each beside the protocol window
    ben = rows[1]
    assert re.search(r"1:0\d short", ben) and re.search(r"3:2\d long", ben)
    assert ben.count("not done") == 5                 # deep stroking, rubbing, vibration, percussion, stroking
    assert "bgcolor='#f4a261'" in ben and "bgcolor='#e5383b'" in ben     # amber short, red long
    # the rules broken, listed per trainee with their messages
    listed = re.search(r"<h3>Ben Okafor — table 2</h3>\s*<table class='violations'.*?</table>", page, re.S).group(0)
    for v in short_station()["station"]["protocol"]["violations"]:
        assert html_lib.escape(v["message"]) in listed
    assert re.search(r"<h3>Chen Wei — table 3</h3>\s*<p class='detail'>None.</p>", page)


def test_a_phase_bar_shows_the_length_against_the_window():
    from glovecoach.classroom.summary import BAR_CELLS, phase_bar

    bar = phase_bar(130.0, 120.0, 180.0, 270.0)
    top, bottom = re.findall(r"<tr>(.*?)</tr>", bar)
    fills = re.findall(r"bgcolor='(#[0-9a-f]+)'", top)
    window = re.findall(r"bgcolor='(#[0-9a-f]+)'", bottom)
    assert len(fills) == len(window) == BAR_CELLS
    assert fills.count("#2a9d8f") == 13                 # 130 s in 10 s cells, green: inside the window
    assert [k for k, c in enumerate(window) if c != "#ffffff"] == list(range(12, 18))    # 120-180 s
    assert "not done" in phase_bar(None, 120.0, 180.0, 270.0)


def test_pdf_of_the_summary_has_every_trainee_and_the_reason(summary, tmp_path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from glovecoach.app.qt import ensure_app
    from glovecoach.app.report_pdf import write_summary_pdf

    ensure_app(headless=True)
    import pypdfium2 as pdfium

    path = write_summary_pdf(tmp_path / "class.pdf", summary)
    pdf = pdfium.PdfDocument(str(path))
    assert all(round(pdf[i].get_size()[0]) == 842 for i in range(len(pdf)))     # A4 landscape
    text = " ".join(" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf)))
    for trainee in ("Ana Lima", "Ben Okafor", "Chen Wei", "Dana Roy", "Eli Moss"):
        assert trainee in text
    assert BROKEN in text and "no massage found" in text
    assert f"{full_station()['station']['score']['total']}" in text
    assert "Rules broken, per trainee" in text


def test_entries_that_are_not_reports_are_refused_with_which():
    with pytest.raises(SummaryError, match="entry 2"):
        ClassSummary.from_reports([("t1", "A", idle_station()), ("t2", "B")], "room-a", STARTED)
    with pytest.raises(SummaryError, match=r"entry 1 \(t1\): the report is not a station's report"):
        ClassSummary.from_reports([("t1", "A", full_station()["hands"]["left"])], "room-a", STARTED)
    other = full_station() | {"station": full_station()["station"] | {"protocol": {"name": "Sports massage"}}}
    with pytest.raises(SummaryError, match=r"entry 2 \(t2\) was judged by the protocol 'Sports massage'"):
        ClassSummary.from_reports([("t1", "A", idle_station()), ("t2", "B", other)], "room-a", STARTED)
    with pytest.raises(SummaryError, match="room"):
        ClassSummary.from_reports([], "", STARTED)
    with pytest.raises(OSError, match="no folder"):
        ClassSummary.from_reports([], "room-a", STARTED).to_csv(Path("/nonexistent-dir/x.csv"))


def test_phase_durations_follow_the_protocols_places():
    s = ClassSummary.from_reports([("t1", "A", full_station())], "room-a", STARTED, protocol=default_protocol())
    durations, unplanned = s.phase_durations(s.results[0])
    assert sorted(durations) == [0, 2, 3, 6] and unplanned == 0.0
