"""`glovecoach classroom`: every station of a room on the instructor's machine, through Mosquitto.

    glovecoach classroom --virtual 3 --seconds 60 --record DIR      # N virtual stations, headless
    glovecoach classroom --room room7 --roster class.csv            # a real room (the grid window)

The room's broker is started here (glovecoach.link.room_broker: a login per device and screen,
an ACL, nothing listening once the classroom ends). With ``--virtual N`` every station is three
real firmware processes (MicroPython unix port) logged in with their own device accounts, on
the loopback. Without a display, or with ``--seconds``, it runs headless and prints a summary
per station; every station's session is recorded in ``--record`` with a debrief per station
and the class summary (CSV and HTML) at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from glovecoach.commands import CommandError

MAX_VIRTUAL_STATIONS = 12
SUMMARY_EVERY_S = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classroom", help="watch every station of a room live through the room's MQTT broker",
        description="Start the room's broker (Mosquitto, with a login per device and screen), coach and "
                    "record every station of the room, and show them as tiles; headless with --seconds "
                    "or without a display.")
    p.add_argument("--virtual", type=int, metavar="N",
                   help=f"N virtual stations (1..{MAX_VIRTUAL_STATIONS}), each the real firmware of two gloves and "
                        "a spine strip, on this machine")
    p.add_argument("--room", default=None, help="the room's name (remembered stations and devices; "
                                                 "default 'virtual-room' with --virtual)")
    p.add_argument("--roster", type=Path, help="a roster CSV: station,trainee[,left_glove,right_glove,spine_strip]")
    p.add_argument("--seconds", type=float, help="run this long, headless, then finish the class")
    p.add_argument("--record", type=Path, metavar="DIR", help="where every station's recording and debrief go "
                                                              "(default ~/glovecoach-sessions/<room>-<time>)")
    p.add_argument("--port", type=int, default=0, help="the broker's port (default: a free one; 1883 for "
                                                       "a real room's devices)")
    p.add_argument("--tls", nargs=2, type=Path, metavar=("CERT", "KEY"),
                   help="the room's broker speaks TLS with this certificate and key (PEM); the devices are "
                        "provisioned with the CA that signed it (provision --ca); see docs/classroom.md")
    p.add_argument("--ca", type=Path, metavar="CA",
                   help="with --tls: the CA certificate (PEM) that signed CERT (checked at start, given to "
                        "--virtual devices)")
    p.add_argument("--rate", type=int, default=200, help="samples a second on every device (default 200)")
    p.add_argument("--new-class", action="store_true",
                   help="start a new class even if the room's last one never ended (by default a class whose "
                        "app stopped mid-class is picked up: recorded on in its folder, its sessions whole)")
    p.add_argument("--seed", type=int, default=1, help="with --virtual: first station's simulated session")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glovecoach.classroom.room import Room, RoomError, load_or_new, rooms_dir
    from glovecoach.classroom.running_class import running_class_path
    from glovecoach.classroom.virtual import VirtualStations, virtual_room
    from glovecoach.link.room_broker import RoomAccounts, RoomBroker, RoomBrokerError

    if args.virtual is not None and not 1 <= args.virtual <= MAX_VIRTUAL_STATIONS:
        raise CommandError(f"--virtual takes 1..{MAX_VIRTUAL_STATIONS} stations (each is three firmware "
                           f"processes, ~5 % of a core each here), got {args.virtual}")
    if args.seconds is not None and not args.seconds > 0:
        raise CommandError(f"--seconds must be > 0, got {args.seconds}")
    room_name = args.room or ("virtual-room" if args.virtual else None)
    if room_name is None:
        raise CommandError("give --room NAME (the room's stations and devices are remembered under it), "
                           "or --virtual N")
    try:
        room = Room(room_name) if args.virtual else load_or_new(room_name)
        if args.roster:
            room.apply_roster(args.roster)
    except RoomError as exc:
        raise CommandError(str(exc)) from None
    if args.virtual:
        virtual_room(room, args.virtual)
    headless = args.seconds is not None or not _has_display()
    if not any(seat.devices for seat in room.stations) and headless:
        # On a screen the instructor assigns them there (Stations...); headless, nobody can.
        raise CommandError(f"room {room.name} has no station with devices: give a --roster with device ids "
                           "(station,trainee,left_glove,right_glove,spine_strip), or start it on a screen and "
                           "assign them there (Stations...)")
    accounts_path = rooms_dir() / f"{room.name}.accounts.json"
    try:
        accounts = RoomAccounts.load(accounts_path) if accounts_path.exists() and not args.virtual \
            else RoomAccounts.create(room.name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    for seat in room.stations:
        for device in seat.devices.values():
            accounts.add_device(device)
    accounts.add_screen("instructor")
    if not args.virtual:
        accounts.save(accounts_path)      # devices are provisioned with these passwords
        room.save(rooms_dir() / f"{room.name}.json")
    picked_up, running_file = None, None
    if not args.virtual:
        running_file = running_class_path(rooms_dir(), room.name)
        picked_up = _class_to_pick_up(running_file, args)
    record = picked_up.record_dir if picked_up else \
        args.record or Path.home() / "glovecoach-sessions" / f"{room.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_record_dir(record)
    tls = _tls_files(args)
    try:
        # With TLS the instructor's own process joins on a plain loopback listener (same logins):
        # the room's certificate names the address the devices use, not 127.0.0.1.
        broker = RoomBroker(accounts, host="127.0.0.1" if args.virtual else "0.0.0.0", port=args.port,
                            tls=tls, loopback_port=0 if tls else None)
        broker.start()
    except RoomBrokerError as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.virtual:
            with VirtualStations(room, accounts, broker.port, args.rate, args.seed,
                                 tls_ca=tls.cafile if tls else None):
                return _run_class(room, accounts, broker, record, args, headless)
        return _run_class(room, accounts, broker, record, args, headless, running_file, picked_up)
    finally:
        broker.stop()


def _class_to_pick_up(running_file: Path, args: argparse.Namespace):
    """The room's class whose app stopped without ending it, if it is to be picked up."""
    from glovecoach.classroom.room import RoomError
    from glovecoach.classroom.running_class import RunningClass

    if args.new_class:
        return None
    try:
        remembered = RunningClass.load(running_file)
    except RoomError as exc:
        raise CommandError(str(exc)) from None
    if remembered is None or not remembered.can_be_picked_up(time.time()):
        return None
    if args.record is not None and args.record.resolve() != remembered.record_dir.resolve():
        raise CommandError(f"the class of room {remembered.room} started at {remembered.started:%H:%M} never ended "
                           f"(its app stopped) and records in {remembered.record_dir}: leave out --record to "
                           "pick it up there, or give --new-class to start another")
    return remembered


