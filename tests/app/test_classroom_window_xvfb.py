"""The instructor's classroom window on a real X server (Qt's xcb platform under Xvfb).

A child process (so Qt starts on xcb, not the offscreen platform the other app tests use)
runs a real-firmware station on the room's broker, opens the classroom window on the X
screen, clicks its tile with the mouse (QTest, on the real window), photographs the X
screen's root window with the station's view up, goes back to the grid and closes the window,
which ends the class (every debrief and the summary written).
Skipped only where Xvfb or Mosquitto is missing (.ci/run installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from glovecoach.app import theme

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is the Linux desktop"),
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"),
    pytest.mark.mosquitto,
]

DRIVER = r"""
import json, sys, time
from pathlib import Path
from PySide6 import QtCore, QtWidgets
from PySide6.QtTest import QTest
from glovecoach.app.qt import ensure_app
from glovecoach.app.classroom_window import ClassroomWindow, StationPage
from glovecoach.classroom.hub import Classroom
from glovecoach.classroom.room import Room
from glovecoach.classroom.virtual import VirtualStations, virtual_room
from glovecoach.link.broker import BrokerAddress
from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from glovecoach.protocols import default_protocol

out = Path(sys.argv[1])
app = ensure_app(headless=False)

def wait_until(test, seconds):
    end = time.monotonic() + seconds
    while not test():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.01)

def settle(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)

def root(name):
    path = out / name
    assert app.primaryScreen().grabWindow(0).toImage().save(str(path))
    return str(path)

room = virtual_room(Room("xlab"), 1)
accounts = RoomAccounts.create(room.name, [d for s in room.stations for d in s.devices.values()])
result = {"platform": app.platformName()}
with RoomBroker(accounts, host="127.0.0.1") as broker, VirtualStations(room, accounts, broker.port, 200):
    classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=out / "class",
                          protocol=default_protocol(), rate_hz=200, username="instructor",
                          password=accounts.screens["instructor"]).start()
    window = ClassroomWindow(classroom, record_dir=out / "class", confirm_end=False)
    window.resize(1600, 1000)
    window.show()
    window.start()
    tile = window.grid.tile("table 1")
    wait_until(lambda: tile.model.trace.end_column is not None and tile.isVisible(), 30)
    settle(2.0)
    result["grid_png"] = root("grid.png")
    result["tile_rect"] = [tile.mapTo(window, QtCore.QPoint(0, 0)).x(), tile.mapTo(window, QtCore.QPoint(0, 0)).y(),
                           tile.width(), tile.height()]
    QTest.mouseClick(tile, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier,
                     tile.rect().center())
    page = window.stack.currentWidget()
    result["opened"] = isinstance(page, StationPage) and page.name
    wait_until(lambda: page.model.updates_seen > 5, 20)
    settle(1.5)
    result["station_png"] = root("station.png")
    result["fed_by_the_hub"] = page.model in classroom.stations["table 1"].pipeline.notifier.listeners
    QTest.mouseClick(page.back_button, QtCore.Qt.MouseButton.LeftButton)
    result["back_to_grid"] = window.stack.currentWidget() is window.grid and tile.isVisible()
    result["detached"] = page.model not in classroom.stations["table 1"].pipeline.notifier.listeners
    settle(0.5)
    # closing the window ends the class as "End class" does (the offscreen test clicks that)
    result["closed"] = window.close()
    files = window.files
    result["debrief"] = str(files.debriefs["table 1"])
    result["summary"] = str(files.summary_csv)
    settle(0.5)
    result["after_png"] = root("after.png")
print(json.dumps(result))
"""


@pytest.fixture
def xvfb_display():
    """A private Xvfb on a free display number (-displayfd), stopped after."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = b""
        while not number.endswith(b"\n"):
            chunk = os.read(read_end, 16)
            if not chunk:
                pytest.fail(f"Xvfb exited before it was ready (status {server.wait(5)})")
            number += chunk
        yield f":{int(number)}"
    finally:
        os.close(read_end)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def pixels(path: str) -> np.ndarray:
    image = QtGui.QImage(path).convertToFormat(QtGui.QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint32, count=image.height() * image.bytesPerLine() // 4)
    return (words.reshape(image.height(), -1)[:, :image.width()] & 0xFFFFFF).copy()


def test_a_tile_clicked_on_a_real_x_window_opens_the_station_and_back(xvfb_display, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    run = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], env=env, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["platform"] == "xcb"
    assert result["opened"] == "table 1" and result["fed_by_the_hub"]
    assert result["back_to_grid"] and result["detached"]
    assert result["closed"] and Path(result["debrief"]).exists() and Path(result["summary"]).exists()

    # What the X server shows: the grid, then the station's view in the same window, then the
    # end page; the window at the screen's top left (no window manager), X's black beside it.
    grid, station, after = (pixels(result[k]) for k in ("grid_png", "station_png", "after_png"))
    assert grid.shape == (1080, 1920)
    assert float(np.mean(after == 0)) > 0.99, "the window is gone from the screen once closed"
    background = int(theme.BACKGROUND.lstrip("#"), 16)
    for shot in (grid, station):
        assert float(np.mean(shot[:1000, :1600] == background)) > 0.02
        assert float(np.mean(shot[:, 1620:] == 0)) > 0.95
    x, y, w, h = result["tile_rect"]
    panel = int(theme.PANEL.lstrip("#"), 16)
    assert float(np.mean(grid[y + 20:y + h - 20, x + 20:x + w - 20] == panel)) > 0.5, "the tile is on the screen"
    changed = float(np.mean(grid[:1000, :1600] != station[:1000, :1600]))
    assert changed > 0.3, f"the station's view replaced the grid on the screen ({changed:.0%} of pixels changed)"
    assert len(np.unique(station[:1000, :1600])) > 50, "the station's view: maps and plots, not a blank page"
