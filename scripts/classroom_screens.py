"""Pictures of the instructor's classroom window, from a live class of simulated stations.

A real `Classroom` and `ClassroomWindow` (offscreen, on a screen of the given size) watch N
stations through a real Mosquitto; the stations' devices are played by one light publisher
process (benchmarks/room_publisher.py), each station a different simulated session
(glovecoach.simulate.station) squeezed into about two minutes, so a short class shows phases,
forces and, on the stations of the "excessive force" and "spine contact" scenarios, alerts. Thirty-six
firmware processes would take this machine; the window's own tests use the real firmware.

    python scripts/classroom_screens.py --stations 12 --size 1920x1080 --seconds 25 --out grid.png
    python scripts/classroom_screens.py --stations 4 --size 1920x1080 --open 2 --out station.png
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LETTERS = (("left_glove", "L"), ("right_glove", "R"), ("spine_strip", "S"))
SESSION_S = 120.0
SCENARIO_OF = ("good_session", "excessive_force_kneading", "good_session", "spine_contact_stroking")


def publisher_main(port: int, room: str, n: int, seconds: float, rate: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from room_publisher import RoomPublisher

    from glovecoach.simulate.station import simulate_station

    # One publisher (one MQTT connection) plays every device: each station's players are
    # made by a publisher of its own, then moved into the first one.
    pub = None
    for k in range(n):
        # a whole session squeezed into SESSION_S (phases in proportion), so a short class
        # reaches the later phases and their alerts; each station a little longer than the last
        station = simulate_station(11 + k, SESSION_S + 7 * k, rate, scenario=SCENARIO_OF[k % len(SCENARIO_OF)])
        raws = {role: station.raw[role] for role, _ in LETTERS}
        devices = {f"GC-V{k + 1:02d}{letter}": role for role, letter in LETTERS}
        one = RoomPublisher("127.0.0.1", port, room, devices, raws, rate)
        if pub is None:
            pub = one
        else:
            pub.players.update(one.players)
            pub.topics.update(one.topics)
    pub._by_cmd = {t["cmd"]: d for d, t in pub.topics.items()}
    pub.start()
    print("publishing", flush=True)
    try:
        time.sleep(seconds)
    finally:
        pub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=12)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--seconds", type=float, default=25.0, help="how long the class runs before the picture")
    parser.add_argument("--open", type=int, default=None, metavar="K",
                        help="open station K's full view first (0, with --alert: the station with the alert)")
    parser.add_argument("--alert", action="store_true",
                        help="after --seconds, wait (up to 90 s more) until a tile shows an alert")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rate", type=int, default=200,
                        help="the devices' rate (100 halves the class's CPU on a busy machine)")
    parser.add_argument("--publisher", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        port, room, n, seconds, rate = args.publisher
        publisher_main(int(port), room, int(n), float(seconds), int(rate))
        return
    width, height = (int(x) for x in args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="classroom-screens-"))

    from glovecoach.app.qt import ensure_app, offscreen_screen

    os.environ["QT_QPA_PLATFORM"] = offscreen_screen(width, height, work)
    app = ensure_app(headless=True)

    from glovecoach.app.classroom_window import ClassroomWindow
    from glovecoach.classroom.hub import Classroom
    from glovecoach.classroom.room import Room
    from glovecoach.classroom.virtual import virtual_room
    from glovecoach.link.broker import BrokerAddress
    from glovecoach.link.room_broker import RoomBroker
    from glovecoach.protocols import default_protocol

    room = virtual_room(Room("room-7"), args.stations)
    with RoomBroker(None, host="127.0.0.1") as broker:
        publisher = subprocess.Popen([sys.executable, __file__, "--out", "-", "--publisher", str(broker.port),
                                      room.name, str(args.stations), str(args.seconds + 150), str(args.rate)],
                                     stdout=subprocess.PIPE, text=True)
        try:
            publisher.stdout.readline()       # "publishing": every device is online
            classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=work / "rec",
                                  protocol=default_protocol(), rate_hz=args.rate).start()
            window = ClassroomWindow(classroom, record_dir=work / "rec", confirm_end=False)
            window.showFullScreen()
            window.start()
            end = time.monotonic() + args.seconds
            opened = False
            while time.monotonic() < end:
                if args.open and not opened and time.monotonic() > end - 6:
                    window.open_station(f"table {args.open}")
                    opened = True
                app.processEvents()
                time.sleep(0.005)
            if args.alert:
                until = time.monotonic() + 90
                while not any(s.tile.state.alert for s in classroom.stations.values()) and time.monotonic() < until:
                    app.processEvents()
                    time.sleep(0.005)
                app.processEvents()
                if args.open == 0:      # the station with the alert, its view given 4 s to fill
                    window.open_station(next((n for n, s in classroom.stations.items() if s.tile.state.alert),
                                             "table 1"))
                    until = time.monotonic() + 4
                    while time.monotonic() < until:
                        app.processEvents()
                        time.sleep(0.005)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(args.out)):
                raise SystemExit(f"could not write {args.out}")
            window.pump_timer.stop()
            classroom.finish()
            # what the recordings kept, beside what the pictures' traces show
            from glovecoach.recording import open_station_recording

            for name, station in classroom.stations.items():
                rec = open_station_recording(station.recording)
                print(f"{name}: recorded " + ", ".join(f"{role} {dev.samples} samples ({dev.lost_samples} lost)"
                                                       for role, dev in rec.devices.items()))
        finally:
            publisher.terminate()
            publisher.wait(10)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