def _tls_files(args: argparse.Namespace):
    from glovecoach.link.room_broker import TlsFiles

    if args.tls is None:
        if args.ca is not None:
            raise CommandError("--ca goes with --tls CERT KEY (the CA that signed the broker's certificate)")
        return None
    cert, key = args.tls
    for what, path in (("certificate", cert), ("key", key), ("CA certificate", args.ca)):
        if path is not None and not path.is_file():
            raise CommandError(f"--tls: the {what} {path} is not a file")
    for what, path in (("certificate", cert), ("CA certificate", args.ca)):
        if path is not None and b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
            raise CommandError(f"--tls: the {what} {path} is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    if args.virtual and args.ca is None:
        raise CommandError("--virtual with --tls needs --ca: the virtual devices check the broker with it")
    return TlsFiles(cert, key, args.ca)


def _check_record_dir(record: Path) -> None:
    """The folder every station's recording goes to, made and tried before anything listens:
    a class that cannot record is not started."""
    if record.exists() and not record.is_dir():
        raise CommandError(f"--record {record}: that is a file; give a folder (it is made if it does not exist)")
    try:
        record.mkdir(parents=True, exist_ok=True)
        probe = record / f".glovecoach-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CommandError(f"--record {record}: cannot record the class there "
                           f"({exc.strerror or exc}); give a folder you can write to") from None


def _has_display() -> bool:
    from glovecoach.app.qt import has_display

    return has_display()


