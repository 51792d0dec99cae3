"""The debrief as a PDF: the HTML report's page, typeset by Qt onto A4.

One page source for both formats (`report_html.build_html`), so the PDF cannot say
something the HTML does not. Qt's rich-text engine lays it out and paginates it; the
pictures are the same PNGs, handed to the document as resources and scaled to the text
width. Needs only QtGui (no browser engine), so it works headless.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui

from glovecoach.app.report_html import (
    FIGURE_SECTIONS,
    build_html,
    build_station_html,
    report_title,
    station_hands,
    station_title,
)

PAGE_MARGIN_MM = 15.0
LAYOUT_DPI = 96          # the document is laid out in pixels of this size on the page
# Qt's rich text supports a subset of CSS: no body margin (the page has margins), sizes in
# points, table borders from the <table> attributes
PRINT_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:10pt;color:#1b1f24}"
             "th{background:#eef1f5}.score{font-size:24pt;font-weight:bold}"
             ".pass{color:#1d7a6e}.fail{color:#b3261e}.caption{color:#555555}")


class ReportError(OSError):
    """The report could not be written."""


def write_pdf(path: str | Path, report: Mapping[str, Any], info: Mapping[str, Any],
              images: Mapping[str, bytes], alerts: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write the debrief report as an A4 PDF at `path`; returns the path."""
    def page(picture: Callable[[int, str, bytes], str]) -> str:
        return build_html(report, info, images, alerts, picture=picture, css=PRINT_CSS)

    return typeset_pdf(path, page, list(images.items()), report_title(info))


def write_station_pdf(path: str | Path, report: Mapping[str, Any], info: Mapping[str, Any],
                      figures: Mapping[str, Mapping[str, bytes]] | None = None,
                      alerts: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write a station's debrief (`StationReport.to_dict()`) as an A4 PDF at `path`: the
    same page as `build_station_html`, `figures` as there ({"station"|hand: {caption: png}})."""
    figures = figures or {}
    # the pictures in the order the page numbers them: the station's, then each hand's
    ordered = [(caption, png) for section in (*FIGURE_SECTIONS, *station_hands(report))
               for caption, png in (figures.get(section) or {}).items()]

    def page(picture: Callable[[int, str, bytes], str]) -> str:
        return build_station_html(report, info, figures, alerts, picture=picture, css=PRINT_CSS)

    return typeset_pdf(path, page, ordered, station_title(info))


def write_html_pdf(path: str | Path, page_html: str, title: str, landscape: bool = False) -> Path:
    """Typeset a page of HTML without pictures (such as a class summary's,
    `glovecoach.classroom.summary.ClassSummary.to_html(printable=True)`) as an A4 PDF."""
    return typeset_pdf(path, lambda picture: page_html, [], title, landscape=landscape)


def write_summary_pdf(path: str | Path, summary: Any) -> Path:
    """A class summary (`ClassSummary`) as an A4 landscape PDF: its side-by-side table is wide."""
    return write_html_pdf(path, summary.to_html(printable=True), summary.title, landscape=True)


def typeset_pdf(path: str | Path, page: Callable[[Callable[[int, str, bytes], str]], str],
                images: Sequence[tuple[str, bytes]], title: str, landscape: bool = False) -> Path:
    """Lay out `page(picture)` (HTML whose k-th picture is `picture(k, caption, png)`) on A4
    pages and write it as a PDF at `path`; returns the path."""
    path = Path(path)
    orientation = (QtGui.QPageLayout.Orientation.Landscape if landscape
                   else QtGui.QPageLayout.Orientation.Portrait)
    layout = QtGui.QPageLayout(QtGui.QPageSize(QtGui.QPageSize.PageSizeId.A4), orientation,
                               QtCore.QMarginsF(*(PAGE_MARGIN_MM,) * 4),
                               QtGui.QPageLayout.Unit.Millimeter)
    printable = layout.paintRect(QtGui.QPageLayout.Unit.Inch)
    document = QtGui.QTextDocument()
    document.setDocumentMargin(0)
    # Laid out on a page of known width, so pictures can be sized to exactly fit it
    document.setPageSize(QtCore.QSizeF(printable.width() * LAYOUT_DPI,
                                       printable.height() * LAYOUT_DPI))
    text_width = int(printable.width() * LAYOUT_DPI)

    # each picture decoded once, then handed to every layout pass as a named resource
    resources: dict[str, QtGui.QImage] = {}
    for k, (caption, png) in enumerate(images):
        image = QtGui.QImage.fromData(png, "PNG")
        if image.isNull():
            raise ReportError(f"picture {caption!r} is not a PNG")
        resources[_resource_name(k)] = image
    breaks: set[int] = set()      # pictures that start a new page

    def picture(k: int, caption: str, png: bytes) -> str:
        name = _resource_name(k)
        image = resources[name]
        width = min(text_width, image.width())
        height = round(image.height() * width / image.width())
        brk = " style='page-break-before:always'" if k in breaks else ""
        return (f"<p{brk}><img src='{name}' width='{width}' height='{height}' "
                f"alt='{html.escape(caption)}'><br><span class='caption'>"
                f"{html.escape(caption)}</span></p>")

    if not path.parent.is_dir():
        raise ReportError(f"cannot write {path}: no folder {path.parent}")
    # Lay the page out; a picture that would straddle a page break (Qt would put its first
    # pixel row at the foot of one page, the rest on the next) starts a new page instead.
    # Each such change is made in the HTML and laid out afresh: editing the block format of
    # a laid-out document loses the text after it when printed (Qt 6.11).
    for _ in range(len(images) + 1):
        document.setHtml(page(picture))
        # after setHtml, which clears a document's resources; the layout needs only the
        # sizes given in the <img> tags
        for name, image in resources.items():
            document.addResource(QtGui.QTextDocument.ResourceType.ImageResource,
                                 QtCore.QUrl(name), image)
        straddling = _straddling_pictures(document) - breaks
        if not straddling:
            break
        breaks.add(min(straddling))
    # written beside the target and moved into place: a failed export never leaves a
    # truncated file under the report's name, nor passes off an older one as new
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    writer = QtGui.QPdfWriter(str(part))
    writer.setPageLayout(layout)
    writer.setTitle(title)
    writer.setCreator("glovecoach")
    document.print_(writer)     # opens, paginates, and closes the file
    del writer
    if not part.exists() or part.stat().st_size == 0:
        part.unlink(missing_ok=True)
        raise ReportError(f"could not write a PDF at {path}")
    os.replace(part, path)
    return path


_RESOURCE_PREFIX = "glovecoach-image-"


def _resource_name(k: int) -> str:
    return f"{_RESOURCE_PREFIX}{k}.png"


def _straddling_pictures(document: QtGui.QTextDocument) -> set[int]:
    """Indices (k of `glovecoach-image-k.png`) of pictures laid out across a page break."""
    page_h = document.pageSize().height()
    layout = document.documentLayout()
    out = set()
    block = document.begin()
    while block.isValid():
        for fragment in _fragments(block):
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                rect = layout.blockBoundingRect(block)
                if (rect.height() < page_h
                        and int(rect.top() // page_h) != int((rect.bottom() - 1) // page_h)):
                    name = fmt.toImageFormat().name()
                    out.add(int(name.removeprefix(_RESOURCE_PREFIX).removesuffix(".png")))
        block = block.next()
    return out


def _fragments(block: QtGui.QTextBlock) -> list[QtGui.QTextFragment]:
    out = []
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        if fragment.isValid():
            out.append(fragment)
        it += 1
    return out
