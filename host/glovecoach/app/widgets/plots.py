"""Scrolling force plots, one per sensor-map group, with the technique's force window as a band.

The x axis is "seconds before now" (fixed -window..0), so a frame only swaps the curves'
y data: the axes are not relaid out 30 times a second. Each frame takes the newest window
from the ring buffer, min/max-decimates all channels in one numpy pass (about one point per
pixel column), and hands each plot's columns to one `TraceBundle` item that draws them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.ring import ForceRing
from glovecoach.vocabulary.sensors import Channel

GROUP_ORDER = ("fingers", "palm", "edge_knuckles", "spine")
PIXELS_PER_BUCKET = 2

Limits = tuple[float | None, float | None]
INSTRUCTOR_TITLES = {"edge_knuckles": "Edge + knuckles", "spine": "Spine (1 = neck)"}
# Tick labels at least this many label heights apart, so they never touch
TICK_SPACING_LINES = 1.8
# and never more than five labels (0 to the top in four steps): a scale, not a ruler
MAX_Y_INTERVALS = 4


class TraceBundle(pg.GraphicsObject):
    """All of one plot's curves in a single graphics item.

    A frame used to pay pyqtgraph's per-curve bookkeeping 20 times (setData, path building,
    bounding-box scans, signals: about a third of the window's CPU). Here a frame is one
    `set_data` and one `paint` per plot: each column is written into a reused QPolygonF
    through a numpy view and drawn with one cosmetic-pen `drawPolyline`. The bounding box is
    the visible window, given by the plot, not a scan of the data. NaN rows (a gap in the
    stream) break a curve rather than bridging it.
    """

    def __init__(self, colours: Sequence[str]) -> None:
        super().__init__()
        self._colours = list(colours)
        self._pens = [pg.mkPen(c, width=1) for c in self._colours]
        self._x = np.empty(0)
        self._y = np.empty((0, len(colours)))
        self._bounds = QtCore.QRectF()
        self._polygons: list[QtGui.QPolygonF] = [QtGui.QPolygonF() for _ in colours]

    def set_pen_width(self, width: int) -> None:
        self._pens = [pg.mkPen(c, width=width) for c in self._colours]
        self.update()

    def pen(self, k: int) -> QtGui.QPen:
        return self._pens[k]

    def set_data(self, x: np.ndarray, y: np.ndarray, bounds: QtCore.QRectF) -> None:
        """`x`: (n,) seconds; `y`: (n, curves) newtons; `bounds`: the data rectangle drawn."""
        self._x = np.asarray(x, dtype=np.float64)
        self._y = np.asarray(y, dtype=np.float64)
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = QtCore.QRectF(bounds)
        self.update()

    def data(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """What curve `k` shows now: (x, y) copies."""
        return self._x.copy(), self._y[:, k].copy()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        n = len(self._x)
        if n < 2:
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        has_gap = ~np.isfinite(self._y).all(axis=0)
        for k, pen in enumerate(self._pens):
            painter.setPen(pen)
            column = self._y[:, k]
            if not has_gap[k]:
                polygon = self._polygons[k]
                if len(polygon) != n:
                    polygon = self._polygons[k] = fn.create_qpolygonf(n)
                xy = fn.ndarray_from_qpolygonf(polygon)
                xy[:, 0] = self._x
                xy[:, 1] = column
                painter.drawPolyline(polygon)
                continue
            for start, stop in _finite_runs(column):
                if stop - start >= 2:
                    polygon = fn.create_qpolygonf(stop - start)
                    xy = fn.ndarray_from_qpolygonf(polygon)
                    xy[:, 0] = self._x[start:stop]
                    xy[:, 1] = column[start:stop]
                    painter.drawPolyline(polygon)


def _finite_runs(column: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of finite values in `column`."""
    finite = np.concatenate([[False], np.isfinite(column), [False]])
    edges = np.flatnonzero(np.diff(finite.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


class GroupPlot(pg.PlotWidget):
    """One group's curves, its force-window bands and a label row naming the curves."""

    def __init__(self, group: str, channels: Sequence[Channel], columns: Sequence[int],
                 rate_hz: float, window_s: float) -> None:
        super().__init__(background=theme.PANEL)
        self.group = group
        self.channels = list(channels)
        self.columns = np.asarray(columns, dtype=int)
        self.rate_hz = rate_hz
        self.window_s = window_s
        self._bands: list[pg.LinearRegionItem] = []
        self._band_labels: list[pg.TextItem] = []
        self._scale = 1.0
        self._band_key: tuple = ()
        self._y_max = 0.0
        self._name_label: pg.TextItem | None = None
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self.setMouseEnabled(False, False)
        # No grid: a grid makes the axes span the whole view, so every frame would repaint
        # them (their cost rivalled the curves'); the bands and ticks carry the scale.
        item.setXRange(-window_s, 0.0, padding=0)
        item.setLabel("bottom", "seconds before now")
        self.traces = TraceBundle([theme.CURVE_COLOURS[k % len(theme.CURVE_COLOURS)]
                                   for k in range(len(self.channels))])
        item.addItem(self.traces)
        self.set_type_scale(1.0)
        self._set_y_max(20.0)

    def title_html(self) -> str:
        if self._scale >= 1.5:
            # across the room the group is what is read; the curve names follow smaller
            # (the hand map says which sensor is which)
            names = " ".join(
                f"<span style='color:{theme.CURVE_COLOURS[k % len(theme.CURVE_COLOURS)]}'>"
                f"&#9632;{ch.short_label}</span>" for k, ch in enumerate(self.channels))
            title = INSTRUCTOR_TITLES.get(self.group, theme.GROUP_TITLES.get(self.group, self.group))
            return (f"<span style='font-size:{int(round(8 * self._scale))}pt'><b style='color:"
                    f"{theme.TEXT}'>{title}</b></span>&nbsp;"
                    f"<span style='font-size:{int(round(5.5 * self._scale))}pt'>{names}</span>")
        names = "  ".join(
            f"<span style='color:{theme.CURVE_COLOURS[k % len(theme.CURVE_COLOURS)]}'>"
            f"&#9632; {ch.short_label}</span>"
            for k, ch in enumerate(self.channels))
        title = theme.GROUP_TITLES.get(self.group, self.group)
        if self.group == "spine":
            title += " (segments, neck = 1)"
        return f"<b style='color:{theme.TEXT}'>{title}</b>&nbsp;&nbsp;{names}"

    def set_type_scale(self, scale: float) -> None:
        self._scale = scale
        for label in self._band_labels:
            label.setFont(self._band_font())
        item = self.getPlotItem()
        if self._name_label is not None:
            item.removeItem(self._name_label)
            self._name_label = None
        if scale >= 1.5:
            # the name inside the plot, at its top left, so the title row's height goes to
            # the trend (at 1366x768 a title row cost a fifth of each plot)
            item.titleLabel.setText("")     # a hidden title still holds its width
            item.setTitle(None)
            self._name_label = pg.TextItem(html=self.title_html(), anchor=(0, 0),
                                           fill=pg.mkBrush(29, 35, 44, 200))
            self._name_label.setZValue(20)
            item.addItem(self._name_label, ignoreBounds=True)
            self._place_name()
        else:
            item.setTitle(self.title_html(), size=f"{int(round(11 * scale))}pt")
        tick_font = theme.font(9 * scale)
        self._tick_px = QtGui.QFontMetrics(tick_font).height()
        for axis_name in ("left", "bottom"):
            axis = item.getAxis(axis_name)
            # ticks point outwards: inward ticks make an axis overlap the view box, so every
            # frame would repaint both axes along with the curves
            axis.setStyle(tickFont=tick_font, tickLength=5)
            # an axis still shares a fractional pixel column with the view box, so it is
            # repainted with every frame: from a cached pixmap, not by replaying its drawing
            axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            axis.setTextPen(theme.TEXT_DIM)
            axis.setPen(theme.GRID)
            axis.label.setFont(theme.font(9 * scale))
        # 1-px lines take Qt's fast raster path; wider ones cost several times more per frame,
        # so only the instructor layout (seen from across the room) pays for 2 px.
        self.traces.set_pen_width(1 if scale < 1.5 else 2)
        # the unit goes on the top tick ("20 N") instead of a rotated "force (N)" caption
        # beside the axis: it cost a column of width and was unreadable at any distance
        item.setLabel("left", None)
        self._set_x_ticks()
        self._update_y_ticks()

    def _set_x_ticks(self) -> None:
        """Fewer, bigger ticks in the instructor layout: 10 s ago, 5 s ago, now."""
        w = self.window_s
        if self._scale >= 1.5:
            ticks = [(-w, f"\u2212{w:g} s"), (-w / 2, f"\u2212{w / 2:g} s"), (0.0, "now")]
        else:
            step = 1.0 if w <= 12 else 5.0
            n = int(w // step)
            ticks = [(-k * step, "now" if k == 0 else f"\u2212{k * step:g}")
                     for k in range(n, -1, -1)]
        self.getPlotItem().getAxis("bottom").setTicks([ticks, []])

    def _update_y_ticks(self) -> None:
        """As many force ticks as fit the plot's height without touching (at least 0 and the
        top), on round values; the top one carries the unit."""
        if getattr(self, "_y_max", 0.0) <= 0 or not hasattr(self, "_tick_px"):
            return      # still being built (a resize comes during construction)
        height = self.getPlotItem().getViewBox().height()
        room = min(max(1, int(height // (TICK_SPACING_LINES * self._tick_px))), MAX_Y_INTERVALS)
        step = self._y_max
        for parts in (10, 8, 5, 4, 2, 1):
            candidate = self._y_max / parts
            if parts <= room and candidate == round(candidate) and candidate % 5 == 0 or \
                    parts == 1:
                step = candidate
                break
        values = np.arange(0.0, self._y_max + step / 2, step)
        ticks = [(float(v), f"{v:g} N" if k == len(values) - 1 else f"{v:g}")
                 for k, v in enumerate(values)]
        key = (tuple(ticks), room)
        if key != getattr(self, "_y_tick_key", None):
            self._y_tick_key = key
            self.getPlotItem().getAxis("left").setTicks([ticks, []])

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_y_ticks()

    def _band_font(self) -> QtGui.QFont:
        # smaller in the instructor layout, where the plots are half as wide: the window's
        # numbers are for the trainee beside the screen; the band itself reads from afar
        return theme.font(8 * self._scale if self._scale < 1.5 else 6 * self._scale)

    def plot_width_px(self) -> int:
        return max(100, int(self.getPlotItem().getViewBox().width()))

    def set_limits(self, limits: Sequence[Limits]) -> None:
        """Bands for the force windows (one per distinct window among the group's channels),
        each labelled with the sensors it applies to when the group has more than one."""
        owners: dict[Limits, list[str]] = {}
        for ch, lim in zip(self.channels, limits):
            if lim != (None, None):
                owners.setdefault(lim, []).append(ch.short_label)
        distinct = tuple(sorted(owners, key=lambda m: (m[0] or 0.0, m[1] or 0.0)))
        if distinct == self._band_key:
            return
        self._band_key = distinct
        item = self.getPlotItem()
        for band in self._bands:
            item.removeItem(band)
        self._bands = []
        for label in self._band_labels:
            item.removeItem(label)
        self._band_labels = []
        for low, high in distinct:
            top = high if high is not None else max(self._y_max, (low or 0) * 2)
            band = pg.LinearRegionItem(values=(low or 0.0, top), orientation="horizontal",
                                       movable=False, brush=pg.mkBrush(42, 157, 143, 45),
                                       pen=pg.mkPen(theme.OK_TEAL, width=1,
                                                    style=QtCore.Qt.PenStyle.DashLine))
            band.setZValue(-10)
            item.addItem(band)
            self._bands.append(band)
        if distinct and (len(distinct) > 1 or distinct[0][0] is not None):
            texts = []
            for low, high in distinct:
                span = (f"{low:g}\u2013{high:g} N" if low is not None and high is not None
                        else f"\u2265 {low:g} N" if low is not None else f"\u2264 {high:g} N")
                names = ", ".join(owners[(low, high)]) if len(distinct) > 1 else "window"
                texts.append(f"{names} {span}")
            label = pg.TextItem("   ".join(texts), color=theme.OK_TEAL, anchor=(1, 1))
            label.setFont(self._band_font())
            top_all = max((h for _, h in distinct if h is not None), default=0.0)
            label.setPos(-0.05, top_all)
            item.addItem(label)
            self._band_labels.append(label)
        highest = max((h for _, h in distinct if h is not None), default=0.0)
        self._set_y_max(max(20.0, highest * 1.35))

    @property
    def band_windows(self) -> tuple:
        return self._band_key

    def _set_y_max(self, y_max: float) -> None:
        step = 10.0 if y_max <= 60 else 25.0
        y_max = float(np.ceil(y_max / step) * step)
        if y_max != self._y_max:
            self._y_max = y_max
            self.getPlotItem().setYRange(0.0, y_max, padding=0)
            self._update_y_ticks()
            self._place_name()

    def _place_name(self) -> None:
        if self._name_label is not None:
            self._name_label.setPos(-self.window_s, self._y_max)

    def _trace_bounds(self) -> QtCore.QRectF:
        """The visible data rectangle. The view box clips the curves to it, so a frame
        repaints exactly the data area (a tighter box leaves stale pixels at the edge, see
        tests/app/test_plots.py), and no scan of the data is needed to find it."""
        (x0, x1), (y0, y1) = self.getPlotItem().getViewBox().viewRange()
        return QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)

    def update_curves(self, x: np.ndarray, rows: np.ndarray) -> None:
        data = rows[:, self.columns]
        self.follow_peak(data)
        self.traces.set_data(x, data, self._trace_bounds())

    def follow_peak(self, data: np.ndarray) -> None:
        """Fit the force axis to the bands and to the highest force shown."""
        finite = data[np.isfinite(data)]
        peak = float(finite.max()) if finite.size else 0.0
        highest = max((h for _, h in self._band_key if h is not None), default=0.0)
        wanted = max(20.0, highest * 1.35, peak * 1.1)
        # grow at once when a force goes off the top; shrink only when far below
        if wanted > self._y_max or wanted < self._y_max * 0.5:
            self._set_y_max(wanted)


def decimate(first_index: int, rows: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max ("peak") decimation of all channels at once.

    Buckets are aligned to the session sample index, so a bucket's content does not change
    from frame to frame as the window scrolls (no shimmer). Returns (sample offsets from the
    first row, values) with two rows (min, max) per bucket; a bucket with no finite sample is
    NaN (a gap: the curve breaks there).
    """
    n = len(rows)
    if bucket <= 1 or n < 2 * bucket:
        return np.arange(n, dtype=np.float64), rows
    skip = (-first_index) % bucket
    m = (n - skip) // bucket
    body = rows[skip:skip + m * bucket].reshape(m, bucket, rows.shape[1])
    out = np.empty((2 * m, rows.shape[1]), dtype=rows.dtype)
    out[0::2] = np.fmin.reduce(body, axis=1)
    out[1::2] = np.fmax.reduce(body, axis=1)
    offsets = np.empty(2 * m, dtype=np.float64)
    starts = skip + bucket * np.arange(m, dtype=np.float64)
    offsets[0::2] = starts
    offsets[1::2] = starts + (bucket - 1)
    tail = rows[skip + m * bucket:]
    if len(tail):   # the newest samples, not yet a full bucket: drawn as they are
        offsets = np.concatenate([offsets, np.arange(skip + m * bucket, n, dtype=np.float64)])
        out = np.concatenate([out, tail])
    return offsets, out


class ForcePlots(QtWidgets.QWidget):
    """The stack of group plots; `refresh(ring)` draws the newest `window_s` seconds."""

    def __init__(self, channels: Sequence[Channel], rate_hz: float, window_s: float = 10.0,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate_hz = rate_hz
        self.window_s = window_s
        self.n_window = int(round(window_s * rate_hz))
        self.decimation = True    # False draws every sample (the benchmark's baseline)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._grid = layout
        self.columns = 1
        self.plots: dict[str, GroupPlot] = {}
        self.setMinimumHeight(300)
        ids = [c.id for c in channels]
        groups = [g for g in GROUP_ORDER if any(c.group == g for c in channels)]
        groups += sorted({c.group for c in channels} - set(groups))
        for group in groups:
            members = [c for c in channels if c.group == group]
            plot = GroupPlot(group, members, [ids.index(c.id) for c in members], rate_hz, window_s)
            self.plots[group] = plot
        self.set_grid(False)
        self.set_type_scale(1.0)

    def set_grid(self, on: bool) -> None:
        """Two columns of plots (the instructor layout: each plot twice as tall, so its
        trend and ticks read from across the room), or one."""
        columns = 2 if on and len(self.plots) > 1 else 1
        # two rows need less: at 1366x768 with a three-line alert the body has under 300 px
        self.setMinimumHeight(200 if columns == 2 else 300)
        for plot in self.plots.values():
            self._grid.removeWidget(plot)
        for k, plot in enumerate(self.plots.values()):
            self._grid.addWidget(plot, k // columns, k % columns)
        rows = (len(self.plots) + columns - 1) // columns
        for r in range(max(rows, self._grid.rowCount())):
            # in the grid the bottom row also carries the time labels: a larger share keeps
            # its plots' data as tall as the row above's
            stretch = 0 if r >= rows else (6 if columns == 2 and r == rows - 1 else 5)
            self._grid.setRowStretch(r, stretch)
        self.columns = columns
        self._label_axes()

    def bottom_row(self) -> list[GroupPlot]:
        plots = list(self.plots.values())
        rows = (len(plots) + self.columns - 1) // self.columns
        return [p for k, p in enumerate(plots) if k // self.columns == rows - 1]

    def _label_axes(self) -> None:
        """Time tick labels under the bottom row only (every plot shares the time axis);
        one caption under the last plot in the one-column layout, none with the grid (its
        ticks say "now" and "-5 s")."""
        bottom = self.bottom_row()
        scale = next(iter(self.plots.values()))._scale if self.plots else 1.0
        for plot in self.plots.values():
            axis = plot.getPlotItem().getAxis("bottom")
            shown = plot in bottom
            # labels at the ends of the axis ("-10 s", "now") are drawn, not dropped; the
            # plot's right margin leaves "now" the room
            # the time labels sit half a line lower than pyqtgraph puts them, clear of the
            # force axis's "0", which is centred on the same corner
            offset = int(plot._tick_px * 0.5)
            axis.setStyle(showValues=shown, hideOverlappingLabels=int(plot._tick_px * 1.6),
                          tickTextOffset=offset)
            # a fixed height, except where the caption goes (pyqtgraph makes room for it)
            captioned = shown and self.columns == 1
            axis.setHeight(None if captioned else
                           int(plot._tick_px * 1.1) + 5 + offset if shown else 8)
            plot.getPlotItem().setLabel("bottom", None)
            # room at the top for the top force label and at the right for "now"
            plot.getPlotItem().layout.setContentsMargins(
                2, int(plot._tick_px * 0.6), int(plot._tick_px * 1.3), 2)
        if self.columns == 1 and self.plots:
            last = list(self.plots.values())[-1]
            last.getPlotItem().setLabel("bottom", "seconds before now")
            last.getPlotItem().getAxis("bottom").label.setFont(theme.font(9 * scale))

    def set_type_scale(self, scale: float) -> None:
        for plot in self.plots.values():
            plot.set_type_scale(scale)
        self._label_axes()

    def set_limits(self, limit_of: Callable[[str], Limits] | None) -> None:
        """`limit_of(channel_id) -> (min, max)` for the current technique, or None for no bands."""
        for plot in self.plots.values():
            plot.set_limits([limit_of(c.id) if limit_of else (None, None) for c in plot.channels])

    def refresh(self, ring: ForceRing, now_index: int | None = None) -> None:
        first, rows = ring.latest(self.n_window)
        end = ring.next_index if now_index is None else now_index
        width = min(p.plot_width_px() for p in self.plots.values())
        # One min/max pair per PIXELS_PER_BUCKET pixel columns (about 25 ms of data at 10 s
        # across 800 px): every technique's rhythm, up to 12 Hz vibration, stays visible,
        # and what is drawn no longer grows with the sample rate.
        bucket = max(1, int(np.ceil(PIXELS_PER_BUCKET * self.n_window / width))) \
            if self.decimation else 1
        offsets, values = decimate(first, rows, bucket)
        x = (offsets + (first - end + 1)) / self.rate_hz
        for plot in self.plots.values():
            plot.update_curves(x, values)
