"""The instructor assigns trainees and devices to stations on the screen: `StationsDialog`.

A table of the room, one row a station (station, trainee, left glove, right glove, spine
strip), as a roster holds it; the instructor edits cells, adds a station, and applies. What
is applied is what the table shows (an emptied device cell takes the device off the station),
checked whole by `Room.apply_table` before anything changes: a bad row is named in the dialog,
which stays open, and the room is as it was. The devices that have a login on the room's
broker but no station yet are listed under the table, so the instructor types an id that
can log in.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.classroom.room import Room, RoomError

COLUMNS = ("station", "trainee", "left_glove", "right_glove", "spine_strip")
HEADERS = ("Station", "Trainee", "Left glove", "Right glove", "Spine strip")


class StationsDialog(QtWidgets.QDialog):
    """``apply(rows)`` changes the room and returns what takes effect only at the next class
    (shown to the instructor); a `RoomError` it raises is shown and the dialog stays open."""

    def __init__(self, room: Room, known_devices: set[str] | None,
                 apply: Callable[[list[dict[str, str]]], list[str]],
                 parent: QtWidgets.QWidget | None = None, *,
                 load_roster: Callable[[str], list[str]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Stations of {room.name}")
        self.room, self.known_devices, self._apply = room, known_devices, apply
        self._load_roster = load_roster
        self.later: list[str] = []
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self._fill()
        self.free = QtWidgets.QLabel()
        self.free.setWordWrap(True)
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.ALERT_RED};")
        add = QtWidgets.QPushButton("Add station")
        add.clicked.connect(lambda: self._add_row(self._next_name(), "", {}, existing=False))
        self.roster_button = QtWidgets.QPushButton("Load roster\u2026")
        self.roster_button.setToolTip("a CSV: station,trainee[,left_glove,right_glove,spine_strip]")
        self.roster_button.clicked.connect(self._ask_roster)
        self.roster_button.setVisible(load_roster is not None)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(add)
        row.addWidget(self.roster_button)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Apply
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply)
        self.apply_button.clicked.connect(self.try_apply)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.free)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.table.itemChanged.connect(lambda _item: self._show_free())
        self._show_free()
        self.resize(900, 420)

    def _fill(self) -> None:
        self.table.setRowCount(0)
        for seat in self.room.stations:
            self._add_row(seat.name, seat.trainee, seat.devices, existing=True)

    def _ask_roster(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load a roster", "", "Roster (*.csv);;All files (*)")
        if path:
            self.load_roster(path)

    def load_roster(self, path: str) -> bool:
        """A roster applied to the room at once (as `load_roster` of the window); the table then
        shows the room. A bad roster is named here and changes nothing."""
        assert self._load_roster is not None
        try:
            later = self._load_roster(path)
        except ValueError as exc:
            self._say(str(exc), ok=False)
            return False
        self._fill()
        self._show_free()
        self._say("Roster loaded" + "".join(f"; {words}" for words in later), ok=True)
        return True

    def _say(self, text: str, *, ok: bool) -> None:
        self.error.setStyleSheet(f"color: {theme.OK_TEAL if ok else theme.ALERT_RED};")
        self.error.setText(text)

    def _add_row(self, name: str, trainee: str, devices: dict[str, str], *, existing: bool) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, key in enumerate(COLUMNS):
            text = name if key == "station" else trainee if key == "trainee" else devices.get(key, "")
            self.table.setItem(row, col, QtWidgets.QTableWidgetItem(text))
        if existing:   # a station of the running class keeps its name (its recording has it)
            item = self.table.item(row, 0)
            item.setFlags(item.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)

    def _next_name(self) -> str:
        taken = {self.table.item(r, 0).text().strip() for r in range(self.table.rowCount())}
        k = self.table.rowCount() + 1
        while f"table {k}" in taken:
            k += 1
        return f"table {k}"

    def rows(self) -> list[dict[str, str]]:
        """What the table shows, one dict a row (empty rows left out)."""
        out = []
        for r in range(self.table.rowCount()):
            cells = {key: (self.table.item(r, c).text() if self.table.item(r, c) else "").strip()
                     for c, key in enumerate(COLUMNS)}
            if any(cells.values()):
                out.append(cells)
        return out

    def _show_free(self) -> None:
        if self.known_devices is None:
            self.free.setText("")
            return
        placed = {cells[key] for cells in self.rows() for key in COLUMNS[2:] if cells[key]}
        free = sorted(self.known_devices - placed)
        self.free.setText("Devices with a login here and no station: " + (", ".join(free) if free else "none"))

    def try_apply(self) -> bool:
        """Apply the table; True if the room took it (the dialog then closes)."""
        try:
            self.later = self._apply(self.rows())
        except RoomError as exc:
            self._say(str(exc), ok=False)
            return False
        self.error.setText("")
        self.accept()
        return True
