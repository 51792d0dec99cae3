"""The pairing screen: a thin Qt face on `app.pairing` (which finds, merges, assigns and
remembers; everything with a rule in it is there, tested without Qt)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.pairing import (
    ROLES,
    FoundDevice,
    PairingError,
    PairingModel,
    Sighting,
    StationChoice,
    StationDiscovery,
    UsbScanner,
    WifiScanner,
    role_label,
)


class PairingDialog(QtWidgets.QDialog):
    """The pairing screen: the devices found (refreshed every ``refresh_ms``), a role for
    each, "Use this station" when the station can start (the assignment is saved then).

    ``discover`` is called on a worker thread and returns `FoundDevice`s (by default
    `StationDiscovery` over the USB ports and, with ``broker``, the broker's HELLOs)."""

    REFRESH_MS = 2000
    _found = QtCore.Signal(object)            # list[FoundDevice], from the worker thread

    def __init__(self, model: PairingModel | None = None,
                 discover: Callable[[], Sequence[FoundDevice]] | None = None, *,
                 broker: tuple[str, int] | None = None, room: str | None = None,
                 refresh_ms: int | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model or PairingModel()
        self._wifi: WifiScanner | None = None
        if discover is None:
            sources: list[Callable[[], Sequence[Sighting]]] = [UsbScanner()]
            if broker is not None:
                self._wifi = WifiScanner(broker[0], broker[1], room)
                self._wifi.start()
                sources.append(self._wifi)
            discover = StationDiscovery(sources)
        self._discover = discover
        self._busy = False
        self._combos: dict[str, QtWidgets.QComboBox] = {}
        self.choice: StationChoice | None = None
        self.setWindowTitle(f"Pair the devices of {self.model.station}")
        self.setStyleSheet(theme.app_stylesheet())

        title = QtWidgets.QLabel(f"Pair the devices of {self.model.station}")
        title.setFont(theme.font(18, bold=True))
        intro = QtWidgets.QLabel("Devices on USB and on WiFi. Give each the role it plays in "
                                 "this station; the station remembers it for next time.")
        intro.setWordWrap(True)
        intro.setFont(theme.font(11))
        self.table = QtWidgets.QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Device", "Announces", "Firmware", "Found on",
                                              "Role in this station", "Notes"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFont(theme.font(11))
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)   # the choosers take focus
        header = self.table.horizontalHeader()
        header.setFont(theme.font(10, bold=True))
        for col in range(5):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setStyleSheet(f"QTableWidget {{ background: {theme.PANEL}; gridline-color: "
                                 f"{theme.GRID}; }} QHeaderView::section {{ background: #2b333e; "
                                 f"color: {theme.TEXT}; padding: 4px; border: 0; }}")
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setFont(theme.font(11, bold=True))
        self.message.setStyleSheet(f"color: {theme.ALERT_AMBER};")
        self.hint = QtWidgets.QLabel()
        self.hint.setWordWrap(True)
        self.hint.setFont(theme.font(11))
        self.status = QtWidgets.QLabel("Looking for devices…")
        self.status.setFont(theme.font(10))
        self.status.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.refresh_button = QtWidgets.QPushButton("Look again")
        self.refresh_button.clicked.connect(self.refresh)
        self.use_button = QtWidgets.QPushButton("Use this station")
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self.accept)
        cancel = QtWidgets.QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(cancel)
        buttons.addWidget(self.use_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        self._found.connect(self._take_found)     # queued: emitted by the worker thread
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(refresh_ms or self.REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        if self.model.problem:
            self._say(self.model.problem)
        self._fill()

    # -- discovery ---------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()

    def done(self, result: int) -> None:
        if self._wifi is not None:
            self._wifi.stop()
        super().done(result)

    def refresh(self) -> None:
        """Ask the sources on a worker thread (one at a time); the list follows the answer."""
        if self._busy:
            return
        self._busy = True

        def work() -> None:
            try:
                found: Any = list(self._discover())
            except Exception as exc:  # noqa: BLE001 - shown, and asked again next refresh
                found = exc
            self._found.emit(found)

        threading.Thread(target=work, name="station-discovery", daemon=True).start()

    def show_found(self, found: Sequence[FoundDevice]) -> None:
        """Take a discovery's answer at once (what the worker's answer goes through)."""
        self._take_found(list(found))

    def _take_found(self, found: Any) -> None:
        self._busy = False
        if isinstance(found, Exception):
            self.status.setText(f"Could not look for devices: {found}")
            return
        self.model.update(found)
        problems = getattr(self._discover, "problems", [])
        n = sum(not d.missing for d in self.model.found())
        self.status.setText("; ".join(problems) if problems else
                            f"{n} device(s) found; looking again every "
                            f"{self.timer.interval() / 1000:g} s.")
        self._fill()

    # -- the table ---------------------------------------------------------------------------
    def _fill(self) -> None:
        """Bring the table up to the model: rows are rebuilt only when the devices listed
        change (a row's role chooser must not be replaced while the user is using it);
        otherwise texts and choices are updated in place."""
        devices = self.model.found()
        ids = [d.device_id for d in devices]
        if ids != list(self._combos):
            self.table.clearContents()          # deletes the old rows' choosers
            self.table.setRowCount(len(devices))
            self._combos = {}
            for row, d in enumerate(devices):
                combo = QtWidgets.QComboBox()
                combo.setFont(theme.font(11))
                combo.addItem("not used", None)
                for role in ROLES:
                    combo.addItem(role_label(role), role)
                combo.currentIndexChanged.connect(
                    lambda _i, device_id=d.device_id, box=combo: self._chosen(device_id, box))
                self.table.setCellWidget(row, 4, combo)
                self._combos[d.device_id] = combo
        for row, d in enumerate(devices):
            cells = {0: d.device_id, 1: role_label(d.role), 2: d.firmware or "\u2014",
                     3: d.state(), 5: "; ".join(self.model.notes(d.device_id))}
            for col, text in cells.items():
                item = QtWidgets.QTableWidgetItem(text)
                if d.missing or d.online is False:
                    item.setForeground(theme.qcolor(theme.ALERT_AMBER if col in (3, 5)
                                                    else theme.TEXT_DIM))
                self.table.setItem(row, col, item)
            combo = self._combos[d.device_id]
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(self.model.role_of(d.device_id))))
            combo.blockSignals(False)
        self.table.resizeRowsToContents()
        self._update_use()

    def role_box(self, device_id: str) -> QtWidgets.QComboBox:
        """The role chooser of ``device_id``'s row."""
        return self._combos[device_id]

    def _chosen(self, device_id: str, box: QtWidgets.QComboBox) -> None:
        role = box.currentData()
        try:
            self.model.assign(device_id, role)
        except PairingError as exc:
            self._say(str(exc))
            box.blockSignals(True)
            box.setCurrentIndex(max(0, box.findData(self.model.role_of(device_id))))
            box.blockSignals(False)
            return
        self._say("")
        if [d.device_id for d in self.model.found()] == list(self._combos):
            self._fill()
        else:
            # a row goes (a missing device set to "not used"): rebuilt once this chooser's
            # signal has returned, as the chooser goes with its row
            QtCore.QTimer.singleShot(0, self._fill)

    def _say(self, error: str) -> None:
        """Show a refusal (amber), or with none, what still keeps the station from starting
        (plain)."""
        self._error = error
        self._update_use()

    def _update_use(self) -> None:
        problems = self.model.problems()
        self.use_button.setEnabled(not problems)
        self.use_button.setToolTip("\n".join(problems))
        self.message.setText(getattr(self, "_error", ""))
        self.message.setVisible(bool(self.message.text()))
        self.hint.setText(" ".join(problems) or "Ready: \u201cUse this station\u201d saves the "
                          "pairing and starts the session.")

    def accept(self) -> None:
        """Save the assignment and close, or say why the station cannot start yet."""
        try:
            self.choice = self.model.choice()
        except PairingError as exc:
            self._say(str(exc))
            return
        try:
            self.model.remember()
        except OSError as exc:
            # The station can still be used; only next time's defaults are lost.
            self._say(f"Could not save the pairing in {self.model.memory.path}: {exc}")
        super().accept()


def pair_station(station: str, *, broker: tuple[str, int] | None = None, room: str | None = None,
                 parent: QtWidgets.QWidget | None = None) -> StationChoice | None:
    """Show the pairing screen for ``station`` (devices on USB, and on ``broker``'s WiFi when
    given); the paired station, saved for next time, or None if the user cancelled."""
    dialog = PairingDialog(PairingModel(station), broker=broker, room=room, parent=parent)
    accepted = dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted
    return dialog.choice if accepted else None
