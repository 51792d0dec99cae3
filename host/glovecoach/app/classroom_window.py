"""The instructor's classroom window: the grid of tiles; a click opens that station's full view.

The classroom's pipelines are pumped every 10 ms on the GUI thread (as a station screen
pumps its own); the tiles repaint at 10 fps, and only those whose state or trace moved. A
station's full view (the same StationView a trainee's screen shows) is fed only while it is
open, so twelve stations cost twelve tiles, not twelve views. From a station's view the
instructor marks a moment (stored in that station's recording, shown in its debrief) or sends
the station a message.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.classroom_view import ClassroomGrid
from glovecoach.app.station_view import StationModel, StationView

PUMP_MS = 10


class StationWindow(QtWidgets.QWidget):
    """One station's full live view, opened from its tile."""

    def __init__(self, classroom: Any, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.classroom, self.name = classroom, name
        station = classroom.stations[name]
        self.setWindowTitle(f"{name} — {station.seat.trainee}")
        self.model = StationModel(station.layout, classroom.rate_hz)
        self.view = StationView(self.model)
        mark = QtWidgets.QPushButton("Mark this moment")
        mark.clicked.connect(lambda: self.classroom.mark(self.name, "marked by the instructor"))
        self.text = QtWidgets.QLineEdit()
        self.text.setPlaceholderText("message to this station")
        send = QtWidgets.QPushButton("Send")
        send.clicked.connect(self._send)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(mark)
        bar.addWidget(self.text, 1)
        bar.addWidget(send)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.setStyleSheet(f"background: {theme.BACKGROUND}; color: {theme.TEXT};")
        station.pipeline.notifier.listeners.append(self.model)

    def _send(self) -> None:
        if self.text.text().strip():
            self.classroom.message(self.name, self.text.text().strip())
            self.text.clear()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        listeners = self.classroom.stations[self.name].pipeline.notifier.listeners
        if self.model in listeners:
            listeners.remove(self.model)
        super().closeEvent(event)


class ClassroomWindow(QtWidgets.QMainWindow):
    def __init__(self, classroom: Any) -> None:
        super().__init__()
        self.classroom = classroom
        self.setWindowTitle(f"glovecoach classroom — {classroom.room.name}")
        self.grid = ClassroomGrid([s.tile for s in classroom.stations.values()])
        self.grid.station_clicked.connect(self.open_station)
        self.setCentralWidget(self.grid)
        self.views: dict[str, StationWindow] = {}
        self.pump_timer = QtCore.QTimer(self)
        self.pump_timer.setInterval(PUMP_MS)
        self.pump_timer.timeout.connect(self._pump)

    def start(self) -> None:
        self.pump_timer.start()
        self.grid.start()

    def _pump(self) -> None:
        if self.classroom.pump():
            self.grid.refresh(traces=False)   # an alert is drawn now, not at the next frame
        for window in self.views.values():
            if window.isVisible():
                window.view.redraw()

    def open_station(self, name: str) -> StationWindow:
        window = self.views.get(name)
        if window is None or not window.isVisible():
            window = StationWindow(self.classroom, name)
            window.resize(1400, 900)
            self.views[name] = window
        window.show()
        window.raise_()
        return window


def run_classroom_window(classroom: Any) -> None:
    from glovecoach.app.qt import ensure_app

    app = ensure_app(headless=False)
    window = ClassroomWindow(classroom)
    window.resize(1600, 1000)
    window.show()
    window.start()
    app.exec()
