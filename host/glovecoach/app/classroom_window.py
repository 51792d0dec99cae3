"""The instructor's classroom window: the grid of tiles; a click opens that station's full view.

One window, two pages: the grid, and one station's full live view (the same `StationView` a
trainee's screen shows) with "All stations" to go back. The full view is fed from the
classroom's own pipeline for that station (`Classroom.listen`), only while it is open, so
twelve stations cost twelve tiles and one view, never a second pipeline. While a station is
open, a line above it names every other station that needs the instructor.

From the screen the instructor marks a moment of a station or sends it a message (both stored
in that station's recording; marks are listed in its debrief), renames the trainee at a
station and loads a roster; the room remembers trainees and devices (``room_path``).

The class ends with "End class" or by closing the window: every station stops, its
recording is closed, and its debrief and the class summary are written next to the
recordings (`classroom_end.write_class_files`, as the headless command does); the window then
lists them.

The pipelines are pumped every 10 ms on the GUI thread (as a station screen pumps its own);
the tiles repaint at 10 fps, and only those whose state or trace moved; a new alert is drawn
at the pump that brought it. The open station's view is drawn at ~30 fps and at once when an
alert begins.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.classroom_end import ClassFiles, write_class_files
from glovecoach.app.classroom_view import ClassroomGrid, SpineStrip
from glovecoach.app.station_view import StationModel, StationView
from glovecoach.app.stations_dialog import StationsDialog
from glovecoach.classroom.hub import settle_garbage_collector
from glovecoach.classroom.room import Room

PUMP_MS = 10
# A pump stops after about this long (at a station boundary) and the next goes on from there:
# the event loop paints between, so an alert is on screen within a slice of being found,
# not after every other station of the room was pumped too.
PUMP_SLICE_S = 0.008
VIEW_FRAME_S = 1 / 30     # the open station's view, as a station screen draws it
HEADER_MS = 500           # the class clock and the "needs you" line
OTHERS_NAMED = 3           # other stations named on an open station's line; the rest are counted
# A station added mid-class (Stations..., a roster) waits this long for its devices with the
# window still; one not answering by then is asked again in the background (Classroom's late
# join) and its tile says "waiting". At the class's start the wait is 10 s: nothing is shown yet.
JOIN_WAIT_S = 1.5
BAR_PX = 17               # type of the header and the station bar: read from a desk, not the room


# The window's own parts in the app's dark theme (the station view styles itself): without it
# the page behind the station's view and the buttons would be the platform's light grey.
STYLE = (f"#classroom, #stationPage, #endPage {{ background: {theme.BACKGROUND}; }} "
         f"QLabel {{ color: {theme.TEXT}; }}"
         f"QLineEdit {{ background: {theme.PANEL}; color: {theme.TEXT}; border: 1px solid {theme.GRID}; "
         "padding: 2px 6px; border-radius: 4px; }"
         f"QPushButton {{ background: {theme.PANEL}; color: {theme.TEXT}; border: 1px solid {theme.GRID}; "
         "padding: 4px 14px; border-radius: 4px; }"
         f"QPushButton:hover {{ border-color: {theme.TEXT_DIM}; }}"
         f"QPushButton:disabled {{ color: {theme.GRID}; }}")


def _button(text: str, tip: str = "") -> QtWidgets.QPushButton:
    button = QtWidgets.QPushButton(text)
    button.setFont(theme.font(BAR_PX * 0.75, bold=True))
    button.setMinimumHeight(36)
    button.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
    if tip:
        button.setToolTip(tip)
    return button


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class StationPage(QtWidgets.QWidget):
    """One station's full live view with the instructor's bar: back to the grid, mark this
    moment, a message to the station, the trainee's name."""

    back = QtCore.Signal()

    def __init__(self, window: ClassroomWindow, name: str) -> None:
        super().__init__()
        self.window, self.name = window, name
        classroom = window.classroom
        station = classroom.stations[name]
        devices = dict(station.seat.devices)
        self.model = StationModel(station.layout, classroom.rate_hz, transports=dict.fromkeys(devices, "wifi"),
                                  device_ids=devices)
        # The view opens mid-class: what the tile already knows of each device (its link,
        # its battery) is shown at once rather than "waiting" until the next STATUS.
        for badge in station.tile.state.devices:
            device = self.model.devices.get(badge.role)
            if device is not None:
                device.link, device.since = badge.link, self.model.clock()
                device.battery_v, device.rssi_dbm = badge.battery_v, badge.rssi_dbm
        self.view = StationView(self.model)
        self.setObjectName("stationPage")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)

        self.back_button = _button("\u25C0  All stations", "back to the grid (Esc)")
        self.back_button.clicked.connect(self.back)
        self.title = QtWidgets.QLabel()
        self.title.setFont(theme.font(BAR_PX, bold=True))
        self.trainee_edit = QtWidgets.QLineEdit(station.seat.trainee)
        self.trainee_edit.setPlaceholderText("trainee's name")
        self.trainee_edit.setToolTip("the trainee at this station (Enter to rename; the room remembers it)")
        self.trainee_edit.setMaximumWidth(260)
        self.trainee_edit.editingFinished.connect(self._rename)
        self.mark_button = _button("\u2691  Mark this moment",
                                   "stored in this station's recording, listed in its debrief")
        self.mark_button.clicked.connect(self._mark)
        self.message_edit = QtWidgets.QLineEdit()
        self.message_edit.setPlaceholderText("a message to this station's screen")
        self.message_edit.returnPressed.connect(self._send)
        self.send_button = _button("Send")
        self.send_button.clicked.connect(self._send)
        for edit in (self.trainee_edit, self.message_edit):
            edit.setFont(theme.font(BAR_PX * 0.75))
            edit.setMinimumHeight(36)
        self.done = FittedLabel()      # "Marked at 3:12", "Sent: ..." (`_say`)
        self.done.setFont(theme.font(BAR_PX * 0.7))
        self.others = QtWidgets.QLabel()   # the other stations that need the instructor
        self.others.setFont(theme.font(BAR_PX * 0.8, bold=True))
        self.others.setStyleSheet(f"color: {theme.ALERT_RED};")
        self.others.setWordWrap(True)

        bar = QtWidgets.QHBoxLayout()
        bar.setSpacing(10)
        bar.addWidget(self.back_button)
        bar.addWidget(self.title)
        bar.addWidget(self.trainee_edit)
        bar.addStretch(1)
        bar.addWidget(self.mark_button)
        bar.addWidget(self.message_edit, 2)
        bar.addWidget(self.send_button)
        bar.addWidget(self.done, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        # shown only while another station needs the instructor: the view keeps its height
        self.others.setVisible(False)
        layout.addWidget(self.others)
        layout.addWidget(self.view, 1)
        self._title()
        classroom.listen(name, self.model)
        self._drawn = 0.0

    def _title(self) -> None:
        self.title.setText(f"{self.name}")

    def _rename(self) -> None:
        text = self.trainee_edit.text().strip()
        if text and text != self.window.classroom.stations[self.name].seat.trainee:
            self.window.rename_trainee(self.name, text)
            self._say(f"Renamed: {text}")

    def _mark(self) -> None:
        mark = self.window.mark(self.name)
        self._say(f"Marked at {_clock(mark['at_s'])}")

    def _send(self) -> None:
        text = self.message_edit.text().strip()
        if text:
            problem = self.window.classroom.message(self.name, text)
            self.message_edit.clear()
            if problem is None:
                self._say(f"Sent: {text}")
            else:
                self._say(f"Not sent, kept in the recording ({problem}): {text}", colour=theme.ALERT_AMBER)

    def _say(self, words: str, colour: str = theme.OK_TEAL) -> None:
        """What the last click did, on the bar; each line in its own colour (a "Not sent" in
        amber is not carried over to the next line)."""
        self.done.setStyleSheet(f"color: {colour};")
        self.done.set_full_text(words)

    def draw(self, others: str) -> None:
        """At ~30 fps, and at once when one of this station's alerts begins."""
        model = self.model
        dangers = sum(b.take_new_dangers() for b in (*model.boards.values(), model.station_board))
        now = time.monotonic()
        if dangers or now - self._drawn >= VIEW_FRAME_S:
            self._drawn = now
            self.view.redraw()
        if self.others.text() != others:
            self.others.setText(others)
            self.others.setVisible(bool(others))

    def detach(self) -> None:
        self.window.classroom.unlisten(self.name, self.model)


class FittedLabel(QtWidgets.QLabel):
    """One line that gives up width rather than take it: its text cut with "…" to the width
    its layout leaves it, the whole of it in its tooltip. A plain label as wide as a long
    message ("Sent: …") made the window wider than the screen."""

    def __init__(self) -> None:
        super().__init__()
        self.full_text = ""
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        if text != self.full_text:
            self.full_text = text
            self.setToolTip(text)
            self._fit()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def shown(self, width: int) -> str:
        """What fits in ``width`` pixels."""
        return self.fontMetrics().elidedText(self.full_text, QtCore.Qt.TextElideMode.ElideRight, width)

    def _fit(self) -> None:
        shown = self.shown(self.width())
        if shown != self.text():
            self.setText(shown)


class AttentionLine(FittedLabel):
    """The header's "⚠ N need you: table 4, table 8": the names that fit, then "and K more".
    A plain label as wide as every name made the window wider than a laptop's screen when a
    whole room needed the instructor at once (a broker restart: every station's link down),
    and pushed "End class" off it."""

    def __init__(self) -> None:
        self.names: list[str] = []
        super().__init__()

    def set_names(self, names: list[str]) -> None:
        self.names = list(names)
        self.set_full_text(", ".join(names))

    def shown(self, width: int) -> str:
        names = self.names
        if not names:
            return ""
        head = f"\u26A0 {len(names)} need{'s' if len(names) == 1 else ''} you: "
        metrics = self.fontMetrics()
        for k in range(len(names), 0, -1):
            text = head + ", ".join(names[:k]) + (f" and {len(names) - k} more" if k < len(names) else "")
            if metrics.horizontalAdvance(text) <= width:
                return text
        return head.rstrip(": ")


class ClassroomWindow(QtWidgets.QMainWindow):
    """``ClassroomWindow(classroom, protocol=..., record_dir=...)``; `start()` pumps it.

    ``room_path``: where the room is remembered (trainees renamed and rosters loaded on the
    screen are saved there); None for a room that is not (a virtual one).
    ``confirm_end``: closing the window asks before it ends the class."""

    ended = QtCore.Signal(object)       # the ClassFiles

    def __init__(self, classroom: Any, *, protocol: Any = None, record_dir: str | Path | None = None,
                 room_path: str | Path | None = None, confirm_end: bool = True,
                 known_devices: set[str] | Callable[[], set[str]] | None = None) -> None:
        super().__init__()
        from glovecoach.protocols import default_protocol

        self.classroom = classroom
        self.protocol = protocol or classroom.protocol or default_protocol()
        self.record_dir = Path(record_dir) if record_dir is not None else classroom.record_dir
        self.room_path = Path(room_path) if room_path is not None else None
        self.confirm_end = confirm_end
        # The devices with a login on the room's broker, or how to ask (a glove provisioned
        # mid-class is let in then: the command's `logins`).
        self.known_devices = known_devices
        self.reports: dict[str, Any] | None = None
        self.files: ClassFiles | None = None
        self.page: StationPage | None = None
        self.setWindowTitle(f"glovecoach classroom \u2014 {classroom.room.name}")

        central = QtWidgets.QWidget()
        central.setObjectName("classroom")
        central.setStyleSheet(STYLE)
        self.setCentralWidget(central)
        self.heading = QtWidgets.QLabel()
        self.heading.setFont(theme.font(BAR_PX, bold=True))
        self.attention = AttentionLine()
        self.attention.setFont(theme.font(BAR_PX, bold=True))
        self.attention.setStyleSheet(f"color: {theme.ALERT_RED};")
        # One button for the room (the table, and a roster from it): a laptop's header has no
        # room for two beside the stations that need the instructor.
        self.stations_button = _button("Stations\u2026", "who trains at each station, and its devices; "
                                       "or load a roster (CSV)")
        self.stations_button.clicked.connect(self._ask_table)
        self.end_button = _button("End class", "stop every station; write each debrief and the class summary")
        self.end_button.setStyleSheet(f"QPushButton {{ background: {theme.ALERT_RED}; color: white; "
                                      "padding: 4px 16px; border-radius: 4px; }")
        self.end_button.clicked.connect(self._ask_end)
        self.header = QtWidgets.QWidget()
        header = QtWidgets.QHBoxLayout(self.header)
        header.setContentsMargins(12, 6, 12, 0)
        header.setSpacing(14)
        header.addWidget(self.heading)
        header.addWidget(self.attention, 1)
        header.addWidget(self.stations_button)
        header.addWidget(self.end_button)

        self.stack = QtWidgets.QStackedWidget()
        self.spines: dict[str, SpineStrip] = {}
        self.grid = self._make_grid()
        self.stack.addWidget(self.grid)
        # A room with no station given devices yet: what to do, where the tiles will be.
        self.empty_hint = QtWidgets.QLabel(
            f"No station of {classroom.room.name} has devices yet.\n\nStations\u2026 (top right) puts "
            "trainees and devices at stations, or loads a roster. A glove needs its login on this "
            f"room's broker first: glovecoach provision --port PORT --room {classroom.room.name} "
            "--broker THIS-MACHINE; the class lets it in when Stations\u2026 opens.")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setFont(theme.font(BAR_PX))
        self.empty_hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setContentsMargins(48, 48, 48, 48)
        self.stack.addWidget(self.empty_hint)
        if not classroom.stations:
            self.stack.setCurrentWidget(self.empty_hint)
        self.end_page = QtWidgets.QLabel()
        self.end_page.setFont(theme.font(BAR_PX))
        self.end_page.setWordWrap(True)
        self.end_page.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.end_page.setOpenExternalLinks(True)
        self.end_page.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextBrowserInteraction)
        self.end_page.setContentsMargins(24, 24, 24, 24)
        self.end_page.setObjectName("endPage")     # the room's dark page, not the scroll area's grey
        # A room of twenty stations is more rows than a laptop's screen holds: the page scrolls.
        self.end_area = QtWidgets.QScrollArea()
        self.end_area.setWidgetResizable(True)
        self.end_area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.end_area.setWidget(self.end_page)
        self.stack.addWidget(self.end_area)
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)

        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Escape), self, activated=self.show_grid)
        self.pump_timer = QtCore.QTimer(self)
        self.pump_timer.setInterval(PUMP_MS)
        self.pump_timer.timeout.connect(self._pump)
        self.header_timer = QtCore.QTimer(self)
        self.header_timer.setInterval(HEADER_MS)
        self.header_timer.timeout.connect(self._header)
        self._header()

    def _make_grid(self) -> ClassroomGrid:
        grid = ClassroomGrid([s.tile for s in self.classroom.stations.values()])
        grid.station_clicked.connect(self.open_station)
        # each tile's spine strip, fed by its station's own pipeline
        for name, station in self.classroom.stations.items():
            strip = self.spines.get(name)
            if strip is None:
                strip = self.spines[name] = SpineStrip(station.layout, self.classroom.rate_hz)
                self.classroom.listen(name, strip)
            grid.tile(name).spine = strip
        return grid

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        self.pump_timer.start()
        self.header_timer.start()
        self.grid.start()

    def _pump(self) -> None:
        if self.classroom.pump(PUMP_SLICE_S):
            if self.grid.refresh(traces=False):   # an alert is drawn now, not at the next frame
                self._header()                    # and the header names its station with it
        if self.page is not None:
            self.page.draw(self._others_text())

    def needing_attention(self) -> list[str]:
        """The stations whose tile stands out: an alert, or a device lost."""
        return [name for name, s in self.classroom.stations.items() if s.tile.state.attention]

    def _others_text(self) -> str:
        shown = self.page.name if self.page is not None else None
        parts = []
        for name in self.needing_attention():
            if name != shown:
                state = self.classroom.stations[name].tile.state
                parts.append(f"{name}: {state.alert or 'device lost'}")
        if len(parts) > OTHERS_NAMED:
            # the view keeps its height: a whole room in alert (a broker restart) would
            # otherwise wrap this line over a third of a laptop's screen
            parts = parts[:OTHERS_NAMED] + [f"and {len(parts) - OTHERS_NAMED} more stations"]
        return ("Also needs you \u2014 " + "  \u00B7  ".join(parts)) if parts else ""

    def _header(self) -> None:
        c = self.classroom
        started = c.started.timestamp()
        elapsed = f"class {_clock(time.time() - started)}" if self.files is None else "class ended"
        self.heading.setText(f"{c.room.name}  \u00B7  {len(c.stations)} station{'s' if len(c.stations) != 1 else ''}"
                             f"  \u00B7  {elapsed}")
        self.attention.set_names(self.needing_attention() if self.files is None else [])

    # ------------------------------------------------------------------ a station
    def open_station(self, name: str) -> StationPage:
        """Show station ``name``'s full live view in place of the grid."""
        if self.files is not None:
            raise RuntimeError("the class has ended")
        if self.page is not None and self.page.name == name:
            return self.page
        self._close_page()
        self.page = StationPage(self, name)
        self.page.back.connect(self.show_grid)
        self.stack.addWidget(self.page)
        self.stack.setCurrentWidget(self.page)
        # the station's view gets the header's height too (its plots need it on a 768-line
        # screen); the page's own line names the other stations that need the instructor
        self.header.setVisible(False)
        return self.page

    def show_grid(self) -> None:
        """Back to every station: the open view stops being fed and is dropped."""
        self._close_page()
        self.header.setVisible(True)
        if self.files is None:
            self.stack.setCurrentWidget(self.grid)
            self.grid.refresh(traces=True)

    def _close_page(self) -> None:
        if self.page is not None:
            page, self.page = self.page, None
            page.detach()
            self.stack.removeWidget(page)
            page.deleteLater()

    def mark(self, station: str, text: str = "marked by the instructor") -> dict:
        return self.classroom.mark(station, text)

    def rename_trainee(self, station: str, trainee: str) -> None:
        """The trainee at ``station`` is now ``trainee``: on the tile, in the room (remembered),
        in the station's recording (a note: the file's metadata keeps who was there when it
        began) and so in its debrief and the class summary."""
        s = self.classroom.stations[station]
        old = s.seat.trainee
        self.classroom.room.assign_trainee(station, trainee)
        self._trainee_changed(s, old)
        self._remember()
        self.grid.refresh(traces=False)

    def _trainee_changed(self, s: Any, old: str) -> None:
        """The tile and the station's recording (a ``trainee`` note) take the new name."""
        s.tile.set_trainee(s.seat.trainee)
        if s.seat.trainee != old:
            s.pipeline.writer.note("trainee", {"trainee": s.seat.trainee, "was": old,
                                               "at_s": s.pipeline.station_end_index / self.classroom.rate_hz})

    # ------------------------------------------------------------------ the room
    def _remember(self) -> None:
        if self.room_path is not None:
            self.classroom.room.save(self.room_path)

    def _ask_table(self) -> None:
        dialog = StationsDialog(self.classroom.room, self._logins(), self.apply_table, self,
                                load_roster=self.load_roster)
        dialog.accepted.connect(lambda: dialog.later and QtWidgets.QMessageBox.information(
            self, "Stations changed", "\n".join(dialog.later)))
        dialog.open()

    def load_roster(self, path: str | Path) -> list[str]:
        """Apply a roster CSV to the room (checked whole first: a bad row changes nothing;
        `RoomError` says which): trainees are renamed on their tiles at once, stations that
        gained devices join the class, and the room is remembered. Returns what could not
        take effect now (a running station's devices change at its next class)."""
        return self._change_room(lambda room: room.apply_roster(path))

    def apply_table(self, rows: list[dict[str, str]]) -> list[str]:
        """The room as the instructor edited it in the stations table (`Room.apply_table`:
        checked whole first, `RoomError` says which row), applied as a roster is."""
        return self._change_room(lambda room: room.apply_table(rows, self._logins()))

    def _logins(self) -> set[str] | None:
        known = self.known_devices
        return known() if callable(known) else known

    def _change_room(self, change: Callable[[Room], None]) -> list[str]:
        room = self.classroom.room
        before = {s.name: dict(s.devices) for s in room.stations}
        trainees = {s.name: s.trainee for s in room.stations}
        change(room)
        later = []
        new = []
        for seat in room.stations:
            running = self.classroom.stations.get(seat.name)
            if running is not None:
                # apply_roster builds new seats: the class goes on with the room's
                running.seat = seat
                self._trainee_changed(running, trainees.get(seat.name, ""))
                if seat.devices != before.get(seat.name):
                    later.append(f"{seat.name}: its devices change at the next class")
            elif seat.devices:
                new.append(seat.name)
        if new:
            self.classroom.start(new, wait_s=JOIN_WAIT_S)
            self._close_page()
            index = self.stack.indexOf(self.grid)
            self.stack.removeWidget(self.grid)
            self.grid.deleteLater()
            self.grid = self._make_grid()
            self.stack.insertWidget(index, self.grid)
            self.stack.setCurrentWidget(self.grid)
            if self.pump_timer.isActive():
                self.grid.start()
        self.grid.refresh(traces=False)
        self._remember()
        return later

    # ------------------------------------------------------------------ the end
    def _ask_end(self) -> None:
        if self.files is not None:
            return
        if self.confirm_end:
            answer = QtWidgets.QMessageBox.question(
                self, "End the class?", "Stop every station and write each debrief and the class summary?")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        self.end_class()

    def end_class(self) -> ClassFiles:
        """Stop every station; write each debrief and the class summary; show where they are."""
        if self.files is not None:
            return self.files
        self.pump_timer.stop()
        self.header_timer.stop()
        self.grid.timer.stop()
        self._close_page()
        self.header.setVisible(True)
        self.reports = self.classroom.finish()
        self.files = write_class_files(self.classroom, self.reports, self.record_dir, self.protocol)
        self.end_button.setEnabled(False)
        self.stations_button.setEnabled(False)
        self.end_page.setText(end_page_html(self.classroom.stations, self.reports, self.files, self.record_dir))
        self.stack.setCurrentWidget(self.end_area)
        self._header()
        self.ended.emit(self.files)
        return self.files

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.files is None:
            if self.confirm_end:
                answer = QtWidgets.QMessageBox.question(
                    self, "End the class?", "Closing this window ends the class: every station stops and "
                    "its debrief and the class summary are written. End it?")
                if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                    event.ignore()
                    return
            self.end_class()
        super().closeEvent(event)


