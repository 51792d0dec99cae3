"""`glovecoach export FILE --csv OUT [--newtons | --raw]`: a recording as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from glovecoach.commands import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    from glovecoach.output_files import add_overwrite_flag

    parser = subparsers.add_parser(
        "export",
        help="export a .gcrec recording as CSV (newtons, or raw ADC counts with --raw)",
        description="Write one CSV row per recorded sample: time_s (session time, seconds) and one "
        "column per channel; rows of lost samples are left out. Values are newtons, converted with "
        "the glove's stored calibration exactly as `glovecoach analyze` does (the nominal curve if it "
        "has none); a saturated sensor is written as the word 'sat' and an open lead as 'open', never "
        "as a force. With --raw, the raw ADC counts (0..4095). A first comment line says which.",
    )
    parser.add_argument("file", metavar="FILE", help="a .gcrec session recording")
    parser.add_argument("--csv", metavar="OUT", required=True, help="the CSV file to write")
    add_overwrite_flag(parser, "OUT")
    units = parser.add_mutually_exclusive_group()
    units.add_argument("--newtons", action="store_true",
                       help="newtons through the glove's calibration (the default)")
    units.add_argument("--raw", action="store_true", help="raw ADC counts instead of newtons")
    parser.add_argument("--calibration", type=Path, help="calibration file to use instead of the glove's stored one")
    parser.add_argument("--calibrations-dir", type=Path,
                        help="where stored calibrations live (default ~/.config/glovecoach/calibrations)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glovecoach.output_files import OutputFileError, check_output
    from glovecoach.recording import RecordingError, export_csv, open_recording

    if args.raw and (args.calibration or args.calibrations_dir):
        raise CommandError("--calibration and --calibrations-dir apply to newtons, not to --raw counts")
    # Before reading the recording: `export REC --csv REC` is refused at once, and the CSV is
    # checked again when it is renamed into place.
    inputs = [args.file, args.calibration]
    try:
        check_output(args.csv, overwrite=args.overwrite, inputs=inputs)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    try:
        recording = open_recording(args.file)
    except RecordingError as exc:
        raise CommandError(str(exc)) from exc
    calibration = None
    if not args.raw:
        from glovecoach.calibration import Calibration, CalibrationError, calibration_for

        # The same choice as `glovecoach analyze`, so the CSV holds the forces it would coach on.
        try:
            calibration = (Calibration.load(args.calibration, recording.channels) if args.calibration
                           else calibration_for(recording.glove_id, recording.channels, args.calibrations_dir))
        except CalibrationError as exc:
            raise CommandError(f"cannot convert to newtons: {exc}; --raw exports the ADC counts") from None
    try:
        result = export_csv(recording, args.csv, calibration=calibration, overwrite=args.overwrite)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    if recording.truncated:
        print(f"warning: {args.file} is damaged, exported what was readable: {recording.truncation_reason}",
              file=sys.stderr)
    if calibration is None:
        what = "raw ADC counts"
    else:
        if calibration.nominal:
            source = f"nominal curves: no calibration stored for glove {recording.glove_id or '(no id)'}"
        else:
            source = f"calibration {calibration.source or 'of glove ' + str(recording.glove_id)}"
        what = f"newtons, {source}"
        if result.saturated_cells or result.open_cells:
            what += (f"; {result.saturated_cells} saturated cell(s) written as 'sat', "
                     f"{result.open_cells} open-lead cell(s) as 'open'")
    print(f"wrote {result.rows} rows x {len(recording.channels)} channels ({what}) to {args.csv}")
    return 0
