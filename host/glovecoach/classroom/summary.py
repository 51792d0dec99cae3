"""The class summary: every trainee of a class side by side, from their stations' reports.

At the end of a class the instructor gets each station's debrief and this summary: each
trainee's verdict and score (the station's and each hand's), the rules broken, spine
contacts, how much the hands agreed, and how long each phase of the protocol took, against
the protocol's window. Exported as CSV (one row per trainee, stable columns, numbers as
numbers), as HTML (one self-contained page) and, through the app's Qt typesetting, as PDF
(`glovecoach.app.report_pdf.write_summary_pdf`; this package sits below the app and does not
draw).

A station whose recording could not be analysed stays in the summary with the reason: a
trainee silently missing from a class list is worse than a row that says why.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glovecoach.engine.events import RULES
from glovecoach.engine.protocol_check import ObservedPhase, assign_slots
from glovecoach.protocols import Protocol, default_protocol

HANDS = ("left", "right")
VERDICT_WORDS = {"passed": "passed", "not_passed": "not passed", "no_massage": "no massage found",
                 "failed": "not analysed"}


class SummaryError(ValueError):
    """An entry the summary cannot take; the message says which and why."""


@dataclass(frozen=True)
class TraineeResult:
    """One station of the class: its trainee and report, or why there is no report."""

    station: str
    trainee: str
    report: Mapping[str, Any] | None        # StationReport.to_dict(); None when it failed
    reason: str = ""                        # why there is no report
    debrief: str = ""                       # the file name of this trainee's own debrief

    @property
    def failed(self) -> bool:
        return self.report is None

    @property
    def station_part(self) -> Mapping[str, Any]:
        return (self.report or {}).get("station") or {}

    @property
    def verdict(self) -> str:
        if self.report is None:
            return "failed"
        return str((self.station_part.get("protocol") or {}).get("verdict") or "")

    @property
    def graded(self) -> bool:
        score = self.station_part.get("score") or {}
        return self.report is not None and score.get("graded", True) and score.get("total") is not None

    @property
    def score(self) -> int | None:
        return int(self.station_part["score"]["total"]) if self.graded else None

    def hand_score(self, hand: str) -> int | None:
        report = ((self.report or {}).get("hands") or {}).get(hand)
        if not report:
            return None
        score = report.get("score") or {}
        return int(score["total"]) if score.get("graded", True) and score.get("total") is not None else None

    @property
    def violations(self) -> list[Mapping[str, Any]]:
        return list((self.station_part.get("protocol") or {}).get("violations") or [])

    @property
    def spine_contacts(self) -> list[Mapping[str, Any]]:
        return list(self.station_part.get("spine_contacts") or [])


@dataclass(frozen=True)
class PhaseSlot:
    """One phase of the protocol, as a column of the summary."""

    index: int                  # position in the protocol (0-based)
    technique: str
    min_s: float
    max_s: float
    optional: bool

    @property
    def label(self) -> str:
        return f"phase {self.index + 1} {self.technique.replace('_', ' ')}"


@dataclass
class ClassSummary:
    room: str
    started_at: str                         # ISO time stamp of the class
    protocol: Protocol
    results: list[TraineeResult] = field(default_factory=list)

    # ------------------------------------------------------------------ making
    @classmethod
    def from_reports(cls, entries: Iterable[Sequence[Any]], room: Any, started_at: Any,
                     protocol: Protocol | None = None) -> ClassSummary:
        """The summary of a class from `entries`: (station name, trainee, report) or
        (station name, trainee, report, debrief file name), where report is a station's
        `StationReport.to_dict()`, or, for a station that could not be analysed, the reason
        (a string or the exception raised) or None (no recording at all).

        `room`: a `glovecoach.classroom.room.Room` or its name; `started_at`: a datetime or
        an ISO time stamp; `protocol`: the one the class followed (default: the default one)."""
        name = getattr(room, "name", room)
        if not isinstance(name, str) or not name:
            raise SummaryError(f"room must be a Room or a room name, not {room!r}")
        when = started_at.isoformat() if isinstance(started_at, _dt.datetime) else str(started_at or "")
        protocol = protocol or default_protocol()
        results = [_result(k, entry) for k, entry in enumerate(entries)]
        for k, r in enumerate(results):
            # one protocol per class: its phases are the summary's columns
            used = (r.station_part.get("protocol") or {}).get("name")
            if used and used != protocol.name:
                raise SummaryError(f"entry {k + 1} ({r.station}) was judged by the protocol {used!r}, "
                                   f"not this class's {protocol.name!r}")
        return cls(name, when, protocol, results)

    # ------------------------------------------------------------------ asking
    @property
    def title(self) -> str:
        return f"glovecoach class summary \u2014 {self.room}"

    @property
    def slots(self) -> list[PhaseSlot]:
        return [PhaseSlot(k, p.technique, float(p.min_s), float(p.max_s), bool(getattr(p, "optional", False)))
                for k, p in enumerate(self.protocol.phases)]

    def phase_durations(self, result: TraineeResult) -> tuple[dict[int, float], float]:
        """({protocol phase index: seconds}, seconds of phases that fit no place in the
        protocol) of the station's phases, as the protocol judges their length (a pause off
        the back counts only if the protocol says so); a phase resumed after a break adds
        to its place."""
        counts = bool(self.protocol.pause_counts_toward_phase)
        phases = [ObservedPhase(str(p["technique"]), float(p["start_s"]), float(p["end_s"]),
                                float(p.get("paused_s") or 0.0), counts)
                  for p in result.station_part.get("phases") or []]
        out: dict[int, float] = {}
        unplanned = 0.0
        for phase, (slot, _) in zip(phases, assign_slots(self.protocol, phases)):
            if slot is None:
                unplanned += phase.duration_s
            else:
                out[slot] = out.get(slot, 0.0) + phase.duration_s
        return out, unplanned

    def columns(self) -> list[str]:
        """The CSV's columns, always these in this order for a protocol: a class's summaries
        line up in one spreadsheet."""
        return (["station", "trainee", "verdict", "score"] + [f"score {h} hand" for h in HANDS]
                + ["violations"] + [f"violations {r.replace('_', ' ')}" for r in RULES] + ["violations other",
                                                                                           "spine contacts",
                                                                                           "technique agreement %"]
                + [f"{s.label} (s)" for s in self.slots] + ["phases out of the protocol (s)", "duration (s)",
                                                            "debrief", "not analysed because"])

    def rows(self) -> list[dict[str, Any]]:
        """One dict per trainee, keyed by `columns()`: numbers as numbers, None where there
        is nothing (a failed station, an ungraded hand, a phase not done)."""
        out = []
        for r in self.results:
            row: dict[str, Any] = dict.fromkeys(self.columns())
            row.update({"station": r.station, "trainee": r.trainee, "verdict": VERDICT_WORDS.get(r.verdict, r.verdict),
                        "debrief": r.debrief, "not analysed because": r.reason})
            if not r.failed:
                row["score"] = r.score
                for h in HANDS:
                    row[f"score {h} hand"] = r.hand_score(h)
                rules = [str(v.get("rule") or "") for v in r.violations]
                row["violations"] = len(rules)
                for rule in RULES:
                    row[f"violations {rule.replace('_', ' ')}"] = rules.count(rule)
                row["violations other"] = sum(1 for x in rules if x not in RULES)
                row["spine contacts"] = len(r.spine_contacts)
                agreement = r.station_part.get("technique_agreement_pct")
                row["technique agreement %"] = None if agreement is None else round(float(agreement), 1)
                durations, unplanned = self.phase_durations(r)
                for s in self.slots:
                    if s.index in durations:
                        row[f"{s.label} (s)"] = round(durations[s.index], 1)
                row["phases out of the protocol (s)"] = round(unplanned, 1)
                row["duration (s)"] = round(float((r.report or {}).get("duration_s") or 0.0), 1)
            out.append(row)
        return out

    # ------------------------------------------------------------------ writing
    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the summary as CSV (UTF-8, a header row, one row per trainee); returns the path."""
        path = Path(path)
        if not path.parent.is_dir():
            raise OSError(f"cannot write {path}: no folder {path.parent}")
        part = path.with_name(path.name + ".part")
        with open(part, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns())
            writer.writeheader()
            for row in self.rows():
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        os.replace(part, path)      # never a half-written file under the summary's name
        return path

    def to_html(self, printable: bool = False) -> str:
        """The summary as one self-contained HTML page. `printable`: the stylesheet Qt's rich
        text understands (the PDF), sizes in points."""
        esc = html.escape
        css = PRINT_CSS if printable else SCREEN_CSS
        passed = sum(1 for r in self.results if r.verdict == "passed")
        failed = sum(1 for r in self.results if r.failed)
        header = [f"Room: {self.room}", f"Protocol: {self.protocol.name}"]
        if self.started_at:
            header.append(f"Class: {_when_text(self.started_at)}")
        header.append(f"{len(self.results)} trainee(s), {passed} passed"
                      + (f", {failed} not analysed" if failed else ""))
        parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
                 f"<title>{esc(self.title)}</title><style>{css}</style></head><body>",
                 f"<h1>{esc(self.title)}</h1>",
                 "<p id='summary-header'>" + " &middot; ".join(esc(x) for x in header) + "</p>"]
        slots = self.slots
        head = ["station", "trainee", "result", "score", "rules broken", "spine contacts", "hands agree"]
        head = [esc(h) for h in head]
        head += [f"{k + 1}. {esc(s.technique.replace('_', ' '))}"
                 + ("<br><span class='small'>optional</span>" if s.optional else "") for k, s in enumerate(slots)]
        head += ["duration", "debrief"]
        parts.append("<table class='class-summary' width='100%' border='1' cellspacing='0' cellpadding='4'>"
                     "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
        for r in self.results:
            parts.append(self._html_row(r, slots, len(head)))
        parts.append("</tbody></table>")
        parts.append(f"<p class='legend'>Phase bars: the phase's length on a scale to {LEGEND_SCALE} times the "
                     "protocol's longest; grey: the protocol's window; green inside it, amber too short, "
                     "red too long. Lengths are as the protocol judges them (pauses off the back "
                     f"{'included' if self.protocol.pause_counts_toward_phase else 'left out'}).</p>")
        parts.append("<h2>Rules broken, per trainee</h2>")
        for r in self.results:
            parts.append(f"<h3>{esc(r.trainee or '(no trainee)')} \u2014 {esc(r.station)}</h3>")
            if r.failed:
                parts.append(f"<p class='fail detail'>Not analysed: {esc(r.reason)}</p>")
            elif not r.violations:
                parts.append("<p class='detail'>None.</p>")
            else:
                parts.append("<table class='violations' border='1' cellspacing='0' cellpadding='3'><tbody>" + "".join(
                    f"<tr><td>{esc(_clock(v.get('at_s')))}</td><td>{esc(str(v.get('rule') or '').replace('_', ' '))}"
                    f"</td><td>{esc(str(v.get('message') or ''))}</td></tr>" for v in r.violations)
                    + "</tbody></table>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def write_html(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        if not path.parent.is_dir():
            raise OSError(f"cannot write {path}: no folder {path.parent}")
        part = path.with_name(path.name + ".part")
        part.write_text(self.to_html(), encoding="utf-8")
        os.replace(part, path)
        return path

    def _html_row(self, r: TraineeResult, slots: Sequence[PhaseSlot], n_columns: int) -> str:
        esc = html.escape
        cells = [esc(r.station), esc(r.trainee or "(no trainee)")]
        if r.failed:
            cells.append("<span class='fail'>not analysed</span>")
            reason = esc(r.reason or "no reason given")
            return ("<tr class='trainee failed'>" + "".join(f"<td>{c}</td>" for c in cells)
                    + f"<td colspan='{n_columns - len(cells)}'>{reason}</td></tr>")
        verdict = r.verdict
        css = "pass" if verdict == "passed" else "fail"
        cells.append(f"<span class='{css}'>{esc(VERDICT_WORDS.get(verdict, verdict))}</span>")
        hands = "  ".join(f"{h[0].upper()} {r.hand_score(h)}" for h in HANDS if r.hand_score(h) is not None)
        score = "" if r.score is None else f"<b>{r.score}</b>"
        cells.append(score + (f"<br><span class='small'>{esc(hands)}</span>" if hands else ""))
        rules = [str(v.get("rule") or "").replace("_", " ") for v in r.violations]
        counted = {x: rules.count(x) for x in dict.fromkeys(rules)}
        cells.append("<span class='small'>" + ("<br>".join(esc(f"{n} \u00d7 {rule}" if n > 1 else rule)
                                                            for rule, n in counted.items()) or "none") + "</span>")
        cells.append(str(len(r.spine_contacts)))
        agreement = r.station_part.get("technique_agreement_pct")
        cells.append("" if agreement is None else f"{float(agreement):.0f} %")
        durations, _ = self.phase_durations(r)
        scale = LEGEND_SCALE * max((s.max_s for s in slots), default=1.0)
        for s in slots:
            cells.append(phase_bar(durations.get(s.index), s.min_s, s.max_s, scale))
        cells.append(esc(_clock((r.report or {}).get("duration_s"))))
        cells.append(f"<a href='{esc(r.debrief)}'>{esc(r.debrief)}</a>" if r.debrief else "")
        return "<tr class='trainee'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


LEGEND_SCALE = 1.5
BAR_CELLS = 27           # the default protocol's scale (1.5 x 3 min) in 10 s cells
BAR_PX = 81
BAR_COLOURS = {"ok": "#2a9d8f", "short": "#f4a261", "long": "#e5383b"}
WINDOW_COLOUR = "#b8c0cc"
TRACK_COLOUR = "#eef1f5"
SCREEN_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1b1f24}"
              "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #c8ced6;padding:4px 8px;"
              "text-align:left;vertical-align:top}th{background:#eef1f5}table.bar,table.bar td{border:0;padding:0;"
              "margin:0}.pass{color:#1d7a6e;font-weight:bold}.fail{color:#b3261e;font-weight:bold}"
              ".small{font-size:85%;color:#555}.legend{color:#555}tr.failed td{background:#fbeaea}")
