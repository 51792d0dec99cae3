"""`glovecoach app`: the training app on a real glove, the virtual glove, or a recording; with
`--station`, on a station (two gloves and a spine strip, paired on the pairing screen, or
three virtual devices with `--virtual`)."""

from __future__ import annotations

import argparse
import atexit
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from glovecoach.commands import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "app", help="open the training app",
        description="Open the training app. With no device option, a connect screen lists the "
                    "gloves on the serial ports and offers the virtual glove.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--port", help="serial port of the glove (e.g. /dev/ttyUSB0) or a device URL")
    src.add_argument("--virtual", action="store_true",
                     help="use the virtual glove (the real firmware playing a simulated session)")
    src.add_argument("--replay", metavar="FILE.gcrec",
                     help="replay a recorded session, one glove's or a station's (play, pause, scrub)")
    p.add_argument("--station", action="store_true",
                   help="coach a station (left glove, right glove, spine strip): the pairing screen "
                        "finds and assigns the devices; with --virtual, three virtual devices")
    p.add_argument("--station-name", default=None, metavar="NAME",
                   help="the station to pair (its devices are remembered under this name; "
                        "default 'station')")
    p.add_argument("--broker", metavar="HOST[:PORT]",
                   help="with --station: also find WiFi devices on this MQTT broker")
    p.add_argument("--scenario", default="good_session",
                   help="simulated session the virtual glove plays (default good_session)")
    p.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    p.add_argument("--protocol", metavar="FILE.toml", help="protocol file (default: classic back massage)")
    p.add_argument("--trainee", default="", help="trainee's name (filled into the form)")
    p.add_argument("--sessions", metavar="DIR",
                   help="where recordings go (default ~/glovecoach-sessions or $GLOVECOACH_SESSIONS)")
    p.set_defaults(func=run)


def load_protocol_arg(path: str | None):
    from glovecoach.protocols import ProtocolError, default_protocol, load_protocol

    if not path:
        return default_protocol()
    try:
        return load_protocol(path)
    except (ProtocolError, OSError) as exc:
        raise CommandError(str(exc)) from None


# How long a glove named by --port gets to answer INFO before the form is shown (a board
# that resets when its port is opened needs about a second to boot).
PORT_CHECK_TIMEOUT_S = 3.0


def check_port(port: str, timeout: float = PORT_CHECK_TIMEOUT_S) -> dict:
    """The HELLO info of the glove on `port`, or `CommandError` saying why there is none: the
    port must exist, open, and answer INFO as a glove, before the trainee fills in the form.
    A virtual glove URL is not probed (it is started on demand, with the session)."""
    if port.startswith("virtual://"):
        return {}
    from glovecoach.link.discovery import list_devices

    try:
        (report,) = list_devices({port: "--port"}, timeout=timeout, ports=[])
    except ValueError as exc:  # not a port path nor a URL the link understands
        raise CommandError(f"--port {port}: {exc}") from None
    if not report.is_glove:
        raise CommandError(f"--port {port}: {report.problem}; `glovecoach devices` lists the "
                           f"ports where a glove answers")
    return {"glove_id": report.glove_id, "firmware": report.firmware}


# The virtual station's gloves: each its own glove id (the pairing and the recording tell
# devices apart by id), the left hand another seed of the scenario so the hands differ a little
VIRTUAL_STATION_IDS = {"left_glove": "GC-SIM-L001", "right_glove": "GC-SIM-R001", "spine_strip": "GC-SIM-S001"}


def virtual_station_urls(scenario: str = "good_session", seed: int = 1, *, start_s: float = 0.0,
                         directory: str | Path | None = None) -> dict[str, str]:
    """role -> `virtual://` URL of a whole virtual station: a left glove, a right glove and a
    spine strip, each the real firmware in its role, playing its own part of `scenario` (the
    right hand's session gives the strip; the left hand plays seed + 1). ValueError for an
    unknown scenario."""
    from glovecoach.app.sources import simulated_session
    from glovecoach.simulate import write_signal_file
    from glovecoach.vocabulary.sensors import device_map
    from glovecoach.vocabulary.station import STATION_ROLES

    if directory is None:
        directory = tempfile.mkdtemp(prefix="glovecoach-station-sig-")
        atexit.register(shutil.rmtree, directory, True)
    directory = Path(directory)
    sessions = {"right": simulated_session(scenario, seed, start_s),
                "left": simulated_session(scenario, seed + 1, start_s)}
    urls = {}
    for role in STATION_ROLES:
        session = sessions["left" if role == "left_glove" else "right"]
        ids = device_map(role).ids
        # the device's own channels, in its own order, out of the simulated kit's 20
        raw = session.raw[:, [session.channels.index(c) for c in ids]]
        path = write_signal_file(SimpleNamespace(raw=raw, rate_hz=session.rate_hz),
                                 directory / f"{role}-{scenario}-{seed}.gcsig")
        urls[role] = f"virtual://?role={role}&glove_id={VIRTUAL_STATION_IDS[role]}&signal={path}"
    return urls


def parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "1883")
    try:
        number = int(port)
    except ValueError:
        raise CommandError(f"--broker {text}: the port must be a number") from None
    if not host or not 0 < number < 65536:
        raise CommandError(f"--broker {text}: give HOST or HOST:PORT")
    return host, number


def run(args: argparse.Namespace) -> int:
    from glovecoach.app.qt import QtPlatformError, check_platform, ensure_app

    if args.station and (args.port or args.replay):
        raise CommandError("--station pairs its own devices (or starts virtual ones with --virtual); "
                           "it does not take --port or --replay")
    if (args.station_name or args.broker) and not args.station:
        raise CommandError("--station-name and --broker are for --station")
    broker = parse_broker(args.broker) if args.broker else None
    protocol = load_protocol_arg(args.protocol)
    try:
        # Before anything else: without this, Qt falls back to an invisible offscreen window
        # that never ends (no display) or aborts the process (a missing xcb library).
        check_platform(window=True)
    except QtPlatformError as exc:
        raise CommandError(str(exc)) from None
    if args.port:
        check_port(args.port)
    try:
        app = ensure_app()
    except QtPlatformError as exc:
        raise CommandError(str(exc)) from None
    if args.replay:
        from glovecoach.app.replay import ReplayWindow
        from glovecoach.recording import RecordingError

        try:
            replay = ReplayWindow(args.replay, protocol=protocol)
        except (RecordingError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        replay.show()
        return app.exec()
    from glovecoach.app.main_window import MainWindow

    if args.station:
        if args.virtual:
            try:
                station: Any = virtual_station_urls(args.scenario, args.seed)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        else:
            from glovecoach.app.pairing import DEFAULT_STATION
            from glovecoach.app.pairing_dialog import pair_station

            station = pair_station(args.station_name or DEFAULT_STATION, broker=broker)
            if station is None:
                return 0          # the pairing was cancelled: nothing to coach
        window = MainWindow(station=station, sessions=args.sessions, protocol=protocol,
                            trainee=args.trainee)
        window.show()
        return app.exec()
    url = None
    if args.port:
        url = args.port
    elif args.virtual:
        from glovecoach.app.sources import virtual_glove_url

        try:
            url = virtual_glove_url(args.scenario, args.seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    window = MainWindow(url, sessions=args.sessions, protocol=protocol, trainee=args.trainee)
    window.show()
    return app.exec()
