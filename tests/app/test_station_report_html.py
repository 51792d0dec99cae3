"""A station's debrief as HTML: the station part (phases, agreement of the hands, where they
differed, spine contacts with the hands on the back, score and verdict), then each hand with
the sections of a one-glove debrief; its pictures drawn from the report. Real reports of the
station engine on simulated stations (test_station_report_data.py)."""

from __future__ import annotations

import base64
import html as html_lib
import re

import pytest
from PySide6 import QtGui
from test_station_report_data import (
    DIFFER_S,
    PRESS_S,
    full_station,
    glove_missing_station,
    idle_station,
    left_glove_only_station,
)

from glovecoach.app import theme
from glovecoach.app.report_html import build_html, build_station_html
from glovecoach.app.station_report import StationTimeline, station_figures, write_station_report
from glovecoach.app.widgets.phasebar import plan_of
from glovecoach.protocols import default_protocol

INFO = {"trainee": "Ana Lima", "station": "table 1", "started_at": "2026-12-02T14:05:00+00:00"}


def section(page: str, element_id: str) -> str:
    """The HTML of the <div id=element_id> (divs are not nested in these pages)."""
    return re.search(rf"<div id='{element_id}'>(.*?)</div>", page, re.S).group(1)


def table(page: str, css_class: str) -> list[list[str]]:
    """The body rows of the first table of `css_class`, as cell texts."""
    body = re.search(rf"<table class='{css_class}'[^>]*>.*?<tbody>(.*?)</tbody>", page, re.S).group(1)
    return [[html_lib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture(scope="module")
def full_page(qapp):
    report = full_station()
    figures = station_figures(report, default_protocol())
    return report, figures, build_station_html(report, INFO, figures)


def test_the_station_part_says_what_the_station_did(full_page):
    report, _, page = full_page
    station = section(page, "station")
    st = report["station"]
    assert f"id='station-score-total'>Score {st['score']['total']} / 100<" in station
    assert "Protocol not followed" in station
    header = text(re.search(r"<p id='report-header'>(.*?)</p>", page, re.S).group(1))
    assert header.startswith("Station: table 1 · Devices: left glove, right glove, spine strip · Protocol: "
                             "Classic back massage")
    assert f"{st['technique_agreement_pct']:.0f} % of the time both were working" in text(station)
    # the station's phases: the protocol's four, one after the other
    assert [r[0] for r in table(station, "phases")] == ["stroking", "rubbing", "kneading", "stroking"]
    # the minute the right hand kneaded while the left still rubbed
    (differ,) = table(station, "hands-differ")
    assert differ[3:] == ["rubbing", "kneading"]
    d = st["hands_differ"][0]
    assert differ[:2] == [theme.format_clock(d["start_s"]), theme.format_clock(d["end_s"])]
    assert abs(d["start_s"] - DIFFER_S[0]) < 10 and abs(d["end_s"] - DIFFER_S[1]) < 10
    # one contact, under both hands, told once
    (contact,) = table(station, "spine-contacts")
    assert contact[0] == "spine segment 3" and contact[-1] == "both"
    assert contact[1] == theme.format_clock(st["spine_contacts"][0]["start_s"])
    assert abs(st["spine_contacts"][0]["start_s"] - PRESS_S) < 2
    rules = table(station, "violations")
    assert [r[1] for r in rules] == ["spine contact", "excessive force"]
    assert "both hands on the back" in rules[0][2] and rules[1][2].startswith("Left hand:")


def test_each_hand_has_the_one_glove_sections_of_its_own_report(full_page):
    report, _, page = full_page
    left, right = section(page, "hand-left"), section(page, "hand-right")
    assert page.index("id='hand-left'") < page.index("id='hand-right'")
    for hand, part in (("left", left), ("right", right)):
        mine = report["hands"][hand]
        assert f"id='{hand}-score-total'>Score {mine['score']['total']} / 100<" in part
        assert [r[0] for r in table(part, "phases")] == [p["technique"].replace("_", " ") for p in mine["phases"]]
        assert len(table(part, "violations")) == len(mine["protocol"]["violations"])
        assert "<table class='regions'" in part
        # the strip's map is the station's, shown once; each hand lists its own contacts
        assert "<table class='spine'" not in part
        assert table(part, "spine-contacts")[0][0] == "spine segment 3"
    over = table(left, "overforce")
    assert over[0][0] == "thumb tip" and float(over[0][3]) > 50
    assert "<table class='overforce'" not in right and "Too much force</h3><p>None.</p>" in right
    # the right hand's own timing: rubbing cut short, kneading too long
    assert {r[1] for r in table(right, "violations")} >= {"phase too short", "phase too long"}
    assert "Rules broken with this hand" in left


def test_the_one_glove_page_is_still_the_same_page():
    # build_html is the station page's per-hand sections at level 2, with the protocol's words
    hand = full_station()["hands"]["left"]
    page = build_html(hand, {"trainee": "Cleo"}, {})
    assert "id='score-total'>Score" in page and "Protocol not followed" in page
    assert "<h2>Phases</h2>" in page and "<table class='spine'" in page
    assert "with this hand" not in page


def test_pictures_are_embedded_pngs_in_page_order(full_page):
    report, figures, page = full_page
    assert list(figures) == ["station", "spine", "left", "right"]
    uris = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    expected = [png for part in figures.values() for png in part.values()]
    assert [base64.b64decode(u) for u in uris] == expected
    sizes = []
    for png in expected:
        image = QtGui.QImage.fromData(png, "PNG")
        assert not image.isNull()
        sizes.append((image.width(), image.height()))
    assert sizes[0] == (1000, 470)
    assert "http://" not in page and "https://" not in page
    # the timeline comes before the station's phases, the spine map inside the spine section
    assert page.index(uris[0]) < page.index("Phases of the station") < page.index("Contacts with the spinal line")
    assert page.index("Contacts with the spinal line") < page.index(uris[1]) < page.index("id='hand-left'")


def _pixel(image: QtGui.QImage, x: float, y: float) -> QtGui.QColor:
    return image.pixelColor(int(x), int(y))


def _near(c: QtGui.QColor, hex_colour: str, tol: int = 12) -> bool:
    want = QtGui.QColor(hex_colour)
    return max(abs(c.red() - want.red()), abs(c.green() - want.green()), abs(c.blue() - want.blue())) <= tol


def test_the_timeline_draws_each_hand_and_the_station_where_they_were(qtbot):
    report = full_station()
    protocol = default_protocol()
    timeline = StationTimeline(report, plan_of(protocol), protocol.session_max_s)
    qtbot.addWidget(timeline)
    timeline.resize(1000, 470)
    image = timeline.grab().toImage()
    d = report["station"]["hands_differ"][0]
    t = d["start_s"] + 0.8 * (d["end_s"] - d["start_s"])      # away from the labels in the middle

    def colour(row: str, at: float) -> QtGui.QColor:
        r = timeline.row_rect(row)
        return _pixel(image, timeline.time_x(at), r.top() + 0.2 * r.height())

    assert _near(colour("Left hand", t), theme.technique_colour("rubbing"))
    assert _near(colour("Right hand", t), theme.technique_colour("kneading"))
    assert _near(colour("Station", t), theme.technique_colour("rubbing"))
    assert _near(colour("Hands differ", t), theme.ALERT_AMBER)
    assert _near(colour("Hands differ", d["start_s"] - 20), theme.PANEL)
    c = report["station"]["spine_contacts"][0]
    spine = timeline.row_rect("Spine")
    assert _near(_pixel(image, timeline.time_x((c["start_s"] + c["end_s"]) / 2), spine.center().y()),
                 theme.ALERT_RED)
    squeeze = report["hands"]["left"]["overforce_events"][0]
    mid = (squeeze["start_s"] + squeeze["end_s"]) / 2
    assert _near(colour("Left force", mid), theme.ALERT_RED, 30)
    assert _near(colour("Right force", mid), theme.PANEL)


def test_a_missing_glove_is_listed_and_hatched_over_its_hand(qtbot):
    report = glove_missing_station()
    page = build_station_html(report, INFO, {})
    assert table(page, "device-gaps") == [["right glove", "0:30", "0:40", "0:10"]]
    protocol = default_protocol()
    timeline = StationTimeline(report, plan_of(protocol), protocol.session_max_s)
    qtbot.addWidget(timeline)
    timeline.resize(1000, 470)
    image = timeline.grab().toImage()
    r = timeline.row_rect("Right hand")
    x0, x1 = int(timeline.time_x(30.5)), int(timeline.time_x(39.5))
    # hatching: some pixels of the span are the hatch colour, over the phase's own colour
    row = [image.pixelColor(x, int(r.top() + k)) for x in range(x0, x1) for k in range(2, int(r.height()) - 2)]
    assert any(_near(c, theme.TEXT_DIM, 20) for c in row)
    left = timeline.row_rect("Left hand")
    row = [image.pixelColor(x, int(left.top() + 3)) for x in range(x0, x1)]
    assert not any(_near(c, theme.TEXT_DIM, 20) for c in row)


def test_one_glove_without_strip_and_a_station_without_massage():
    page = build_station_html(left_glove_only_station(), INFO, {})
    assert "id='hand-left'" in page and "id='hand-right'" not in page
    assert "One glove only" in page
    assert "No spine strip in this station: spine contact was not checked." in page
    assert "Devices: left glove ·" in text(page)
    idle = build_station_html(idle_station(), INFO, {})
    assert "id='station-protocol-result'>No massage found<" in idle
    assert "id='left-protocol-result'>No massage found<" in idle
    assert "were not compared" in idle


def test_write_station_report_by_suffix(qapp, tmp_path):
    report = left_glove_only_station()
    out = write_station_report(tmp_path / "s.html", report, INFO)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "glovecoach station debrief — Ana Lima" in page
    # no strip: no spine picture; the timeline and the left hand's force grid
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 2
    with pytest.raises(ValueError, match=r"\.html or \.pdf"):
        write_station_report(tmp_path / "s.txt", report, INFO)
    with pytest.raises(OSError, match="no folder"):
        write_station_report(tmp_path / "missing" / "s.html", report, INFO)