def _run_class(room, accounts, broker, record: Path, args, headless: bool, running_file: Path | None = None,
               picked_up=None) -> int:
    from glovecoach.classroom.hub import Classroom, settle_garbage_collector
    from glovecoach.classroom.room import rooms_dir
    from glovecoach.link.broker import BrokerAddress
    from glovecoach.protocols import default_protocol

    protocol = default_protocol()
    address = BrokerAddress("127.0.0.1", broker.loopback_port or broker.port)
    classroom = Classroom(room, address, record_dir=record, protocol=protocol, rate_hz=args.rate,
                          username="instructor", password=accounts.screens["instructor"],
                          running_class_file=running_file, picked_up=picked_up)
    if picked_up is not None:
        print(f"picking up the class started at {picked_up.started:%H:%M} (its app stopped without ending it): "
              f"each station's session so far is read and coached again while the class goes on (its tile says "
              f"\"picking up\" until then: about 3 s of work per 15 minutes of a session), and it is recorded in a "
              f"new file that continues it; --new-class starts another", flush=True)
    print(f"classroom {room.name}: broker on port {broker.port} ({'TLS, ' if broker.tls else ''}logins required), "
          f"{sum(bool(s.devices) for s in room.stations)} station(s), recording to {record}", flush=True)
    classroom.start()
    settle_garbage_collector()
    for name, station in classroom.stations.items():
        for problem in station.problems:
            print(f"  {name}: {problem}", file=sys.stderr)
    if headless:
        seconds = args.seconds if args.seconds is not None else 60.0
        end = time.monotonic() + seconds
        next_line = time.monotonic() + SUMMARY_EVERY_S
        try:
            while time.monotonic() < end:
                if not classroom.pump():
                    time.sleep(0.01)
                if time.monotonic() >= next_line:
                    next_line += SUMMARY_EVERY_S
                    _print_tiles(classroom)
        except KeyboardInterrupt:
            pass
        reports = classroom.finish()
        files = None
    else:
        # the window ends the class itself (End class, or closing it) and writes the files
        window = _run_window(classroom, protocol, record, None if args.virtual else rooms_dir() / f"{room.name}.json",
                             (lambda: set(accounts.devices)) if args.virtual else
                             (lambda: logins(accounts, broker, rooms_dir() / f"{room.name}.accounts.json")))
        reports, files = window.reports, window.files
        if reports is None:        # the app was stopped some other way (a signal)
            reports = classroom.finish()
    _print_summary(classroom, reports)
    if files is None:
        files = _write_class_files(classroom, reports, record, protocol)
    print("class summary: " + ", ".join(str(f) for f in (files.summary_csv, files.summary_html, files.summary_pdf)
                                        if f is not None))
    return 0


def _print_tiles(classroom) -> None:
    for name, s in classroom.stations.items():
        st = s.tile.state
        alert = f"  ALERT {st.alert}" if st.alert else ""
        if not st.recording:
            alert += "  NOT RECORDING"
        links = " ".join(f"{b.role.split('_')[0]}:{b.link}" for b in st.devices)
        print(f"  {name:<10} {st.trainee:<16} {st.technique or '-':<14} {st.phase_clock:<16} {links}{alert}",
              flush=True)


def _print_summary(classroom, reports) -> None:
    print("station    trainee          slots   lost  per device (samples/lost)            verdict, score")
    for name, s in classroom.stations.items():
        rec = s.pipeline.recorder
        devices = "  ".join(f"{role.split('_')[0]} {r.samples}/{r.lost}" for role, r in rec.devices.items())
        report = reports.get(name)
        verdict = "-"
        if report is not None:
            score = (report.to_dict()["station"].get("score") or {}).get("total")
            verdict = str(report.verdict) + (f", {score}/100" if score is not None else "")
        lost = sum(r.lost for r in rec.devices.values())
        print(f"{name:<10} {s.seat.trainee:<16} {s.pipeline.station_end_index:>6} {lost:>6}  {devices:<36} {verdict}")
        print(f"           recording: {s.recording}")
        if s.recording_stopped:
            print(f"           {s.recording_stopped} (coached to the end; the file holds what came before)")


def _write_class_files(classroom, reports, record: Path, protocol):
    from glovecoach.app.classroom_end import write_class_files

    return write_class_files(classroom, reports, record, protocol)


def logins(accounts, broker, path: Path) -> set[str]:
    """The devices with a login on the room's broker, after taking in the gloves provisioned
    since the class started (`glovecoach provision --room` added them to the accounts file):
    the running broker rereads its logins, nobody is dropped."""
    from glovecoach.link.room_broker import RoomAccounts

    try:
        fresh = RoomAccounts.load(path)
    except (OSError, ValueError) as exc:
        print(f"  the room's accounts ({path}) could not be read again: {exc}", file=sys.stderr)
        return set(accounts.devices)
    new = {device: password for device, password in fresh.devices.items() if device not in accounts.devices}
    if new:
        accounts.devices.update(new)
        broker.reload_accounts(accounts)
    return set(accounts.devices)


def _run_window(classroom, protocol, record: Path, room_path: Path | None, known_devices):
    from glovecoach.app.classroom_window import run_classroom_window

    return run_classroom_window(classroom, protocol=protocol, record_dir=record, room_path=room_path,
                                known_devices=known_devices)
