"""The app's window: connect -> screening -> live session -> debrief, one page at a time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.connect import ConnectPage
from glovecoach.app.controller import LiveController, new_recording_path, sessions_dir
from glovecoach.app.live_view import MODE_LABELS, MODES, LiveView
from glovecoach.app.screening import ScreeningPage
from glovecoach.link.client import GloveClient

CONNECT_TIMEOUT_S = 10.0


class SessionToolbar(QtWidgets.QWidget):
    """Mode, instructor layout, sound, stop: the live page's controls."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QtWidgets.QComboBox()
        for mode in MODES:
            self.mode.addItem(MODE_LABELS[mode], mode)
        self.instructor = QtWidgets.QCheckBox("Instructor layout (full screen)")
        self.sound = QtWidgets.QCheckBox("Sound on alerts")
        self.link = QtWidgets.QLabel()
        self.stop = QtWidgets.QPushButton("Stop session")
        self.recording = QtWidgets.QLabel()
        self.recording.setStyleSheet(f"color: {theme.TEXT_DIM};")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 0)
        layout.addWidget(QtWidgets.QLabel("Feedback:"))
        layout.addWidget(self.mode)
        layout.addWidget(self.instructor)
        layout.addWidget(self.sound)
        layout.addStretch(1)
        layout.addWidget(self.link)
        layout.addWidget(self.recording)
        layout.addWidget(self.stop)
        self.set_link(True)

    def set_link(self, up: bool) -> None:
        if up:
            self.link.setText("\u25CF glove connected")
            self.link.setStyleSheet(f"color: {theme.OK_TEAL}; font-weight: bold;")
        else:
            self.link.setText("\u25CB GLOVE UNPLUGGED")
            self.link.setStyleSheet(f"color: {theme.ALERT_RED}; font-weight: bold;")

    def set_link_state(self, state: str) -> None:
        """"up", "stalled" (connected, but no samples) or "down" (unplugged)."""
        if state == "stalled":
            self.link.setText("\u25CB GLOVE STALLED: no samples")
            self.link.setStyleSheet(f"color: {theme.ALERT_RED}; font-weight: bold;")
        else:
            self.set_link(state == "up")


