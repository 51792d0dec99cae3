"""Pictures of a finished session, drawn from the SessionReport dict (`report.to_dict()`).

The same widgets appear on the debrief page and, rendered to PNG, in the HTML report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.widgets.phasebar import PlannedPhase


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class SessionTimeline(QtWidgets.QWidget):
    """Rows against session time: the protocol plan, the phases done, and every event."""

    ROWS = ("Protocol", "Phases", "Force", "Spine", "Rules", "Alerts")

    def __init__(self, report: dict, plan: Sequence[PlannedPhase], session_limit_s: float,
                 alerts: Sequence[Mapping[str, Any]] = (), parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.plan = list(plan)
        self.session_limit_s = session_limit_s
        self.alerts = list(alerts)
        self.setMinimumHeight(300)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(1100, 320)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        duration = _num(self.report.get("duration_s"))
        t_max = max(duration, self.session_limit_s) * 1.02 or 1.0
        left, right, top, bottom = 90.0, 16.0, 12.0, 34.0
        width = self.width() - left - right
        row_h = (self.height() - top - bottom) / len(self.ROWS)

        def x(t: float) -> float:
            return left + width * max(0.0, min(t, t_max)) / t_max

        def row(k: int) -> QtCore.QRectF:
            return QtCore.QRectF(left, top + k * row_h + 4, width, row_h - 8)

        p.setFont(theme.font(10, bold=True))
        for k, name in enumerate(self.ROWS):
            p.setPen(theme.qcolor(theme.TEXT))
            p.drawText(QtCore.QRectF(4, top + k * row_h, left - 10, row_h),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       name)
            p.setPen(QtGui.QPen(theme.qcolor(theme.GRID), 1))
            p.drawLine(QtCore.QPointF(left, top + (k + 1) * row_h),
                       QtCore.QPointF(left + width, top + (k + 1) * row_h))
        # minute grid and axis
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
        p.drawText(QtCore.QRectF(left, self.height() - 17, width, 16),
                   QtCore.Qt.AlignmentFlag.AlignCenter,
                   "minutes into the session   \u2014   white line under a phase: when it may end "
                   "(the protocol's window)   \u2014   dashed orange: session limit")
        # session limit
        p.setPen(QtGui.QPen(theme.qcolor(theme.ALERT_AMBER), 2, QtCore.Qt.PenStyle.DashLine))
        p.drawLine(QtCore.QPointF(x(self.session_limit_s), top),
                   QtCore.QPointF(x(self.session_limit_s), self.height() - bottom))

        # plan: each phase at its minimum length, one after the other (dashed: optional)
        t = 0.0
        r = row(0)
        for phase in self.plan:
            length = phase.min_s
            box = QtCore.QRectF(x(t), r.top(), x(t + length) - x(t) - 2, r.height())
            phase_colour = theme.qcolor(theme.technique_colour(phase.technique))
            pen = QtGui.QPen(phase_colour, 2)
            if phase.optional:
                pen.setStyle(QtCore.Qt.PenStyle.DashLine)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            else:
                c = QtGui.QColor(phase_colour)
                c.setAlpha(90)
                p.setBrush(c)
            p.setPen(pen)
            p.drawRoundedRect(box, 4, 4)
            self._label(p, box, theme.technique_label(phase.technique), theme.TEXT)
            t += length
        # phases done
        r = row(1)
        for ph in self.report.get("phases", []):
            s, e = _num(ph.get("start_s")), _num(ph.get("end_s"))
            box = QtCore.QRectF(x(s), r.top(), max(2.0, x(e) - x(s)), r.height())
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(theme.qcolor(theme.technique_colour(ph.get("technique"))))
            p.drawRoundedRect(box, 4, 4)
            label = f"{theme.technique_label(ph.get('technique'))} {theme.format_clock(e - s)}"
            self._label(p, box, label, "#0e1116")
            spec = next((q for q in self.plan if q.technique == ph.get("technique")), None)
            if spec is not None:
                # where this phase could have ended to stay inside the protocol's window
                p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 3))
                y = r.bottom() + 2
                p.drawLine(QtCore.QPointF(x(s + spec.min_s), y), QtCore.QPointF(x(s + spec.max_s), y))
        # events
        self._spans(p, row(2), self.report.get("overforce_events", []), theme.ALERT_RED, x)
        self._spans(p, row(3), self.report.get("spine_contacts", []), theme.ALERT_RED, x,
                    diamond=True)
        r = row(4)
        for v in self.report.get("protocol", {}).get("violations", []):
            at = v.get("at_s")
            if at is None:
                continue
            self._triangle(p, x(_num(at)), r, theme.ALERT_AMBER)
        r = row(5)
        for a in self.alerts:
            colour = theme.SEVERITY_COLOURS.get(a.get("severity", "info"), theme.ALERT_BLUE)
            self._triangle(p, x(_num(a.get("at_s"))), r, colour)
        p.end()

    @staticmethod
    def _label(p: QtGui.QPainter, box: QtCore.QRectF, text: str, colour: str) -> None:
        p.setPen(theme.qcolor(colour))
        p.setFont(theme.font(9, bold=True))
        metrics = QtGui.QFontMetricsF(p.font())
        shown = metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, box.width() - 6)
        p.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, shown)

    @staticmethod
    def _spans(p, r, events, colour, x, diamond=False) -> None:
        for ev in events:
            s, e = _num(ev.get("start_s")), _num(ev.get("end_s"))
            xs, xe = x(s), max(x(e), x(s) + 3)
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(theme.qcolor(colour))
            if diamond:
                cx, cy, h = (xs + xe) / 2, r.center().y(), r.height() / 2
                poly = QtGui.QPolygonF([QtCore.QPointF(cx, cy - h), QtCore.QPointF(cx + h * 0.7, cy),
                                        QtCore.QPointF(cx, cy + h), QtCore.QPointF(cx - h * 0.7, cy)])
                p.drawPolygon(poly)
            else:
                p.drawRect(QtCore.QRectF(xs, r.top() + r.height() * 0.15, xe - xs,
                                         r.height() * 0.7))

    @staticmethod
    def _triangle(p, xc, r, colour) -> None:
        h = r.height() * 0.8
        cy = r.center().y()
        poly = QtGui.QPolygonF([QtCore.QPointF(xc, cy - h / 2), QtCore.QPointF(xc + h * 0.5, cy + h / 2),
                                QtCore.QPointF(xc - h * 0.5, cy + h / 2)])
        p.setPen(QtGui.QPen(QtGui.QColor("#0e1116"), 1))
        p.setBrush(theme.qcolor(colour))
        p.drawPolygon(poly)


class RegionForceGrid(QtWidgets.QWidget):
    """Peak and mean force per sensor (rows) and technique (columns), as a coloured grid.

    Each cell reads "peak / mean" in newtons and is filled on the map colour scale by its peak;
    cells where the engine reported too much force get a red frame and a "!".
    """

    def __init__(self, rows: Sequence[str], columns: Sequence[str],
                 cells: dict[tuple[str, str], tuple[float, float]],
                 flagged: set[tuple[str, str]] | None = None,
                 row_labels: dict[str, str] | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = list(rows)
        self.columns = list(columns)
        self.cells = dict(cells)
        self.flagged = set(flagged or ())
        self.row_labels = dict(row_labels or {})
        self.setMinimumHeight(self.preferred_height())

    def preferred_height(self) -> int:
        return int(40 + 26 * max(1, len(self.rows)) + 26)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(820, self.preferred_height())

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        if not self.rows or not self.columns:
            p.setPen(theme.qcolor(theme.TEXT_DIM))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "no force recorded")
            p.end()
            return
        label_w, head_h, foot_h = 210.0, 34.0, 26.0
        cw = (self.width() - label_w - 8) / len(self.columns)
        rh = (self.height() - head_h - foot_h) / len(self.rows)
        p.setFont(theme.font(10, bold=True))
        p.setPen(theme.qcolor(theme.TEXT))
        for j, col in enumerate(self.columns):
            p.drawText(QtCore.QRectF(label_w + j * cw, 0, cw, head_h),
                       QtCore.Qt.AlignmentFlag.AlignCenter, theme.technique_label(col)
                       if col != "none" else "no technique")
        for i, row in enumerate(self.rows):
            y = head_h + i * rh
            p.setFont(theme.font(10))
            p.setPen(theme.qcolor(theme.TEXT))
            p.drawText(QtCore.QRectF(4, y, label_w - 12, rh),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       self.row_labels.get(row, row))
            for j, col in enumerate(self.columns):
                box = QtCore.QRectF(label_w + j * cw + 1, y + 1, cw - 2, rh - 2)
                value = self.cells.get((row, col))
                if value is None:
                    p.fillRect(box, theme.qcolor("#232a33"))
                    continue
                peak, mean = value
                rgb = theme.force_colours(np.asarray(peak))
                p.fillRect(box, theme.qcolor(rgb))
                flagged = (row, col) in self.flagged
                if flagged:
                    p.setPen(QtGui.QPen(theme.qcolor(theme.ALERT_RED), 3))
                    p.drawRect(box.adjusted(1.5, 1.5, -1.5, -1.5))
                lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
                p.setPen(QtGui.QColor("#101318" if lum > 140 else theme.TEXT))
                p.setFont(theme.font(9.5, bold=flagged))
                p.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter,
                           f"{'! ' if flagged else ''}{peak:.0f} / {mean:.0f}")
        p.setPen(theme.qcolor(theme.TEXT_DIM))
        p.setFont(theme.font(9))
        p.drawText(QtCore.QRectF(8, self.height() - foot_h, self.width() - 16, foot_h),
                   QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   "each cell: peak / mean force in N while touching; red frame and !: too much "
                   "force reported there")
        p.end()
