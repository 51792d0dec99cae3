"""`glovecoach analyze FILE`: the coaching engine over a recorded session, as a report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from glovecoach.commands import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    from glovecoach.output_files import add_overwrite_flag

    p = subparsers.add_parser(
        "analyze",
        help="analyse a recorded session (.gcrec, or a CSV of newtons) against a massage protocol",
        description="Runs the same coaching engine as live coaching over a .gcrec recording (converted "
                    "with the glove's calibration, or the nominal curve if it has none) or a CSV with a "
                    "time_s column and one column of newtons per channel id.",
    )
    p.add_argument("file", type=Path, nargs="+",
                   help="a .gcrec recording or a .csv of forces; several .gcrec files: the parts of one "
                        "station session (a classroom app that restarted mid-class records on in a new "
                        "file), analysed as one. A part that says it continues earlier ones (beside it) "
                        "is analysed with them")
    p.add_argument("--protocol", type=Path, help="protocol file (TOML); default: the classic back massage")
    p.add_argument("--calibration", type=Path, help="calibration file to use instead of the glove's stored one")
    p.add_argument("--calibrations-dir", type=Path,
                   help="where stored calibrations live (default ~/.config/glovecoach/calibrations)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--html", type=Path, metavar="OUT.html",
                   help="also write the debrief as a self-contained HTML report")
    p.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="also write the debrief as a PDF report")
    add_overwrite_flag(p, "the --html / --pdf report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `glovecoach --help` stays quick.
    from glovecoach.calibration import Calibration, CalibrationError
    from glovecoach.output_files import OutputFileError, check_outputs
    from glovecoach.pipeline.analysis import analyze_recording, analyze_table
    from glovecoach.protocols import ProtocolError, default_protocol, load_protocol
    from glovecoach.recording import RecordingError, StationRecording, open_any_recording
    from glovecoach.recording.parts import CONTINUES_KEY, PartsError, continued_parts, open_station_session

    try:
        protocol = load_protocol(args.protocol) if args.protocol else default_protocol()
    except ProtocolError as exc:
        raise CommandError(str(exc)) from None
    paths: list[Path] = list(args.file)
    for each in paths:
        if not each.exists():
            raise CommandError(f"{each}: no such file")
    if len(paths) > 1 and any(each.suffix.lower() != ".gcrec" for each in paths):
        raise CommandError("several files are the parts of one station session: give .gcrec recordings only")
    if len(set(map(os.path.realpath, paths))) != len(paths):
        raise CommandError("a part is given twice: " + ", ".join(map(str, paths)))
    path = paths[-1]
    # The reports are checked before the analysis, so a refusal does not come after it; first
    # against the inputs (`analyze X.csv --html X.csv` says that X.csv is the input).
    reports = [out for out in (args.html, args.pdf) if out is not None]
    try:
        check_outputs(reports, overwrite=args.overwrite, inputs=[*paths, args.protocol, args.calibration])
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    for out, suffix in ((args.html, ".html"), (args.pdf, ".pdf")):
        if out is not None and out.suffix.lower() != suffix:
            raise CommandError(f"{out}: the {suffix[1:].upper()} report needs a {suffix} file name")
    extra: dict = {"file": str(path)}
    recording = None
    try:
        if path.suffix.lower() == ".csv":
            if args.calibration:
                raise CommandError("--calibration applies to .gcrec recordings; a CSV already holds newtons")
            from glovecoach.recording.force_csv import ForceCsvError, read_force_csv  # (not needed for a .gcrec)

            try:
                table = read_force_csv(path)
            except ForceCsvError as exc:
                raise CommandError(str(exc)) from None
            info = table.export_info or {}
            report = analyze_table(table, protocol, {
                "nominal": info.get("calibration", "nominal") == "nominal" if info else False,
                "glove_id": info.get("glove_id"), "source": "csv",
                "csv_calibration": info.get("calibration")})
        else:
            recording = open_any_recording(path) if len(paths) == 1 else None
            if recording is None or (isinstance(recording, StationRecording)
                                     and recording.metadata.get(CONTINUES_KEY)):
                try:
                    if recording is not None:
                        paths = continued_parts(path, recording)
                    recording = open_station_session(paths) if len(paths) > 1 else recording
                except PartsError as exc:
                    raise CommandError(str(exc)) from None
                if len(paths) > 1:
                    extra["parts"] = [str(each) for each in paths]
                    print(f"analysed as one session: {', '.join(map(str, paths))}", file=sys.stderr)
        if isinstance(recording, StationRecording):
            report = _analyze_station(recording, protocol, args)
            if recording.truncated:
                extra["recording_problem"] = recording.truncation_reason
        elif recording is not None:
            calibration = None
            if args.calibration:
                calibration = Calibration.load(args.calibration, recording.channels,
                                               glove_id=recording.device_info.get("glove_id"))
            report = analyze_recording(recording, protocol, calibration, args.calibrations_dir)
            if recording.truncated:
                extra["recording_problem"] = recording.truncation_reason
    except (CalibrationError, RecordingError) as exc:
        raise CommandError(str(exc)) from None

    # Everything is computed before anything is printed: an error never leaves half a report.
    if args.json:
        out = report.to_dict()
        out.update(extra)
        text = json.dumps(out, indent=2)
    else:
        text = " + ".join(map(str, paths)) + "\n" + report.summary()
        if "recording_problem" in extra:
            text += f"\nRecording damaged: {extra['recording_problem']}; analysed what could be read."
    print(text)
    if (args.html or args.pdf) and isinstance(recording, StationRecording):
        for written in write_station_reports(report.to_dict(), protocol, path, recording, args.html, args.pdf,
                                             overwrite=args.overwrite, inputs=paths):
            print(f"report written: {written}", file=sys.stderr)
    elif args.html or args.pdf:
        for written in write_reports(report.to_dict(), protocol, path, recording, args.html, args.pdf,
                                     overwrite=args.overwrite):
            print(f"report written: {written}", file=sys.stderr)
    return 0


def _analyze_station(station, protocol, args: argparse.Namespace):
    from glovecoach.pipeline.analysis import analyze_station_recording

    if args.calibration:
        raise CommandError("--calibration takes one glove's calibration; a station recording has a device "
                           "per role: store each glove's calibration (glovecoach calibrate) and use "
                           "--calibrations-dir")
    return analyze_station_recording(station, protocol, args.calibrations_dir)


def write_station_reports(report: dict, protocol, path: Path, station, html: Path | None, pdf: Path | None,
                          *, overwrite: bool = False, inputs: list[Path] | None = None) -> list[Path]:
    """The station debrief (both hands) as HTML and/or PDF."""
    from glovecoach.app.qt import QtPlatformError, ensure_app
    from glovecoach.output_files import OutputFileError, atomic_output

    try:
        ensure_app(headless=True)
    except QtPlatformError as exc:
        raise CommandError(f"cannot write the report: {exc}") from None
    from glovecoach.app.station_report import write_station_report

    info: dict = {"recording": str(path), "started_at": station.started_at, **station.metadata}
    for note in station.notes_of("session_start"):
        info.update(note.payload)
    info.update(station.instructor_notes())
    alerts: list = []
    for note in station.notes_of("alert_log"):
        alerts = list(note.payload.get("alerts", []))
    written = []
    try:
        for out in (html, pdf):
            if out is not None:
                with atomic_output(out, overwrite=overwrite, inputs=inputs or [path]) as temporary:
                    write_station_report(temporary, report, info, protocol, alerts)
                written.append(out)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"could not write the report: {exc}") from None
    return written


def write_reports(report: dict, protocol, path: Path, recording, html: Path | None,
                  pdf: Path | None, *, overwrite: bool = False) -> list[Path]:
    """The debrief page for `report`, exported as HTML and/or PDF (Qt offscreen, no window).

    The recording's own screening answers and live alert log go into the report when it has
    them (a session recorded by the app); the report itself is the one just computed. Each
    file is written under a temporary name and renamed into place (glovecoach.output_files)."""
    from glovecoach.app.qt import QtPlatformError, ensure_app
    from glovecoach.output_files import OutputFileError, atomic_output

    try:
        ensure_app(headless=True)
    except QtPlatformError as exc:      # e.g. a system library Qt needs is missing: say which
        raise CommandError(f"cannot write the report: {exc}") from None
    from glovecoach.app.debrief import DebriefView

    info: dict = {"recording": str(path)}
    alerts: list = []
    if recording is not None:
        # when and with which glove: known for every recording, screened by the app or not
        info.update(started_at=recording.started_at, glove_id=recording.device_info.get("glove_id"))
        info.update(recording.metadata)
        for note in recording.notes_of("session_start"):
            info.update(note.payload)
        for note in recording.notes_of("alert_log"):
            alerts = list(note.payload.get("alerts", []))
    debrief = DebriefView(report, protocol=protocol, recording_path=path, info=info, alerts=alerts)
    written = []
    try:
        for out in (html, pdf):
            if out is not None:
                with atomic_output(out, overwrite=overwrite, inputs=[path]) as temporary:
                    debrief.export(temporary)   # HTML or PDF by the suffix, which the name keeps
                written.append(out)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"could not write the report: {exc}") from None
    finally:
        debrief.deleteLater()
    return written
