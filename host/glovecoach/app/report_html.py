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


# ----------------------------------------------------------------------------- sections
# Each section takes one session's (or one hand's) report dict and returns HTML. A one-glove
# debrief is these sections at heading level 2; a station's debrief has its station part
# first, then each hand's sections at level 3 under the hand's heading.


def _heading(level: int, text: str) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


def verdict_section(report: Mapping[str, Any], id_prefix: str = "", hand: bool = False) -> str:
    """The score in large type and the protocol's verdict (or that there was no massage). A
    hand of a station is not a protocol followed or not (the station is): it is said whether
    a rule was broken with that hand."""
    esc = html.escape
    score = report.get("score") or {}
    protocol = report.get("protocol") or {}
    if protocol.get("verdict") == "no_massage":
        return (f"<p><span class='fail' id='{id_prefix}protocol-result'>No massage found</span> &nbsp; "
                "nothing in this session was a technique held long enough to be a phase, "
                "so there is nothing to grade.</p>")
    passed = protocol.get("passed")
    if hand:
        said = "No rule broken with this hand" if passed else "Rules broken with this hand"
    else:
        said = "Protocol followed" if passed else "Protocol not followed"
    return (f"<p><span class='score' id='{id_prefix}score-total'>Score {esc(str(score.get('total')))} / 100"
            f"</span> &nbsp; <span class='{'pass' if passed else 'fail'}' id='{id_prefix}protocol-result'>"
            f"{said}</span></p>")


def sensor_health_section(report: Mapping[str, Any], level: int = 2) -> str:
    health = sensor_health_rows(report)
    if not health:
        return ""
    return (_heading(level, "Sensors to check")
            + "<p>These sensors gave readings the coaching could not trust; nothing they read "
              "counted as a force or spine problem while they were faulty.</p>"
            + _table(["sensor", "fault", "when", "what to do"], health, "sensor-health"))


def breakdown_section(report: Mapping[str, Any], level: int = 2) -> str:
    breakdown = (report.get("score") or {}).get("breakdown") or {}
    if not breakdown:
        return ""
    return _heading(level, "Score breakdown") + _table(["part", "value"], breakdown_rows(breakdown), "breakdown")


def calibration_section(report: Mapping[str, Any]) -> str:
    if not (report.get("calibration") or {}).get("nominal"):
        return ""
    return ("<p><b>Note:</b> forces use the glove's nominal (uncalibrated) sensor curve; "
            "absolute newtons may be off by tens of percent.</p>")


def phases_section(report: Mapping[str, Any], level: int = 2, title: str = "Phases") -> str:
    return _heading(level, title) + _table(["technique", "start", "end", "length"], [
        (technique_label(str(ph.get("technique"))), theme.format_clock(ph.get("start_s", 0)),
         theme.format_clock(ph.get("end_s", 0)),
         theme.format_clock(ph.get("end_s", 0) - ph.get("start_s", 0)))
        for ph in report.get("phases", [])], "phases")


def violations_section(report: Mapping[str, Any], level: int = 2) -> str:
    violations = (report.get("protocol") or {}).get("violations", [])
    if not violations:
        return _heading(level, "Rules broken") + "<p>None.</p>"
    return _heading(level, "Rules broken") + _table(["at", "rule", "what happened"], [
        (theme.format_clock(v["at_s"]) if v.get("at_s") is not None else "",
         str(v.get("rule") or "").replace("_", " "), v.get("message")) for v in violations], "violations")


def regions_section(report: Mapping[str, Any], level: int = 2) -> str:
    return _heading(level, "Force per region and technique") + _table(
        ["region", "technique", "peak (N)", "mean (N)"],
        [(sensor_name(r), technique_label(t), f"{pk:.1f}", f"{mn:.1f}") for r, t, pk, mn in region_rows(report)],
        "regions")