PRINT_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:7.5pt;color:#1b1f24}"
             "th{background:#eef1f5}.pass{color:#1d7a6e;font-weight:bold}.fail{color:#b3261e;font-weight:bold}"
             ".small{font-size:7pt;color:#555555}.legend{color:#555555}h3{font-size:10pt}"
             ".detail{font-size:9pt}table.violations{font-size:9pt}")


def phase_bar(seconds: float | None, min_s: float, max_s: float, scale_s: float) -> str:
    """A phase's length as a small bar over its protocol window, in plain table cells (Qt's
    rich text, which typesets the PDF, draws neither SVG nor CSS widths on divs, and sizes
    empty cells of uneven widths as it likes: so BAR_CELLS equal cells, each coloured by
    what its middle falls in).

    Top row: the length done, coloured by whether it fell inside the window; bottom row: the
    window itself. "not done" when the phase was not."""
    if seconds is None:
        return "<span class='small'>not done</span>"
    state = "short" if seconds < min_s else "long" if seconds > max_s else "ok"
    step = scale_s / BAR_CELLS
    top, bottom = [], []
    for k in range(BAR_CELLS):
        mid = (k + 0.5) * step
        fill = BAR_COLOURS[state] if mid < seconds else TRACK_COLOUR
        window = WINDOW_COLOUR if min_s <= mid <= max_s else "#ffffff"
        # the tiny font: Qt gives an empty cell a text line's height
        top.append(f"<td height='8' bgcolor='{fill}' style='background:{fill};font-size:5pt'></td>")
        bottom.append(f"<td height='3' bgcolor='{window}' style='background:{window};font-size:1pt'></td>")
    return (f"<table class='bar' width='{BAR_PX}' cellspacing='0' cellpadding='0' border='0' "
            f"style='width:{BAR_PX}px'><tr>{''.join(top)}</tr><tr>{''.join(bottom)}</tr></table>"
            f"<span class='small'>{_clock(seconds)}{'' if state == 'ok' else ' ' + state}</span>")


def _result(k: int, entry: Sequence[Any]) -> TraineeResult:
    if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) not in (3, 4):
        raise SummaryError(f"entry {k + 1}: expected (station, trainee, report[, debrief file]), got {entry!r}")
    station, trainee, report = str(entry[0]), str(entry[1] or ""), entry[2]
    debrief = str(entry[3] or "") if len(entry) == 4 else ""
    if report is None:
        return TraineeResult(station, trainee, None, "no recording", debrief)
    if isinstance(report, BaseException):
        return TraineeResult(station, trainee, None, f"{type(report).__name__}: {report}", debrief)
    if isinstance(report, str):
        return TraineeResult(station, trainee, None, report, debrief)
    if not isinstance(report, Mapping) or "station" not in report or "hands" not in report:
        raise SummaryError(f"entry {k + 1} ({station}): the report is not a station's report "
                           "(StationReport.to_dict(), with 'station' and 'hands')")
    return TraineeResult(station, trainee, report, "", debrief)


def _clock(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = int(round(float(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def _when_text(stamp: str) -> str:
    try:
        when = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return when.strftime("%Y-%m-%d %H:%M")


__all__ = ["ClassSummary", "PhaseSlot", "SummaryError", "TraineeResult", "phase_bar"]
