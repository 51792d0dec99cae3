"""The instructor's classroom window, live: real firmware stations on a real Mosquitto with the
room's logins, the real `Classroom`, and the window's real widgets offscreen, driven by mouse
clicks and typing as an instructor would.

One class runs the instructor's first hour in a minute: the grid shows both stations; a click
opens a station's full view, fed by the classroom's own pipeline; the instructor marks a
moment, sends a message, renames the trainee and loads a roster; back to the grid; End class.
Then the files: the mark in the station's recording and its debrief, every debrief and the
class summary, and the room remembered with the new names.
"""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.app.classroom_end import ClassFiles, write_class_files
from glovecoach.app.classroom_view import ClassroomGrid, SpineStrip
from glovecoach.app.classroom_window import ClassroomWindow, StationPage, end_page_html
from glovecoach.app.stations_dialog import StationsDialog
from glovecoach.app.theme import ALERT_RED, force_colours, format_clock
from glovecoach.classroom.hub import Classroom
from glovecoach.classroom.room import Room
from glovecoach.classroom.tile import TileModel
from glovecoach.classroom.virtual import VirtualStations, virtual_room
from glovecoach.engine.coaching import ActiveAlert
from glovecoach.link.broker import BrokerAddress
from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from glovecoach.pipeline.coaching import CoachingUpdate
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.protocols import default_protocol
from glovecoach.recording import open_station_recording
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.station import StationLayout

needs_mosquitto = pytest.mark.mosquitto
RATE = 200
LEFT = QtCore.Qt.MouseButton.LeftButton


