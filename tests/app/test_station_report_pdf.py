"""A station's debrief as PDF: the station's HTML page typeset by Qt onto A4, with its
pictures, each hand from a new page, and every cell of the page's tables in its text."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from test_station_report_data import full_station, idle_station

from glovecoach.app.report_html import build_station_html
from glovecoach.app.report_pdf import ReportError, write_station_pdf
from glovecoach.app.station_report import station_figures, write_station_report
from glovecoach.protocols import default_protocol

INFO = {"trainee": "Ana Lima", "station": "table 1", "started_at": "2026-12-02T14:05:00+00:00"}


def pdf_pages(path):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    texts = [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
    pictures = [sum(1 for _ in pdf[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])) for i in range(len(pdf))]
    sizes = [pdf[i].get_size() for i in range(len(pdf))]
    return texts, pictures, sizes


def cells(page: str) -> list[str]:
    return [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td>(.*?)</td>", page, re.S)]


@pytest.fixture(scope="module")
def station_pdf(qapp, tmp_path_factory):
    report = full_station()
    figures = station_figures(report, default_protocol())
    path = tmp_path_factory.mktemp("pdf") / "station.pdf"
    write_station_pdf(path, report, INFO, figures)
    return report, figures, path


def test_the_pdf_has_every_picture_and_every_cell_of_the_page(station_pdf):
    report, figures, path = station_pdf
    assert path.read_bytes().startswith(b"%PDF-")
    assert not list(path.parent.glob("*.part"))
    texts, pictures, sizes = pdf_pages(path)
    assert all(round(w) == 595 and round(h) == 842 for w, h in sizes)        # A4 portrait, in points
    assert sum(pictures) == sum(len(f) for f in figures.values()) == 4
    whole = " ".join(texts)
    assert "glovecoach station debrief — Ana Lima" in whole
    assert f"Score {report['station']['score']['total']} / 100" in whole
    for cell in cells(build_station_html(report, INFO, figures)):
        assert cell in whole, cell
    for heading in ("Phases of the station", "Hands doing different techniques", "Contacts with the spinal line",
                    "Force per region and technique", "Too much force"):
        assert heading in whole, heading


def test_each_hand_begins_a_page(station_pdf):
    _, _, path = station_pdf
    texts, pictures, _ = pdf_pages(path)
    starts = [t.split(" Score")[0] for t in texts]
    left, right = starts.index("Left hand"), starts.index("Right hand")
    assert 0 < left < right
    # each hand's force grid on the hand's first page, right under its score
    assert pictures[left] == 1 and pictures[right] == 1
    assert "Rules broken with this hand" in texts[left]


def test_write_station_report_writes_the_pdf_too_and_refuses_a_bad_folder(qapp, tmp_path):
    out = write_station_report(tmp_path / "idle.pdf", idle_station(), INFO)
    texts, pictures, _ = pdf_pages(out)
    assert "No massage found" in " ".join(texts)
    assert sum(pictures) == 4                        # the pictures of an empty session still drawn
    with pytest.raises(ReportError, match="no folder"):
        write_station_pdf(tmp_path / "missing" / "s.pdf", idle_station(), INFO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idle.pdf"]
