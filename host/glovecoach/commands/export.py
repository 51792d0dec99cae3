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
    from glovecoach.recording import RecordingError, StationRecording, export_csv, open_any_recording

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
        recording = open_any_recording(args.file)
    except RecordingError as exc:
        raise CommandError(str(exc)) from exc
    if isinstance(recording, StationRecording):
        return _export_station(recording, args)
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


def _export_station(station, args: argparse.Namespace) -> int:
    """A station: its devices aligned as `analyze` aligns them, one column per station column."""
    from glovecoach.output_files import OutputFileError
    from glovecoach.station.export import export_station_csv, station_calibrations
    from glovecoach.station.replay import align_station_recording

    if args.calibration:
        raise CommandError("--calibration takes one glove's calibration; a station recording has a device per "
                           "role: each device's stored calibration is used (see --calibrations-dir)")
    aligned = align_station_recording(station)
    calibrations = None if args.raw else station_calibrations(station, args.calibrations_dir)
    try:
        result = export_station_csv(station, aligned, args.csv, newtons=not args.raw, calibrations=calibrations,
                                    overwrite=args.overwrite)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    if station.truncated:
        print(f"warning: {args.file} is damaged, exported what was readable: {station.truncation_reason}",
              file=sys.stderr)
    missing = int((~aligned.present).sum())
    what = "raw ADC counts" if args.raw else "newtons, each device through its own calibration"
    print(f"wrote {result.rows} station rows x {len(aligned.layout.columns)} columns ({what}; "
          f"{', '.join(aligned.layout.roles)}) to {args.csv}"
          + (f"; cells of a device absent in a row are empty ({missing} device-rows)" if missing else ""))
    return 0
