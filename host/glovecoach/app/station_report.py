"""A station's debrief pictures, and its report written as HTML or PDF.

The pictures come from the station's report dict (`StationReport.to_dict()`) alone: one
timeline with the protocol's plan, the station's phases and each hand's on its own row (so
where the hands did different techniques is seen, not only listed), the spine contacts with
the hands that were on the back, and each hand's force episodes; the strip's spine map; and
per hand the force grid of today's one-glove debrief. Rendered off screen to PNG
(`debrief.widget_png`), they go into `report_html.build_station_html` and
`report_pdf.write_station_pdf`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.debrief import DebriefView, spine_rows, widget_png
from glovecoach.app.debrief_widgets import SessionTimeline
from glovecoach.app.report_html import build_station_html, station_as_session, station_hands
from glovecoach.app.widgets.maps import SpineMap
from glovecoach.app.widgets.phasebar import PlannedPhase, plan_of
from glovecoach.protocols import default_protocol

# drawn at about the width it is shown in a PDF (the A4 text width is ~680 px at 96 dpi), so
# its 9-point labels stay readable there
TIMELINE_SIZE = (1000, 470)
SPINE_SIZE = (280, 360)
HAND_LETTER = {"left": "L", "right": "R"}


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class StationTimeline(QtWidgets.QWidget):
    """Rows against session time: the plan, the station's phases, each hand's phases, where
    the hands differed, spine contacts (labelled with the hands on the back), each hand's
    force episodes and the station's rule violations. A device's absence is hatched over
    the rows it concerns (a glove: its hand's rows; the strip: the spine row)."""

    def __init__(self, report: Mapping[str, Any], plan: Sequence[PlannedPhase], session_limit_s: float,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.station = station_as_session(report)
        self.hands = station_hands(report)
        self.plan = list(plan)
        self.session_limit_s = session_limit_s
        self.rows = (["Protocol", "Station"] + [f"{h.capitalize()} hand" for h in self.hands]
                     + ["Hands differ", "Spine"] + [f"{h.capitalize()} force" for h in self.hands] + ["Rules"])
        self.setMinimumHeight(360)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(*TIMELINE_SIZE)

    LEFT, RIGHT, TOP, BOTTOM = 104.0, 16.0, 10.0, 54.0

    def t_max(self) -> float:
        return max(_num(self.report.get("duration_s")), self.session_limit_s) * 1.02 or 1.0

    def time_x(self, t: float) -> float:
        """The x of session time `t` (seconds) at the widget's present size."""
        width = self.width() - self.LEFT - self.RIGHT
        return self.LEFT + width * max(0.0, min(t, self.t_max())) / self.t_max()

    def row_rect(self, name: str) -> QtCore.QRectF:
        """Where the row called `name` (one of `self.rows`) is drawn."""
        row_h = (self.height() - self.TOP - self.BOTTOM) / len(self.rows)
        k = self.rows.index(name)
        return QtCore.QRectF(self.LEFT, self.TOP + k * row_h + 3, self.width() - self.LEFT - self.RIGHT, row_h - 6)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        t_max = self.t_max()
        left, top, bottom = self.LEFT, self.TOP, self.BOTTOM
        width = self.width() - left - self.RIGHT
        row_h = (self.height() - top - bottom) / len(self.rows)
        x, row = self.time_x, self.row_rect

        for k, name in enumerate(self.rows):
            p.setFont(theme.font(9.5, bold=True))
            p.setPen(theme.qcolor(theme.TEXT))
            p.drawText(QtCore.QRectF(4, top + k * row_h, left - 10, row_h),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter, name)
            p.setPen(QtGui.QPen(theme.qcolor(theme.GRID), 1))
            p.drawLine(QtCore.QPointF(left, top + (k + 1) * row_h), QtCore.QPointF(left + width, top + (k + 1) * row_h))
        self._axis(p, x, t_max, left, width, top, bottom)

        # the plan: each phase at its minimum length, one after the other (outlined: optional)
        t, r = 0.0, row("Protocol")
        for phase in self.plan:
            box = QtCore.QRectF(x(t), r.top(), x(t + phase.min_s) - x(t) - 2, r.height())
            colour = theme.qcolor(theme.technique_colour(phase.technique))
            pen = QtGui.QPen(colour, 2)
            if phase.optional:
                pen.setStyle(QtCore.Qt.PenStyle.DashLine)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            else:
                fill = QtGui.QColor(colour)
                fill.setAlpha(90)
                p.setBrush(fill)
            p.setPen(pen)
            p.drawRoundedRect(box, 4, 4)
            SessionTimeline._label(p, box, theme.technique_label(phase.technique), theme.TEXT)
            t += phase.min_s
        self._phases(p, row("Station"), self.station.get("phases") or [], x, windows=True)
        hand_reports = self.report.get("hands") or {}
        for hand in self.hands:
            self._phases(p, row(f"{hand.capitalize()} hand"), hand_reports[hand].get("phases") or [], x)
        r = row("Hands differ")
        for d in self.station.get("hands_differ") or []:
            s, e = _num(d.get("start_s")), _num(d.get("end_s"))
            box = QtCore.QRectF(x(s), r.top() + r.height() * 0.1, max(3.0, x(e) - x(s)), r.height() * 0.8)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(theme.qcolor(theme.ALERT_AMBER))
            p.drawRect(box)
            label = " / ".join(f"{HAND_LETTER.get(h, h)} {theme.technique_label(t)}"
                               for h, t in (d.get("techniques") or {}).items())
            self._label_fitting(p, box, label, beside=True)
        r = row("Spine")
        if self.station.get("spine_check") is False:
            p.setPen(theme.qcolor(theme.TEXT_DIM))
            p.setFont(theme.font(9))
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       "  no spine strip: not checked")
        for c in self.station.get("spine_contacts") or []:
            SessionTimeline._spans(p, _marker_band(r), [c], theme.ALERT_RED, x, diamond=True)
            hands = "+".join(HAND_LETTER.get(h, h) for h in c.get("hands") or ()) or "?"
            xe = max(x(_num(c.get("end_s"))), x(_num(c.get("start_s"))) + 3)
            p.setPen(theme.qcolor(theme.TEXT))
            p.setFont(theme.font(8.5, bold=True))
            p.drawText(QtCore.QRectF(xe + r.height() * 0.4, r.top(), 60, r.height()),
                       QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter, hands)
        for hand in self.hands:
            r = row(f"{hand.capitalize()} force")
            SessionTimeline._spans(p, r, hand_reports[hand].get("overforce_events") or [], theme.ALERT_RED, x)
            SessionTimeline._spans(p, r, hand_reports[hand].get("underforce_events") or [], theme.ALERT_BLUE, x)
        r = _marker_band(row("Rules"))
        for v in (self.station.get("protocol") or {}).get("violations") or []:
            if v.get("at_s") is not None:
                SessionTimeline._triangle(p, x(_num(v["at_s"])), r, theme.ALERT_AMBER)
        # absences last, hatched over what they concern
        gaps = self.station.get("device_gaps") or {}
        for hand in self.hands:
            rows_of_hand = [row(f"{hand.capitalize()} hand"), row(f"{hand.capitalize()} force")]
            for g in gaps.get(f"{hand}_glove") or []:
                for r in rows_of_hand:
                    self._hatch(p, r, x(_num(g.get("start_s"))), x(_num(g.get("end_s"))))
        for g in gaps.get("spine_strip") or []:
            self._hatch(p, row("Spine"), x(_num(g.get("start_s"))), x(_num(g.get("end_s"))))
        for g in self.station.get("gaps") or []:
            full = QtCore.QRectF(left, top, width, len(self.rows) * row_h)
            self._hatch(p, full, x(_num(g.get("start_s"))), x(_num(g.get("end_s"))))
        p.end()

    def _axis(self, p, x, t_max: float, left: float, width: float, top: float, bottom: float) -> None:
        p.setFont(theme.font(9))
        minute = 0
        while minute * 60 <= t_max:
            xm = x(minute * 60)
            p.setPen(QtGui.QPen(theme.qcolor(theme.GRID), 1, QtCore.Qt.PenStyle.DotLine))
            p.drawLine(QtCore.QPointF(xm, top), QtCore.QPointF(xm, self.height() - bottom))
            p.setPen(theme.qcolor(theme.TEXT_DIM))
            p.drawText(QtCore.QRectF(xm - 20, self.height() - bottom + 2, 40, 16),
                       QtCore.Qt.AlignmentFlag.AlignCenter, f"{minute}")
            minute += 1
        legend = ("minutes into the session  \u2014  white line: the protocol's window for the phase  \u2014  "
                  "dashed orange: session limit\n\u25C6 spine contact (L, R: the hands on the back)  \u2014  "
                  "red: too much force, blue: too light  \u2014  hatched: device missing")
        p.drawText(QtCore.QRectF(4, self.height() - 36, self.width() - 8, 34), QtCore.Qt.AlignmentFlag.AlignCenter,
                   legend)
        p.setPen(QtGui.QPen(theme.qcolor(theme.ALERT_AMBER), 2, QtCore.Qt.PenStyle.DashLine))
        p.drawLine(QtCore.QPointF(x(self.session_limit_s), top),
                   QtCore.QPointF(x(self.session_limit_s), self.height() - bottom))

    def _phases(self, p, r: QtCore.QRectF, phases: Sequence[Mapping[str, Any]], x, windows: bool = False) -> None:
        for ph in phases:
            s, e = _num(ph.get("start_s")), _num(ph.get("end_s"))
            box = QtCore.QRectF(x(s), r.top(), max(2.0, x(e) - x(s)), r.height() - (4 if windows else 0))
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(theme.qcolor(theme.technique_colour(ph.get("technique"))))
            p.drawRoundedRect(box, 3, 3)
            self._label_fitting(p, box, f"{theme.technique_label(ph.get('technique'))} {theme.format_clock(e - s)}")
            spec = next((q for q in self.plan if q.technique == ph.get("technique")), None)
            if windows and spec is not None:
                p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 3))
                y = r.bottom() - 1
                p.drawLine(QtCore.QPointF(x(s + spec.min_s), y), QtCore.QPointF(x(s + spec.max_s), y))

    @staticmethod
    def _label_fitting(p, box: QtCore.QRectF, text: str, beside: bool = False) -> None:
        """The label inside its box; where the box is too narrow, its first word inside (a
        phase: its technique), or the whole label beside the box (`beside`)."""
        p.setFont(theme.font(9, bold=True))
        if QtGui.QFontMetricsF(p.font()).horizontalAdvance(text) <= box.width() - 6:
            SessionTimeline._label(p, box, text, "#0e1116")
        elif beside:
            p.setPen(theme.qcolor(theme.ALERT_AMBER))
            p.drawText(QtCore.QRectF(box.right() + 6, box.top(), 400, box.height()),
                       QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter, text)
        else:
            SessionTimeline._label(p, box, text.split(" ")[0], "#0e1116")

    @staticmethod
    def _hatch(p, r: QtCore.QRectF, xs: float, xe: float) -> None:
        box = QtCore.QRectF(xs, r.top(), max(2.0, xe - xs), r.height())
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QBrush(QtGui.QColor(theme.TEXT_DIM), QtCore.Qt.BrushStyle.BDiagPattern))
        p.drawRect(box)


