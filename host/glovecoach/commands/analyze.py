"""`glovecoach analyze FILE`: the coaching engine over a recorded session, as a report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from glovecoach.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="analyse a recorded session (.gcrec, or a CSV of newtons) against a massage protocol",
        description="Runs the same coaching engine as live coaching over a .gcrec recording (converted "
                    "with the glove's calibration, or the nominal curve if it has none) or a CSV with a "
                    "time_s column and one column of newtons per channel id.",
    )
    p.add_argument("file", type=Path, help="a .gcrec recording or a .csv of forces")
    p.add_argument("--protocol", type=Path, help="protocol file (TOML); default: the classic back massage")
    p.add_argument("--calibration", type=Path, help="calibration file to use instead of the glove's stored one")
    p.add_argument("--calibrations-dir", type=Path,
                   help="where stored calibrations live (default ~/.config/glovecoach/calibrations)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `glovecoach --help` stays quick.
    from glovecoach.calibration import Calibration, CalibrationError
    from glovecoach.engine.offline import ForceCsvError, analyze_recording, analyze_table, read_force_csv
    from glovecoach.protocols import ProtocolError, default_protocol, load_protocol
    from glovecoach.recording import RecordingError, open_recording

    try:
        protocol = load_protocol(args.protocol) if args.protocol else default_protocol()
    except ProtocolError as exc:
        raise CommandError(str(exc)) from None
    path: Path = args.file
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    extra: dict = {"file": str(path)}
    try:
        if path.suffix.lower() == ".csv":
            if args.calibration:
                raise CommandError("--calibration applies to .gcrec recordings; a CSV already holds newtons")
            report = analyze_table(read_force_csv(path), protocol)
        else:
            recording = open_recording(path)
            calibration = Calibration.load(args.calibration, recording.channels) if args.calibration else None
            report = analyze_recording(recording, protocol, calibration, args.calibrations_dir)
            if recording.truncated:
                extra["recording_problem"] = recording.truncation_reason
    except (ForceCsvError, CalibrationError, RecordingError) as exc:
        raise CommandError(str(exc)) from None

    # Everything is computed before anything is printed: an error never leaves half a report.
    if args.json:
        out = report.to_dict()
        out.update(extra)
        text = json.dumps(out, indent=2)
    else:
        text = f"{path}\n" + report.summary()
        if "recording_problem" in extra:
            text += f"\nRecording damaged: {extra['recording_problem']}; analysed what could be read."
    print(text)
    return 0
