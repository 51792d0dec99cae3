"""A room remembers its stations, trainees and devices; rosters fill it, or say which line is wrong."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glovecoach.classroom.room import Room, RoomError, load_or_new, rooms_dir


def roster(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_roster_fills_the_room_and_the_room_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("GLOVECOACH_ROOMS_DIR", str(tmp_path / "rooms"))
    room = load_or_new("room7")
    assert room.stations == []
    room.apply_roster(roster(tmp_path, "station,trainee,left_glove,right_glove,spine_strip\n"
                                       "table 1,Ana Lima,GC-0101,GC-0102,GC-0103\n"
                                       "table 2,Ben Okafor,,,\n\n"))
    room.save(rooms_dir() / "room7.json")
    again = load_or_new("room7")
    assert [s.name for s in again.stations] == ["table 1", "table 2"]
    assert again.station("table 1").devices == {"left_glove": "GC-0101", "right_glove": "GC-0102",
                                                "spine_strip": "GC-0103"}
    assert again.seat_of("GC-0102")[1] == "right_glove"
    # next class: new trainees, the gloves stay on their tables
    again.apply_roster(roster(tmp_path, "station,trainee\ntable 1,Chen Wei\n"))
    assert again.station("table 1").trainee == "Chen Wei"
    assert again.station("table 1").devices["spine_strip"] == "GC-0103"


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_roster_saved_by_a_spreadsheet_with_semicolons_or_tabs_reads_the_same(tmp_path, sep):
    """A spreadsheet where the comma is the decimal mark saves its CSV with semicolons (and a
    byte-order mark, and CRLF line ends); a list pasted from one has tabs."""
    rows = [["station", "Trainee", "left glove", "right_glove", "spine_strip"],
            ["table 1", "Lima, Ana", "GC-0101", "GC-0102", "GC-0103"], ["table 2", "Ben Okafor", "", "", ""]]
    path = tmp_path / "roster.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(sep.join(r) for r in rows) + "\r\n").encode("utf-8"))
    room = Room("r")
    room.apply_roster(path)
    assert [(s.name, s.trainee) for s in room.stations] == [("table 1", "Lima, Ana"), ("table 2", "Ben Okafor")]
    assert room.station("table 1").devices == {"left_glove": "GC-0101", "right_glove": "GC-0102",
                                               "spine_strip": "GC-0103"}


def test_moving_a_device_takes_it_from_its_old_station():
    room = Room("r")
    room.add_station("a")
    room.add_station("b")
    room.assign_device("GC-1", "a", "left_glove")
    room.assign_device("GC-1", "b", "left_glove")
    assert room.station("a").devices == {} and room.seat_of("GC-1")[0].name == "b"


@pytest.mark.parametrize("ops, words", [
    ([("GC-1", "a", "left_glove"), ("GC-2", "a", "left_glove")], "already has GC-1"),
    ([("GC-1", "a", "kit"), ("GC-2", "a", "spine_strip")], "kit"),
    ([("GC-1", "a", "elbow")], "not a device role"),
    ([("GC/1", "a", "left_glove")], "topic level"),
])
def test_impossible_assignments_are_refused(ops, words):
    room = Room("r")
    room.add_station("a")
    with pytest.raises(RoomError, match=words):
        for op in ops:
            room.assign_device(*op)


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("trainee\nAna\n", "line 1: no 'station' column"),
    ("station,elbow\na,x\n", "line 1: unknown column"),
    ("station,trainee\n,Ana\n", "line 2: no station name"),
    ("station,left_glove\na,GC-1\nb,GC-2,extra\n", "line 3: 3 cells"),
    ("station,left_glove,right_glove\na,GC-1,GC-1\n", None),   # one device in two roles: moves
])
def test_bad_rosters_name_the_line_and_change_nothing(tmp_path, text, words):
    room = Room("r")
    room.add_station("kept")
    if words is None:
        room.apply_roster(roster(tmp_path, text))
        assert room.seat_of("GC-1")[1] == "right_glove"
        return
    with pytest.raises(RoomError, match=words):
        room.apply_roster(roster(tmp_path, text))
    assert [s.name for s in room.stations] == ["kept"]


def test_a_damaged_room_file_is_a_clear_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    with pytest.raises(RoomError, match="cannot read the room"):
        Room.load(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(RoomError, match="not a room file"):
        Room.load(path)


def test_room_names_must_be_topic_levels():
    with pytest.raises(RoomError, match="room name"):
        Room("room/7")


def _room() -> Room:
    room = Room("lab")
    room.add_station("table 1", "Ana")
    room.assign_device("GC-1L", "table 1", "left_glove")
    room.assign_device("GC-1R", "table 1", "right_glove")
    room.add_station("table 2", "Ben")
    room.assign_device("GC-2L", "table 2", "left_glove")
    return room


def test_the_screens_table_sets_each_station_exactly_as_shown():
    room = _room()
    room.apply_table([
        {"station": "table 1", "trainee": "Ana Lima", "left_glove": "GC-1L", "right_glove": "", "spine_strip": ""},
        {"station": "table 2", "trainee": "Ben", "left_glove": "GC-2L", "right_glove": "GC-1R"},   # moved
        {"station": "table 3", "trainee": "Chen", "spine_strip": "GC-3S"},                          # added
    ])
    assert [(s.name, s.trainee, s.devices) for s in room.stations] == [
        ("table 1", "Ana Lima", {"left_glove": "GC-1L"}),
        ("table 2", "Ben", {"left_glove": "GC-2L", "right_glove": "GC-1R"}),
        ("table 3", "Chen", {"spine_strip": "GC-3S"})]
    # a station left out of the table stays as it was
    room.apply_table([{"station": "table 3", "trainee": "Chen Wei", "spine_strip": "GC-3S"}])
    assert room.station("table 1").devices == {"left_glove": "GC-1L"} and room.station("table 3").trainee == "Chen Wei"


@pytest.mark.parametrize("rows, words", [
    ([{"station": "table 1", "left_glove": "GC-1L"}, {"station": "table 2", "right_glove": "GC-1L"}],
     "row 2: GC-1L is in row 1 too"),
    ([{"station": "", "trainee": "X"}], "row 1: no station name"),
    ([{"station": "table 1"}, {"station": "table 1"}], "row 2 (table 1): station 'table 1' is in the table twice"),
    ([{"station": "table 2", "left_glove": "GC-2L", "right_glove": "bad id!"}], "row 1 (table 2): "),
    ([{"station": "table 2", "kit": "GC-K", "left_glove": "GC-2L"}], "row 1 (table 2): "),
    ([{"station": "table 2", "left_glove": "GC-NEW"}], "GC-NEW has no login on this room's broker: give the glove "
                                                        "its login (glovecoach provision --port PORT --room lab"),
])
def test_a_bad_table_says_which_row_and_changes_nothing(rows, words):
    room = _room()
    before = room.describe()
    with pytest.raises(RoomError) as caught:
        room.apply_table(rows, known_devices={"GC-1L", "GC-1R", "GC-2L", "GC-K"})
    assert words in str(caught.value)
    assert room.describe() == before


def test_a_room_without_stations_headless_names_both_ways_to_give_it_some(tmp_path):
    env = {**os.environ, "GLOVECOACH_ROOMS_DIR": str(tmp_path / "rooms")}
    out = subprocess.run([sys.executable, "-m", "glovecoach", "classroom", "--room", "empty-room", "--seconds", "2",
                          "--record", str(tmp_path / "rec")], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "room empty-room has no station with devices: give a --roster" in out.stderr
    assert "assign them there (Stations...)" in out.stderr and "broker on port" not in out.stdout