class MainWindow(QtWidgets.QMainWindow):
    session_started = QtCore.Signal()
    session_finished = QtCore.Signal(object)

    def __init__(self, url: str | None = None, *, sessions: str | Path | None = None,
                 protocol: Any | None = None, trainee: str = "", rate_hz: int = 200,
                 discover: Any = None) -> None:
        super().__init__()
        self.setWindowTitle("glovecoach")
        self.setStyleSheet(theme.app_stylesheet())
        self.url = url
        self.sessions = sessions
        self.rate_hz = rate_hz
        self.controller: LiveController | None = None
        self.live_view: LiveView | None = None
        self.debrief: Any = None
        self.toolbar: SessionToolbar | None = None
        self.error: str | None = None
        self._pending: dict | None = None

        self.pages = QtWidgets.QStackedWidget()
        self.setCentralWidget(self.pages)
        self.connect_page = ConnectPage(discover=discover)
        self.connect_page.chosen.connect(self._port_chosen)
        self.screening_page = ScreeningPage(protocol=protocol, trainee=trainee)
        self.screening_page.accepted.connect(self.start_session)
        self.message_page = QtWidgets.QLabel()
        self.message_page.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message_page.setWordWrap(True)
        self.message_page.setFont(theme.font(16, bold=True))
        for page in (self.connect_page, self.screening_page, self.message_page):
            self.pages.addWidget(page)
        self.pages.setCurrentWidget(self.screening_page if url else self.connect_page)
        self.resize(1400, 900)

    # -- flow ------------------------------------------------------------------------------
    def _port_chosen(self, url: str) -> None:
        self.url = url
        self.pages.setCurrentWidget(self.screening_page)

    def _show_message(self, text: str) -> None:
        self.message_page.setText(text)
        self.pages.setCurrentWidget(self.message_page)

    def start_session(self, protocol: Any, info: dict) -> None:
        """Connect to the glove (on a worker thread), then open the live page."""
        if self.url is None:
            self.pages.setCurrentWidget(self.connect_page)
            return
        self._show_message(f"Connecting to {self.url} …")
        client = GloveClient(self.url)
        self._pending = {"client": client, "protocol": protocol, "info": info, "done": False,
                         "error": None}
        pending = self._pending

        def work() -> None:
            try:
                client.connect(timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - reported on the page
                pending["error"] = exc
            pending["done"] = True

        threading.Thread(target=work, name="glove-connect", daemon=True).start()
        self._connect_timer = QtCore.QTimer(self)
        self._connect_timer.setInterval(50)
        self._connect_timer.timeout.connect(self._connect_done)
        self._connect_timer.start()

    def _connect_done(self) -> None:
        pending = self._pending
        if not pending or not pending["done"]:
            return
        self._connect_timer.stop()
        self._pending = None
        client = pending["client"]
        if pending["error"] is not None:
            client.close()
            self.error = f"Could not connect to {self.url}: {pending['error']}"
            self._show_message(self.error + "\n\nCheck the cable and try again.")
            return
        try:
            info = {**pending["info"], "device_url": self.url}
            path = new_recording_path(sessions_dir(self.sessions), info.get("trainee", ""))
            self.controller = LiveController(client, protocol=pending["protocol"],
                                             recording_path=path, session_info=info,
                                             rate_hz=self.rate_hz)
            self.controller.start()
        except Exception as exc:
            client.close()
            self.error = f"Could not start the session: {exc}"
            self._show_message(self.error)
            raise
        self._build_live_page()
        self.session_started.emit()

    def _build_live_page(self) -> None:
        assert self.controller is not None
        self.live_view = LiveView(self.controller.model)
        self.controller.views.append(self.live_view)
        self.toolbar = SessionToolbar()
        recording = f"recording to {self.controller.recording_path.name}"
        if self.controller.calibration.nominal:
            recording += "  \u00B7  \u26A0 uncalibrated glove: approximate forces"
        self.toolbar.recording.setText(recording)
        self.toolbar.mode.currentIndexChanged.connect(
            lambda _i: self.set_mode(self.toolbar.mode.currentData()))
        self.toolbar.instructor.toggled.connect(self.set_instructor)
        self.toolbar.sound.toggled.connect(self.controller.set_sound)
        self.toolbar.stop.clicked.connect(self.stop_session)
        # (link_changed says only up or not; the state also tells a stalled glove from an unplugged one)
        self.controller.link_state_changed.connect(self.toolbar.set_link_state)
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.live_view, 1)
        self.pages.addWidget(page)
        self.pages.setCurrentWidget(page)

    def set_mode(self, mode: str) -> None:
        if self.live_view is not None:
            self.live_view.set_mode(mode)
            if self.toolbar is not None and self.toolbar.mode.currentData() != mode:
                self.toolbar.mode.setCurrentIndex(self.toolbar.mode.findData(mode))

    def set_instructor(self, on: bool) -> None:
        if self.live_view is None:
            return
        self.live_view.set_instructor(on)
        if self.toolbar is not None and self.toolbar.instructor.isChecked() != on:
            self.toolbar.instructor.setChecked(on)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()

    def stop_session(self) -> Any:
        if self.controller is None:
            return None
        report = self.controller.finish()
        if self.isFullScreen():
            self.showNormal()
        from glovecoach.app.debrief import DebriefView

        self.debrief = DebriefView(report.to_dict(), session=self.controller.model,
                                   recording_path=self.controller.recording_path,
                                   info=self.controller.recorder_metadata())
        self.pages.addWidget(self.debrief)
        self.pages.setCurrentWidget(self.debrief)
        try:   # the report, beside its recording, readable without the app
            self.debrief.export_html(self.controller.recording_path.with_suffix(".html"))
        except OSError as exc:
            self.error = f"Could not save the HTML report: {exc}"
        self.session_finished.emit(report)
        return report

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.controller is not None and self.controller.report is None:
            self.controller.finish()
        super().closeEvent(event)