def overforce_section(report: Mapping[str, Any], level: int = 2) -> str:
    over = report.get("overforce_events", [])
    return _heading(level, "Too much force") + (_episode_table(over, "region", "overforce") if over
                                                else "<p>None.</p>")


def spine_section(report: Mapping[str, Any], level: int = 2, with_map: bool = True) -> str:
    """The strip: whether it was there, peak and contact time per segment, the contacts."""
    parts = [_heading(level, "Spine")]
    if report.get("spine_check") is False:
        parts.append("<p>No spine strip in this session: spine contact was not checked.</p>")
    if with_map:
        parts.append(_table(["segment", "peak (N)", "contact (s)"], [
            (sensor_name(seg), f"{float(v.get('peak_n') or 0):.1f}", f"{float(v.get('contact_s') or 0):.1f}")
            for seg, v in (report.get("spine_map") or {}).items()], "spine"))
    contacts = report.get("spine_contacts", [])
    parts.append(_episode_table(contacts, "segment", "spine-contacts") if contacts
                 else "<p>No spinal contact.</p>")
    return "".join(parts)


def alerts_section(alerts: Sequence[Mapping[str, Any]], level: int = 2) -> str:
    if not alerts:
        return ""
    return _heading(level, "Alerts shown during the session") + _table(
        ["at", "alert"], [(theme.format_clock(a.get("at_s", 0)), a.get("message")) for a in alerts], "alerts")


def screening_section(info: Mapping[str, Any], level: int = 2) -> str:
    screening = info.get("screening") or {}
    if not screening:
        return ""
    return _heading(level, "Screening answers") + _table(
        ["question", "answer"], [(v.get("question"), v.get("answer")) for v in screening.values()], "screening")


def instructor_rows(info: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """What the instructor marked and said during a class (``info["instructor_marks"]``, each
    {"at_s", "text"}, and ``info["instructor_messages"]``), as the station's recording holds
    it: (clock, "marked" or "message", words) in the session's order."""
    notes = [(m.get("at_s"), "marked", m.get("text") or "") for m in info.get("instructor_marks") or []]
    notes += [(m.get("at_s"), "message", m.get("text") or "") for m in info.get("instructor_messages") or []]
    notes.sort(key=lambda n: (n[0] is None, n[0] or 0.0))
    return [(theme.format_clock(at) if at is not None else "", what, text) for at, what, text in notes]


def instructor_section(info: Mapping[str, Any], level: int = 2) -> str:
    """`instructor_rows` as the debrief's table; nothing without a note."""
    rows = instructor_rows(info)
    if not rows:
        return ""
    return _heading(level, "Marked by the instructor") + _table(["at", "", "note"], rows, "instructor-marks")


def session_sections(report: Mapping[str, Any], pictures: Sequence[str] = (), level: int = 2,
                     id_prefix: str = "", spine_map: bool = True, hand: bool = False) -> list[str]:
    """One session's (or one hand's) sections in the debrief's order, `pictures` (HTML
    blocks) after the score's parts."""
    parts = [verdict_section(report, id_prefix, hand), sensor_health_section(report, level),
             breakdown_section(report, level), calibration_section(report), *pictures,
             phases_section(report, level), violations_section(report, level),
             regions_section(report, level), overforce_section(report, level),
             spine_section(report, level, with_map=spine_map)]
    return [p for p in parts if p]


def _page_head(title: str, css: str, header: Sequence[str]) -> list[str]:
    esc = html.escape
    return ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{esc(title)}</title>",
            f"<style>{css}</style></head><body>",
            f"<h1>{esc(title)}</h1>",
            "<p id='report-header'>" + " &middot; ".join(esc(x) for x in header) + "</p>"]


