"""The live window on the virtual glove (the real firmware in MicroPython on a pty)."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
from PySide6 import QtGui

from glovecoach.app import theme
from glovecoach.recording import open_recording
from glovecoach.simulate import simulate


def test_overforce_raises_the_alert(qtbot, start_live, signal_cut, tmp_path, monkeypatch,
                                    fake_player):
    # seed 1 squeezes the thumb too hard from 407.3 s: play 400-415 s
    truth = [e for e in simulate("excessive_force_kneading", 1).overforce if 400 < e.start_s < 412]
    assert truth and truth[0].region == "thumb_tip"
    window = start_live(f"virtual://?signal={signal_cut('excessive_force_kneading', 400, 15)}")
    view = window.live_view
    model = window.controller.model
    # The virtual glove has no calibration file: the screen says its forces are approximate.
    assert window.controller.calibration.nominal
    assert "uncalibrated glove" in window.toolbar.recording.text()
    # sound on: the chime goes to the machine's player (a logging stand-in for the speaker)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chimes = fake_player(bin_dir, "paplay")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)
    window.toolbar.sound.setChecked(True)
    assert window.controller.sound.backend == "paplay"
    qtbot.waitUntil(lambda: any(a.kind == "overforce" for a in model.alerts.log), timeout=15000)
    qtbot.waitUntil(lambda: bool(view.banner.shown) and view.banner.shown[0].kind == "overforce",
                    timeout=2000)
    text = view.banner.message()
    assert text.startswith("STOP:") and "thumb" in text and " N" in text   # words, not colour only
    assert view.banner.shown[0].severity == "danger"
    assert view.hand_map.alerts.get("thumb_tip") == "overforce"
    assert view.hand_map.value_of("thumb_tip") > 25.0
    # the banner gives the episode's peak so far, never less than the map shows now
    banner_n = float(re.search(r"thumb tip: (\d+) N", text).group(1))
    assert banner_n >= view.hand_map.value_of("thumb_tip") - 0.5
    # one clock: the phase bar's session clock is the clock of the alert log
    bar = view.phase_bar
    assert abs(bar.clock_s - model.now_s) < 0.5
    assert bar.session_text().startswith("Session ")
    assert max(a.at_s for a in model.alerts.log) <= bar.clock_s + 0.5
    assert any("thumb" in line for line in view.log.lines())
    qtbot.waitUntil(chimes.exists, timeout=3000)
    assert chimes.read_text().split() == [str(window.controller.sound.wav)]
    # the band the plot draws is the protocol's window the engine applies
    fingers = view.plots.plots["fingers"]
    assert (None, model.state.limits["thumb_tip"][1]) in fingers.band_windows
    window.stop_session()
    rec = open_recording(window.controller.recording_path)
    alerts = rec.notes_of("alert_log")[0].payload["alerts"]
    logged = [a for a in alerts if a["kind"] == "overforce" and a["channel"] == "thumb_tip"]
    assert logged and abs(logged[0]["at_s"] - (truth[0].start_s - 400)) < 1.0


def test_spinal_contact_lights_the_segment(qtbot, start_live, signal_cut):
    truth = simulate("spine_contact_stroking", 1).spine_contacts
    segment = max(truth, key=lambda e: e.peak_n).region
    start = int(truth[0].start_s) - 6
    window = start_live(f"virtual://?signal={signal_cut('spine_contact_stroking', start, 14)}")
    view = window.live_view
    spine = view.spine_map
    qtbot.waitUntil(lambda: spine.alerts.get(segment) == "spine_contact", timeout=15000)
    assert view.banner.shown[0].kind == "spine_contact"
    assert "spine segment" in view.banner.message()
    # as the press goes on, the banner's force follows the episode's peak: never below the map
    qtbot.wait(1200)
    view.redraw()
    top = view.banner.shown[0]
    assert top.kind == "spine_contact"            # the press lasts 5.6 s
    banner_n = float(re.search(r": ([\d.]+) N\.", view.banner.message()).group(1))
    assert banner_n >= spine.value_of(top.channel) - 0.1
    assert banner_n > 5.0
    # the segment is drawn filled red with the word CONTACT; untouched ones are not red
    image = spine.grab().toImage()
    red = QtGui.QColor(theme.ALERT_RED)

    def colour_of(channel: str) -> QtGui.QColor:
        rect = spine.segment_rect(spine.channels.index(channel))
        return image.pixelColor(int(rect.right() - 6), int(rect.center().y()))

    assert colour_of(segment) == red
    for other in spine.channels:
        if other not in spine.alerts:
            assert colour_of(other) != red


def test_unplug_and_replug(qtbot, start_live, signal_cut):
    from glovecoach.link.virtual_glove import VirtualGlove

    glove = VirtualGlove(signal_path=signal_cut("good_session", 30, 60))
    glove.plug()
    try:
        window = start_live(glove.port)       # a serial port path, as for a real glove
        model = window.controller.model
        before = model.samples_seen
        glove.unplug()
        qtbot.waitUntil(lambda: not window.controller.link_is_up, timeout=5000)
        qtbot.waitUntil(lambda: bool(window.live_view.banner.shown)
                        and window.live_view.banner.shown[0].kind == "link_down", timeout=2000)
        assert "disconnected" in window.live_view.banner.message().lower()
        assert "UNPLUGGED" in window.toolbar.link.text()
        # the window keeps running while the glove is away: the timer ticks, the GUI answers
        ticks = []
        window.controller.updated.connect(lambda: ticks.append(1))
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=3000)
        glove.plug()
        qtbot.waitUntil(lambda: window.controller.link_is_up, timeout=10000)
        qtbot.waitUntil(lambda: model.samples_seen > before + 400, timeout=10000)
        assert "connected" in window.toolbar.link.text()
        kinds = [a.kind for a in model.alerts.log]
        assert kinds.index("link_down") < kinds.index("link_up")
        assert ("link_down", None) not in model.alerts.active
        window.stop_session()
        rec = open_recording(window.controller.recording_path)
        assert rec.gaps and sum(g.n_samples for g in rec.gaps) > 0   # the unplugged stretch
        assert rec.notes_of("link_down") and rec.notes_of("link_up")
        assert np.all(np.diff(rec.sample_index) > 0)
    finally:
        glove.close()


def test_blind_mode_records_the_alert_but_makes_no_sound(qtbot, start_live, signal_cut, tmp_path,
                                                         monkeypatch, fake_player):
    window = start_live(f"virtual://?signal={signal_cut('excessive_force_kneading', 400, 15)}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chimes = fake_player(bin_dir, "paplay")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)
    window.set_mode("blind")
    window.toolbar.sound.setChecked(True)
    model = window.controller.model
    qtbot.waitUntil(lambda: any(a.kind == "overforce" for a in model.alerts.log), timeout=15000)
    qtbot.wait(500)
    assert not window.live_view.banner.isVisible()
    assert not chimes.exists()          # a chime is feedback too
