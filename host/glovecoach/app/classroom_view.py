"""The instructor's classroom screen: a grid of station tiles.

Each `StationTile` paints itself with one QPainter pass from its `TileModel`
(glovecoach.classroom.tile): text only changes when the tile's state does, and the traces are
already reduced to the tile's pixel width, so a repaint costs the same at 50 or 1000 Hz and
twelve tiles cost about what one plot does. A tile with an alert or a device down gets a thick
red frame and its alert in type large enough to read across a room; the state is always also
written in words (never colour alone).

Clicking a tile emits `ClassroomGrid.station_clicked(name)`: the window opens that station's
full live view.
"""

from __future__ import annotations

import math

import numpy as np
from pyqtgraph.functions import arrayToQPath
from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.classroom.tile import TileModel, TileState
from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.vocabulary.sensors import SPINE_CHANNELS
from glovecoach.vocabulary.station import StationLayout
from glovecoach.vocabulary.techniques import technique_name

REFRESH_MS = 100          # 10 frames a second: traces scroll smoothly, text is instant enough
UNIT_MAX_PX = 26.0          # the tile's type unit at most (the trainee's name is 1.25 units)
ALERT_BAND_UNITS = 3.4     # the alert's band: two lines of the tile's largest type
TRACE_FULL_SCALE_N = 60.0  # whole-hand force at the top of a tile's trace (a firm kneading stroke)

_LINK_WORDS = {"up": "ok", "waiting": "waiting", "stalled": "STALLED", "down": "LOST"}
_ROLE_WORDS = {"left_glove": "L", "right_glove": "R", "spine_strip": "strip", "kit": "kit"}
# Red is kept for alerts: the strip's line is violet.
_TRACE_COLOURS = {"left": theme.CURVE_COLOURS[0], "right": theme.CURVE_COLOURS[1], "spine": theme.CURVE_COLOURS[4]}


def battery_words(volts: float | None) -> str:
    if volts is None:
        return ""
    # A LiPo cell: 4.2 V full, 3.3 V where the regulator gives up; linear is close enough for
    # a badge (the station view shows the curve-based percentage).
    pct = int(round(100 * min(1.0, max(0.0, (volts - 3.3) / 0.9))))
    return f" {pct}%"


SPINE_PEAK_S = 0.5      # each segment shows its peak over the last half second (as the maps do)


class SpineStrip(Listener):
    """The spine strip of one station for its tile: each segment's peak force over the last
    SPINE_PEAK_S, from the station's updates (one numpy max per block, on the columns of the
    strip the first hand's engine carries). Registered on the station's own pipeline by the
    window (`Classroom.listen`)."""

    def __init__(self, layout: StationLayout, rate_hz: float) -> None:
        self.segments = tuple(c for c in SPINE_CHANNELS if any(c in layout.hand_channels(h) for h in layout.hands))
        self._cols = {h: np.array([layout.hand_channels(h).index(c) for c in self.segments], dtype=np.intp)
                      for h in layout.hands if all(c in layout.hand_channels(h) for c in self.segments)}
        self.keep = max(1, int(SPINE_PEAK_S * rate_hz))
        self.values = np.zeros(len(self.segments), np.float32)

    def on_other(self, message: object) -> None:
        if not isinstance(message, StationUpdate) or not self.segments:
            return
        for hand, cols in self._cols.items():
            block = getattr(message.hands.get(hand), "block", None)
            if block is not None and block.newtons.shape[0]:
                tail = block.newtons[-self.keep:, cols]
                self.values = np.nan_to_num(np.nanmax(tail, axis=0)).astype(np.float32) if np.isfinite(tail).any() \
                    else np.zeros(len(self.segments), np.float32)
                return


