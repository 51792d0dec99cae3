"""The debrief as a PDF: the HTML report's page, typeset by Qt onto A4.

One page source for both formats (`report_html.build_html`), so the PDF cannot say
something the HTML does not. Qt's rich-text engine lays it out and paginates it; the
pictures are the same PNGs, handed to the document as resources and scaled to the text
width. Needs only QtGui (no browser engine), so it works headless.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui

from glovecoach.app.report_html import build_html, report_title

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
    path = Path(path)
    layout = QtGui.QPageLayout(QtGui.QPageSize(QtGui.QPageSize.PageSizeId.A4),
                               QtGui.QPageLayout.Orientation.Portrait,
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
    for k, (caption, png) in enumerate(images.items()):
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
        document.setHtml(build_html(report, info, images, alerts, picture=picture,
                                    css=PRINT_CSS))
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
    writer.setTitle(report_title(info))
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
