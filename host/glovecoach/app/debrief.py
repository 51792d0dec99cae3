"""After the session: the debrief page and its HTML and PDF export.

Everything shown comes from the SessionReport (`report.to_dict()`), which the controller has
also stored in the recording as a NOTE "report"; the HTML is written next to the recording.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.debrief_widgets import RegionForceGrid, SessionTimeline
from glovecoach.app.report_html import breakdown_rows, build_html, region_rows
from glovecoach.app.widgets.maps import SpineMap
from glovecoach.app.widgets.phasebar import plan_of
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.sensors import load_sensor_map, sensor_name

EXPORT_SIZES = {"timeline": (1200, 330), "regions": (900, 0), "spine": (320, 420)}


def widget_png(widget: QtWidgets.QWidget, size: tuple[int, int]) -> bytes:
    """Render a widget off screen at `size` and return PNG bytes."""
    widget.resize(*size)
    pixmap = widget.grab()
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    return bytes(buffer.data().data())


def spine_rows(report: Mapping[str, Any]) -> tuple[list[str], list[float], dict[str, str]]:
    spine_map = report.get("spine_map") or {}
    segments = sorted(spine_map, key=lambda s: int(s.split("_")[-1]) if s[-1].isdigit() else 0)
    peaks = [float(spine_map[s].get("peak_n") or 0.0) for s in segments]
    contact = {s: "spine_contact" for s in segments
               if float(spine_map[s].get("contact_s") or 0.0) > 0}
    for ev in report.get("spine_contacts", []):
        if ev.get("segment") in spine_map:
            contact[ev["segment"]] = "spine_contact"
    return segments, peaks, contact


def breakdown_text(breakdown: Mapping[str, Any]) -> str:
    return "    \u00b7    ".join(f"{name}: {value}" for name, value in breakdown_rows(breakdown))


def region_grid(report: Mapping[str, Any], protocol: Any) -> RegionForceGrid:
    """Peak and mean force per sensor and technique of one glove's report (a station's: one
    hand's), techniques in the protocol's order."""
    rows_data = region_rows(report)
    ids = load_sensor_map().ids
    sensors = sorted(dict.fromkeys(r for r, _, _, _ in rows_data),
                     key=lambda c: ids.index(c) if c in ids else len(ids))
    order = [t for t in ("none",) + tuple(p.technique for p in protocol.phases)]
    techniques = [t for t in dict.fromkeys(order + [t for _, t, _, _ in rows_data])
                  if any(t == tt for _, tt, _, _ in rows_data)]
    cells = {(r, t): (pk, mn) for r, t, pk, mn in rows_data}
    flagged = {(e.get("region"), e.get("technique") or "none")
               for e in report.get("overforce_events", [])}
    return RegionForceGrid(sensors, techniques, cells, flagged, {s: sensor_name(s) for s in sensors})


def score_words(report: Mapping[str, Any]) -> tuple[str, str, bool]:
    """("Score 82 / 100", "\u2714 Protocol followed", passed) of a report, or of a station
    report's station part or one hand's."""
    protocol = report.get("protocol") or {}
    if protocol.get("verdict") == "no_massage":
        return "No score", "\u2716 No massage found", False
    passed = bool(protocol.get("passed"))
    total = (report.get("score") or {}).get("total", "\u2014")
    return (f"Score {total} / 100",
            "\u2714 Protocol followed" if passed else "\u2716 Protocol not followed", passed)


class DebriefView(QtWidgets.QScrollArea):
    def __init__(self, report: Mapping[str, Any], *, protocol: Any | None = None,
                 session: Any = None, recording_path: str | Path | None = None,
                 info: Mapping[str, Any] | None = None, alerts: Sequence[Mapping] | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = dict(report)
        self.protocol = protocol or (session.protocol if session is not None else None) \
            or default_protocol()
        self.info = dict(info or {})
        self.recording_path = Path(recording_path) if recording_path else None
        if alerts is None and session is not None:
            alerts = [{"kind": a.kind, "severity": a.severity, "message": a.message,
                       "at_s": a.at_s} for a in session.alerts.log]
        self.alerts = list(alerts or [])
        self.setWidgetResizable(True)
        inner = QtWidgets.QWidget()
        self.setWidget(inner)
        layout = QtWidgets.QVBoxLayout(inner)

        score = self.report.get("score") or {}
        passed = (self.report.get("protocol") or {}).get("passed")
        title = QtWidgets.QLabel(f"Debrief \u2014 {self.info.get('trainee') or 'session'}  "
                                 f"({theme.format_clock(float(self.report.get('duration_s') or 0))})")
        title.setFont(theme.font(20, bold=True))
        no_massage = (self.report.get("protocol") or {}).get("verdict") == "no_massage"
        self.score_label = QtWidgets.QLabel("No score" if no_massage else f"Score {score.get('total', '—')} / 100")
        self.score_label.setFont(theme.font(28, bold=True))
        verdict = QtWidgets.QLabel("\u2716 No massage found" if no_massage else
                                   "\u2714 Protocol followed" if passed else "\u2716 Protocol not followed")
        verdict.setFont(theme.font(16, bold=True))
        verdict.setStyleSheet(f"color: {theme.OK_TEAL if passed else theme.ALERT_RED};")
        breakdown = score.get("breakdown") or {}
        self.breakdown_label = QtWidgets.QLabel(
            "Nothing in this session was a technique held long enough to be a phase." if no_massage
            else breakdown_text(breakdown))
        self.breakdown_label.setFont(theme.font(12))
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.score_label)
        head.addSpacing(20)
        head.addWidget(verdict)
        head.addStretch(1)
        self.export_button = QtWidgets.QPushButton("Export report (HTML or PDF)…")
        self.export_button.clicked.connect(self._export_clicked)
        head.addWidget(self.export_button)
        self.replay_button = QtWidgets.QPushButton("Replay this session")
        self.replay_button.setEnabled(self.recording_path is not None)
        self.replay_button.clicked.connect(self.open_replay)
        head.addWidget(self.replay_button)
        self.replay_window: Any = None
        layout.addWidget(title)
        layout.addLayout(head)
        layout.addWidget(self.breakdown_label)
        self.calibration_label = QtWidgets.QLabel(calibration_text(self.report.get("calibration")))
        self.calibration_label.setFont(theme.font(12))
        self.calibration_label.setStyleSheet(f"color: {theme.ALERT_AMBER};")
        self.calibration_label.setVisible(bool(self.calibration_label.text()))
        layout.addWidget(self.calibration_label)

        self.timeline = self._make_timeline()
        layout.addWidget(self.timeline)
        row = QtWidgets.QHBoxLayout()
        self.region_chart = self._make_region_chart()
        self.spine = self._make_spine_map()
        self.spine.setFixedHeight(max(320, self.region_chart.preferred_height()))
        self.spine.setMinimumWidth(300)
        row.addWidget(self.region_chart, 3)
        row.addWidget(self.spine, 1)
        layout.addLayout(row)
        violations = (self.report.get("protocol") or {}).get("violations", [])
        self.violations = QtWidgets.QListWidget()
        self.violations.setFont(theme.font(11))
        for v in violations:
            at = v.get("at_s")
            self.violations.addItem(f"{theme.format_clock(at) if at is not None else '    '}  "
                                    f"\u25B2 {v.get('message') or v.get('rule')}")
        if not violations:
            self.violations.addItem("No rule broken.")
        self.violations.setMaximumHeight(160)
        layout.addWidget(QtWidgets.QLabel("Rules broken"))
        layout.addWidget(self.violations)

    def _make_timeline(self) -> SessionTimeline:
        return SessionTimeline(self.report, plan_of(self.protocol), self.protocol.session_max_s,
                               self.alerts)

    def _make_region_chart(self) -> RegionForceGrid:
        return region_grid(self.report, self.protocol)

    def _make_spine_map(self) -> SpineMap:
        segments, peaks, contact = spine_rows(self.report)
        spine = SpineMap(segments)
        spine.set_values(dict(zip(segments, peaks)), contact)
        return spine

    def images(self) -> dict[str, bytes]:
        grid = self._make_region_chart()
        return {
            "Session timeline: the protocol's plan, the phases done, and every event":
                widget_png(self._make_timeline(), EXPORT_SIZES["timeline"]),
            "Peak and mean force per region and technique":
                widget_png(grid, (1000, grid.preferred_height())),
            "Spine strip: peak force per segment (red: contact)":
                widget_png(self._make_spine_map(), EXPORT_SIZES["spine"]),
        }

    def _export_info(self) -> dict:
        """The report header's facts; the recording file's time stands in for a recording
        whose start time is not known."""
        info = {**self.info, "recording": str(self.recording_path or "")}
        if self.recording_path is not None and self.recording_path.exists():
            mtime = self.recording_path.stat().st_mtime
            info["file_time"] = _dt.datetime.fromtimestamp(mtime, _dt.UTC).isoformat()
        return info

    def export_html(self, path: str | Path) -> Path:
        path = Path(path)
        info = self._export_info()
        path.write_text(build_html(self.report, info, self.images(), self.alerts),
                        encoding="utf-8")
        return path

    def export_pdf(self, path: str | Path) -> Path:
        from glovecoach.app.report_pdf import write_pdf

        info = self._export_info()
        return write_pdf(path, self.report, info, self.images(), self.alerts)

    def export(self, path: str | Path) -> Path:
        """Write the report as HTML or PDF, by the file's suffix."""
        suffix = Path(path).suffix.lower()
        if suffix == ".pdf":
            return self.export_pdf(path)
        if suffix in (".html", ".htm"):
            return self.export_html(path)
        raise ValueError(f"{path}: a report is .html or .pdf, not {suffix or 'no suffix'}")

    def open_replay(self) -> Any:
        from glovecoach.app.replay import ReplayWindow

        if self.recording_path is None:
            return None
        self.replay_window = ReplayWindow(self.recording_path, protocol=self.protocol)
        self.replay_window.show()
        return self.replay_window

    def _export_clicked(self) -> None:
        default = str(self.recording_path.with_suffix(".html")) if self.recording_path else ""
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export report", default, "HTML report (*.html);;PDF report (*.pdf)")
        if not path:
            return
        if not Path(path).suffix:
            path += ".pdf" if "pdf" in chosen.lower() else ".html"
        try:
            self.export(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(self, "Export report", f"The report was not saved: {exc}")


def calibration_text(calibration: Mapping[str, Any] | None) -> str:
    """What a person must know about the forces shown: empty for a calibrated glove."""
    if not calibration or not calibration.get("nominal"):
        return ""
    return ("\u26A0 Forces are approximate: this glove has no calibration, so they come from the "
            "typical sensor curve (run glovecoach calibrate).")

