"""The end of a class: every station's debrief and the class summary, written next to the
recordings. One function for both ways a class ends (the headless command's timer, the
instructor's "End class" or closing the grid window), so the two leave the same files.

The instructor's marks and messages are read back from each station's recording, not from
memory: what the debrief shows is what the recording holds.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glovecoach.recording.parts import open_station_session


@dataclass
class ClassFiles:
    """What the end of a class wrote: each station's debrief (None where it could not be
    written, with the reason in ``problems``) and the summary as CSV, HTML and PDF (None if
    the PDF could not be typeset, with the reason in ``summary_problem``)."""

    debriefs: dict[str, Path | None] = field(default_factory=dict)
    summary_csv: Path | None = None
    summary_html: Path | None = None
    summary_pdf: Path | None = None
    problems: dict[str, str] = field(default_factory=dict)
    summary_problem: str = ""


SUMMARY_SUFFIXES = (".csv", ".html", ".pdf")


def summary_stem(record_dir: Path, started: _dt.datetime) -> str:
    """``class-summary`` in a folder that holds none yet; else the class's start is added
    (and a count, if need be): a second class recorded into the same folder keeps the first
    one's summary, as its recordings are kept by their own names."""
    def free(stem: str) -> bool:
        return not any((record_dir / f"{stem}{suffix}").exists() for suffix in SUMMARY_SUFFIXES)

    dated = f"class-summary-{started:%Y%m%d-%H%M%S}"
    stems = itertools.chain(("class-summary", dated), (f"{dated}-{k}" for k in itertools.count(2)))
    return next(stem for stem in stems if free(stem))


def write_class_files(classroom: Any, reports: dict[str, Any], record_dir: Path, protocol: Any) -> ClassFiles:
    """Each station's debrief (`<recording>.html`) and ``class-summary.csv`` / ``.html`` /
    ``.pdf`` in ``record_dir``. A station whose debrief fails is still in the summary (without a link);
    needs a QApplication (the debrief's pictures are drawn with Qt)."""
    from glovecoach.app.qt import ensure_app
    from glovecoach.app.report_pdf import write_summary_pdf
    from glovecoach.app.station_report import write_station_report
    from glovecoach.classroom.summary import ClassSummary

    ensure_app(headless=True)
    files = ClassFiles()
    entries = []
    for name, s in classroom.stations.items():
        report = reports.get(name)
        debrief = None
        said = [words for words in (s.recording_stopped, s.report_problem) if words]
        if said:
            files.problems[name] = "; ".join(said)
        if report is not None:
            debrief = s.recording.with_suffix(".html")
            try:
                info = {"recording": str(s.recording), "trainee": s.seat.trainee, "station": name}
                info.update(open_station_session(s.parts).instructor_notes())
                write_station_report(debrief, report.to_dict(), info, protocol)
            except Exception as exc:  # noqa: BLE001 - the summary still lists the station
                files.problems[name] = "; ".join(filter(None, (files.problems.get(name),
                                                               f"debrief not written: {exc}")))
                print(f"  {name}: debrief not written: {exc}", file=sys.stderr)
                debrief = None
        files.debriefs[name] = debrief
        entries.append((name, s.seat.trainee, report.to_dict() if report is not None else "no session",
                        debrief.name if debrief else None))
    summary = ClassSummary.from_reports(entries, classroom.room, classroom.started.isoformat(), protocol)
    folder = Path(record_dir)
    stem = summary_stem(folder, classroom.started)
    files.summary_csv = summary.to_csv(folder / f"{stem}.csv")
    files.summary_html = summary.write_html(folder / f"{stem}.html")
    # The PDF last, and on its own: the CSV and HTML are written whatever befalls it.
    try:
        files.summary_pdf = write_summary_pdf(folder / f"{stem}.pdf", summary)
    except Exception as exc:  # noqa: BLE001 - the class's other files are already written
        files.summary_problem = f"{stem}.pdf not written: {exc}"
        print(f"  {files.summary_problem}", file=sys.stderr)
    return files