def end_page_html(stations: Any, reports: dict[str, Any] | None, files: ClassFiles, record_dir: Path) -> str:
    """The page shown when the class has ended: the summary's links, then a row a station
    (trainee, score, its debrief's link) with what went wrong at that station, if anything,
    in a column of its own in red, so a missing debrief or a recording that stopped is read
    at a glance and not run into a file name."""
    def link(path: Path | None) -> str:
        if path is None:
            return "\u2014"
        url = QtCore.QUrl.fromLocalFile(str(path)).toString()
        return f"<a style='color:{theme.ALERT_BLUE}' href='{html.escape(url)}'>{html.escape(path.name)}</a>"

    rows = []
    for name, s in stations.items():
        report = (reports or {}).get(name)
        score = ""
        if report is not None:
            total = ((report.to_dict().get("station") or {}).get("score") or {}).get("total")
            score = f"{total}/100" if total is not None else ""
        problem = files.problems.get(name, "")
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(s.seat.trainee)}</td>"
                    f"<td>{html.escape(score)}</td><td>{link(files.debriefs.get(name))}</td>"
                    f"<td style='color:{theme.ALERT_RED}'>{html.escape(problem)}</td></tr>")
    problems_heading = "<th align='left'>problem</th>" if files.problems else "<th></th>"
    summary = " \u00B7 ".join(link(path) for path in (files.summary_html, files.summary_pdf, files.summary_csv)
                             if path is not None)
    if files.summary_problem:
        summary += f" <span style='color:{theme.ALERT_RED}'>{html.escape(files.summary_problem)}</span>"
    return (f"<h2>The class has ended</h2><p>Class summary: {summary}"
            f"<br>Recordings and debriefs in {html.escape(str(record_dir))}</p>"
            "<table cellpadding='6'><tr><th align='left'>station</th><th align='left'>trainee</th>"
            "<th align='left'>score</th><th align='left'>debrief</th>" + problems_heading + "</tr>"
            + "".join(rows) + "</table>")


def run_classroom_window(classroom: Any, *, protocol: Any = None, record_dir: str | Path | None = None,
                         room_path: str | Path | None = None,
                         known_devices: set[str] | Callable[[], set[str]] | None = None) -> ClassroomWindow:
    """Show the grid full screen and run until the instructor ends the class; returns the
    window (its ``reports`` and ``files`` are None if the app was stopped otherwise)."""
    from glovecoach.app.qt import ensure_app

    app = ensure_app(headless=False)
    window = ClassroomWindow(classroom, protocol=protocol, record_dir=record_dir, room_path=room_path,
                             known_devices=known_devices)
    window.resize(1600, 1000)
    window.showMaximized()
    window.start()
    settle_garbage_collector()     # the window too lives as long as the class
    app.exec()
    return window