def rgb(image: QtGui.QImage) -> np.ndarray:
    """(height, width, 3) uint8 RGB of a grab."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return words[:, :image.width(), 2::-1].copy()   # a copy: the QImage and its bits go with this call


def is_alert_red(pixels: np.ndarray) -> np.ndarray:
    red = QtGui.QColor(ALERT_RED)
    want = np.array([red.red(), red.green(), red.blue()])
    return np.abs(pixels.astype(int) - want).max(axis=-1) <= 12


@pytest.fixture
def live_class(qtbot, tmp_path, monkeypatch):
    """Two real-firmware stations, the room's broker with its logins, the instructor's window
    on them (offscreen, 1600x1000), pumped by its own timers."""
    monkeypatch.setenv("GLOVECOACH_ROOMS_DIR", str(tmp_path / "rooms"))
    room = virtual_room(Room("lab7"), 2)
    accounts = RoomAccounts.create(room.name, [d for s in room.stations for d in s.devices.values()])
    with RoomBroker(accounts, host="127.0.0.1") as broker, VirtualStations(room, accounts, broker.port, RATE):
        classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=tmp_path / "class",
                              protocol=default_protocol(), rate_hz=RATE, username="instructor",
                              password=accounts.screens["instructor"]).start()
        window = ClassroomWindow(classroom, record_dir=tmp_path / "class", room_path=tmp_path / "rooms" / "lab7.json",
                                 confirm_end=False)
        qtbot.addWidget(window)
        window.resize(1600, 1000)
        window.show()
        qtbot.waitExposed(window)
        window.start()
        try:
            yield window
        finally:
            if window.files is None:
                window.end_class()


@needs_mosquitto
def test_the_instructors_first_hour(live_class, qtbot, tmp_path):
    window = live_class
    classroom = window.classroom
    # The grid: a tile per station, each with its trainee, its three devices up and a trace.
    assert [t.model.state.station for t in window.grid.tiles] == ["table 1", "table 2"]
    qtbot.waitUntil(lambda: all(all(b.link == "up" for b in t.model.state.devices)
                                and t.model.trace.end_column is not None for t in window.grid.tiles), timeout=20000)
    assert [t.model.state.trainee for t in window.grid.tiles] == ["Ana Lima", "Ben Okafor"]
    assert all(t.isVisible() and t.width() > 500 for t in window.grid.tiles)
    pipelines = {name: s.pipeline for name, s in classroom.stations.items()}
    for tile in window.grid.tiles:
        assert tile.spine is not None and tile.spine in pipelines[tile.model.state.station].notifier.listeners

    # A click on the tile opens that station's full view, fed by the classroom's pipeline.
    qtbot.mouseClick(window.grid.tile("table 1"), LEFT)
    page = window.stack.currentWidget()
    assert isinstance(page, StationPage) and page is window.page and page.name == "table 1"
    listeners = classroom.stations["table 1"].pipeline.notifier.listeners
    assert page.model in listeners
    qtbot.waitUntil(lambda: page.model.updates_seen > 5 and len(page.model.rings["left"]) > RATE, timeout=10000)
    assert {name: s.pipeline for name, s in classroom.stations.items()} == pipelines   # no second pipeline
    assert all(d.link == "up" for d in page.model.devices.values())
    assert page.view.isVisible() and not window.grid.isVisible()

    # Mark a moment, send a message, rename the trainee: all from the screen.
    qtbot.mouseClick(page.mark_button, LEFT)
    assert page.done.full_text.startswith("Marked at ")
    qtbot.keyClicks(page.message_edit, "slow down a little")
    qtbot.mouseClick(page.send_button, LEFT)
    assert page.message_edit.text() == "" and page.done.full_text == "Sent: slow down a little"
    page.trainee_edit.selectAll()
    qtbot.keyClicks(page.trainee_edit, "Zoe Quinn")
    qtbot.keyClick(page.trainee_edit, QtCore.Qt.Key.Key_Return)
    assert classroom.stations["table 1"].tile.state.trainee == "Zoe Quinn"
    remembered = Room.load(tmp_path / "rooms" / "lab7.json")
    assert remembered.station("table 1").trainee == "Zoe Quinn"

    # Back to the grid: the view is no longer fed.
    qtbot.mouseClick(page.back_button, LEFT)
    assert window.stack.currentWidget() is window.grid and window.page is None
    assert page.model not in listeners
    qtbot.waitUntil(lambda: window.grid.isVisible(), timeout=2000)

    # A roster from the screen: renames table 2's trainee on its tile, remembered per room.
    roster = tmp_path / "class.csv"
    roster.write_text("station,trainee\ntable 2,Yusuf Ali\n", encoding="utf-8")
    assert window.load_roster(roster) == []
    assert window.grid.tile("table 2").model.state.trainee == "Yusuf Ali"
    assert Room.load(tmp_path / "rooms" / "lab7.json").station("table 2").trainee == "Yusuf Ali"
    assert Room.load(tmp_path / "rooms" / "lab7.json").station("table 2").devices["left_glove"] == "GC-V02L"
    qtbot.wait(1500)

    # End class: every station stops; the debriefs and the class summary are written.
    with qtbot.waitSignal(window.ended, timeout=60000) as ended:
        qtbot.mouseClick(window.end_button, LEFT)
    files = ended.args[0]
    assert window.stack.currentWidget() is window.end_area
    assert "The class has ended" in window.end_page.text()
    assert set(files.debriefs) == {"table 1", "table 2"} and not files.problems
    for name, s in classroom.stations.items():
        assert files.debriefs[name] == s.recording.with_suffix(".html") and files.debriefs[name].exists()
        assert files.debriefs[name].name in window.end_page.text()
    rec = open_station_recording(classroom.stations["table 1"].recording)
    assert rec.closed_cleanly
    marks = rec.notes_of("mark")
    assert len(marks) == 1 and marks[0].payload["text"] == "marked by the instructor"
    assert [n.payload["trainee"] for n in rec.notes_of("trainee")] == ["Zoe Quinn"]
    debrief = files.debriefs["table 1"].read_text(encoding="utf-8")
    assert "Marked by the instructor" in debrief
    section = debrief[debrief.index("Marked by the instructor"):]
    assert "marked by the instructor" in section and "slow down a little" in section
    assert f"<td>{format_clock(marks[0].payload['at_s'])}</td><td>marked</td>" in section
    assert "Marked by the instructor" not in files.debriefs["table 2"].read_text(encoding="utf-8")
    with open(files.summary_csv, encoding="utf-8") as fh:
        rows = {r["station"]: r for r in csv.DictReader(fh)}
    assert rows["table 1"]["trainee"] == "Zoe Quinn" and rows["table 2"]["trainee"] == "Yusuf Ali"
    assert rows["table 1"]["debrief"] == files.debriefs["table 1"].name
    assert "Zoe Quinn" in files.summary_html.read_text(encoding="utf-8")
    # the summary as PDF too (the issue: "exportable as HTML/PDF and CSV"), linked on the page
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(files.summary_pdf))
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Zoe Quinn" in text and "Yusuf Ali" in text
    assert files.summary_pdf.name in window.end_page.text() and not files.summary_problem
    assert json.loads((tmp_path / "rooms" / "lab7.json").read_text())["name"] == "lab7"


@needs_mosquitto
def test_the_instructor_assigns_trainees_and_devices_on_the_screen(live_class, qtbot, tmp_path, monkeypatch):
    """The Stations table: edited in place, checked whole (a bad row is named and changes
    nothing), applied as a roster is (trainees on their tiles and in the recordings at once, a
    running station's devices at its next class), remembered per room."""
    window = live_class
    room_file = tmp_path / "rooms" / "lab7.json"
    # as the command gives it: asked each time the table opens or is applied
    window.known_devices = lambda: {d for s in window.classroom.room.stations for d in s.devices.values()} | {
        "GC-SPARE"}
    told: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "information", lambda _parent, _title, text: told.append(text))
    qtbot.mouseClick(window.stations_button, LEFT)
    dialog = window.findChild(StationsDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    table = dialog.table
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["table 1", "table 2"]
    assert [table.item(1, c).text() for c in range(5)] == ["table 2", "Ben Okafor", "GC-V02L", "GC-V02R", "GC-V02S"]
    assert "no station: GC-SPARE" in dialog.free.text()
    assert not table.item(0, 0).flags() & QtCore.Qt.ItemFlag.ItemIsEditable   # a running station keeps its name

    table.item(1, 1).setText("Yusuf Ali")
    table.item(1, 4).setText("")                       # the strip off table 2
    qtbot.mouseClick(next(b for b in dialog.findChildren(QtWidgets.QPushButton) if b.text() == "Add station"), LEFT)
    assert table.item(2, 0).text() == "table 3" and table.item(2, 0).flags() & QtCore.Qt.ItemFlag.ItemIsEditable
    table.item(2, 1).setText("Chen Wei")
    table.item(2, 2).setText("GC-NOPE")
    qtbot.mouseClick(dialog.apply_button, LEFT)
    assert dialog.isVisible() and "row 3 (table 3): GC-NOPE has no login on this room's broker" in dialog.error.text()
    assert window.classroom.room.station("table 2").trainee == "Ben Okafor"      # nothing changed
    assert not room_file.exists() or "Yusuf Ali" not in room_file.read_text()

    table.item(2, 2).setText("")
    qtbot.mouseClick(dialog.apply_button, LEFT)
    assert not dialog.isVisible()
    assert told == ["table 2: its devices change at the next class"]
    assert window.grid.tile("table 2").model.state.trainee == "Yusuf Ali"
    remembered = Room.load(room_file)
    assert remembered.station("table 2").devices == {"left_glove": "GC-V02L", "right_glove": "GC-V02R"}
    assert remembered.station("table 3").trainee == "Chen Wei" and remembered.station("table 3").devices == {}
    assert "table 3" not in window.classroom.stations          # no devices: nothing to start

    # A station given a glove that is not on yet joins at once, its tile waiting for it: the
    # window is not frozen for the 10 s a class's start waits.
    started = time.monotonic()
    rows = [{"station": "table 3", "trainee": "Chen Wei", "right_glove": "GC-SPARE"}]
    assert window.apply_table(rows) == []
    assert time.monotonic() - started < 4.0
    assert "table 3" in window.classroom.stations and window.grid.tile("table 3") is not None
    assert any("GC-SPARE" in p for p in window.classroom.stations["table 3"].problems)

    # A roster, loaded from the same dialog: a bad one is named there and changes nothing.
    qtbot.mouseClick(window.stations_button, LEFT)
    dialog = [d for d in window.findChildren(StationsDialog) if d.isVisible()][0]
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("station,trainee,left_glove\ntable 3,Chen Wei,GC-V01L,extra\n", encoding="utf-8")
    good.write_text("station,trainee\ntable 3,Dara Nolan\n", encoding="utf-8")
    assert not dialog.load_roster(str(bad)) and "line 2: 4 cells for 3 columns" in dialog.error.text()
    assert window.classroom.room.station("table 3").trainee == "Chen Wei"
    assert dialog.load_roster(str(good)) and dialog.error.text() == "Roster loaded"
    assert dialog.table.item(2, 1).text() == "Dara Nolan" and Room.load(room_file).station("table 3").trainee == \
        "Dara Nolan"
    dialog.reject()
    with qtbot.waitSignal(window.ended, timeout=60000):
        window.end_class()
    rec = open_station_recording(window.classroom.stations["table 2"].recording)
    assert [(n.payload["trainee"], n.payload["was"]) for n in rec.notes_of("trainee")] == [("Yusuf Ali", "Ben Okafor")]


def _alert_update(layout: StationLayout, first: int, n: int, alerts=()) -> StationUpdate:
    hands = {}
    for hand in layout.hands:
        newtons = np.full((n, len(layout.hand_channels(hand))), 2.0, np.float32)
        block = ForceBlock(first, newtons, np.zeros_like(newtons, bool), np.zeros_like(newtons, bool))
        hands[hand] = CoachingUpdate(first, n, block, (), tuple(alerts) if hand == "right" else ())
    return StationUpdate(first, n, hands)


def two_tiles(qtbot):
    """Two tiles of full stations side by side, as a grid shows them, on screen."""
    layout = StationLayout.full()
    models = [TileModel(f"table {k}", f"trainee {k}", layout, RATE, width_px=300) for k in (1, 2)]
    grid = ClassroomGrid(models)
    qtbot.addWidget(grid)
    grid.resize(960, 400)
    grid.show()
    qtbot.waitExposed(grid)
    return layout, models, grid


def test_a_tile_with_an_alert_stands_out_in_red(qtbot):
    """Measured on the grab: the alert tile has a red frame all round and its alert in red
    type far larger than the tile's other lines; its calm neighbour has no red at all."""
    layout, models, grid = two_tiles(qtbot)
    too_hard = ActiveAlert("overforce", "thumb_tip", 3.0, "Too much force on the thumb tip", peak_n=42.0)
    models[0].on_station_update(_alert_update(layout, 0, 800, [too_hard]))
    models[1].on_station_update(_alert_update(layout, 0, 800))
    grid.refresh()
    qtbot.wait(50)
    assert models[0].state.alert and models[0].state.attention and not models[1].state.attention

    alert, calm = (rgb(t.grab().toImage()) for t in grid.tiles)
    assert int(is_alert_red(calm).sum()) == 0
    red = is_alert_red(alert)
    h, w = red.shape
    # the frame: a red band along every edge
    for band in (red[:, 3:10], red[:, w - 10:w - 3], red[3:10, :], red[h - 10:h - 3, :]):
        assert band.any(axis=-1 if band.shape[0] > band.shape[1] else 0).mean() > 0.9
    # the alert: a red band inside the frame, its words in white type larger than any other line
    inner = red[12:h - 12, 12:w - 12]
    band_rows = np.flatnonzero(inner.mean(axis=1) > 0.5)
    assert len(band_rows) >= 0.12 * h, "a red band across the tile, a fair part of its height"
    band = alert[12 + band_rows.min():12 + band_rows.max() + 1, 12:w - 12]
    white_rows = np.flatnonzero((band.min(axis=-1) > 200).any(axis=1))
    assert len(white_rows) > 0, "the alert's words, white on the band"
    title = calm[:int(0.15 * h)]          # the calm tile's trainee line, its largest type
    title_rows = np.flatnonzero((title.min(axis=-1) > 200).any(axis=1))
    assert white_rows.max() - white_rows.min() >= title_rows.max() - title_rows.min()


def test_a_tile_whose_recording_stopped_stands_out_and_says_so(qtbot, tmp_path):
    """A station whose file met a full disk: a red frame, and red words beside its session
    clock (its traces and phase go on: it is still coached); the neighbour that records has
    no red."""
    layout, models, grid = two_tiles(qtbot)
    for m in models:
        m.on_station_update(_alert_update(layout, 0, 800))
    models[0].recording_stopped()
    grid.refresh()
    qtbot.wait(50)
    assert models[0].state.attention and not models[0].state.recording and not models[1].state.attention
    image = grid.tiles[0].grab().toImage()
    image.save(str(tmp_path / "not-recording.png"))
    stopped, recording = (rgb(t.grab().toImage()) for t in grid.tiles)
    assert int(is_alert_red(recording).sum()) == 0
    red = is_alert_red(stopped)
    h, w = red.shape
    assert red[3:10, :].any(axis=0).mean() > 0.9              # the frame
    words = red[int(0.1 * h):int(0.25 * h), w // 2:w - 12]    # the session clock's line, right half
    assert words.sum() > 40, "NOT RECORDING in red beside the session clock"
    assert red[int(0.25 * h):h - 12, 12:w - 12].any(axis=1).mean() < 0.1, "no alert band: nothing alerts"


def _class_without_broker(n: int, record_dir, trainee: str = "Trainee") -> Classroom:
    """A started class of n stations whose broker is not there: each station opens with its
    problem and records nothing; enough for the pages and files of the class's end."""
    room = Room("lab9")
    for s in range(n):
        room.add_station(f"table {s + 1}", f"{trainee} {s + 1}")
        room.assign_device(f"GC-Z{s:02d}R", f"table {s + 1}", "right_glove")
    return Classroom(room, BrokerAddress("127.0.0.1", 1), record_dir=record_dir, protocol=default_protocol(),
                     rate_hz=RATE).start()


def _laptop_window(qtbot, classroom: Classroom, record_dir) -> ClassroomWindow:
    """The instructor's window on ``classroom``, shown on a 1366x768 laptop screen."""
    window = ClassroomWindow(classroom, record_dir=record_dir, confirm_end=False)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    return window


def test_a_room_with_no_station_yet_says_what_to_do_and_takes_stations_from_the_screen(qtbot, tmp_path):
    classroom = _class_without_broker(0, tmp_path)
    try:
        window = _laptop_window(qtbot, classroom, tmp_path)
        window.start()
        assert window.stack.currentWidget() is window.empty_hint and window.empty_hint.isVisible()
        assert "Stations\u2026" in window.empty_hint.text() and "glovecoach provision" in window.empty_hint.text()
        assert window.apply_table([{"station": "table 1", "trainee": "Ana", "right_glove": "GC-Z00R"}]) == []
        assert window.stack.currentWidget() is window.grid and list(classroom.stations) == ["table 1"]
        assert window.grid.tile("table 1").model.state.trainee == "Ana"
    finally:
        classroom.finish()


def test_a_summary_pdf_that_cannot_be_written_leaves_the_other_files_and_says_why(qtbot, tmp_path):
    # a folder where the PDF is written before it is moved into place (CSV and HTML are free)
    (tmp_path / "class-summary.pdf.part").mkdir()
    classroom = _class_without_broker(2, tmp_path)
    reports = classroom.finish()
    files = write_class_files(classroom, reports, tmp_path, default_protocol())
    assert files.summary_pdf is None and "class-summary.pdf not written" in files.summary_problem
    assert files.summary_csv.read_text(encoding="utf-8").count("\n") == 3
    assert "Trainee 2" in files.summary_html.read_text(encoding="utf-8")
    page = end_page_html(classroom.stations, reports, files, tmp_path)
    assert "class-summary.pdf not written" in page and "class-summary.html" in page


def test_a_whole_room_needing_the_instructor_keeps_the_window_on_a_laptop_screen(qtbot, tmp_path):
    """Twelve stations needing the instructor at once (here every recording stopped; a broker
    restart does the same with every link): the header names what fits and counts the rest,
    the window stays 1366 wide with "End class" on it, and an open station's line names three
    others and counts the rest. The header's plain label once made the window 2,283 px wide."""
    classroom = _class_without_broker(12, tmp_path)
    try:
        window = _laptop_window(qtbot, classroom, tmp_path)
        for s in classroom.stations.values():
            s.tile.recording_stopped()
        window._header()
        qtbot.wait(50)
        assert len(window.needing_attention()) == 12
        assert window.width() == 1366, f"the window grew to {window.size()}"
        end = window.end_button.geometry().translated(window.end_button.parentWidget().mapTo(window, QtCore.QPoint()))
        assert window.rect().contains(end), "End class on the screen"
        line = window.attention.text()
        assert line.startswith("\u26A0 12 need you: table 1") and line.endswith("more"), line
        assert window.attention.fontMetrics().horizontalAdvance(line) <= window.attention.width()
        assert window.attention.toolTip() == ", ".join(f"table {k}" for k in range(1, 13))

        window.open_station("table 1")
        window.page.draw(window._others_text())
        others = window.page.others.text()
        assert "table 2: " in others and "table 4: " in others and "table 5: " not in others
        assert others.endswith("and 8 more stations"), others
        assert window.width() == 1366
    finally:
        classroom.finish()


def test_with_the_broker_down_a_mark_and_a_message_are_recorded_and_the_page_says_so(qtbot, tmp_path):
    """The broker gone (restarting) when the instructor marks a moment and sends a long
    message: both are stored in the station's recording, the page says the message did not
    reach the station's screen, and the long words do not widen the window. Before, the click
    raised out of the button's slot (the page said nothing) and a long "Sent: ..." widened
    the window to 1,709 px."""
    classroom = _class_without_broker(2, tmp_path)
    try:
        window = _laptop_window(qtbot, classroom, tmp_path)
        page = window.open_station("table 1")
        qtbot.mouseClick(page.mark_button, LEFT)
        assert page.done.full_text.startswith("Marked at ")
        words = "please use less pressure with your right thumb near the shoulder blades, and keep your wrists soft"
        qtbot.keyClicks(page.message_edit, words)
        qtbot.mouseClick(page.send_button, LEFT)
        assert page.done.full_text.startswith("Not sent, kept in the recording (") and words in page.done.full_text
        qtbot.wait(50)
        assert window.width() == 1366, f"the window grew to {window.size()}"
        assert page.done.text().endswith("\u2026") and page.done.toolTip() == page.done.full_text
    finally:
        classroom.finish()
    rec = open_station_recording(classroom.stations["table 1"].recording)
    assert len(rec.notes_of("mark")) == 1
    assert [n.payload["text"] for n in rec.notes_of("instructor_message")] == [words]


def test_a_second_class_in_the_same_folder_keeps_the_first_ones_summary(qtbot, tmp_path):
    first = _class_without_broker(2, tmp_path)
    first_files = write_class_files(first, first.finish(), tmp_path, default_protocol())
    assert first_files.summary_csv.name == "class-summary.csv"
    kept = {p: p.read_bytes() for p in (first_files.summary_csv, first_files.summary_html, first_files.summary_pdf)}
    second = _class_without_broker(3, tmp_path, trainee="Student")
    second_files = write_class_files(second, second.finish(), tmp_path, default_protocol())
    third = _class_without_broker(1, tmp_path, trainee="Pupil")
    third.started = second.started                   # started the same second as the second class
    third_files = write_class_files(third, third.finish(), tmp_path, default_protocol())
    assert all(path.read_bytes() == data for path, data in kept.items()), "the first class's summary kept"
    stamp = f"{second.started:%Y%m%d-%H%M%S}"
    assert second_files.summary_csv.name == f"class-summary-{stamp}.csv"
    assert second_files.summary_pdf.name == f"class-summary-{stamp}.pdf"
    assert third_files.summary_html.name == f"class-summary-{stamp}-2.html"
    assert second_files.summary_csv.read_text(encoding="utf-8").count("\n") == 4
    assert third_files.summary_csv.read_text(encoding="utf-8").count("\n") == 2


def test_the_end_page_shows_each_stations_problem_apart_and_scrolls_a_big_room(qtbot, tmp_path):
    """The page after "End class", for 24 stations on a 1366x768 screen: every row reachable
    (the page scrolls), the room's dark page with light type (not a grey scroll area under
    it), and a station's problem in red in its own column, not run into the debrief's name."""
    classroom = _class_without_broker(24, tmp_path)
    try:
        window = _laptop_window(qtbot, classroom, tmp_path)
        files = ClassFiles(summary_csv=tmp_path / "class-summary.csv", summary_html=tmp_path / "class-summary.html")
        files.debriefs = {name: tmp_path / f"{name}.html" for name in classroom.stations}
        files.debriefs["table 2"] = None
        files.problems["table 2"] = "debrief not written: disk full"
        window.end_page.setText(end_page_html(classroom.stations, None, files, tmp_path))
        window.stack.setCurrentWidget(window.end_area)
        qtbot.wait(50)
        assert window.end_area.verticalScrollBar().maximum() > 0, "24 rows scroll on a laptop screen"

        page = rgb(window.end_area.grab().toImage())
        dark = QtGui.QColor(theme.BACKGROUND)
        background = np.abs(page.astype(int) - [dark.red(), dark.green(), dark.blue()]).max(axis=-1) <= 6
        assert background.mean() > 0.6, "the room's dark page"
        assert (page.min(axis=-1) > 200).sum() > 500, "light type on it"
        assert is_alert_red(page).sum() > 100, "the problem in red"

        document = QtGui.QTextDocument()
        document.setHtml(window.end_page.text())
        table = next(f for f in document.rootFrame().childFrames() if isinstance(f, QtGui.QTextTable))
        cells = [[table.cellAt(r, c).firstCursorPosition().block().text() for c in range(table.columns())]
                 for r in range(table.rows())]
        assert cells[0] == ["station", "trainee", "score", "debrief", "problem"]
        rows = {row[0]: row for row in cells[1:]}
        assert len(rows) == 24
        assert rows["table 2"][3:] == ["\u2014", "debrief not written: disk full"]
        assert rows["table 1"][3:] == ["table 1.html", ""]
    finally:
        classroom.finish()


def test_the_spine_strip_beside_the_traces_shows_where_the_hands_press(qtbot):
    """Each segment's recent peak in the map's colours, the segment of a spine alert outlined
    in red: fed a block in which segment 3 carries 20 N and the others nothing."""
    layout = StationLayout.full()
    model = TileModel("table 1", "Ana", layout, RATE, width_px=300)
    strip = SpineStrip(layout, RATE)
    assert strip.segments == tuple(f"spine_{k}" for k in range(1, 9))
    n = 400
    hands = {}
    for hand in layout.hands:
        ids = layout.hand_channels(hand)
        newtons = np.zeros((n, len(ids)), np.float32)
        newtons[-50:, ids.index("spine_3")] = 20.0
        block = ForceBlock(0, newtons, np.zeros_like(newtons, bool), np.zeros_like(newtons, bool))
        alerts = (ActiveAlert("spine_contact", "spine_3", 1.0, "On the spine", peak_n=20.0),) if hand == "left" else ()
        hands[hand] = CoachingUpdate(0, n, block, (), alerts)
    update = StationUpdate(0, n, hands)
    model.on_station_update(update)
    strip.on_message(update)
    assert strip.values[2] == pytest.approx(20.0) and np.all(np.delete(strip.values, 2) == 0)
    assert model.state.alert == "On the spine: seg 3"

    grid = ClassroomGrid([model])
    grid.tiles[0].spine = strip
    qtbot.addWidget(grid)
    grid.resize(480, 360)
    grid.show()
    qtbot.waitExposed(grid)
    image = rgb(grid.tiles[0].grab().toImage())
    h, w, _ = image.shape
    right = image[:, int(w * 0.8):w - 12]          # the strip's column, inside the frame
    hot = force_colours(np.float32(20.0)).astype(int)
    bright = np.all(np.abs(right.astype(int) - hot) <= 3, axis=-1)
    assert bright.sum() > 50, "segment 3 in the colour of 20 N"
    rows = np.flatnonzero(bright.any(axis=1))
    outlined = is_alert_red(right[max(0, rows.min() - 4):rows.max() + 5])
    assert outlined.sum() > 20, "the alert's segment outlined in red"
