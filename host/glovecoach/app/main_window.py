"""The app's window: connect -> screening -> live session -> debrief, one page at a time.

Given a station (role -> device URL, or a paired `StationChoice`) instead of one glove's URL,
the same pages run for the station: screening, the live `StationView` (both hands, the strip,
each device's link), and the station's debrief.
"""

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
from glovecoach.app.station_controller import StationController, transport_of_url
from glovecoach.link.client import GloveClient

CONNECT_TIMEOUT_S = 10.0


def station_urls(station: Any) -> tuple[dict[str, str], dict[str, str]]:
    """A station given as a `StationChoice` or a mapping role -> URL: (role -> URL, role ->
    transport). A mapping's transports are read from its URLs (mqtt: WiFi; anything else is on a
    cable or is the virtual device, shown as USB)."""
    if hasattr(station, "urls") and hasattr(station, "transports"):
        urls, transports = dict(station.urls()), dict(station.transports())
    else:
        urls = {str(role): str(url) for role, url in dict(station).items()}
        transports = {role: transport_of_url(url) for role, url in urls.items()}
    if not urls:
        raise ValueError("a station needs at least one device URL")
    return urls, transports


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
        self.mode_label = QtWidgets.QLabel("Feedback:")
        layout.addWidget(self.mode_label)
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

    def station_mode(self) -> None:
        """For a station: the devices' links are on the station view's own strip, and the
        view has no feedback modes or instructor layout (yet); the summary here says whether
        every device is giving samples."""
        for widget in (self.mode_label, self.mode, self.instructor):
            widget.hide()

    def set_station_links(self, links: dict) -> None:
        out = [role.replace("_", " ") for role, link in links.items() if link in ("down", "stalled")]
        if not out:
            self.link.setText(f"\u25CF {len(links)} device{'s' if len(links) != 1 else ''} connected")
            self.link.setStyleSheet(f"color: {theme.OK_TEAL}; font-weight: bold;")
        else:
            self.link.setText(f"\u25CB {', '.join(out).upper()} OUT: the rest goes on")
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

    def __init__(self, url: str | None = None, *, station: Any = None,
                 sessions: str | Path | None = None, protocol: Any | None = None,
                 trainee: str = "", rate_hz: int = 200, discover: Any = None) -> None:
        super().__init__()
        self.setWindowTitle("glovecoach")
        self.setStyleSheet(theme.app_stylesheet())
        if url is not None and station is not None:
            raise ValueError("give one glove's URL or a station, not both")
        self.url = url
        # a station: role -> URL and role -> transport; None for one glove
        self.station_urls, self.station_transports = station_urls(station) if station is not None \
            else (None, None)
        self.station_name = getattr(station, "station", None)
        self.station_view: Any = None
        self.sessions = sessions
        self.rate_hz = rate_hz
        self.controller: LiveController | StationController | None = None
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
        self.pages.setCurrentWidget(self.screening_page if url or station is not None
                                    else self.connect_page)
        self.resize(1400, 900)

    # -- flow ------------------------------------------------------------------------------
    def _port_chosen(self, url: str) -> None:
        self.url = url
        self.pages.setCurrentWidget(self.screening_page)

    def _show_message(self, text: str) -> None:
        self.message_page.setText(text)
        self.pages.setCurrentWidget(self.message_page)

    @property
    def is_station(self) -> bool:
        return self.station_urls is not None

    def start_session(self, protocol: Any, info: dict) -> None:
        """Connect to the glove (on a worker thread), then open the live page."""
        if self.is_station:
            self._start_station(protocol, info)
            return
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

    # -- a station ----------------------------------------------------------------------------
    def _start_station(self, protocol: Any, info: dict) -> None:
        """Connect every device of the station at once (each on its own worker thread: a
        virtual device boots in about a second, a board that resets when its port opens too),
        then open the station's live page. A device that does not answer stops the start, named."""
        assert self.station_urls is not None
        self._show_message("Connecting to the station: " + ", ".join(
            role.replace("_", " ") for role in self.station_urls) + " \u2026")
        try:     # (a client opens nothing yet: one refused leaves nothing to close)
            clients = {role: GloveClient(url) for role, url in self.station_urls.items()}
        except ValueError as exc:    # a URL the link does not understand
            self.error = f"Could not open the station: {exc}"
            self._show_message(self.error)
            return
        pending = {"clients": clients, "protocol": protocol, "info": info, "errors": {},
                   "left": len(clients)}
        self._pending = pending
        lock = threading.Lock()

        def work(role: str, client: GloveClient) -> None:
            try:
                client.connect(timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - reported on the page
                pending["errors"][role] = exc
            with lock:
                pending["left"] -= 1

        for role, client in clients.items():
            threading.Thread(target=work, args=(role, client), name=f"connect-{role}",
                             daemon=True).start()
        self._connect_timer = QtCore.QTimer(self)
        self._connect_timer.setInterval(50)
        self._connect_timer.timeout.connect(self._station_connected)
        self._connect_timer.start()

    def _station_connected(self) -> None:
        pending = self._pending
        if not pending or pending["left"] > 0:
            return
        self._connect_timer.stop()
        self._pending = None
        clients = pending["clients"]
        if pending["errors"]:
            for client in clients.values():
                client.close()
            lines = [f"{role.replace('_', ' ')} ({self.station_urls[role]}): {exc}"
                     for role, exc in pending["errors"].items()]
            self.error = "Could not connect to the station's " + "; ".join(lines)
            self._show_message(self.error + "\n\nCheck each device's cable or WiFi and try again.")
            return
        try:
            info = {**pending["info"], "device_urls": dict(self.station_urls)}
            if self.station_name:
                info["station"] = self.station_name
            path = new_recording_path(sessions_dir(self.sessions), info.get("trainee", ""))
            self.controller = StationController(clients, protocol=pending["protocol"],
                                                recording_path=path, session_info=info,
                                                rate_hz=self.rate_hz,
                                                transports=self.station_transports)
            self.controller.start()
        except Exception as exc:
            for client in clients.values():
                client.close()
            self.error = f"Could not start the station session: {exc}"
            self._show_message(self.error)
            raise
        self._build_station_page()
        self.session_started.emit()

    def _build_station_page(self) -> None:
        from glovecoach.app.station_view import StationView

        controller = self.controller
        assert isinstance(controller, StationController)
        self.station_view = StationView(controller.model)
        controller.views.append(self.station_view)
        self.toolbar = SessionToolbar()
        self.toolbar.station_mode()
        recording = f"recording to {controller.recording_path.name}"
        if controller.uncalibrated:
            recording += ("  \u00B7  \u26A0 uncalibrated: " +
                          ", ".join(r.replace("_", " ") for r in controller.uncalibrated))
        self.toolbar.recording.setText(recording)
        self.toolbar.sound.toggled.connect(controller.set_sound)
        self.toolbar.stop.clicked.connect(self.stop_session)
        self.toolbar.set_station_links(controller.links())
        controller.links_changed.connect(self.toolbar.set_station_links)
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.station_view, 1)
        self.pages.addWidget(page)
        self.pages.setCurrentWidget(page)

    def _station_debrief(self, report: Any) -> Any:
        from glovecoach.app.station_debrief import StationDebriefView

        controller = self.controller
        info = controller.recorder_metadata()
        info["uncalibrated"] = controller.uncalibrated
        info.update(controller.instructor_notes())
        return StationDebriefView(report.to_dict(), protocol=controller.protocol,
                                  recording_path=controller.recording_path, info=info,
                                  alerts=controller.alert_log())

    # -- one glove ---------------------------------------------------------------------------
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

        if self.is_station:
            self.debrief = self._station_debrief(report)
        else:
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


