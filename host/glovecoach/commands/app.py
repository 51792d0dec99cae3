"""`glovecoach app`: the training app on a real glove, the virtual glove, or a recording."""

from __future__ import annotations

import argparse

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
                     help="replay a recorded session (play, pause, scrub)")
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


def run(args: argparse.Namespace) -> int:
    from glovecoach.app.qt import QtPlatformError, check_platform, ensure_app

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
