"""The scrolling force plots, checked on the pixels Qt actually put on the (offscreen) screen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtGui  # noqa: E402

from glovecoach.app import theme  # noqa: E402
from glovecoach.app.widgets.plots import GroupPlot, decimate  # noqa: E402
from glovecoach.vocabulary.sensors import load_sensor_map  # noqa: E402

RATE = 200.0
WINDOW_S = 10.0


def _plot(qtbot) -> GroupPlot:
    channels = [c for c in load_sensor_map().channels if c.group == "fingers"]
    plot = GroupPlot("fingers", channels, list(range(len(channels))), RATE, WINDOW_S)
    qtbot.addWidget(plot)
    plot.resize(900, 260)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def _colour_mask(image: QtGui.QImage, colour: str, tol: int = 12) -> np.ndarray:
    """(rows, cols) bool: pixels within `tol` of `colour`."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    raw = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                             image.bytesPerLine())
    bgr = raw[:, :image.width() * 4].reshape(image.height(), image.width(), 4)[..., :3]
    want = QtGui.QColor(colour)
    target = np.array([want.blue(), want.green(), want.red()], dtype=int)
    return (np.abs(bgr.astype(int) - target) <= tol).all(axis=-1)


def _on_screen(plot: GroupPlot) -> QtGui.QImage:
    """What the screen holds for the plot: the result of the incremental repaints so far."""
    return plot.screen().grabWindow(plot.winId()).toImage()


def _feed(plot: GroupPlot, rows: np.ndarray) -> None:
    x = (np.arange(len(rows)) - len(rows) + 1) / RATE
    plot.update_curves(x, rows)


def _data_rect(plot: GroupPlot):
    view = plot.getPlotItem().getViewBox()
    return plot.mapFromScene(view.sceneBoundingRect()).boundingRect()


def test_each_channel_is_drawn_at_its_force_in_its_colour(qtbot):
    plot = _plot(qtbot)
    n = int(RATE * WINDOW_S)
    rows = np.zeros((n, len(plot.channels)))
    rows[:, 0] = 5.0          # thumb: a flat 5 N line
    rows[:, 1] = 15.0         # index: a flat 15 N line
    _feed(plot, rows)
    qtbot.wait(50)
    image = _on_screen(plot)
    rect = _data_rect(plot)
    view = plot.getPlotItem().getViewBox()
    for k, force in ((0, 5.0), (1, 15.0)):
        mask = _colour_mask(image, theme.CURVE_COLOURS[k])
        inside = mask[rect.top():rect.bottom(), rect.left() + 5:rect.right() - 5]
        rows_hit = np.flatnonzero(inside.any(axis=1)) + rect.top()
        expected = plot.mapFromScene(view.mapViewToScene(QtCore.QPointF(-5.0, force))).y()
        assert len(rows_hit), f"curve {k} not drawn"
        assert abs(np.median(rows_hit) - expected) <= 2, (k, rows_hit, expected)
        # a flat line spans the width of the data area
        assert inside.any(axis=0).mean() > 0.95


def test_a_gap_in_the_stream_breaks_the_curve(qtbot):
    plot = _plot(qtbot)
    n = int(RATE * WINDOW_S)
    rows = np.full((n, len(plot.channels)), 0.0)
    rows[:, 0] = 10.0
    rows[n // 2 - 200:n // 2 + 200, :] = np.nan      # 2 s unplugged, mid-window
    _feed(plot, rows)
    qtbot.wait(50)
    mask = _colour_mask(_on_screen(plot), theme.CURVE_COLOURS[0])
    rect = _data_rect(plot)
    columns = mask[rect.top():rect.bottom(), rect.left():rect.right()].any(axis=0)
    width = rect.width()
    middle = columns[int(width * 0.45):int(width * 0.55)]
    assert not middle.any(), "the curve bridges the gap"
    assert columns[int(width * 0.1):int(width * 0.35)].all()
    assert columns[int(width * 0.65):int(width * 0.9)].all()


def test_incremental_repaints_leave_no_stale_trace(qtbot):
    """After many scrolling frames, the screen must equal a full repaint of the same state:
    the plot repaints only its data area each frame, so a wrong repaint region would leave old
    curve pixels behind (at the edges first)."""
    plot = _plot(qtbot)
    n = int(RATE * WINDOW_S)
    rng = np.random.default_rng(3)
    history = np.abs(rng.normal(8.0, 5.0, size=(n + 40 * 25, len(plot.channels))))
    history[:, 0] = np.where(np.arange(len(history)) % 400 < 200, 0.0, 17.0)  # square wave
    for frame in range(40):
        end = n + frame * 25
        rows = history[end - n:end]
        bucket = int(np.ceil(2 * n / plot.plot_width_px()))
        offsets, values = decimate(end - n, rows, bucket)
        plot.update_curves((offsets - n + 1) / RATE, values)
        qtbot.wait(20)
    qtbot.wait(50)
    incremental = _on_screen(plot)
    full = plot.grab().toImage()
    rect = _data_rect(plot)
    a = _colour_mask(incremental, theme.CURVE_COLOURS[0])[rect.top():rect.bottom() + 1,
                                                          rect.left():rect.right() + 1]
    b = _colour_mask(full, theme.CURVE_COLOURS[0])[rect.top():rect.bottom() + 1,
                                                   rect.left():rect.right() + 1]
    assert b.sum() > 100
    assert (a != b).sum() == 0, f"{(a & ~b).sum()} stale and {(b & ~a).sum()} missing pixels"
