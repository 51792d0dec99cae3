"""Feedback modes, the instructor layout, and `glovecoach demo` headless."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6 import QtGui

from glovecoach.app.live_view import INSTRUCTOR_SCALE, LiveView
from glovecoach.app.session import SessionModel
from glovecoach.app.sources import simulated_session
from glovecoach.calibration import Calibration
from glovecoach.protocols import default_protocol


def _fed_view(qtbot, duration_s: float = 15.0) -> LiveView:
    session = simulated_session("excessive_force_kneading", 1, 395.0, duration_s)
    model = SessionModel(protocol=default_protocol(),
                         calibration=Calibration.nominal_for(session.channels),
                         channels=session.channels, rate_hz=session.rate_hz)
    model.process_raw(0, session.raw)
    view = LiveView(model)
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    view.redraw()
    return view


def test_blind_mode_shows_nothing_but_records(qtbot):
    view = _fed_view(qtbot, duration_s=10.0)       # 395-405 s: before the thumb overforce
    assert not any(a.kind == "overforce" for a in view.model.alerts.log)
    view.set_mode("blind")
    later = simulated_session("excessive_force_kneading", 1, 405.0, 10.0)
    view.model.process_raw(view.model.end_index, later.raw)
    view.redraw()
    for widget in (view.plots, view.hand_map, view.spine_map, view.banner, view.phase_bar,
                   view.log):
        assert not widget.isVisible()
    assert view.blind_notice.isVisible() and "Recording" in view.blind_notice.text()
    # the engine still judged everything (the debrief shows it), the trainee saw none of it
    assert any(a.kind == "overforce" for a in view.model.alerts.log)
    assert not any("thumb" in line for line in view.log.lines())
    view.set_mode("continuous")
    view.redraw()
    assert any("thumb" in line for line in view.log.lines())


def test_alerts_only_mode_keeps_alerts_and_hides_plots(qtbot):
    view = _fed_view(qtbot)
    view.set_mode("alerts_only")
    view.redraw()
    assert view.banner.isVisible() and view.log.isVisible()
    assert not view.plots.isVisible() and not view.hand_map.isVisible()
    assert not view.phase_bar.isVisible()
    view.set_mode("continuous")
    assert view.plots.isVisible() and view.hand_map.isVisible() and view.phase_bar.isVisible()


def test_instructor_layout_scales_the_type(qtbot):
    view = _fed_view(qtbot)
    normal = view.banner.text.font().pointSizeF()
    view.set_instructor(True)
    view.redraw()
    big = view.banner.text.font().pointSizeF()
    assert big == normal * INSTRUCTOR_SCALE
    assert big >= 36          # capitals ~10 mm high on a 24" 1080p screen: readable at 3 m
    assert view.phase_bar.scale == INSTRUCTOR_SCALE and view.hand_map.scale == INSTRUCTOR_SCALE
    assert not view.log.isVisible()


def test_demo_command_saves_a_screenshot(tmp_path):
    shot = tmp_path / "demo.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "glovecoach", "demo", "--seconds", "3", "--screenshot", str(shot),
         "--sessions", str(tmp_path / "sessions")],
        capture_output=True, text=True, env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    image = QtGui.QImage(str(shot))
    assert image.width() >= 1200 and image.height() >= 800
    recordings = list((tmp_path / "sessions").glob("*.gcrec"))
    assert len(recordings) == 1 and recordings[0].stat().st_size > 10_000
