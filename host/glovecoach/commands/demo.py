"""`glovecoach demo`: the app on a whole virtual station playing a good session, ready to watch.

A station is a left glove, a right glove and a spine strip, each the real firmware in the
MicroPython unix port on its own crystal, publishing over MQTT through the station's own broker
(Mosquitto on the loopback when installed, else the embedded amqtt), as gloves on WiFi do.
``--kit`` runs today's one-board kit instead (one glove with the strip, over USB)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from glovecoach.commands import CommandError

HEADLESS_SECONDS = 30.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="watch the app coach a simulated good session",
        description="Open the app on a whole virtual station (two gloves and a spine strip, each the real "
                    "firmware in MicroPython, over WiFi through the station's broker) playing a simulated "
                    "session, with the screening already answered; --kit for the one-board kit. With "
                    "--seconds and --screenshot it runs headless and saves the window.")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (then show the debrief)")
    p.add_argument("--screenshot", metavar="FILE.png", help="save the live window here when --seconds is up")
    p.add_argument("--debrief-screenshot", metavar="FILE.png", help="also save the debrief page")
    p.add_argument("--speed", type=float, default=1.0,
                   help="play the session this many times faster (a recording through the same "
                        "decode path; 1 = the virtual glove in real time)")
    p.add_argument("--scenario", default="good_session", help="simulated session (default good_session)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mode", choices=("continuous", "alerts_only", "blind"), default="continuous")
    p.add_argument("--instructor", action="store_true", help="instructor layout (full screen)")
    p.add_argument("--sessions", metavar="DIR", help="where the recording goes (default: a temp dir)")
    p.add_argument("--kit", action="store_true",
                   help="the one-board kit (one right glove with the strip on its cable) instead of a station")
    p.add_argument("--usb", action="store_true",
                   help="the station's devices on USB (pseudo-terminals) instead of WiFi through a broker")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        raise CommandError(f"--speed must be > 0, got {args.speed}")
    if args.screenshot and not args.seconds:
        raise CommandError("--screenshot needs --seconds (when to take it)")
    from glovecoach.app.qt import (
        QtPlatformError,
        check_screenshot_path,
        ensure_app,
        has_display,
        save_window,
    )

    if not has_display() and not args.seconds:
        # No window can open here (a server, a container, CI): run the same session headless
        # and leave pictures of it, rather than an invisible window that never ends.
        args.seconds = HEADLESS_SECONDS
        args.screenshot = args.screenshot or "glovecoach-demo-live.png"
        args.debrief_screenshot = args.debrief_screenshot or "glovecoach-demo-debrief.png"
        print(f"no display found (DISPLAY and WAYLAND_DISPLAY are unset): running the demo "
              f"headless for {HEADLESS_SECONDS:.0f} s on the {'virtual glove' if args.kit else 'virtual station'}, "
              "then saving "
              f"{args.screenshot} and {args.debrief_screenshot}; on a desktop the window opens",
              flush=True)
    # A picture that cannot be saved is found now, not after the whole run.
    for option, path in (("--screenshot", args.screenshot),
                         ("--debrief-screenshot", args.debrief_screenshot)):
        if path:
            try:
                check_screenshot_path(path, option)
            except ValueError as exc:
                raise CommandError(str(exc)) from None

    try:
        app = ensure_app(headless=bool(args.screenshot))
    except QtPlatformError as exc:   # a missing xcb library, an X server that does not answer
        raise CommandError(str(exc)) from None
    if not args.kit:
        return _run_station(args, app)
    from PySide6 import QtCore

    from glovecoach.app.main_window import MainWindow
    from glovecoach.app.sources import replay_url, virtual_glove_url

    work = Path(tempfile.mkdtemp(prefix="glovecoach-demo-"))
    try:
        url = (virtual_glove_url(args.scenario, args.seed, directory=work) if args.speed == 1
               else replay_url(args.scenario, args.seed, speed=args.speed, directory=work))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    window = MainWindow(url, sessions=args.sessions or work / "sessions", trainee="Demo trainee")
    window.resize(1600, 1000)
    failures: list[str] = []

    def started() -> None:
        window.set_mode(args.mode)
        if args.instructor:
            window.set_instructor(True)
        if args.seconds:
            QtCore.QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish() -> None:
        try:
            if args.screenshot:
                save_window(window, args.screenshot)
                print(f"saved {args.screenshot}")
            window.stop_session()
            if window.controller is not None:
                print(f"recording: {window.controller.recording_path}")
            if args.debrief_screenshot:
                save_window(window, args.debrief_screenshot)
                print(f"saved {args.debrief_screenshot}")
        except Exception as exc:  # noqa: BLE001 - reported as the command's failure
            failures.append(str(exc))
        if args.screenshot or args.debrief_screenshot:
            app.quit()

    window.session_started.connect(started)
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    window.show()
    QtCore.QTimer.singleShot(0, screening.try_start)
    if args.seconds:
        # a glove that never connects must not hang a headless run
        def give_up() -> None:
            if window.controller is None:
                failures.append(window.error or "the glove did not connect within 30 s")
                app.quit()

        QtCore.QTimer.singleShot(int((args.seconds + 30) * 1000), give_up)
    app.exec()
    # The simulated input is not worth keeping (the session's recording is, and stays).
    for generated in list(work.glob("*.gcrec")) + list(work.glob("*.gcsig")):
        generated.unlink(missing_ok=True)
    if window.error:
        raise CommandError(window.error)
    if failures:
        raise CommandError(failures[0])
    return 0


def _run_station(args: argparse.Namespace, app) -> int:
    """The whole virtual station, through the station's broker (or on USB with --usb)."""
    if args.speed != 1:
        raise CommandError("--speed replays the kit's recording: use it with --kit")
    from glovecoach.app.main_window import MainWindow, run_station_window
    from glovecoach.simulate.station import virtual_station

    work = Path(tempfile.mkdtemp(prefix="glovecoach-demo-"))
    sessions = args.sessions or work / "sessions"
    try:
        station = virtual_station(args.seed, rate_hz=200, scenario=args.scenario,
                                  transport="serial" if args.usb else "mqtt")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        with station:
            where = "USB" if args.usb else f"WiFi through the broker on port {station.broker.port}"
            print(f"virtual station: left glove, right glove and spine strip over {where}", flush=True)
            urls = dict(station.urls)
            if args.seconds:
                window = run_station_window(urls, args.seconds, screenshot=args.screenshot,
                                            debrief_screenshot=args.debrief_screenshot, sessions=sessions,
                                            trainee="Demo trainee")
                for path in (args.screenshot, args.debrief_screenshot):
                    if path:
                        print(f"saved {path}")
                if window.controller is not None:
                    print(f"recording: {window.controller.recording_path}")
                return 0
            window = MainWindow(station=urls, sessions=sessions, trainee="Demo trainee")
            window.resize(1600, 1000)
            screening = window.screening_page
            screening.answer_all_no()
            screening.tick_all()
            window.show()
            from PySide6 import QtCore

            QtCore.QTimer.singleShot(0, screening.try_start)
            app.exec()
            if window.error:
                raise CommandError(window.error)
            return 0
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise CommandError(f"the virtual station did not run: {exc}") from None
