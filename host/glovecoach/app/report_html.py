"""The debrief as one self-contained HTML file: numbers as tables, pictures as PNG data URIs.

Nothing is linked from outside the file, so it can be mailed or archived alone. The PDF
(`report_pdf.py`) is typeset by Qt from this same page.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from glovecoach.app import theme
from glovecoach.vocabulary.sensors import sensor_name


def region_rows(report: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """(region, technique, peak_n, mean_n) from the report's `per_region` entry.

    Accepts `{region: {technique: {"peak_n", "mean_n"}}}` and `{region: {"peak_n", "mean_n"}}`
    (technique "all"); entries without a peak are skipped.
    """
    rows = []
    per_region = report.get("per_region") or {}
    for region, entry in per_region.items():
        if not isinstance(entry, Mapping):
            continue
        if "peak_n" in entry:
            rows.append((region, "all", float(entry.get("peak_n") or 0.0),
                         float(entry.get("mean_n") or 0.0)))
            nested = entry.get("by_technique") or entry.get("techniques") or {}
        else:
            nested = entry
        for technique, values in nested.items():
            if isinstance(values, Mapping) and "peak_n" in values:
                rows.append((region, technique, float(values.get("peak_n") or 0.0),
                             float(values.get("mean_n") or 0.0)))
    return rows


BREAKDOWN_NAMES = {"force_within_window_pct": ("force inside the window", " %"),
                   "timing": ("phase timing", " %"), "violations": ("rules broken", "")}


def sensor_health_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(sensor, fault, when, what to do) for every sensor that was faulty at some time."""
    rows = []
    for channel, h in (report.get("sensor_health") or {}).items():
        if not isinstance(h, Mapping) or not h.get("episodes"):
            continue
        when = ", ".join(f"{theme.format_clock(e['start_s'])}-{theme.format_clock(e['end_s'])}"
                         for e in h["episodes"])
        rows.append((sensor_name(channel), str(h.get("state", "")), when, str(h.get("check") or "")))
    return rows


