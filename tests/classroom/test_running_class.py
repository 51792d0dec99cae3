"""What the rooms folder remembers of a running class, read back, and refused by name when it
is not one."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from glovecoach.classroom.room import RoomError
from glovecoach.classroom.running_class import MAX_PICK_UP_GAP_S, RunningClass, running_class_path


def test_a_running_class_is_read_back_with_the_parts_still_there(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "p1.gcrec").write_bytes(b"x")
    started = dt.datetime(2026, 12, 4, 9, 15)
    path = running_class_path(tmp_path / "rooms", "lab")
    RunningClass("lab", tmp_path / "class", started, {"table 1": ["p1.gcrec", "gone.gcrec"]}).save(path)
    back = RunningClass.load(path)
    assert (back.room, back.started, back.record_dir) == ("lab", started, tmp_path / "class")
    assert back.earlier_parts("table 1") == [tmp_path / "class" / "p1.gcrec"]    # a removed file is left out
    assert back.earlier_parts("table 2") == []
    assert RunningClass.load(tmp_path / "none.class.json") is None


def test_a_class_is_picked_up_only_while_its_sessions_can_still_be_going_on(tmp_path):
    (tmp_path / "p1.gcrec").write_bytes(b"x")
    (tmp_path / "p2.gcrec").write_bytes(b"x")
    os.utime(tmp_path / "p1.gcrec", (1_000.0, 1_000.0))
    os.utime(tmp_path / "p2.gcrec", (1_300.0, 1_300.0))      # the newest write: the app stopped then
    running = RunningClass("lab", tmp_path, dt.datetime(2026, 12, 4, 9), {"t1": ["p1.gcrec"], "t2": ["p2.gcrec"]})
    assert running.last_written() == 1_300.0
    assert running.can_be_picked_up(1_300.0 + 60)                   # restarted a minute later
    assert running.can_be_picked_up(1_300.0 + MAX_PICK_UP_GAP_S)
    assert not running.can_be_picked_up(1_300.0 + MAX_PICK_UP_GAP_S + 1)    # its sessions are over
    assert not RunningClass("lab", tmp_path, dt.datetime(2026, 12, 4, 9), {"t1": ["gone.gcrec"]}) \
        .can_be_picked_up(1_300.0)                                  # nothing of it left to go on from


@pytest.mark.parametrize("text", ["{not json", '{"format": "glovecoach-room"}', '["a list"]',
                                  '{"format": "glovecoach-running-class", "room": "lab", "record_dir": "/x",'
                                  ' "started": "2026-12-04T09:15:00", "parts": {"table 1": "p1.gcrec"}}',
                                  '{"format": "glovecoach-running-class", "room": "lab", "record_dir": "/x",'
                                  ' "started": "yesterday"}'])
def test_a_file_that_is_not_a_running_class_is_named_with_the_way_out(tmp_path, text):
    path = tmp_path / "lab.class.json"
    path.write_text(text)
    with pytest.raises(RoomError, match=r"lab.class.json: not a running class's file .*--new-class"):
        RunningClass.load(path)


def test_parts_named_with_folders_are_kept_to_the_class_folder(tmp_path):
    path = tmp_path / "lab.class.json"
    path.write_text(json.dumps({"format": "glovecoach-running-class", "room": "lab", "record_dir": str(tmp_path),
                                "started": "2026-12-04T09:15:00", "parts": {"table 1": ["../../etc/p1.gcrec"]}}))
    (tmp_path / "p1.gcrec").write_bytes(b"x")
    assert RunningClass.load(path).earlier_parts("table 1") == [tmp_path / "p1.gcrec"]

