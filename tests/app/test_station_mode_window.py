"""The app's station mode, in the real window offscreen on three virtual devices (the real
firmware in its roles, each playing its part of a simulated session): screening -> the live
station view with both hands -> stop -> the station's debrief, and the station recording it
leaves; a device that drops out while the rest of the station goes on; the recording replayed
into the same station view."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from glovecoach.app.main_window import MainWindow, run_station_window, station_urls
from glovecoach.app.replay import ReplayWindow, StationRecordingPlayer
from glovecoach.app.station_controller import StationController
from glovecoach.app.station_debrief import StationDebriefView
from glovecoach.app.station_view import StationView
from glovecoach.commands.app import virtual_station_urls
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.recording import open_station_recording
from glovecoach.vocabulary.station import STATION_ROLES

# the scenario's stroking, a little after its start: both hands touch the back from the first second
START_S = 30.0


@pytest.fixture
def station(tmp_path):
    return virtual_station_urls("good_session", 1, start_s=START_S, directory=tmp_path)


def open_station_window(qtbot, urls, sessions, trainee="Ada"):
    window = MainWindow(station=urls, sessions=sessions, trainee=trainee)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    assert screening.try_start()
    qtbot.waitUntil(lambda: window.controller is not None or window.error is not None, timeout=20000)
    assert window.error is None, window.error
    return window


def hand_rows(model, hand: str) -> int:
    """One past the newest station slot in the hand's plot ring (a gap moves it on too, as
    NaN rows: the plot breaks there)."""
    return model.rings[hand].next_index


def test_a_station_runs_from_screening_to_a_debrief_of_both_hands(qtbot, station, tmp_path):
    window = open_station_window(qtbot, station, tmp_path / "sessions")
    try:
        controller = window.controller
        assert isinstance(controller, StationController)
        assert controller.layout.roles == STATION_ROLES
        assert isinstance(window.station_view, StationView)
        model = controller.model
        # samples flow on both hands and the strip (two seconds of each)
        qtbot.waitUntil(lambda: min(len(model.rings["left"]), len(model.rings["right"])) > 400
                        and len(model.spine_ring) > 400, timeout=20000)
        assert {r: d.link for r, d in model.devices.items()} == {r: "up" for r in STATION_ROLES}
        for hand in ("left", "right"):
            _, rows = model.rings[hand].latest(200)
            assert np.isfinite(rows).all() and rows.max() > 0.5, f"{hand}: no force on the glove"
            assert model.hand_note(hand) is None
        cards = {role: card.text() for role, card in window.station_view.cards.items()}
        assert "GC-SIM-L001" in cards["left_glove"] and "link up" in cards["left_glove"]
        assert "USB" in cards["spine_strip"]
        assert window.toolbar.link.text().endswith("3 devices connected")
        path = controller.recording_path
        # a classroom instructor's message, as a broker transport hands it to its client: it
        # comes on every device of the station and is stored once, shown in the debrief
        for client in controller.clients.values():
            client.transport.on_note("message", {"text": "slower strokes, please", "host_time": 1.5e9})
        qtbot.waitUntil(lambda: any(a.kind == "instructor_message" for a in model.station_board.log),
                        timeout=5000)

        report = window.stop_session()
    finally:
        if window.controller is not None and window.controller.report is None:
            window.controller.finish()
    assert set(report.to_dict()["hands"]) == {"left", "right"}
    debrief = window.debrief
    assert isinstance(debrief, StationDebriefView) and window.pages.currentWidget() is debrief
    assert debrief.hands == ["left", "right"] and set(debrief.grids) == {"left", "right"}
    assert debrief.timeline.rows[2:4] == ["Left hand", "Right hand"]
    assert any("Ada" in label.text() for label in debrief.findChildren(type(debrief.score_label)))
    assert debrief.instructor.isVisibleTo(debrief) and debrief.instructor.count() == 1
    assert debrief.instructor.item(0).text().endswith("message: slower strokes, please")
    # the HTML report beside the recording has both hands, and the instructor's message
    html = path.with_suffix(".html").read_text(encoding="utf-8")
    assert "Left hand" in html and "Right hand" in html and "Ada" in html
    assert "Marked by the instructor" in html and "slower strokes, please" in html

    # the recording: a station file with the three devices' own streams, and the session's notes
    recording = open_station_recording(path)
    assert recording.closed_cleanly and not recording.problems
    assert set(recording.devices) == set(STATION_ROLES)
    for role, rec in recording.devices.items():
        assert rec.samples > 400 and rec.device_info["role"] == role
        assert recording.alignment[role]["filled_slots"] > 0
    notes = {n.kind: n.payload for n in recording.notes}
    assert notes["session_start"]["trainee"] == "Ada"
    assert notes["session_start"]["device_urls"] == station
    assert set(notes["report"]["hands"]) == {"left", "right"}
    assert set(notes["link_stats"]) == set(STATION_ROLES)
    [message] = recording.notes_of("instructor_message")
    assert message.payload["text"] == "slower strokes, please" and 2.0 < message.payload["at_s"] < 60.0
    assert recording.metadata["protocol"] == report.protocol_name
    assert set(recording.metadata["calibration"]) == set(STATION_ROLES)


def test_a_device_dropping_out_is_shown_and_the_rest_of_the_station_goes_on(qtbot, station, tmp_path):
    # the right glove on a virtual glove of the test's own, reached by its port path as a
    # real glove is: its cable can be pulled and put back
    signal = parse_qs(urlsplit(station["right_glove"]).query)["signal"][0]
    glove = VirtualGlove(signal_path=signal, role="right_glove", glove_id="GC-SIM-R002")
    urls = {**station, "right_glove": glove.plug()}
    try:
        window = open_station_window(qtbot, urls, tmp_path / "sessions")
        controller = window.controller
        model = controller.model
        view = window.station_view
        qtbot.waitUntil(lambda: min(hand_rows(model, "left"), hand_rows(model, "right")) > 200,
                        timeout=20000)

        # the cable pulled: the right glove's link goes down, shown on its hand, its card,
        # the banner and the toolbar; the left hand and the strip go on
        glove.unplug()
        qtbot.waitUntil(lambda: model.devices["right_glove"].link == "down", timeout=5000)
        left_then = hand_rows(model, "left")
        qtbot.waitUntil(lambda: hand_rows(model, "left") > left_then + 400, timeout=10000)
        _, left_rows = model.rings["left"].latest(200)
        assert np.isfinite(left_rows).all()
        assert model.hand_note("right").startswith("right glove: link lost")
        assert model.hand_note("left") is None and model.spine_note() is None
        view.redraw()
        assert "link lost" in view.panels["right"].header.text()
        assert view.panels["right"].out and not view.panels["left"].out
        assert "link lost" in view.cards["right_glove"].text()
        assert any(a.message.startswith("Right glove: link lost") for a in model.current_alerts())
        assert "RIGHT GLOVE OUT" in window.toolbar.link.text()
        assert controller.timer.isActive() and controller.report is None

        # plugged back: it reconnects by itself and its hand comes back
        glove.plug()
        qtbot.waitUntil(lambda: model.devices["right_glove"].link == "up", timeout=15000)
        right_back = hand_rows(model, "right")
        qtbot.waitUntil(lambda: hand_rows(model, "right") > right_back + 200, timeout=10000)
        qtbot.waitUntil(lambda: model.hand_note("right") is None, timeout=5000)
        assert window.toolbar.link.text().endswith("3 devices connected")

        # a client closed mid-session: nothing more comes from the left glove, and no link
        # event says why (as a device gone silent); its hand is greyed, the rest goes on
        controller.clients["left_glove"].close()
        qtbot.waitUntil(lambda: model.hand_note("left") is not None, timeout=5000)
        assert model.hand_note("left") == "left glove: no samples"
        right_then = hand_rows(model, "right")
        qtbot.waitUntil(lambda: hand_rows(model, "right") > right_then + 400, timeout=10000)
        _, left_rows = model.rings["left"].latest(200)
        assert np.isnan(left_rows).all(), "the left hand's plot goes on with readings"
        assert model.hand_note("right") is None
        report = window.stop_session()
    finally:
        glove.close()
    station_part = report.to_dict()["station"]
    lost = {role: sum(g["end_s"] - g["start_s"] for g in spans)
            for role, spans in station_part["device_gaps"].items()}
    assert lost["right_glove"] > 0.5 and lost["left_glove"] > 1.5
    recording = open_station_recording(window.controller.recording_path)
    assert recording.closed_cleanly
    right_notes = [n.kind for n in recording.devices["right_glove"].notes]
    assert right_notes.index("link_down") < len(right_notes) - 1 - right_notes[::-1].index("link_up")
    debrief_text = window.debrief.facts_label.text()
    assert "Right glove missing" in debrief_text and "Left glove missing" in debrief_text


def test_a_station_recording_replays_into_the_station_view(qtbot, station, tmp_path):
    live_png, debrief_png = tmp_path / "live.png", tmp_path / "debrief.png"
    window = run_station_window(station, 3.0, screenshot=live_png, debrief_screenshot=debrief_png,
                                sessions=tmp_path / "sessions", size=(1366, 768))
    qtbot.addWidget(window)
    assert live_png.stat().st_size > 10_000 and debrief_png.stat().st_size > 10_000
    path = window.controller.recording_path
    live = window.controller.report.to_dict()

    replay = ReplayWindow(path)
    qtbot.addWidget(replay)
    assert replay.is_station and isinstance(replay.view, StationView)
    assert isinstance(replay.player, StationRecordingPlayer)
    assert not replay.mode.isVisibleTo(replay)
    replay.seek_index(replay.player.total)
    model = replay.player.model
    assert replay.player.position == replay.player.total > 2 * model.rate_hz
    for hand in ("left", "right"):
        assert len(model.rings[hand]) > model.rate_hz
    assert len(model.spine_ring) > model.rate_hz
    # samples prove each device there
    assert all(d.link == "up" for d in model.devices.values())
    # (the devices stop a few ms apart: the very last slots may lack one; a second before
    # the end, every device is there and no hand is greyed)
    replay.seek_index(0)
    replay.seek_index(replay.player.total - int(model.rate_hz))
    model = replay.player.model
    assert model.hand_note("left") is None and model.hand_note("right") is None
    assert model.spine_note() is None
    # backwards restarts the run from the start, in a fresh view
    old_view = replay.view
    replay.seek_s(1.0)
    assert replay.view is not old_view and isinstance(replay.view, StationView)
    assert replay.player.position == int(replay.player.rate_hz)
    # the replay coaches the slots the live session coached
    assert replay.player.total == round(live["duration_s"] * replay.player.rate_hz)


def test_a_station_is_given_as_urls_or_as_a_paired_choice():
    urls, transports = station_urls({"left_glove": "/dev/ttyUSB0", "right_glove": "mqtt://h:1883/r/GC-1"})
    assert urls == {"left_glove": "/dev/ttyUSB0", "right_glove": "mqtt://h:1883/r/GC-1"}
    assert transports == {"left_glove": "usb", "right_glove": "wifi"}
    with pytest.raises(ValueError, match="at least one device"):
        station_urls({})
    with pytest.raises(ValueError, match="not both"):
        MainWindow("virtual://", station={"left_glove": "virtual://"})


def test_a_device_that_does_not_answer_stops_the_start_and_is_named(qtbot, station, tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    window = MainWindow(station={**station, "right_glove": missing}, sessions=tmp_path / "sessions",
                        trainee="Ada")
    qtbot.addWidget(window)
    window.show()
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    assert screening.try_start()
    qtbot.waitUntil(lambda: window.error is not None, timeout=20000)
    assert window.controller is None
    assert f"right glove ({missing})" in window.error
    assert "left glove" not in window.error            # the others answered
    assert window.pages.currentWidget() is window.message_page
    assert not list((tmp_path / "sessions").glob("*.gcrec"))    # no session, no recording


def test_a_station_url_the_link_does_not_understand_is_said(qtbot, station, tmp_path):
    window = MainWindow(station={**station, "spine_strip": "carrier-pigeon://coop"},
                        sessions=tmp_path / "sessions", trainee="Ada")
    qtbot.addWidget(window)
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    assert screening.try_start()
    assert window.error is not None and "carrier-pigeon" in window.error
    assert window.controller is None and window.pages.currentWidget() is window.message_page
