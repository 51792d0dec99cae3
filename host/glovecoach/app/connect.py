"""The connect screen: serial ports that answer as a glove, refreshed as gloves come and go,
plus the virtual glove (the real firmware playing a simulated session).

Probing a port means opening it and waiting for a HELLO, which can take a second: it runs
on a worker thread and the list is updated when the answer comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme

REFRESH_MS = 2000


def describe_glove(path: str, timeout: float = 1.5) -> str | None:
    """One line naming the glove answering on `path` (link.discovery.probe_port), or None if
    nothing answers as one."""
    from glovecoach.link.discovery import probe_port

    report = probe_port(path, timeout)
    return report.summary() if report.is_glove else None


class PortScanner:
    """Lists serial ports and probes each new one once; ports that vanish are dropped.

    Probing opens the port, which some boards answer by rebooting, so a port already known
    is not probed again while it stays present.
    """

    def __init__(self, list_ports=None, probe=describe_glove) -> None:
        self._list_ports = list_ports or self._serial_ports
        self._probe = probe
        self._known: dict[str, str | None] = {}

    @staticmethod
    def _serial_ports() -> list[str]:
        from glovecoach.link.discovery import candidate_ports

        return candidate_ports()

    def __call__(self) -> list[tuple[str, str]]:
        present = self._list_ports()
        self._known = {p: d for p, d in self._known.items() if p in present}
        for path in present:
            if path not in self._known:
                self._known[path] = self._probe(path)
        return [(p, d) for p, d in self._known.items() if d is not None]


def _scenarios() -> dict[str, str]:
    try:
        from glovecoach.simulate import SCENARIOS
    except ImportError:
        return {"good_session": "a session that follows the protocol"}
    return dict(SCENARIOS)


class ConnectPage(QtWidgets.QWidget):
    chosen = QtCore.Signal(str)   # a GloveClient URL
    _virtual_ready = QtCore.Signal(str, str)   # (url, error) from the worker rendering the signal

    def __init__(self, discover: Callable[[], Sequence[tuple[str, str]]] | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._discover = discover or PortScanner()
        self._busy = False
        self._results: list[tuple[str, str]] | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

        title = QtWidgets.QLabel("Connect a glove")
        title.setFont(theme.font(20, bold=True))
        self.ports = QtWidgets.QListWidget()
        self.ports.setFont(theme.font(12))
        self.ports.itemDoubleClicked.connect(lambda _item: self._use_port())
        self.status = QtWidgets.QLabel("Looking for gloves on the serial ports…")
        self.use_port_button = QtWidgets.QPushButton("Use this glove")
        self.use_port_button.clicked.connect(self._use_port)
        self.use_port_button.setEnabled(False)
        self.ports.currentItemChanged.connect(
            lambda cur, _prev: self.use_port_button.setEnabled(cur is not None))

        self.scenario = QtWidgets.QComboBox()
        for name, desc in _scenarios().items():
            self.scenario.addItem(f"{name} — {desc}", name)
        index = self.scenario.findData("good_session")
        self.scenario.setCurrentIndex(max(index, 0))
        self.virtual_button = QtWidgets.QPushButton("Use the virtual glove")
        self.virtual_button.clicked.connect(self._use_virtual)
        self._virtual_ready.connect(self._virtual_done)   # queued: emitted by a worker thread

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(QtWidgets.QLabel("Gloves on this computer (the list refreshes as "
                                          "gloves are plugged in):"))
        layout.addWidget(self.ports, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.use_port_button)
        layout.addSpacing(16)
        virtual = QtWidgets.QGroupBox("No glove? Practise with the virtual glove")
        vlayout = QtWidgets.QVBoxLayout(virtual)
        vlayout.addWidget(QtWidgets.QLabel("The real firmware runs on this computer and plays a "
                                           "simulated session:"))
        vlayout.addWidget(self.scenario)
        vlayout.addWidget(self.virtual_button)
        layout.addWidget(virtual)

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.poll_timer = QtCore.QTimer(self)
        self.poll_timer.setInterval(100)
        self.poll_timer.timeout.connect(self._collect)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()
        self.poll_timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()
        self.poll_timer.stop()

    def refresh(self) -> None:
        """Start a probe of the serial ports on a worker thread (one at a time)."""
        if self._busy:
            return
        self._busy = True

        def work() -> None:
            try:
                results, error = list(self._discover()), None
            except Exception as exc:  # noqa: BLE001 - shown to the user, retried next refresh
                results, error = [], f"Could not list serial ports: {exc}"
            with self._lock:
                self._results, self._error = results, error

        threading.Thread(target=work, name="glove-discovery", daemon=True).start()

    def _collect(self) -> None:
        with self._lock:
            results, error = self._results, self._error
            self._results = None
        if results is None:
            return
        self._busy = False
        current = self.ports.currentItem().data(QtCore.Qt.ItemDataRole.UserRole) \
            if self.ports.currentItem() else None
        urls = [self.ports.item(k).data(QtCore.Qt.ItemDataRole.UserRole)
                for k in range(self.ports.count())]
        if urls != [u for u, _ in results]:
            self.ports.clear()
            for url, desc in results:
                item = QtWidgets.QListWidgetItem(desc)
                item.setData(QtCore.Qt.ItemDataRole.UserRole, url)
                self.ports.addItem(item)
                if url == current:
                    self.ports.setCurrentItem(item)
        if error:
            self.status.setText(error)
        elif results:
            self.status.setText(f"{len(results)} glove(s) found.")
        else:
            self.status.setText("No glove found yet: plug one in, or use the virtual glove.")

    def port_urls(self) -> list[str]:
        return [self.ports.item(k).data(QtCore.Qt.ItemDataRole.UserRole)
                for k in range(self.ports.count())]

    def _use_virtual(self) -> None:
        """Render the chosen scenario for the virtual glove on a worker thread (about a second
        of simulation), so the window stays responsive; `chosen` follows when it is ready."""
        from glovecoach.app.sources import virtual_glove_url

        scenario = self.scenario.currentData()
        self.virtual_button.setEnabled(False)
        self.virtual_button.setText("Preparing the simulated session…")

        def work() -> None:
            try:
                self._virtual_ready.emit(virtual_glove_url(scenario, 1), "")
            except Exception as exc:  # noqa: BLE001 - shown to the user, who may try again
                self._virtual_ready.emit("", f"Could not prepare the virtual glove: {exc}")

        threading.Thread(target=work, name="virtual-glove-signal", daemon=True).start()

    def _virtual_done(self, url: str, error: str) -> None:
        self.virtual_button.setEnabled(True)
        self.virtual_button.setText("Use the virtual glove")
        if error:
            self.status.setText(error)
        else:
            self.chosen.emit(url)

    def _use_port(self) -> None:
        item = self.ports.currentItem()
        if item is not None:
            self.chosen.emit(item.data(QtCore.Qt.ItemDataRole.UserRole))
