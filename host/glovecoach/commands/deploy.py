"""`glovecoach deploy`: flash MicroPython (optional) and copy the firmware to the glove."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from glovecoach.deploy import DeployError, build_plan, check_port_exists, run_plan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="flash MicroPython and copy the glove firmware to an ESP32",
        description=(
            "Copy firmware/ and hardware/sensor_map.json to the board with mpremote; with "
            "--flash, first erase the chip and write a MicroPython image with esptool. "
            "See hardware/README.md for where to get the image."),
    )
    parser.add_argument("--port", required=True,
                        help="serial port of the board, e.g. /dev/ttyUSB0, /dev/ttyACM0, COM3")
    parser.add_argument("--chip", choices=("esp32", "esp32s3"), default="esp32",
                        help="board's chip (default esp32); sets the flash offset")
    parser.add_argument("--flash", type=Path, metavar="IMAGE.bin",
                        help="erase the chip and write this MicroPython image first")
    parser.add_argument("--glove-id", metavar="ID",
                        help="write ID (e.g. GC-0001) to glove_id.txt on the board")
    parser.add_argument("--mpy", action="store_true",
                        help="compile the firmware with mpy-cross and copy .mpy files")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the steps and their commands without running them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glovecoach.cli import CommandError

    try:
        with tempfile.TemporaryDirectory(prefix="glovecoach-mpy-") as staging:
            plan = build_plan(
                args.port, chip=args.chip, flash_image=args.flash, glove_id=args.glove_id,
                mpy=args.mpy, staging_dir=Path(staging) if args.mpy else None)
            if args.dry_run:
                print(plan.describe())
                return 0
            check_port_exists(args.port)
            run_plan(plan, out=sys.stdout)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    print(f"deployed {len(plan.files)} files to the {plan.chip} on {plan.port}")
    return 0
