"""The instructor layout on the screens it is used on: 1920x1080 and 1366x768, full screen.

What an instructor reads from 3 m, across the massage table: the alert, the phase and its
clock, which hand region and spine segment, a force trend. Each test renders the live page
truly full screen on an offscreen screen of that size (a fresh process: the screen is chosen
when Qt starts) and measures what is drawn: type sizes, plot heights, tick labels that do not
touch, every part inside the window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from glovecoach.app.qt import MONITOR_1080P_24IN_MM_PER_PX

# 16 minutes of arc at 3 m: the usual ergonomic minimum capital height for text that must be
# read (e.g. ANSI/HFES 100)
READ_AT_3M_MM = 14.0
# The smallest data area (px high) of a force plot. The worst case is a small screen with a
# three-line alert (1366 px wide wraps the 54 pt spine alert onto three lines): the plots
# still get 90 px, a trend and three force ticks; without an alert they get twice that.
MIN_PLOT_PX = {(1080, "quiet"): 300, (1080, "alert"): 220, (768, "quiet"): 180,
               (768, "alert"): 90}

RENDER_SCRIPT = r"""
import json, sys
from glovecoach.app.qt import ensure_app, save_window
app = ensure_app()
from PySide6 import QtCore, QtGui, QtWidgets
from glovecoach.app.live_view import LiveView
from glovecoach.app.main_window import SessionToolbar
from glovecoach.app.theme import app_stylesheet
from glovecoach.app.session import SessionModel
from glovecoach.app.sources import simulated_session
from glovecoach.calibration import Calibration
from glovecoach.protocols import default_protocol

scenario, end_s, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
session = simulated_session(scenario, 1, 0.0, end_s)
model = SessionModel(protocol=default_protocol(),
                     calibration=Calibration.nominal_for(session.channels),
                     channels=session.channels, rate_hz=session.rate_hz)
model.process_raw(0, session.raw)

# the live page as the main window builds it: the toolbar over the view, full screen
page = QtWidgets.QWidget()
page.setStyleSheet(app_stylesheet())
layout = QtWidgets.QVBoxLayout(page)
layout.setContentsMargins(0, 0, 0, 0)
toolbar = SessionToolbar()
toolbar.instructor.setChecked(True)
view = LiveView(model)
layout.addWidget(toolbar)
layout.addWidget(view, 1)
view.set_instructor(True)
page.showFullScreen()
import time
for _ in range(10):     # let the layouts (Qt's, then pyqtgraph's scene) settle
    view.redraw(); app.processEvents(); time.sleep(0.02)
save_window(page, out)

window = page.rect()
def box(widget):
    r = QtCore.QRect(widget.mapTo(page, QtCore.QPoint(0, 0)), widget.size())
    return {"rect": [r.x(), r.y(), r.width(), r.height()],
            "visible": widget.isVisible(), "inside": window.contains(r)}

image = QtGui.QImage(10, 10, QtGui.QImage.Format.Format_ARGB32)
painter = QtGui.QPainter(image)
plots = {}
for group, plot in view.plots.plots.items():
    item = plot.getPlotItem()
    axes = {}
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        specs = axis.generateDrawSpecs(painter)
        # in the plot's scene coordinates, so the two axes' labels can be compared
        texts = [] if specs is None else [
            ([q.x(), q.y(), q.width(), q.height()], text)
            for q, text in ((axis.mapRectToScene(r), text) for r, _, text in specs[2])]
        axes[name] = {"labels": texts, "height": axis.height(), "width": axis.width(),
                      "font_px": QtGui.QFontInfo(axis.style["tickFont"]).pixelSize(),
                      "shown": axis.style["showValues"]}
    plots[group] = {**box(plot), "data_px": [item.getViewBox().width(), item.getViewBox().height()],
                    "axes": axes}
painter.end()

def font_of(f):
    m = QtGui.QFontMetricsF(f)
    return {"px": QtGui.QFontInfo(f).pixelSize(), "cap_px": m.capHeight()}

