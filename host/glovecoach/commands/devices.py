"""`glovecoach devices`: list serial ports and say which ones are gloves."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from dataclasses import asdict

from glovecoach.commands import CommandError
from glovecoach.commands.record import seconds_arg
from glovecoach.link.discovery import list_devices


def _run(args: argparse.Namespace) -> int:
    from glovecoach.link.virtual_glove import VirtualGlove

    with ExitStack() as stack:
        extra: dict[str, str] = {}
        if args.virtual:
            try:
                glove = stack.enter_context(VirtualGlove())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot start the virtual glove: {exc}") from exc
            extra[glove.port] = "virtual glove (firmware in MicroPython)"
        reports = list_devices(extra, timeout=args.timeout, all_ports=args.all)
    if args.json:
        print(json.dumps([asdict(r) for r in reports], indent=2))
        return 0
    probed = [r for r in reports if r.probed]
    skipped = [r for r in reports if not r.probed]
    if not probed:
        print("no USB serial ports found (plug in a glove, or try --virtual)")
    else:
        width = max(len(r.path) for r in probed)
        for r in probed:
            if r.is_glove:
                what = f"glove {r.glove_id}  firmware {r.firmware}  board {r.board}"
            else:
                what = f"-  ({r.problem})"
            print(f"{r.path:<{width}}  {r.description[:40]:<40}  {what}")
    if skipped:
        names = ", ".join(r.path for r in skipped[:6]) + (", ..." if len(skipped) > 6 else "")
        print(f"not probed: {len(skipped)} port(s) that are not USB serial ports ({names}); "
              "--all probes them too")
    gloves = sum(r.is_glove for r in reports)
    print(f"{gloves} glove(s) on {len(probed)} port(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices", help="list serial ports and the gloves on them",
        description="List serial ports and probe the USB ones (all of them with --all); ports whose "
                    "device answers the INFO command are gloves.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--virtual", action="store_true",
                        help="also start a virtual glove (the firmware in MicroPython) and list it")
    parser.add_argument("--all", action="store_true",
                        help="probe every serial port, not only USB ones (writes an INFO request "
                             "to each: only for ports where that is harmless)")
    parser.add_argument("--timeout", type=seconds_arg, default=0.6, metavar="S",
                        help="how long each port has to answer INFO (default 0.6 s)")
    parser.set_defaults(func=_run)
