"""The classroom grid: real tiles offscreen, repainted only when their state or trace moves,
standing out when something is wrong, opening a station when clicked."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from glovecoach.app.classroom_view import ClassroomGrid, grid_columns
from glovecoach.classroom.tile import TileModel
from glovecoach.pipeline.coaching import CoachingUpdate
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.station import StationLayout
from glovecoach.vocabulary.stream import LinkDown


def _update(layout, first, n, force):
    hands = {}
    for hand in layout.hands:
        newtons = np.full((n, len(layout.hand_channels(hand))), force, np.float32)
        block = ForceBlock(first, newtons, np.zeros_like(newtons, bool), np.zeros_like(newtons, bool))
        hands[hand] = CoachingUpdate(first, n, block, (), ())
    return StationUpdate(first, n, hands)


def _red_pixels(image: QtGui.QImage) -> int:
    ptr = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    arr = np.frombuffer(ptr.constBits(), np.uint8).reshape(ptr.height(), ptr.width(), 4)
    b, g, r = arr[..., 0].astype(int), arr[..., 1].astype(int), arr[..., 2].astype(int)
    return int(((r > 200) & (g < 80) & (b < 80)).sum())


def test_tiles_repaint_only_what_changed_and_stand_out_when_a_device_drops(qtbot):
    layout = StationLayout.full()
    models = [TileModel(f"table {i}", f"trainee {i}", layout, 200.0, width_px=200) for i in range(3)]
    grid = ClassroomGrid(models)
    qtbot.addWidget(grid)
    grid.resize(1200, 400)
    grid.show()
    qtbot.waitExposed(grid)
    grid.refresh()
    qtbot.wait(50)
    before = [t.paints for t in grid.tiles]
    assert grid.refresh() == 0, "nothing changed, nothing repainted"
    models[1].on_station_update(_update(layout, 0, 400, 3.0))
    assert grid.refresh() == 1
    qtbot.wait(50)
    after = [t.paints for t in grid.tiles]
    assert after[1] > before[1] and after[0] == before[0] and after[2] == before[2]

    calm = _red_pixels(grid.tiles[2].grab().toImage())
    models[2].on_device_message("spine_strip", LinkDown("unplugged"))
    grid.refresh()
    qtbot.wait(50)
    assert _red_pixels(grid.tiles[2].grab().toImage()) > calm + 1000   # the thick red frame


def test_clicking_a_tile_names_its_station(qtbot):
    layout = StationLayout.full()
    grid = ClassroomGrid([TileModel("table 7", "Ana", layout, 200.0)])
    qtbot.addWidget(grid)
    grid.show()
    with qtbot.waitSignal(grid.station_clicked) as got:
        qtbot.mouseClick(grid.tile("table 7"), QtCore.Qt.MouseButton.LeftButton)
    assert got.args == ["table 7"]


def test_grid_shape_keeps_tiles_wide_and_few_cells_empty():
    assert grid_columns(12) == 4     # 4 x 3 on a 16:9 screen
    assert grid_columns(1) == 1
    assert grid_columns(0) == 1      # a room with no station yet: an empty grid, not an error
    assert grid_columns(16) == 4 and grid_columns(9) == 3 and grid_columns(36) == 6   # squares fill
    for n in range(1, 41):
        cols = grid_columns(n)
        rows = -(-n // cols)
        assert rows * cols - n < cols, f"{n} tiles leave a whole empty row"
        # a column fewer would need a row more: no tile is narrower than the rows need
        assert cols == 1 or -(-n // (cols - 1)) > rows, f"{n} tiles in {cols} columns: one too many"


def test_every_tile_of_a_big_room_fits_a_laptop_screen(qtbot):
    """Up to 36 stations in the grid below a 1366x768 window's header: every tile wholly
    inside the grid and none over another (a tile's minimum size once pushed the grid past the
    window: the right column and the bottom row, their alerts too, were cut off)."""
    layout = StationLayout.full()
    for n in (12, 16, 24, 36):
        grid = ClassroomGrid([TileModel(f"table {k + 1}", f"Trainee {k + 1}", layout, 200.0) for k in range(n)])
        qtbot.addWidget(grid)
        grid.resize(1366, 726)
        grid.show()
        qtbot.waitExposed(grid)
        # a window cannot be smaller than its layout's minimum: a grid that needs more than
        # the screen holds grows past it, and the screen shows only part of it
        assert grid.size() == QtCore.QSize(1366, 726), f"{n} stations need {grid.minimumSizeHint()}"
        area = grid.rect()
        rects = [t.geometry() for t in grid.tiles]
        for tile, r in zip(grid.tiles, rects):
            assert area.contains(r), f"{n} stations: {tile.model.state.station} at {r} is outside {area}"
            assert r.width() >= 150 and r.height() >= 100
        for i, a in enumerate(rects):
            assert not any(a.intersects(b) for b in rects[i + 1:]), f"{n} stations: tiles overlap"
        grid.close()
