"""A station session whose recording cannot go on (the disk fills up): said once on the
station's banner and the toolbar, the coaching of both hands goes on, the session stops and
debriefs as usual, and what was written stays readable."""

from __future__ import annotations

import sys
from pathlib import Path

from glovecoach.app.main_window import MainWindow
from glovecoach.commands.app import virtual_station_urls
from glovecoach.recording import open_station_recording

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recording"))
from recording_helpers import FillingDisk  # noqa: E402


def test_a_full_disk_stops_the_station_recording_not_the_coaching(qtbot, tmp_path):
    urls = virtual_station_urls("good_session", 1, start_s=30.0, directory=tmp_path)
    window = MainWindow(station=urls, sessions=tmp_path / "sessions", trainee="Ada")
    qtbot.addWidget(window)
    window.show()
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    assert screening.try_start()
    qtbot.waitUntil(lambda: window.controller is not None or window.error is not None, timeout=20000)
    assert window.error is None, window.error
    controller = window.controller
    model = controller.model
    try:
        qtbot.waitUntil(lambda: min(len(model.rings["left"]), len(model.rings["right"])) > 200,
                        timeout=20000)
        failures = []
        controller.recording_failed.connect(failures.append)
        writer = controller.recorder.writer
        writer._file = FillingDisk(writer._file, room=2000)
        qtbot.waitUntil(lambda: bool(failures), timeout=10000)
        stopped = [a for a in model.station_board.log if a.kind == "recording_stopped"]
        assert len(stopped) == 1 and stopped[0].severity == "danger"
        assert any(a.kind == "recording_stopped" for a in model.current_alerts())
        # both hands go on being coached and drawn
        ends = {h: model.rings[h].next_index for h in ("left", "right")}
        qtbot.waitUntil(lambda: all(model.rings[h].next_index > ends[h] + 200 for h in ends), timeout=10000)
        assert controller.timer.isActive()
        report = window.stop_session()
    finally:
        if controller.report is None:
            controller.finish()
    assert len(failures) == 1                         # told once
    assert set(report.to_dict()["hands"]) == {"left", "right"}
    assert window.debrief is not None and window.pages.currentWidget() is window.debrief
    recording = open_station_recording(controller.recording_path)
    assert set(recording.devices) == {"left_glove", "right_glove", "spine_strip"}
    assert not recording.closed_cleanly          # its END could not be written
    assert all(rec.samples > 0 for rec in recording.devices.values())
