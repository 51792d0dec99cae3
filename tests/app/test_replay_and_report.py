"""Replay of a recording (play, pause, scrub) and the debrief's HTML and PDF export."""

from __future__ import annotations

import base64
import re

import pytest
from PySide6 import QtGui

from glovecoach.app.debrief import DebriefView
from glovecoach.app.replay import ReplayWindow
from glovecoach.app.sources import simulated_session
from glovecoach.protocols import default_protocol
from glovecoach.simulate import simulate, write_recording

START_S = 50.0


@pytest.fixture(scope="module")
def spine_recording(tmp_path_factory):
    """A recording of the minute around the spine contact of spine_contact_stroking (seed 1)."""
    truth = simulate("spine_contact_stroking", 1).spine_contacts
    session = simulated_session("spine_contact_stroking", 1, START_S, 30.0)
    path = tmp_path_factory.mktemp("rec") / "spine.gcrec"
    write_recording(session, path)
    contact = max(truth, key=lambda e: e.peak_n)
    return path, contact.region, contact.start_s - START_S, contact.end_s - START_S


def test_replay_scrubs_and_plays(qtbot, spine_recording):
    path, segment, start_s, end_s = spine_recording
    window = ReplayWindow(path)
    qtbot.addWidget(window)
    window.show()
    window.seek_s(start_s + 1.0)
    view = window.view
    assert view.spine_map.alerts.get(segment) == "spine_contact"
    assert view.banner.shown and view.banner.shown[0].kind == "spine_contact"
    assert any("spine segment" in line for line in view.log.lines())
    assert window.clock.text().startswith("0:")
    first_model = window.player.model

    window.seek_s(start_s - 3.0)                 # scrub back: before the contact
    assert window.player.model is not first_model
    assert window.view.spine_map.alerts == {}
    assert not any(a.kind == "spine_contact" for a in window.player.model.alerts.log)
    # plots show the (up to 10) seconds before the scrub position
    fingers = window.view.plots.plots["fingers"]
    x, _ = fingers.traces.data(0)
    shown_s = min(10.0, start_s - 3.0)
    assert x[-1] == pytest.approx(0.0) and x[0] == pytest.approx(-shown_s, abs=0.1)
    window.seek_s(start_s + 8.0)
    x, _ = window.view.plots.plots["fingers"].traces.data(0)
    assert x[0] == pytest.approx(-10.0, abs=0.1)   # display buckets align to sample index
    window.seek_s(start_s - 3.0)

    position = window.player.position
    window.speed = 10.0
    window.play()
    qtbot.waitUntil(lambda: window.player.position > position + 400, timeout=5000)
    window.pause()
    paused_at = window.player.position
    qtbot.wait(200)
    assert window.player.position == paused_at

    # playing on to the end gives the alerts a single jump gives
    window.seek_s(1e9)
    jumped = [(a.kind, a.channel, round(a.at_s, 2)) for a in window.player.model.alerts.log]
    window.seek_s(0)
    window.speed = 30.0
    window.play()
    qtbot.waitUntil(lambda: not window.playing, timeout=10000)
    played = [(a.kind, a.channel, round(a.at_s, 2)) for a in window.player.model.alerts.log]
    assert played == jumped and any(k == "spine_contact" for k, _, _ in played)


@pytest.fixture
def force_debrief(qtbot, tmp_path):
    """The debrief of 40 s of kneading with a too-hard thumb (replayed to the end)."""
    session = simulated_session("excessive_force_kneading", 1, 395.0, 40.0)
    path = tmp_path / "force.gcrec"
    write_recording(session, path)
    window = ReplayWindow(path)
    qtbot.addWidget(window)
    window.seek_s(1e9)
    report = window.player.model.finish().to_dict()
    assert report["overforce_events"]
    debrief = DebriefView(report, protocol=default_protocol(), recording_path=path,
                          info={"trainee": "Cleo", "protocol": "Classic back massage"})
    qtbot.addWidget(debrief)
    return debrief, report


def test_html_report_embeds_images_and_numbers(force_debrief, tmp_path):
    debrief, report = force_debrief
    out = debrief.export(tmp_path / "report.html")
    html = out.read_text(encoding="utf-8")

    uris = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(uris) == 3
    for uri in uris:
        png = base64.b64decode(uri)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        image = QtGui.QImage.fromData(png, "PNG")
        assert image.width() >= 300 and image.height() >= 200
    assert "http://" not in html and "https://" not in html     # self-contained

    total = report["score"]["total"]
    assert re.search(rf"id='score-total'>Score {total} / 100<", html)
    assert "Cleo" in html
    over = re.search(r"<table class='overforce'[^>]*>.*?</table>", html, re.S).group(0)
    assert over.count("<tr>") - 1 == len(report["overforce_events"])
    first = report["overforce_events"][0]
    assert f"{first['peak_n']:.1f}" in over
    violations = report["protocol"]["violations"]
    table = re.search(r"<table class='violations'[^>]*>.*?</table>", html, re.S).group(0)
    assert table.count("<tr>") - 1 == len(violations)
    regions = re.search(r"<table class='regions'[^>]*>.*?</table>", html, re.S).group(0)
    thumb_peak = max(v["peak_n"] for v in report["per_region"]["thumb_tip"].values())
    assert f"{thumb_peak:.1f}" in regions