def build_html(report: Mapping[str, Any], info: Mapping[str, Any],
               images: Mapping[str, bytes], alerts: Sequence[Mapping[str, Any]] = (),
               picture: Callable[[int, str, bytes], str] = figure_block,
               css: str = SCREEN_CSS) -> str:
    """The report page. `images` maps a caption to PNG bytes (shown in that order).

    `picture(k, caption, png)` makes the block of the k-th picture; the default embeds it as
    a data URI. The PDF writer passes its own (a document resource) and its own `css`."""
    title = report_title(info)
    parts = _page_head(title, css, header_fields(report, info))
    pictures = [picture(k, caption, png) for k, (caption, png) in enumerate(images.items())]
    parts += session_sections(report, pictures)
    parts += [s for s in (alerts_section(alerts), screening_section(info)) if s]
    parts.append("</body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the station

HAND_ORDER = ("left", "right")
FIGURE_SECTIONS = ("station", "spine")     # the station's pictures, in page order before the hands'



def station_hands(report: Mapping[str, Any]) -> list[str]:
    """The hands of a station report, left first."""
    hands = list(report.get("hands") or {})
    return sorted(hands, key=lambda h: (HAND_ORDER.index(h) if h in HAND_ORDER else len(HAND_ORDER), h))


def station_as_session(report: Mapping[str, Any]) -> dict:
    """The station part of a station report in the shape of a one-session report (score,
    protocol, phases, spine), so the one-session sections can show it."""
    station = dict(report.get("station") or {})
    station["duration_s"] = report.get("duration_s")
    return station


def roles_text(roles: Sequence[str]) -> str:
    return ", ".join(str(r).replace("_", " ") for r in roles)


def station_header_fields(report: Mapping[str, Any], info: Mapping[str, Any]) -> list[str]:
    fields = []
    if info.get("station"):
        fields.append(f"Station: {info['station']}")
    fields += header_fields(station_as_session(report), info)
    roles = (report.get("station") or {}).get("roles") or []
    if roles:
        fields.insert(1 if info.get("station") else 0, f"Devices: {roles_text(roles)}")
    return fields


def station_title(info: Mapping[str, Any]) -> str:
    trainee = info.get("trainee")
    return f"glovecoach station debrief \u2014 {trainee}" if trainee else "glovecoach station debrief"


def agreement_text(station: Mapping[str, Any], hands: Sequence[str]) -> str:
    pct = station.get("technique_agreement_pct")
    if pct is None:
        if len(hands) < 2:
            return "One glove only: there is no second hand to compare."
        return "The two hands never worked at the same time, so their techniques were not compared."
    return (f"Both hands did the same technique {_number_text(float(pct))} % of the time both were "
            "working.")


def _hands_cell(hands: Sequence[str]) -> str:
    hands = list(hands)
    if len(hands) >= 2:
        return "both"
    return hands[0] if hands else "none"


def station_sections(report: Mapping[str, Any], pictures: Sequence[str] = (), level: int = 2,
                     spine_pictures: Sequence[str] = ()) -> list[str]:
    """The station part: score and verdict, devices and their absences, how much the hands
    agreed and where they differed, the station's phases and rules, and the spine with the
    hands that were on the back."""
    station = station_as_session(report)
    hands = station_hands(report)
    esc = html.escape
    parts = [verdict_section(station, "station-"), sensor_health_section(
        {"sensor_health": station.get("strip_health") or {}}, level), breakdown_section(station, level)]
    parts.append(f"<p id='technique-agreement'>{esc(agreement_text(station, hands))}</p>")
    missing = [(role, spans) for role, spans in (station.get("device_gaps") or {}).items() if spans]
    if missing:
        parts.append(_heading(level, "Devices missing"))
        parts.append("<p>Nothing of a device is judged while it is missing; the others go on being "
                     "coached.</p>")
        parts.append(_table(["device", "from", "to", "length"], [
            (str(role).replace("_", " "), theme.format_clock(g["start_s"]), theme.format_clock(g["end_s"]),
             theme.format_clock(g["end_s"] - g["start_s"])) for role, spans in missing for g in spans],
            "device-gaps"))
    parts += list(pictures)
    parts.append(phases_section(station, level, "Phases of the station"))
    differ = station.get("hands_differ") or []
    parts.append(_heading(level, "Hands doing different techniques"))
    if differ:
        names = [h for h in hands if any(h in d.get("techniques", {}) for d in differ)]
        parts.append(_table(["from", "to", "length", *(f"{h} hand" for h in names)], [
            (theme.format_clock(d["start_s"]), theme.format_clock(d["end_s"]),
             theme.format_clock(d["end_s"] - d["start_s"]),
             *(technique_label(str(d["techniques"].get(h, "none"))) for h in names)) for d in differ],
            "hands-differ"))
    else:
        parts.append("<p>None.</p>")
    parts.append(violations_section(station, level))
    parts.append(_heading(level, "Spine"))
    if station.get("spine_check") is False:
        parts.append("<p>No spine strip in this station: spine contact was not checked.</p>")
    else:
        parts.append(_table(["segment", "peak (N)", "contact (s)"], [
            (sensor_name(seg), f"{float(v.get('peak_n') or 0):.1f}", f"{float(v.get('contact_s') or 0):.1f}")
            for seg, v in (station.get("spine_map") or {}).items()], "spine"))
        contacts = station.get("spine_contacts") or []
        parts.append("<p>Contacts with the spinal line:</p>" if contacts else "")
        parts.append(_table(["segment", "from", "to", "peak (N)", "hands on the back"], [
            (sensor_name(str(e.get("segment", ""))), theme.format_clock(e.get("start_s", 0)),
             theme.format_clock(e.get("end_s", 0)),
             "saturated" if e.get("peak_n") is None else f"{e['peak_n']:.1f}", _hands_cell(e.get("hands") or ()))
            for e in contacts], "spine-contacts") if contacts else "<p>No spinal contact.</p>")
        parts += list(spine_pictures)
    return [p for p in parts if p]


def build_station_html(report: Mapping[str, Any], info: Mapping[str, Any],
                       figures: Mapping[str, Mapping[str, bytes]] | None = None,
                       alerts: Sequence[Mapping[str, Any]] = (),
                       picture: Callable[[int, str, bytes], str] = figure_block,
                       css: str = SCREEN_CSS) -> str:
    """A station's debrief page (`StationReport.to_dict()`): the station first, then each
    hand with the sections of a one-glove debrief.

    `figures` maps "station" (shown after the station's score), "spine" (in its spine
    section) and each hand to {caption: PNG bytes}; pictures are numbered in page order
    (`FIGURE_SECTIONS`, then the hands) for `picture(k, caption, png)`."""
    figures = figures or {}
    title = station_title(info)
    parts = _page_head(title, css, station_header_fields(report, info))
    k = 0

    def blocks(section: str) -> list[str]:
        nonlocal k
        out = []
        for caption, png in (figures.get(section) or {}).items():
            out.append(picture(k, caption, png))
            k += 1
        return out

    parts.append("<div id='station'>")
    station_pictures = blocks("station")
    parts += station_sections(report, station_pictures, spine_pictures=blocks("spine"))
    parts.append("</div>")
    hands = report.get("hands") or {}
    for hand in station_hands(report):
        parts.append(f"<div id='hand-{html.escape(hand)}'>")
        # each hand on a new page when printed (browsers ignore it on screen)
        parts.append(f"<h2 style='page-break-before:always'>{html.escape(hand.capitalize())} hand</h2>")
        # The strip is the station's: its map is shown once above; each hand lists the
        # contacts made while it was on the back.
        parts += session_sections(hands[hand], blocks(hand), level=3, id_prefix=f"{hand}-", spine_map=False,
                                  hand=True)
        parts.append("</div>")
    parts += [s for s in (instructor_section(info), alerts_section(alerts), screening_section(info)) if s]
    parts.append("</body></html>")
    return "\n".join(parts)
