"""Before a session: contraindication screening, trainee, protocol, checklist.

Each screening question from the protocol file must be answered. Any "yes" stops the
session there, with the question that stopped it; nothing is recorded. The answers, the
trainee, the protocol and the ticked checklist go with the session (`session_info()`),
which the controller stores as a NOTE in the recording.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.protocols import ProtocolError, default_protocol, load_protocol


class ScreeningPage(QtWidgets.QWidget):
    accepted = QtCore.Signal(object, dict)   # (Protocol, session_info)
    refused = QtCore.Signal(str)             # the reason shown

    def __init__(self, protocol: Any | None = None, trainee: str = "",
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.protocol = protocol or default_protocol()
        self.answers: dict[str, QtWidgets.QButtonGroup] = {}
        self.checks: dict[str, QtWidgets.QCheckBox] = {}

        title = QtWidgets.QLabel("Before the session")
        title.setFont(theme.font(20, bold=True))
        self.trainee = QtWidgets.QLineEdit(trainee)
        self.trainee.setPlaceholderText("Trainee's name")
        self.protocol_label = QtWidgets.QLabel()
        choose = QtWidgets.QPushButton("Other protocol file…")
        choose.clicked.connect(self._choose_protocol)
        form = QtWidgets.QFormLayout()
        form.addRow("Trainee", self.trainee)
        proto_row = QtWidgets.QHBoxLayout()
        proto_row.addWidget(self.protocol_label, 1)
        proto_row.addWidget(choose)
        form.addRow("Protocol", proto_row)

        self.questions_box = QtWidgets.QGroupBox(
            "Screening: ask the partner each question (any \u201cyes\u201d: no massage today, "
            "see a doctor first)")
        self.checklist_box = QtWidgets.QGroupBox("Checklist")
        self.reason = QtWidgets.QLabel()
        self.reason.setWordWrap(True)
        self.reason.setFont(theme.font(13, bold=True))
        self.start_button = QtWidgets.QPushButton("Start session")
        self.start_button.setFont(theme.font(13, bold=True))
        self.start_button.clicked.connect(self.try_start)

        inner = QtWidgets.QWidget()
        inner_layout = QtWidgets.QVBoxLayout(inner)
        inner_layout.addWidget(self.questions_box)
        inner_layout.addWidget(self.checklist_box)
        inner_layout.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.reason)
        # why Start is disabled, said beside it (a tooltip is never seen on a touch screen
        # and rarely with a mouse): updated with every keystroke and tick
        self.start_hint = QtWidgets.QLabel()
        self.start_hint.setWordWrap(True)
        self.start_hint.setFont(theme.font(12, bold=True))
        self.start_hint.setStyleSheet(f"color: {theme.ALERT_AMBER};")
        start_row = QtWidgets.QHBoxLayout()
        start_row.addWidget(self.start_button)
        start_row.addSpacing(12)
        start_row.addWidget(self.start_hint, 1)
        layout.addLayout(start_row)
        self.setStyleSheet(theme.indicator_stylesheet())
        self._build()
        self.trainee.textChanged.connect(self._update_ready)

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol
        self._build()

    def _choose_protocol(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Protocol file", "",
                                                        "Protocol (*.toml)")
        if not path:
            return
        try:
            self.set_protocol(load_protocol(path))
        except ProtocolError as exc:
            QtWidgets.QMessageBox.warning(self, "Protocol file", str(exc))

    def _build(self) -> None:
        self.protocol_label.setText(self.protocol.name)
        for box in (self.questions_box, self.checklist_box):
            old = box.layout()
            if old is not None:
                QtWidgets.QWidget().setLayout(old)   # detach the old layout and its widgets
        grid = QtWidgets.QGridLayout(self.questions_box)
        self.answers = {}
        for row, q in enumerate(self.protocol.screening):
            label = QtWidgets.QLabel(q.question)
            label.setWordWrap(True)
            yes, no = QtWidgets.QRadioButton("Yes"), QtWidgets.QRadioButton("No")
            group = QtWidgets.QButtonGroup(self)
            group.addButton(yes, 1)
            group.addButton(no, 0)
            group.idToggled.connect(lambda *_: self._update_ready())
            grid.addWidget(label, row, 0)
            grid.addWidget(yes, row, 1)
            grid.addWidget(no, row, 2)
            grid.setColumnStretch(0, 1)
            self.answers[q.id] = group
        checks = QtWidgets.QVBoxLayout(self.checklist_box)
        self.checks = {}
        for item in self.protocol.checklist:
            check = QtWidgets.QCheckBox(item.item)
            check.toggled.connect(lambda *_: self._update_ready())
            checks.addWidget(check)
            self.checks[item.id] = check
        self.reason.setText("")
        self._update_ready()

    # -- answering (also used by tests and the demo) -------------------------------------
    def answer(self, question_id: str, yes: bool) -> None:
        self.answers[question_id].button(1 if yes else 0).setChecked(True)

    def answer_all_no(self) -> None:
        for qid in self.answers:
            self.answer(qid, False)

    def tick_all(self) -> None:
        for box in self.checks.values():
            box.setChecked(True)

    def unanswered(self) -> list[str]:
        return [qid for qid, g in self.answers.items() if g.checkedId() < 0]

    def missing(self) -> list[str]:
        """What still keeps Start disabled, as actions ("enter the trainee's name", ...)."""
        missing = []
        if not self.trainee.text().strip():
            missing.append("enter the trainee's name")
        unanswered = len(self.unanswered())
        if unanswered:
            missing.append(f"answer {unanswered} more screening question"
                           f"{'s' if unanswered > 1 else ''}")
        unticked = sum(1 for b in self.checks.values() if not b.isChecked())
        if unticked:
            missing.append(f"tick {unticked} more checklist item{'s' if unticked > 1 else ''}")
        return missing

    def start_hint_text(self) -> str:
        missing = self.missing()
        if not missing:
            return ""
        actions = missing[0] if len(missing) == 1 else \
            ", ".join(missing[:-1]) + " and " + missing[-1]
        return f"{actions[0].upper()}{actions[1:]} to start."

    def _update_ready(self) -> None:
        missing = self.missing()
        self.start_button.setEnabled(not missing)
        hint = self.start_hint_text()
        self.start_hint.setText(hint)
        self.start_button.setToolTip(hint)

    def yes_answers(self) -> list[Any]:
        return [q for q in self.protocol.screening if self.answers[q.id].checkedId() == 1]

    def session_info(self) -> dict:
        return {
            "trainee": self.trainee.text().strip(),
            "protocol": self.protocol.name,
            "protocol_source": str(getattr(self.protocol, "source", "")),
            "screening": {q.id: {"question": q.question,
                                 "answer": "yes" if self.answers[q.id].checkedId() == 1 else "no"}
                          for q in self.protocol.screening},
            "checklist": {item.id: {"item": item.item, "done": self.checks[item.id].isChecked()}
                          for item in self.protocol.checklist},
            "answered_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }

    def try_start(self) -> bool:
        """Start if everything is answered and nothing contraindicates; else say why not."""
        if not self.start_button.isEnabled():
            return False
        yes = self.yes_answers()
        if yes:
            reason = ("No massage today. The partner answered yes to: "
                      + "; ".join(f"\u201c{q.question}\u201d" for q in yes)
                      + " See a doctor before a massage.")
            self.reason.setText(reason)
            self.reason.setStyleSheet(f"color: {theme.ALERT_RED};")
            self.refused.emit(reason)
            return False
        self.reason.setText("")
        self.accepted.emit(self.protocol, self.session_info())
        return True