def breakdown_rows(breakdown: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in breakdown.items():
        name, unit = BREAKDOWN_NAMES.get(key, (key.replace("_", " "), ""))
        shown = _number_text(value) if isinstance(value, float) else str(value)
        rows.append((name.capitalize(), f"{shown}{unit}"))
    return rows


def _number_text(value: float) -> str:
    """Whole numbers, except that rounding never hides a shortfall or a trace: 99.6 stays
    99.6 (not 100, next to reported force violations) and 0.3 stays 0.3."""
    shown = f"{value:.0f}"
    if (shown == "100" and value < 100) or (shown == "0" and value > 0):
        shown = f"{value:.1f}"
    return shown


def _episode_table(events: Sequence[Mapping[str, Any]], where: str, css_class: str) -> str:
    """Force or spine episodes: where, from, to, peak (a saturated peak is said, not numbered)."""
    return _table([where, "from", "to", "peak (N)"], [
        (sensor_name(str(e.get(where, ""))), theme.format_clock(e.get("start_s", 0)),
         theme.format_clock(e.get("end_s", 0)),
         "saturated" if e.get("peak_n") is None else f"{e['peak_n']:.1f}") for e in events],
        css_class)


def technique_label(technique: str) -> str:
    return {"none": "no technique", "all": "all"}.get(technique, technique.replace("_", " "))


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], css_class: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    # the border/cellpadding attributes are for Qt's rich text (the PDF), which ignores the
    # stylesheet's table rules; browsers use the stylesheet
    return (f"<table class='{css_class}' border='1' cellspacing='0' cellpadding='4'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


SCREEN_CSS = (
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1b1f24;"
    "max-width:1200px}h1{margin-bottom:4px}table{border-collapse:collapse;margin:8px 0 20px}"
    "td,th{border:1px solid #c8ced6;padding:4px 10px;text-align:left}th{background:#eef1f5}"
    ".score{font-size:28pt;font-weight:bold}.pass{color:#1d7a6e}.fail{color:#b3261e}"
    "figure{margin:0 0 24px}img{max-width:100%;border:1px solid #c8ced6}"
    "figcaption{color:#555;margin-top:4px}")


def _when_text(stamp: str) -> str:
    """An ISO time stamp as local date and time ("2026-12-02 14:05"); unparsable: as given."""
    try:
        when = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M")


def header_fields(report: Mapping[str, Any], info: Mapping[str, Any]) -> list[str]:
    """The header line's fields, only those known. A recording made by `record` or
    `simulate` has no screening (no trainee, no protocol choice, no answer time), so the
    protocol comes from the report itself and the time from the recording's start or the file."""
    protocol = info.get("protocol") or (report.get("protocol") or {}).get("name")
    when = info.get("started_at") or info.get("answered_at") or info.get("file_time")
    fields = []
    if protocol:
        fields.append(f"Protocol: {protocol}")
    if when:
        fields.append(f"Recorded: {_when_text(str(when))}")
    duration = report.get("duration_s")
    if duration:
        fields.append(f"Duration: {theme.format_clock(float(duration))}")
    if info.get("glove_id"):
        fields.append(f"Glove: {info['glove_id']}")
    if info.get("source") == "simulator":
        scenario = str(info.get("scenario") or "").replace("_", " ")
        fields.append(f"Simulated session{': ' + scenario if scenario else ''}")
    if info.get("recording"):
        fields.append(f"Recording: {info['recording']}")
    return fields


def report_title(info: Mapping[str, Any]) -> str:
    trainee = info.get("trainee")
    return f"glovecoach debrief \u2014 {trainee}" if trainee else "glovecoach debrief"


def figure_block(k: int, caption: str, png: bytes) -> str:
    """A picture embedded as a data URI, with its caption."""
    esc = html.escape
    return (f"<figure><img alt='{esc(caption)}' src='{png_data_uri(png)}'>"
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def build_html(report: Mapping[str, Any], info: Mapping[str, Any],
               images: Mapping[str, bytes], alerts: Sequence[Mapping[str, Any]] = (),
               picture: Callable[[int, str, bytes], str] = figure_block,
               css: str = SCREEN_CSS) -> str:
    """The report page. `images` maps a caption to PNG bytes (shown in that order).

    `picture(k, caption, png)` makes the block of the k-th picture; the default embeds it as
    a data URI. The PDF writer passes its own (a document resource) and its own `css`."""
    score = report.get("score") or {}
    breakdown = score.get("breakdown") or {}
    protocol = report.get("protocol") or {}
    esc = html.escape
    title = report_title(info)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title>",
        f"<style>{css}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<p id='report-header'>" + " &middot; ".join(esc(x) for x in header_fields(report, info))
        + "</p>",
    ]
    total = score.get("total")
    passed = protocol.get("passed")
    if protocol.get("verdict") == "no_massage":
        parts.append("<p><span class='fail' id='protocol-result'>No massage found</span> &nbsp; "
                     "nothing in this session was a technique held long enough to be a phase, "
                     "so there is nothing to grade.</p>")
    else:
        parts.append(
            f"<p><span class='score' id='score-total'>Score {esc(str(total))} / 100</span> &nbsp; "
            f"<span class='{'pass' if passed else 'fail'}' id='protocol-result'>"
            f"{'Protocol followed' if passed else 'Protocol not followed'}</span></p>")
    health = sensor_health_rows(report)
    if health:
        parts.append("<h2>Sensors to check</h2>")
        parts.append("<p>These sensors gave readings the coaching could not trust; nothing they read "
                     "counted as a force or spine problem while they were faulty.</p>")
        parts.append(_table(["sensor", "fault", "when", "what to do"], health, "sensor-health"))
    if breakdown:
        parts.append("<h2>Score breakdown</h2>")
        parts.append(_table(["part", "value"], breakdown_rows(breakdown), "breakdown"))
    calib = report.get("calibration") or {}
    if calib.get("nominal"):
        parts.append("<p><b>Note:</b> forces use the glove's nominal (uncalibrated) sensor curve; "
                     "absolute newtons may be off by tens of percent.</p>")
    for k, (caption, png) in enumerate(images.items()):
        parts.append(picture(k, caption, png))
    parts.append("<h2>Phases</h2>")
    parts.append(_table(["technique", "start", "end", "length"], [
        (technique_label(str(ph.get("technique"))), theme.format_clock(ph.get("start_s", 0)),
         theme.format_clock(ph.get("end_s", 0)),
         theme.format_clock(ph.get("end_s", 0) - ph.get("start_s", 0)))
        for ph in report.get("phases", [])], "phases"))
    parts.append("<h2>Rules broken</h2>")
    violations = protocol.get("violations", [])
    parts.append(_table(["at", "rule", "what happened"], [
        (theme.format_clock(v["at_s"]) if v.get("at_s") is not None else "",
         str(v.get("rule") or "").replace("_", " "),
         v.get("message")) for v in violations], "violations") if violations
        else "<p>None.</p>")
    parts.append("<h2>Force per region and technique</h2>")
    parts.append(_table(["region", "technique", "peak (N)", "mean (N)"], [
        (sensor_name(r), technique_label(t), f"{pk:.1f}", f"{mn:.1f}")
        for r, t, pk, mn in region_rows(report)],
        "regions"))
    parts.append("<h2>Too much force</h2>")
    over = report.get("overforce_events", [])
    parts.append(_episode_table(over, "region", "overforce") if over else "<p>None.</p>")
    parts.append("<h2>Spine</h2>")
    spine_map = report.get("spine_map") or {}
    if report.get("spine_check") is False:
        parts.append("<p>No spine strip in this session: spine contact was not checked.</p>")
    parts.append(_table(["segment", "peak (N)", "contact (s)"], [
        (sensor_name(seg), f"{float(v.get('peak_n') or 0):.1f}", f"{float(v.get('contact_s') or 0):.1f}")
        for seg, v in spine_map.items()], "spine"))
    contacts = report.get("spine_contacts", [])
    parts.append(_episode_table(contacts, "segment", "spine-contacts") if contacts
                 else "<p>No spinal contact.</p>")
    if alerts:
        parts.append("<h2>Alerts shown during the session</h2>")
        parts.append(_table(["at", "alert"], [(theme.format_clock(a.get("at_s", 0)),
                                                a.get("message")) for a in alerts], "alerts"))
    screening = info.get("screening") or {}
    if screening:
        parts.append("<h2>Screening answers</h2>")
        parts.append(_table(["question", "answer"], [(v.get("question"), v.get("answer"))
                                                      for v in screening.values()], "screening"))
    parts.append("</body></html>")
    return "\n".join(parts)
