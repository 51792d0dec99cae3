"""`glovecoach classroom --room R` killed mid-class (SIGKILL: its broker goes with it) and run
again: it picks the class up, records on in the class's folder, and the end of the class
reports every station's whole session, which `glovecoach analyze` of the last part gives too.
The room's devices are real firmware (MicroPython) streaming all along."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glovecoach.classroom.room import Room
from glovecoach.classroom.virtual import VirtualStations, virtual_room
from glovecoach.link.room_broker import RoomAccounts
from glovecoach.recording import open_station_recording
from glovecoach.recording.parts import NOT_RECORDED, open_station_session

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
RATE = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def classroom(env: dict, *args: str) -> list[str]:
    return [sys.executable, "-m", "glovecoach", "classroom", "--room", "lab9", *args]


def test_a_killed_classroom_app_run_again_picks_up_the_class(tmp_path):
    rooms = tmp_path / "rooms"
    env = {**os.environ, "GLOVECOACH_ROOMS_DIR": str(rooms), "QT_QPA_PLATFORM": "offscreen"}
    room = virtual_room(Room("lab9"), 1)
    accounts = RoomAccounts.create(room.name, [d for s in room.stations for d in s.devices.values()])
    accounts.save(rooms / "lab9.accounts.json")
    room.save(rooms / "lab9.json")
    port, folder = free_port(), tmp_path / "class"
    with VirtualStations(room, accounts, port, RATE):
        first = subprocess.Popen(classroom(env, "--port", str(port), "--seconds", "300", "--record", str(folder)),
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert "broker on port" in first.stdout.readline()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _recorded_s(folder) >= 4.0:
                time.sleep(0.5)
            assert _recorded_s(folder) >= 4.0, "the first app recorded nothing"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert (rooms / "lab9.class.json").exists()
        time.sleep(2.0)
        elsewhere = subprocess.run(classroom(env, "--port", str(port), "--seconds", "3", "--record",
                                             str(tmp_path / "other")), env=env, capture_output=True, text=True,
                                   timeout=60)
        assert elsewhere.returncode != 0 and "never ended" in elsewhere.stderr, elsewhere.stderr
        second = subprocess.run(classroom(env, "--port", str(port), "--seconds", "6"), env=env,
                                capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "picking up the class" in second.stdout
    assert not (rooms / "lab9.class.json").exists()
    parts = sorted(folder.glob("*.gcrec"))
    assert len(parts) == 2 and not (tmp_path / "other").exists()
    assert open_station_recording(parts[1]).metadata["continues"] == [parts[0].name]
    joined = open_station_session(parts)
    for role, dev in joined.devices.items():     # each device's stream ran on: the gap is exact
        (between,) = [g for g in dev.gaps if g.reason == NOT_RECORDED]
        assert between.exact and between.n_samples >= 2 * RATE, (role, between)
    last_alone = max(dev.samples for dev in open_station_recording(parts[1]).devices.values()) / RATE
    with open(folder / "class-summary.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    whole = float(row["duration (s)"])
    assert whole > last_alone + 5.0, (whole, last_alone)     # part 1 (>= 4 s) and the gap are in it
    out = subprocess.run([sys.executable, "-m", "glovecoach", "analyze", str(parts[1]), "--json"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["parts"] == [str(p) for p in parts]
    assert report["duration_s"] == pytest.approx(whole, abs=0.1)


def _recorded_s(folder: Path) -> float:
    """Seconds of samples the station's recording holds so far (flushed every 0.5 s)."""
    files = list(folder.glob("*.gcrec"))
    if not files:
        return 0.0
    try:
        rec = open_station_recording(files[0])
    except Exception:  # noqa: BLE001 - the file is being written; try again
        return 0.0
    return min(dev.samples for dev in rec.devices.values()) / RATE
