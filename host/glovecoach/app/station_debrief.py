"""The debrief page of a station: both hands, from the station's report.

The station's score and verdict, one timeline with each hand's rows
(`station_report.StationTimeline`), the spine map between the hands' force grids (the
one-glove debrief's `region_grid`, one per hand), and the station's broken rules; exported
as HTML or PDF with the same pictures by `station_report.write_station_report`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.debrief import DebriefView, region_grid, score_words, spine_rows
from glovecoach.app.debrief_widgets import RegionForceGrid
from glovecoach.app.report_html import (
    agreement_text,
    instructor_rows,
    roles_text,
    station_as_session,
    station_hands,
)
from glovecoach.app.station_report import StationTimeline, write_station_report
from glovecoach.app.widgets.maps import SpineMap
from glovecoach.app.widgets.phasebar import plan_of
from glovecoach.protocols import default_protocol

GAP_WORTH_SAYING_S = 0.1


class StationDebriefView(QtWidgets.QScrollArea):
    """The debrief of a station (`StationReport.to_dict()`): the station's score and verdict,
    one timeline with both hands' rows (`station_report.StationTimeline`), the spine map, and
    per hand its score and force grid; exported as HTML or PDF by
    `station_report.write_station_report` (the same pictures)."""

    def __init__(self, report: Mapping[str, Any], *, protocol: Any | None = None,
                 recording_path: str | Path | None = None, info: Mapping[str, Any] | None = None,
                 alerts: Sequence[Mapping] = (), parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = dict(report)
        self.station = station_as_session(self.report)
        self.hands = station_hands(self.report)
        self.protocol = protocol or default_protocol()
        self.info = dict(info or {})
        self.recording_path = Path(recording_path) if recording_path else None
        self.alerts = list(alerts)
        self.replay_window: Any = None
        self.setWidgetResizable(True)
        # everything here stretches to the width (1366 px is enough): only the height scrolls
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QtWidgets.QWidget()
        self.setWidget(inner)
        layout = QtWidgets.QVBoxLayout(inner)

        duration = theme.format_clock(float(self.report.get("duration_s") or 0))
        who = self.info.get("trainee") or "station session"
        title = QtWidgets.QLabel(f"Station debrief \u2014 {who}  ({duration})")
        title.setFont(theme.font(20, bold=True))
        score, verdict_text, passed = score_words(self.station)
        self.score_label = QtWidgets.QLabel(score)
        self.score_label.setFont(theme.font(28, bold=True))
        verdict = QtWidgets.QLabel(verdict_text)
        verdict.setFont(theme.font(16, bold=True))
        verdict.setStyleSheet(f"color: {theme.OK_TEAL if passed else theme.ALERT_RED};")
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.score_label)
        head.addSpacing(20)
        head.addWidget(verdict)
        head.addStretch(1)
        self.export_button = QtWidgets.QPushButton("Export report (HTML or PDF)\u2026")
        self.export_button.clicked.connect(self._export_clicked)
        head.addWidget(self.export_button)
        self.replay_button = QtWidgets.QPushButton("Replay this session")
        self.replay_button.setEnabled(self.recording_path is not None)
        self.replay_button.clicked.connect(self.open_replay)
        head.addWidget(self.replay_button)
        layout.addWidget(title)
        layout.addLayout(head)
        facts = [f"Devices: {roles_text(self.station.get('roles') or [])}.",
                 agreement_text(self.station, self.hands)]
        for role, spans in (self.station.get("device_gaps") or {}).items():
            lost = sum(float(g.get("end_s", 0)) - float(g.get("start_s", 0)) for g in spans)
            # the devices start streaming a few ms apart: a gap under GAP_WORTH_SAYING_S is
            # that, not a device that dropped out (the timeline hatches every gap anyway)
            if lost >= GAP_WORTH_SAYING_S:
                facts.append(f"{role.replace('_', ' ').capitalize()} missing {len(spans)} time(s), "
                             f"{lost:.1f} s in all: nothing of it is judged.")
        self.facts_label = QtWidgets.QLabel("   ".join(facts))
        self.facts_label.setFont(theme.font(12))
        self.facts_label.setWordWrap(True)
        layout.addWidget(self.facts_label)
        uncalibrated = list(self.info.get("uncalibrated") or [])
        self.calibration_label = QtWidgets.QLabel(
            "\u26A0 Forces are approximate for the " + ", ".join(r.replace("_", " ") for r in uncalibrated)
            + ": no calibration, so they come from the typical sensor curve (run glovecoach calibrate)."
            if uncalibrated else "")
        self.calibration_label.setFont(theme.font(12))
        self.calibration_label.setStyleSheet(f"color: {theme.ALERT_AMBER};")
        self.calibration_label.setWordWrap(True)
        self.calibration_label.setVisible(bool(uncalibrated))
        layout.addWidget(self.calibration_label)

        self.timeline = StationTimeline(self.report, plan_of(self.protocol), self.protocol.session_max_s)
        layout.addWidget(self.timeline)

        # per hand its score and force grid, the strip between them (as in the live view)
        row = QtWidgets.QHBoxLayout()
        self.hand_boxes: dict[str, QtWidgets.QWidget] = {}
        self.grids: dict[str, RegionForceGrid] = {}
        hand_reports = self.report.get("hands") or {}
        for k, hand in enumerate(self.hands):
            box = QtWidgets.QWidget()
            col = QtWidgets.QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            hand_score, hand_verdict, hand_passed = score_words(hand_reports[hand])
            label = QtWidgets.QLabel(f"{hand.capitalize()} hand \u00B7 {hand_score} \u00B7 {hand_verdict}")
            label.setFont(theme.font(14, bold=True))
            label.setStyleSheet(f"color: {theme.TEXT if hand_passed else theme.ALERT_AMBER};")
            col.addWidget(label)
            grid = region_grid(hand_reports[hand], self.protocol)
            grid.setMinimumHeight(grid.preferred_height())
            col.addWidget(grid, 1)
            self.grids[hand] = grid
            self.hand_boxes[hand] = box
            if k == 1 or len(self.hands) == 1:
                row.addWidget(self._spine_box(), 0)
            row.addWidget(box, 1)
        if not self.hands:
            row.addWidget(self._spine_box(), 0)
        layout.addLayout(row)

        violations = (self.station.get("protocol") or {}).get("violations", [])
        self.violations = QtWidgets.QListWidget()
        self.violations.setFont(theme.font(11))
        for v in violations:
            at = v.get("at_s")
            self.violations.addItem(f"{theme.format_clock(at) if at is not None else '    '}  "
                                    f"\u25B2 {v.get('message') or v.get('rule')}")
        if not violations:
            self.violations.addItem("No rule broken.")
        self.violations.setMaximumHeight(160)
        layout.addWidget(QtWidgets.QLabel("Rules broken (the station)"))
        layout.addWidget(self.violations)
        # A class's station: what the instructor marked and said, from the recording.
        self.instructor = QtWidgets.QListWidget()
        self.instructor.setFont(theme.font(11))
        self.instructor.setMaximumHeight(120)
        for at, what, text in instructor_rows(self.info):
            label = "\u2691 marked" if what == "marked" else "\u2709 message"
            self.instructor.addItem(f"{at:>5}  {label}" + (f": {text}" if text else ""))
        self.instructor_title = QtWidgets.QLabel("From the instructor")
        for widget in (self.instructor_title, self.instructor):
            widget.setVisible(self.instructor.count() > 0)
            layout.addWidget(widget)

    def _spine_box(self) -> QtWidgets.QWidget:
        self.spine = SpineMap([])
        if self.station.get("spine_check") is not False:
            segments, peaks, contact = spine_rows(self.station)
            self.spine = SpineMap(segments)
            self.spine.set_values(dict(zip(segments, peaks)), contact)
        self.spine.setFixedWidth(260)
        self.spine.setMinimumHeight(320)
        return self.spine

    def _export_info(self) -> dict:
        info = {**self.info, "recording": str(self.recording_path or "")}
        if self.recording_path is not None and self.recording_path.exists():
            mtime = self.recording_path.stat().st_mtime
            info["file_time"] = _dt.datetime.fromtimestamp(mtime, _dt.UTC).isoformat()
        return info

    def export(self, path: str | Path) -> Path:
        """Write the station report as HTML or PDF, by the file's suffix."""
        return write_station_report(path, self.report, self._export_info(), self.protocol, self.alerts)

    def export_html(self, path: str | Path) -> Path:
        return self.export(Path(path))

    def open_replay(self) -> Any:
        from glovecoach.app.replay import ReplayWindow

        if self.recording_path is None:
            return None
        self.replay_window = ReplayWindow(self.recording_path, protocol=self.protocol)
        self.replay_window.show()
        return self.replay_window

    _export_clicked = DebriefView._export_clicked