def _pdf_pages(path):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    texts = [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
    pictures = [sum(1 for _ in pdf[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
                for i in range(len(pdf))]
    sizes = [pdf[i].get_size() for i in range(len(pdf))]
    return texts, pictures, sizes


def test_pdf_report_has_the_pictures_and_every_number_of_the_html(force_debrief, tmp_path):
    debrief, report = force_debrief
    out = debrief.export(tmp_path / "report.pdf")
    assert out.read_bytes().startswith(b"%PDF-")
    assert not list(tmp_path.glob("*.part"))
    texts, pictures, sizes = _pdf_pages(out)
    assert len(texts) >= 2
    assert all(round(w) == 595 and round(h) == 842 for w, h in sizes)      # A4 in points
    assert sum(pictures) == 3                       # timeline, force grid, spine strip
    text = " ".join(texts)
    assert f"Score {report['score']['total']} / 100" in text and "Cleo" in text
    assert "Protocol not followed" in text
    for v in report["protocol"]["violations"]:       # every rule broken, in words
        assert " ".join(v["message"].split()) in text
    first = report["overforce_events"][0]
    assert f"{first['peak_n']:.1f}" in text
    # every section heading made it onto a page (Qt can drop text after a page break)
    for heading in ("Score breakdown", "Phases", "Rules broken", "Force per region and technique",
                    "Too much force", "Spine", "No spinal contact."):
        assert heading in text, heading


def test_report_export_refuses_a_bad_target_and_leaves_nothing(force_debrief, tmp_path):
    debrief, _ = force_debrief
    with pytest.raises(OSError, match="no folder"):
        debrief.export(tmp_path / "missing" / "report.pdf")
    with pytest.raises(ValueError, match=r"\.html or \.pdf"):
        debrief.export(tmp_path / "report.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["force.gcrec"]


def test_analyze_writes_the_html_and_pdf_reports_of_a_recording(tmp_path, capsys, monkeypatch):
    import json

    from glovecoach.cli import main

    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "none-here"))
    session = simulated_session("excessive_force_kneading", 1, 395.0, 40.0)
    rec = write_recording(session, tmp_path / "force.gcrec")
    html, pdf = tmp_path / "out" / "force.html", tmp_path / "out" / "force.pdf"
    html.parent.mkdir()
    assert main(["analyze", str(rec), "--json", "--html", str(html), "--pdf", str(pdf)]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)                        # stdout stays pure JSON
    assert f"report written: {pdf}" in err and f"report written: {html}" in err
    total = report["score"]["total"]
    assert re.search(rf"id='score-total'>Score {total} / 100<", html.read_text(encoding="utf-8"))
    texts, pictures, _ = _pdf_pages(pdf)
    assert f"Score {total} / 100" in " ".join(texts) and sum(pictures) == 3
    # wrong names are refused before any work, with the reason
    assert main(["analyze", str(rec), "--pdf", str(tmp_path / "force.html")]) == 2
    assert "needs a .pdf file name" in capsys.readouterr().err
    assert main(["analyze", str(rec), "--html", str(tmp_path / "nowhere" / "r.html")]) == 2
    assert "no folder" in capsys.readouterr().err


def _visible_text(page: str) -> str:
    """What a reader sees of an HTML page: no head, no tags, no attribute values."""
    import html as html_lib

    body = re.sub(r"<head>.*?</head>", " ", page, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_report_of_a_simulated_recording_has_a_full_header_and_human_names(tmp_path, capsys,
                                                                               monkeypatch):
    """A recording written by the simulator (no screening, no trainee) still gets a header of
    known facts only, and the report names sensors as the app does, never by channel id."""
    from glovecoach.cli import main
    from glovecoach.vocabulary.sensors import load_sensor_map

    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "none-here"))
    truth = simulate("spine_contact_stroking", 1).spine_contacts
    contact = max(truth, key=lambda e: e.peak_n)
    session = simulated_session("spine_contact_stroking", 1, contact.start_s - 20, 40.0)
    rec = write_recording(session, tmp_path / "sim.gcrec")
    out, pdf = tmp_path / "sim.html", tmp_path / "sim.pdf"
    assert main(["analyze", str(rec), "--html", str(out), "--pdf", str(pdf)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    header = re.search(r"<p id='report-header'>(.*?)</p>", page, re.S).group(1)
    fields = [f.strip() for f in header.split("&middot;")]
    labels = {f.split(":")[0]: f.partition(":")[2].strip() for f in fields if ":" in f}
    assert all(value for value in labels.values()), fields        # no "Protocol: " left empty
    assert labels["Protocol"] == default_protocol().name
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", labels["Recorded"])
    assert labels["Duration"] == "0:40"
    assert labels["Glove"]
    assert "Simulated session: spine contact stroking" in fields

    text = _visible_text(page)
    assert "spine segment 1" in text and "thumb tip" in text
    raw_ids = [c.id for c in load_sensor_map().channels if "_" in c.id]
    raw_ids += [p.technique for p in default_protocol().phases if "_" in p.technique]
    assert raw_ids
    shown = [raw for raw in raw_ids if re.search(rf"\b{raw}\b", text)]
    assert not shown, shown
    # the PDF is typeset from the same page: the same header and names
    pdf_text = " ".join(_pdf_pages(pdf)[0])
    assert f"Protocol: {default_protocol().name}" in pdf_text and "Glove:" in pdf_text
    assert "spine segment 1" in pdf_text and "Recorded:" in pdf_text
    assert not [raw for raw in raw_ids if re.search(rf"\b{raw}\b", pdf_text)]
