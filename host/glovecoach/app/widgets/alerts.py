"""The alert banner (large, colour + symbol + words, readable across a room) and the log."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtWidgets

from glovecoach.app import theme
from glovecoach.app.session import Alert

SYMBOLS = {"danger": "\u26A0", "warning": "\u25B2", "info": "\u2139"}
SEVERITY_WORDS = {"danger": "STOP", "warning": "CHECK", "info": "NOTE"}
# The quiet "No alerts" line: (text, symbol) points, about half the alert's type
QUIET_PT = (11.0, 16.0)


class AlertBanner(QtWidgets.QFrame):
    """Shows the worst current alert big, and how many more there are."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = 1.0
        self.held_height: int | None = None   # hold_height(): the same height with or without an alert
        self._shown: list[Alert] = []
        self._seen: list[tuple] = []
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        self.symbol = QtWidgets.QLabel()
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.more = QtWidgets.QLabel()
        layout.addWidget(self.symbol)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.more)
        self.set_type_scale(1.0)
        self.show_alerts([])

    def set_type_scale(self, scale: float) -> None:
        self.scale = scale
        self.show_alerts(self._shown, force=True)

    def _set_fonts(self, alerting: bool) -> None:
        """Full size for an alert; a slim one-line status when there is none, so an empty
        "No alerts" box never takes the height the plots need (the alert, when it comes, is
        worth the jump: it is what must be seen)."""
        text_pt, symbol_pt = (20.0, 30.0) if alerting else QUIET_PT
        self.symbol.setFont(theme.font(symbol_pt * self.scale, bold=True))
        self.text.setFont(theme.font(text_pt * self.scale, bold=alerting))
        self.more.setFont(theme.font(12 * self.scale))
        margin = (6 if alerting else 3) if self.scale > 1.5 else (8 if alerting else 3)
        self.layout().setContentsMargins(14, margin, 14, margin)
        self.setMinimumHeight(self.held_height or 0)

    def hold_height(self, height: int) -> None:
        """Keep this height whether an alert shows or not, so that when one begins nothing
        else on the screen moves (a jump resizes every plot below in the alert's own frame)."""
        self.held_height = int(height)
        self.setFixedHeight(self.held_height)

    @property
    def shown(self) -> list[Alert]:
        return list(self._shown)

    def message(self) -> str:
        return self.text.text()

    def show_alerts(self, alerts: Sequence[Alert], force: bool = False) -> None:
        alerts = list(alerts)
        seen = [(a.key, a.shown_message, a.at_s) for a in alerts]
        if not force and seen == self._seen:
            return
        self._shown = alerts
        self._seen = seen
        self._set_fonts(bool(alerts))
        if not alerts:
            bg, fg = theme.PANEL, theme.TEXT_DIM
            self.symbol.setText("\u2714")
            self.text.setText("No alerts")
            self.more.setText("")
        else:
            top = alerts[0]
            bg = theme.SEVERITY_COLOURS[top.severity]
            fg = "#ffffff" if top.severity == "danger" else "#0e1116"
            self.symbol.setText(SYMBOLS[top.severity])
            self.text.setText(f"{SEVERITY_WORDS[top.severity]}: {top.shown_message}")
            self.more.setText(f"+{len(alerts) - 1} more" if len(alerts) > 1 else "")
        self.setStyleSheet(f"AlertBanner {{ background: {bg}; border-radius: 8px; }}"
                           f"QLabel {{ color: {fg}; background: transparent; }}")


class AlertLog(QtWidgets.QListWidget):
    """Every alert with its session time, newest at the bottom."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._n = 0
        self.set_type_scale(1.0)

    def set_type_scale(self, scale: float) -> None:
        self.setFont(theme.font(10 * scale))
        self.setStyleSheet(f"QListWidget {{ background: {theme.PANEL}; color: {theme.TEXT};"
                           f" border: none; }}")

    def sync(self, log: Sequence[Alert]) -> None:
        """Append the entries not yet listed (the log only grows)."""
        if len(log) < self._n:
            self.clear()
            self._n = 0
        for alert in log[self._n:]:
            item = QtWidgets.QListWidgetItem(
                f"{theme.format_clock(alert.at_s)}  {SYMBOLS[alert.severity]} {alert.message}")
            item.setForeground(theme.qcolor(theme.SEVERITY_COLOURS[alert.severity]
                                            if alert.severity != "info" else theme.TEXT_DIM))
            self.addItem(item)
        if len(log) > self._n:
            self.scrollToBottom()
        self._n = len(log)

    def lines(self) -> list[str]:
        return [self.item(k).text() for k in range(self.count())]
