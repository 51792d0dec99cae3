"""`glovecoach deploy`: flash MicroPython (optional) and copy the firmware to the glove."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from glovecoach.deploy import DeployError, build_plan, check_port_exists, deploy_virtual, run_plan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="flash MicroPython and copy the glove firmware to an ESP32",
        description=(
            "Copy firmware/ and hardware/sensor_map.json to the board with mpremote; with "
            "--flash, first erase the chip and write a MicroPython image with esptool. "
            "See hardware/README.md for where to get the image."),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port",
                       help="serial port of the board, e.g. /dev/ttyUSB0, /dev/ttyACM0, COM3")
    where.add_argument("--virtual", action="store_true",
                       help="deploy into a folder standing in for the board (--target) and boot "
                            "it in MicroPython's unix port: checks the deployed file set starts")
    parser.add_argument("--target", type=Path, metavar="DIR",
                        help="with --virtual: the folder to deploy into (default: a temporary one)")
    parser.add_argument("--chip", choices=("esp32", "esp32s3"), default="esp32",
                        help="board's chip (default esp32); sets the flash offset")
    parser.add_argument("--flash", type=Path, metavar="IMAGE.bin",
                        help="erase the chip and write this MicroPython image first")
    parser.add_argument("--glove-id", metavar="ID",
                        help="write ID (e.g. GC-0001) to glove_id.txt on the board")
    parser.add_argument("--role", metavar="ROLE",
                        help="write the board's role to role.txt: kit (the one-board kit, the "
                             "default of a board without one), right_glove, left_glove or spine_strip")
    parser.add_argument("--mpy", action="store_true",
                        help="compile the firmware with mpy-cross and copy .mpy files")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the steps and their commands without running them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glovecoach.commands import CommandError

    if args.virtual:
        return run_virtual(args)
    if args.target is not None:
        raise CommandError("--target is for --virtual; a board's files go where --port says")
    try:
        with tempfile.TemporaryDirectory(prefix="glovecoach-mpy-") as staging:
            plan = build_plan(
                args.port, chip=args.chip, flash_image=args.flash, glove_id=args.glove_id,
                role=args.role, mpy=args.mpy, staging_dir=Path(staging) if args.mpy else None)
            if args.dry_run:
                print(plan.describe())
                return 0
            check_port_exists(args.port)
            run_plan(plan, out=sys.stdout)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    print(f"deployed {len(plan.files)} files to the {plan.chip} on {plan.port}")
    return 0


def run_virtual(args: argparse.Namespace) -> int:
    from glovecoach.commands import CommandError

    if args.flash is not None:
        raise CommandError("--flash writes a MicroPython image to a chip; the virtual glove has none")
    try:
        plan = build_plan("virtual", chip=args.chip, glove_id=args.glove_id, role=args.role, mpy=args.mpy,
                          staging_dir=Path(tempfile.mkdtemp()) if args.mpy else None)
        if args.dry_run:
            print(plan.describe())
            return 0
        with tempfile.TemporaryDirectory(prefix="glovecoach-device-") as scratch:
            root = args.target if args.target is not None else Path(scratch)
            info = deploy_virtual(plan, root, glove_id=args.glove_id)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    print(f"deployed {len(plan.files)} files to {root} and booted them in MicroPython: "
          f"glove {info.get('glove_id')} ({info.get('role', 'kit')}), firmware {info.get('firmware')}, "
          f"{len(info.get('channels', []))} channels at {info.get('rate_hz')} Hz")
    return 0