def _marker_band(r: QtCore.QRectF, height: float = 26.0) -> QtCore.QRectF:
    """The middle of a row, at most `height` tall: markers keep their size however few rows
    (and so however tall each) the timeline has."""
    h = min(r.height(), height)
    return QtCore.QRectF(r.left(), r.center().y() - h / 2, r.width(), h)


def station_figures(report: Mapping[str, Any], protocol: Any = None,
                    alerts: Sequence[Mapping[str, Any]] = ()) -> dict[str, dict[str, bytes]]:
    """The station report's pictures as PNG: {"station": {caption: png}, "spine": {...},
    hand: {...}} (the sections of `build_station_html`).

    Needs a QApplication (`glovecoach.app.qt.ensure_app`)."""
    protocol = protocol or default_protocol()
    station = station_as_session(report)
    out: dict[str, dict[str, bytes]] = {"station": {}}
    timeline = StationTimeline(report, plan_of(protocol), protocol.session_max_s)
    out["station"]["Station timeline: the protocol's plan, the station's phases, each hand's phases, "
                   "and every event"] = widget_png(timeline, TIMELINE_SIZE)
    timeline.deleteLater()
    if station.get("spine_check") is not False:
        segments, peaks, contact = spine_rows(station)
        spine = SpineMap(segments)
        spine.set_values(dict(zip(segments, peaks)), contact)
        out["spine"] = {"Spine strip: peak force per segment (red: contact)": widget_png(spine, SPINE_SIZE)}
        spine.deleteLater()
    for hand in station_hands(report):
        # the one-glove debrief's own force grid, made from the hand's report
        view = DebriefView((report.get("hands") or {})[hand], protocol=protocol, alerts=alerts)
        grid = view.region_chart
        out[hand] = {f"{hand.capitalize()} hand: peak and mean force per region and technique":
                     widget_png(grid, (1000, grid.preferred_height()))}
        view.deleteLater()
    return out


def write_station_report(path: str | Path, report: Mapping[str, Any], info: Mapping[str, Any],
                         protocol: Any = None, alerts: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write a station's debrief as HTML or PDF, by the file's suffix; returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise ValueError(f"{path}: a report is .html or .pdf, not {suffix or 'no suffix'}")
    figures = station_figures(report, protocol, alerts)
    if suffix == ".pdf":
        from glovecoach.app.report_pdf import write_station_pdf

        return write_station_pdf(path, report, info, figures, alerts)
    if not path.parent.is_dir():
        raise OSError(f"cannot write {path}: no folder {path.parent}")
    path.write_text(build_station_html(report, info, figures, alerts), encoding="utf-8")
    return path
