"""Feedback modes, the instructor layout, and `glovecoach demo` headless."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6 import QtGui

from glovecoach.app.live_view import INSTRUCTOR_BANNER_SCALE, INSTRUCTOR_SCALE, LiveView
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
    assert big == normal * INSTRUCTOR_BANNER_SCALE
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


FULL_SCREEN_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from glovecoach.app.qt import MONITOR_1080P_24IN_MM_PER_PX as MM_PER_PX, ensure_app, save_window
app = ensure_app()
from PySide6 import QtGui
from glovecoach.app.main_window import MainWindow
from glovecoach.app.sources import virtual_glove_url

work = Path(sys.argv[1])
url = virtual_glove_url("spine_contact_stroking", 1, start_s=float(sys.argv[2]), duration_s=12,
                        directory=work)
window = MainWindow(url, sessions=work / "sessions", trainee="Instructor test")
window.resize(1200, 800)
window.show()
s = window.screening_page
s.answer_all_no(); s.tick_all(); assert s.try_start()
deadline = time.monotonic() + 30
while (window.controller is None or window.controller.model.samples_seen < 1400
       or not window.live_view.banner.shown) and time.monotonic() < deadline:
    app.processEvents(); time.sleep(0.02)
window.set_instructor(True)
for _ in range(20):
    app.processEvents(); time.sleep(0.02)
view = window.live_view
banner = view.banner.text
shot = work / "instructor.png"
save_window(window, shot)
print(json.dumps({
    "full_screen": window.isFullScreen(),
    "window": [window.width(), window.height()],
    "screen": [window.screen().size().width(), window.screen().size().height()],
    "shot": [QtGui.QImage(str(shot)).width(), QtGui.QImage(str(shot)).height()],
    "banner_cap_mm": banner.fontMetrics().capHeight() * MM_PER_PX,
    "banner_text": banner.text(),
    "banner_fits": banner.heightForWidth(banner.width()) <= banner.height(),
}))
window.stop_session()
"""


def test_instructor_layout_is_full_screen_and_its_alerts_are_readable_at_3_m(tmp_path):
    """On a 1920x1080 screen (offscreen, 96 dpi: a 24-inch monitor's pixels), the instructor
    layout fills the screen and the banner's capitals are >= 14 mm: 16 minutes of arc at 3 m."""
    from glovecoach.app.qt import offscreen_screen
    from glovecoach.simulate import simulate

    contact = max(simulate("spine_contact_stroking", 1).spine_contacts, key=lambda e: e.peak_n)
    env = {**os.environ, "QT_QPA_PLATFORM": offscreen_screen(1920, 1080, tmp_path)}
    result = subprocess.run([sys.executable, "-c", FULL_SCREEN_SCRIPT, str(tmp_path),
                             str(contact.start_s - 6)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    import json

    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["full_screen"] and seen["screen"] == [1920, 1080]
    assert seen["window"] == [1920, 1080] and seen["shot"] == [1920, 1080]
    assert seen["banner_text"].startswith("STOP: Off the spine!")
    assert seen["banner_cap_mm"] >= 14.0
    assert seen["banner_fits"]            # a long alert wraps inside the banner, not cut off


def test_the_longest_alert_is_never_cut_off_in_the_instructor_banner(qtbot):
    """At 54 pt most alerts take two lines; the longest sensor name makes three, and the
    banner must grow to show them all rather than clip the sentence."""
    from PySide6 import QtWidgets

    from glovecoach.app.session import Alert
    from glovecoach.app.widgets.alerts import AlertBanner
    from glovecoach.vocabulary.sensors import load_sensor_map, sensor_name

    longest = max((sensor_name(c.id) for c in load_sensor_map().channels), key=len)
    page = QtWidgets.QWidget()
    qtbot.addWidget(page)
    layout = QtWidgets.QVBoxLayout(page)
    banner = AlertBanner()
    layout.addWidget(banner)
    layout.addWidget(QtWidgets.QWidget(), 1)        # the plots below take the rest
    banner.set_type_scale(INSTRUCTOR_BANNER_SCALE)
    page.resize(1920, 1000)
    page.show()
    text = banner.text
    for message in ("Off the spine! Pressure on spine segment 1: 11.0 N.",
                    f"Too much force on the {longest}: 139 N (limit 30 N)."):
        banner.show_alerts([Alert("overforce", message, 1.0, "x", "danger"),
                            Alert("spine_contact", "x", 1.0, "y", "danger")])
        qtbot.wait(50)
        needed = text.heightForWidth(text.width())
        lines = round(needed / text.fontMetrics().lineSpacing())
        assert lines <= 3, (message, lines)
        assert text.height() >= needed, (message, text.height(), needed)