def run_station_window(urls: Any, seconds: float, *, screenshot: str | Path | None = None,
                       debrief_screenshot: str | Path | None = None,
                       sessions: str | Path | None = None, protocol: Any | None = None,
                       trainee: str = "Demo trainee", size: tuple[int, int] = (1600, 1000),
                       connect_timeout_s: float = 30.0) -> MainWindow:
    """Run a station session in the window for `seconds` without anyone at it: the screening
    passed, the live page saved to `screenshot` when the time is up, the session stopped, the
    debrief saved to `debrief_screenshot`. `urls`: role -> device URL (or a `StationChoice`).
    Needs a QApplication (`app.qt.ensure_app(headless=True)`); returns the window, its
    debrief shown (`window.controller.recording_path`, `window.controller.report`).
    RuntimeError if the station does not connect within `connect_timeout_s` or a step fails."""
    from glovecoach.app.qt import save_window

    window = MainWindow(station=urls, sessions=sessions, protocol=protocol, trainee=trainee)
    window.resize(*size)
    loop = QtCore.QEventLoop()
    failures: list[str] = []

    def finish() -> None:
        try:
            if screenshot:
                save_window(window, str(screenshot))
            window.stop_session()
            if debrief_screenshot:
                save_window(window, str(debrief_screenshot))
        except Exception as exc:  # noqa: BLE001 - raised below, after the loop
            failures.append(f"{type(exc).__name__}: {exc}")
        loop.quit()

    def give_up() -> None:
        if window.controller is None:
            failures.append(window.error or f"the station did not connect within {connect_timeout_s:g} s")
            loop.quit()

    window.session_started.connect(lambda: QtCore.QTimer.singleShot(int(seconds * 1000), finish))
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    window.show()
    QtCore.QTimer.singleShot(0, screening.try_start)
    QtCore.QTimer.singleShot(int(connect_timeout_s * 1000), give_up)
    # a failed connection shows its message page at once: no need to wait for the timeout
    poll = QtCore.QTimer()
    poll.setInterval(100)
    poll.timeout.connect(lambda: loop.quit() if window.error and window.controller is None else None)
    poll.start()
    loop.exec()
    poll.stop()
    if window.controller is None and not failures:
        failures.append(window.error or "the station session did not start")
    if failures:
        if window.controller is not None and window.controller.report is None:
            window.controller.finish()
        raise RuntimeError(failures[0])
    return window