class StationTile(QtWidgets.QWidget):
    clicked = QtCore.Signal(str)

    def __init__(self, model: TileModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        # small enough that 36 tiles fit a 1366x768 screen (6 x 6 of about 215 x 110 px): a
        # larger minimum pushed the grid past the window, and the tiles at its right and bottom
        # were cut off (their alerts with them)
        self.setMinimumSize(150, 100)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._unit = 10.0
        self.spine: SpineStrip | None = None     # set by the window: the strip beside the traces
        self.paints = 0               # for tests and the benchmark: repaints actually done
        self._shown_end: int | None = None
        # the layers painted when the state or size changes (paintEvent)
        self._layers_key: tuple | None = None
        self._under = QtGui.QPixmap()
        self._over: QtGui.QPixmap | None = None
        self._over_at = QtCore.QPointF()
        self._lines_rect = QtCore.QRectF()
        self._spine_rect: QtCore.QRectF | None = None

    # ------------------------------------------------------------------ refresh
    def refresh(self, traces: bool = True) -> bool:
        """Repaint if the state changed (or, with ``traces``, the trace moved); returns whether
        it did. The classroom calls it with traces=False after every pump, so an alert reaches
        the screen at once, and with traces at 10 fps."""
        changed = self.model.take_changed()
        end = self.model.trace.end_column
        if changed or (traces and end != self._shown_end):
            self._shown_end = end
            self.update()
            return True
        return False

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.clicked.emit(self.model.state.station)

    # ------------------------------------------------------------------ painting
    # Two layers are painted only when the tile's state or size changes, into pixmaps: what
    # lies under the traces (the words, the trace's frame and labels, the devices' line) and
    # the alert band laid over them. A frame of the traces at 10 fps then costs the two
    # pixmaps, the lines and the spine strip: laying out the type (fitting the alert's words)
    # was most of a tile's paint, and twelve tiles at 10 fps repainted it 120 times a second.
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        self.paints += 1
        state = self.model.state
        key = (self.width(), self.height(), self.devicePixelRatioF(), self.spine is not None, state)
        if key != self._layers_key:
            self._paint_layers(state)
            self._layers_key = key
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._under)
        if self._spine_rect is not None:
            self._paint_spine(p, self._spine_rect, state)
        # The lines without antialiasing: at two pixels wide on the dark panel they read the
        # same from a desk away, and an antialiased 400-point line cost 3.4 ms against 0.6 ms
        # (measured offscreen here), three lines a tile, twelve tiles, ten times a second.
        self._paint_lines(p, self._lines_rect)
        if self._over is not None:
            p.drawPixmap(self._over_at, self._over)
        p.end()

    def _pixmap(self, w: float, h: float) -> QtGui.QPixmap:
        dpr = self.devicePixelRatioF()
        pixmap = QtGui.QPixmap(max(1, math.ceil(w * dpr)), max(1, math.ceil(h * dpr)))
        pixmap.setDevicePixelRatio(dpr)
        return pixmap

    def _paint_layers(self, state: TileState) -> None:
        rect = self.rect()
        w, h = rect.width(), rect.height()
        self._under = self._pixmap(w, h)
        p = QtGui.QPainter(self._under)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.fillRect(rect, QtGui.QColor(theme.PANEL))
        if state.attention:
            pen = QtGui.QPen(QtGui.QColor(theme.ALERT_RED), 8)
            p.setPen(pen)
            p.drawRect(rect.adjusted(4, 4, -4, -4))
        pad = 14
        # type scales with the tile, up to UNIT_MAX_PX: a big tile (few stations) gives its
        # extra room to the trace rather than to ever larger words
        unit = max(10.0, min(w / 22.0, h / 13.0, UNIT_MAX_PX))
        y = pad
        self._unit = unit

        # Trainee (large) and station (small)
        p.setPen(QtGui.QColor(theme.TEXT))
        p.setFont(_font(unit * 1.25, bold=True))
        title = state.trainee or state.station
        p.drawText(QtCore.QRectF(pad, y, w - 2 * pad, unit * 1.8), _left_elide(p, title, w - 2 * pad))
        y += unit * 1.8
        p.setPen(QtGui.QColor(theme.TEXT_DIM))
        p.setFont(_font(unit * 0.8))
        sub = state.station if state.trainee else ""
        # the session's clock once the trainee has begun ("0:00 of 15:00" would read as a
        # session that stopped)
        begun = state.session_limit_s and (state.session_elapsed_s > 0 or state.technique is not None)
        session = f"{_mmss(state.session_elapsed_s)} of {_mmss(state.session_limit_s)}" if begun else "not begun"
        p.drawText(QtCore.QRectF(pad, y, w - 2 * pad, unit * 1.2), QtCore.Qt.AlignmentFlag.AlignLeft, sub)
        if state.picking_up is not None:
            # a restarted app coaching the session's earlier part again: its clocks catch up
            session = f"picking up {state.picking_up:.0%}"
        if not state.recording:
            # the station's file could not go on (a full disk): still coached, no longer saved
            session = f"NOT RECORDING \u00b7 {session}"
            p.setPen(QtGui.QColor(theme.ALERT_RED))
            p.setFont(_font(unit * 0.8, bold=True))
        p.drawText(QtCore.QRectF(pad, y, w - 2 * pad, unit * 1.2), QtCore.Qt.AlignmentFlag.AlignRight, session)
        y += unit * 1.3

        # Phase and its clock against the protocol's window
        phase = technique_name(state.technique) if state.technique else "no technique yet"
        if state.paused:
            phase += " (paused)"
        clock_colours = {"short": theme.TEXT, "ok": theme.OK_TEAL, "long": theme.ALERT_AMBER}
        colour = clock_colours.get(state.phase_status, theme.TEXT_DIM)
        p.setFont(_font(unit * 1.0, bold=True))
        p.setPen(QtGui.QColor(theme.TECHNIQUE_COLOURS.get(state.technique or "none", theme.TEXT)))
        p.drawText(QtCore.QRectF(pad, y, w - 2 * pad, unit * 1.5), QtCore.Qt.AlignmentFlag.AlignLeft, phase)
        p.setPen(QtGui.QColor(colour))
        clock = state.phase_clock + ({"long": "  LONG", "short": ""}.get(state.phase_status, ""))
        p.drawText(QtCore.QRectF(pad, y, w - 2 * pad, unit * 1.5), QtCore.Qt.AlignmentFlag.AlignRight, clock)
        y += unit * 1.6

        # Traces: whole-hand force per hand, the strip's most loaded segment; they take all
        # the room between the words and the devices' line.
        badge_h = unit * 1.4
        trace_rect = QtCore.QRectF(pad, y, w - 2 * pad, max(10.0, h - y - badge_h - pad))
        self._spine_rect = None
        if self.spine is not None and self.spine.segments:
            # the spine strip, neck at the top, at the traces' right: where along the spine
            # the hands press, the segment of a spine alert outlined in red
            strip_w = unit * 1.1
            self._spine_rect = QtCore.QRectF(w - pad - strip_w, y, strip_w, trace_rect.height())
            trace_rect.setWidth(trace_rect.width() - strip_w - unit * 0.4)
        self._lines_rect = self._paint_trace_frame(p, trace_rect)

        # Devices: link and battery, in words
        p.setFont(_font(unit * 0.75))
        x = pad
        for badge in state.devices:
            words = f"{_ROLE_WORDS.get(badge.role, badge.role)} {_LINK_WORDS.get(badge.link, badge.link)}"
            words += battery_words(badge.battery_v)
            bad = badge.link in ("down", "stalled")
            p.setPen(QtGui.QColor(theme.ALERT_RED if bad else theme.TEXT_DIM))
            p.drawText(QtCore.QPointF(x, h - pad), words)
            x += p.fontMetrics().horizontalAdvance(words) + unit
        p.end()

        # The alert, the largest type on the tile, white on a red band laid over the top of the
        # traces (seen from across the room before it is read); else the hands' disagreement
        # in amber on the tile's colour. Laid over rather than given its own room: a tile without
        # an alert gives that room to its traces, and nothing moves when an alert begins.
        # over the traces only: the spine strip beside them stays in sight (a spine alert's
        # segment is outlined there)
        band = QtCore.QRectF(pad, y, trace_rect.width(), min(unit * ALERT_BAND_UNITS, trace_rect.height()))
        self._over = None
        if state.alert or state.hands_differ:
            if state.alert:
                area = QtCore.QRectF(0, 0, band.width(), band.height())
            else:
                area = QtCore.QRectF(0, 0, band.width(), unit * 1.5)
            self._over = self._pixmap(area.width(), area.height())
            self._over.fill(QtCore.Qt.GlobalColor.transparent)
            self._over_at = band.topLeft()
            p = QtGui.QPainter(self._over)
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            if state.alert:
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(QtGui.QColor(theme.ALERT_RED))
                p.drawRoundedRect(area, 6, 6)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.setPen(QtGui.QColor("#ffffff"))
                inner = area.adjusted(unit * 0.4, 0, -unit * 0.4, 0)
                # a force stays with its unit when the words wrap ("16 N", never "16" / "N")
                _fit_wrapped(p, "\u26A0 " + state.alert.replace(" N", "\u00a0N"), inner, unit * 1.6, unit * 0.9)
            else:
                p.fillRect(area, QtGui.QColor(theme.PANEL))
                p.setPen(QtGui.QColor(theme.ALERT_AMBER))
                _fit_wrapped(p, "hands differ: " + state.hands_differ, area.adjusted(unit * 0.3, 0, 0, 0),
                             unit * 1.0, unit * 0.75)
            p.end()

    def _paint_spine(self, p: QtGui.QPainter, r: QtCore.QRectF, state: TileState) -> None:
        strip = self.spine
        assert strip is not None
        n = len(strip.segments)
        colours = theme.force_colours(strip.values)
        alert_segment = None
        if state.alert_kind == "spine_contact" and state.alert:
            alert_segment = state.alert.rsplit("seg ", 1)[-1].strip() if "seg " in state.alert else None
        cell_h = r.height() / n
        for k, channel in enumerate(strip.segments):
            cell = QtCore.QRectF(r.left(), r.top() + k * cell_h + 1, r.width(), cell_h - 2)
            p.fillRect(cell, QtGui.QColor(*(int(c) for c in colours[k])))
            if alert_segment is not None and channel.endswith(f"_{alert_segment}"):
                p.setPen(QtGui.QPen(QtGui.QColor(theme.ALERT_RED), 3))
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.drawRect(cell.adjusted(1, 1, -1, -1))

    def _paint_trace_frame(self, p: QtGui.QPainter, r: QtCore.QRectF) -> QtCore.QRectF:
        """The trace's frame and which line is which; returns where the lines go."""
        p.setPen(QtGui.QPen(QtGui.QColor(theme.GRID), 1))
        p.drawRect(r)
        # Which line is which, in words, in the trace's corner, and the lines below them, so a
        # peak never runs through the words. A trace too short for both (a room of thirty-odd
        # stations on a laptop) keeps its lines: the colours are the same on every tile.
        p.setFont(_font(max(10.0, min(r.height() / 6, self._unit * 0.6))))
        label_h = p.fontMetrics().height() + 4
        if r.height() <= 3 * label_h:
            return r
        x = r.left() + 6
        for name in self.model.trace.names:
            p.setPen(QtGui.QColor(_TRACE_COLOURS.get(name, theme.TEXT)))
            label = {"left": "left hand", "right": "right hand"}.get(name, name)
            p.drawText(QtCore.QPointF(x, r.top() + p.fontMetrics().ascent() + 3), label)
            x += p.fontMetrics().horizontalAdvance(label) + 10
        return r.adjusted(0, label_h, 0, 0)

    def _paint_lines(self, p: QtGui.QPainter, r: QtCore.QRectF) -> None:
        lo, hi = self.model.trace.columns()
        width = lo.shape[1]
        xs = r.left() + (np.arange(width) + 0.5) * (r.width() / width)
        for row, name in enumerate(self.model.trace.names):
            top = hi[row]
            if np.isnan(top).all():
                continue
            scale = TRACE_FULL_SCALE_N if name != "spine" else TRACE_FULL_SCALE_N / 4
            ys = r.bottom() - np.clip(top / scale, 0, 1) * r.height()   # NaN stays NaN: a break
            colour = QtGui.QColor(_TRACE_COLOURS.get(name, theme.TEXT))
            p.setPen(QtGui.QPen(colour, 2 if name != "spine" else 1.5))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            # One path straight from the arrays (no Python loop over points); columns without
            # samples break the line.
            p.drawPath(arrayToQPath(xs, ys, connect="finite"))


