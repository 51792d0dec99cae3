"""A glove without calibration runs on the nominal sensor curve, and the screens say so."""

from __future__ import annotations

import json

from glovecoach.app.debrief import DebriefView
from glovecoach.pipeline.analysis import analyze_recording
from glovecoach.protocols import default_protocol
from glovecoach.recording import open_recording
from glovecoach.simulate import simulate, write_recording


def _report(tmp_path, calibration=None):
    session = simulate("good_session", 2).cut(0.0, 30.0)
    path = write_recording(session, tmp_path / "short.gcrec")
    recording = open_recording(path)
    return analyze_recording(recording, default_protocol(), calibration=calibration,
                             calibration_dir=tmp_path / "no-calibrations").to_dict()


def test_debrief_of_an_uncalibrated_glove_says_forces_are_approximate(qtbot, tmp_path):
    report = _report(tmp_path)
    assert report["calibration"]["nominal"] is True
    debrief = DebriefView(report, protocol=default_protocol())
    qtbot.addWidget(debrief)
    assert debrief.calibration_label.isVisibleTo(debrief)
    assert "no calibration" in debrief.calibration_label.text()


def test_debrief_of_a_calibrated_glove_has_no_notice(qtbot, tmp_path):
    report = _report(tmp_path)
    report = json.loads(json.dumps(report))
    report["calibration"] = {"nominal": False, "glove_id": "GC-0001", "source": "GC-0001.json"}
    debrief = DebriefView(report, protocol=default_protocol())
    qtbot.addWidget(debrief)
    assert not debrief.calibration_label.isVisibleTo(debrief)
    assert debrief.calibration_label.text() == ""


def test_score_breakdown_never_rounds_a_shortfall_away():
    from glovecoach.app.report_html import breakdown_rows

    rows = dict(breakdown_rows({"force_within_window_pct": 99.62, "timing": 100.0,
                                "violations": 2}))
    assert rows["Force inside the window"] == "99.6 %"     # not "100 %" beside 2 violations
    assert rows["Phase timing"] == "100 %"
    assert dict(breakdown_rows({"timing": 0.2}))["Phase timing"] == "0.2 %"
    assert dict(breakdown_rows({"timing": 87.4}))["Phase timing"] == "87 %"
