"""`glovecoach export FILE --csv OUT [--raw]`: a recording as CSV."""

from __future__ import annotations

import argparse
import sys

from glovecoach.cli import CommandError
from glovecoach.recording import RecordingError, export_csv, open_recording


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a .gcrec recording as CSV",
        description="Write one CSV row per recorded sample: time_s (session time, seconds) and one "
        "column per channel. Values are raw ADC counts (0..4095); rows of lost samples are left out.",
    )
    parser.add_argument("file", metavar="FILE", help="a .gcrec session recording")
    parser.add_argument("--csv", metavar="OUT", required=True, help="the CSV file to write")
    parser.add_argument(
        "--raw", action="store_true",
        help="raw ADC counts (currently the only unit; kept so scripts stay valid when newtons arrive)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        recording = open_recording(args.file)
    except RecordingError as exc:
        raise CommandError(str(exc)) from exc
    try:
        export_csv(recording, args.csv)
    except OSError as exc:
        raise CommandError(f"cannot write {args.csv}: {exc.strerror or exc}") from exc
    if recording.truncated:
        print(f"warning: {args.file} is damaged, exported what was readable: {recording.truncation_reason}",
              file=sys.stderr)
    print(f"wrote {recording.samples} rows x {len(recording.channels)} channels (raw ADC counts) to {args.csv}")
    return 0