class ClassroomGrid(QtWidgets.QWidget):
    """Tiles in a grid as square as the window allows; refreshes them at 10 fps."""

    station_clicked = QtCore.Signal(str)

    def __init__(self, models: list[TileModel], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        # a plain QWidget paints no stylesheet background without this: the gaps between the
        # tiles would be the platform's light grey
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"background: {theme.BACKGROUND};")
        self.tiles = [StationTile(m, self) for m in models]
        for tile in self.tiles:
            tile.clicked.connect(self.station_clicked)
        layout = QtWidgets.QGridLayout(self)
        layout.setSpacing(10)
        layout.setContentsMargins(10, 10, 10, 10)
        cols = grid_columns(len(self.tiles))
        for i, tile in enumerate(self.tiles):
            layout.addWidget(tile, i // cols, i % cols)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.refresh())
        self.frames = 0

    def refresh(self, traces: bool = True) -> int:
        """Repaint the tiles that changed; returns how many. ``traces=False``: only those whose
        words changed (an alert, a phase, a device), not those whose trace merely moved."""
        if traces:
            self.frames += 1
        return sum(tile.refresh(traces) for tile in self.tiles)

    def start(self) -> None:
        self.timer.start()

    def tile(self, station: str) -> StationTile:
        for t in self.tiles:
            if t.model.state.station == station:
                return t
        raise KeyError(station)


def grid_columns(n: int, screen_aspect: float = 16 / 9, tile_aspect: float = 1.4) -> int:
    """Columns for ``n`` tiles on a screen of ``screen_aspect`` (width/height): tiles close to
    ``tile_aspect`` (room for the text above a trace), with as few empty cells as possible;
    and never a column more than the rows need (16 stations as 4 x 4, not 5 x 4 with four
    cells empty: the tiles are as tall either way, and a wider one has room for larger type)."""
    if n <= 1:
        return 1
    def cost(cols: int) -> float:
        rows = math.ceil(n / cols)
        aspect = screen_aspect * rows / cols
        return abs(math.log(aspect / tile_aspect)) + 0.5 * (rows * cols - n) / n
    cols = min(range(1, max(1, n) + 1), key=cost)
    rows = math.ceil(n / cols)
    while cols > 1 and math.ceil(n / (cols - 1)) == rows:
        cols -= 1
    return cols


def _font(px: float, bold: bool = False) -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPixelSize(max(8, int(px)))
    font.setBold(bold)
    return font


def _fit_wrapped(p: QtGui.QPainter, text: str, rect: QtCore.QRectF, largest: float, smallest: float,
                 bold: bool = True) -> None:
    """Draw ``text`` in ``rect``, word-wrapped, in the largest type from ``largest`` down to
    ``smallest`` (pixels) that fits; at the smallest, what does not fit is cut at the band."""
    flags = int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
                | QtCore.Qt.TextFlag.TextWordWrap)
    size = largest
    while True:
        font = _font(size, bold=bold)
        need = QtGui.QFontMetricsF(font).boundingRect(rect, flags, text)
        if (need.height() <= rect.height() and need.width() <= rect.width()) or size <= smallest:
            break
        size = max(smallest, size * 0.92)
    p.setFont(font)
    p.drawText(rect, flags, text)


def _left_elide(p: QtGui.QPainter, text: str, width: float) -> str:
    return p.fontMetrics().elidedText(text, QtCore.Qt.TextElideMode.ElideRight, int(width))


def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


__all__ = ["ClassroomGrid", "SpineStrip", "StationTile", "TileState"]