phase_font = view.phase_bar.phase_font()
chip = view.phase_bar.chip_rect()
print(json.dumps({
    "full_screen": page.isFullScreen(),
    "window": [page.width(), page.height()],
    "alerts": [a.kind for a in view.banner.shown],
    "banner": {**box(view.banner), "text": view.banner.message(), **font_of(view.banner.text.font()),
               "fits": view.banner.text.heightForWidth(view.banner.text.width())
                       <= view.banner.text.height()},
    "phase": {**box(view.phase_bar), "text": view.phase_bar.phase_text(), **font_of(phase_font),
              "text_w": QtGui.QFontMetricsF(phase_font).horizontalAdvance(view.phase_bar.phase_text()),
              "chip": [chip.x(), chip.y(), chip.width(), chip.height()]},
    "hand_map": box(view.hand_map), "spine_map": box(view.spine_map),
    "plots": plots,
}))
"""


def render(tmp_path, width: int, height: int, scenario: str, end_s: float) -> dict:
    from glovecoach.app.qt import offscreen_screen

    out = tmp_path / f"instructor-{width}x{height}-{scenario}.png"
    env = {**os.environ, "QT_QPA_PLATFORM": offscreen_screen(width, height, tmp_path)}
    result = subprocess.run([sys.executable, "-c", RENDER_SCRIPT, scenario, str(end_s), str(out)],
                            capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    seen["png"] = str(out)
    return seen


def _overlap(a, b) -> bool:
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def spine_moment() -> float:
    from glovecoach.simulate import simulate

    contact = max(simulate("spine_contact_stroking", 1).spine_contacts, key=lambda e: e.peak_n)
    return contact.start_s + 1.5


@pytest.mark.parametrize("width,height", [(1920, 1080), (1366, 768)])
@pytest.mark.parametrize("case", ["alert", "quiet"])
def test_the_instructor_layout_reads_from_3_m(tmp_path, width, height, case):
    if case == "alert":     # the longest usual alert: two lines at 54 pt
        seen = render(tmp_path, width, height, "spine_contact_stroking", spine_moment())
        assert seen["alerts"] and seen["alerts"][0] == "spine_contact"
        assert seen["banner"]["text"].startswith("STOP: Off the spine!")
    else:                   # 30 s into the good session's kneading: no alert
        seen = render(tmp_path, width, height, "good_session", 400.0)
        assert seen["alerts"] == []
    mm = MONITOR_1080P_24IN_MM_PER_PX
    assert seen["full_screen"] and seen["window"] == [width, height]
    print(json.dumps({k: seen[k] for k in ("banner", "phase")}))

    # every part on screen, whole
    for name in ("banner", "phase", "hand_map", "spine_map"):
        assert seen[name]["visible"] and seen[name]["inside"], (name, seen[name])
    for group, plot in seen["plots"].items():
        assert plot["visible"] and plot["inside"], (group, plot)

    # the phase and its clock: capitals 14 mm on the 24-inch 1080p screen, the same pixels on
    # the smaller one (whose pixels are bigger at any size of 20 inches or more); never cut
    phase = seen["phase"]
    assert phase["cap_px"] * mm >= READ_AT_3M_MM, phase
    assert phase["text_w"] + 20 <= phase["chip"][2], phase
    assert phase["chip"][3] >= phase["px"], phase
    # the phase bar takes no more than the big line needs
    assert phase["rect"][3] <= 2.6 * phase["px"], phase

    banner = seen["banner"]
    if case == "alert":
        assert banner["cap_px"] * mm >= READ_AT_3M_MM and banner["fits"], banner
    else:   # "No alerts" is one slim line, not a box the size of an alert
        assert banner["rect"][3] <= 0.65 * phase["rect"][3], banner
        assert banner["rect"][3] <= 80, banner

    # the force trend: plots tall enough to see a shape, tick labels few, big, apart
    for group, plot in seen["plots"].items():
        data_w, data_h = plot["data_px"]
        assert data_h >= MIN_PLOT_PX[height, case], (group, data_h)
        assert data_w >= 290, (group, data_w)
        left = plot["axes"]["left"]
        assert 2 <= len(left["labels"]) <= 5 and left["font_px"] >= 20, (group, left)
        rects = [r for r, _ in left["labels"]] + [r for r, _ in plot["axes"]["bottom"]["labels"]]
        for i, a in enumerate(rects):
            for b in rects[i + 1:]:
                assert not _overlap(a, b), (group, a, b)
        bottom = plot["axes"]["bottom"]
        if bottom["shown"]:
            assert [t for _, t in bottom["labels"]] == ["\u221210 s", "\u22125 s", "now"]
    bottoms = [p for p in seen["plots"].values() if p["axes"]["bottom"]["shown"]]
    assert len(bottoms) == 2             # time labels under the bottom row only

    # the maps, where the flagged sensor or segment shows: a good share of the screen
    for name in ("hand_map", "spine_map"):
        assert seen[name]["rect"][3] >= 0.38 * height, (name, seen[name])
