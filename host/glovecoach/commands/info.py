"""`glovecoach info FILE [--json]`: what a recording holds, a one-device file or a station's."""

from __future__ import annotations

import argparse
import json
from typing import Any

from glovecoach.commands import CommandError
from glovecoach.recording import Recording, RecordingError, StationRecording, open_any_recording

# A version 1 file has no role: its device is the one-board kit unless its HELLO says otherwise.
_V1_ROLE = "kit"
_GAPS_SHOWN = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="summarise a .gcrec recording")
    parser.add_argument("file", metavar="FILE", help="a .gcrec session recording (one device or a station)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def summarize(recording: Recording | StationRecording) -> dict[str, Any]:
    """The facts `info` reports, as JSON-ready values. Both kinds of file give today's fields
    and a `devices` list (one entry for a one-device file)."""
    if isinstance(recording, StationRecording):
        return _summarize_station(recording)
    role = recording.device_info.get("role")
    return {
        "file": str(recording.path),
        "format_version": recording.format_version,
        "glove_id": recording.glove_id,
        "firmware": recording.firmware,
        "board": recording.device_info.get("board"),
        "started_at": recording.started_at,
        "ended_at": recording.ended_at,
        "sample_rate_hz": recording.rate_hz,
        "channels": list(recording.channels),
        "duration_s": recording.duration_s,
        "samples": recording.samples,
        "lost_samples": recording.lost_samples,
        "gaps": _gaps(recording),
        "frames": int(len(recording.frames)),
        "statuses": len(recording.statuses),
        "notes": len(recording.notes),
        "note_kinds": sorted({note.kind for note in recording.notes}),
        "metadata": recording.metadata,
        "closed_cleanly": recording.closed_cleanly,
        "truncated": recording.truncated,
        "truncation_reason": recording.truncation_reason,
        "problems": list(recording.problems),
        # what `record` said of itself when it ended: did it get the samples it planned?
        "record_end": _record_end(recording.notes),
        "devices": [_device(role if isinstance(role, str) and role else _V1_ROLE, recording, recording.metadata)],
    }


def _summarize_station(station: StationRecording) -> dict[str, Any]:
    # Today's field names, for the whole station: its rate, columns and length (the station
    # slots if the writer was told them, else the longest device timeline); `lost_samples`,
    # `frames`, `statuses` and `notes` add up the devices (and the station's own notes); the
    # per-device facts are in `devices`, and every gap names its device.
    devices = station.devices.values()
    notes = [*station.notes, *(note for rec in devices for note in rec.notes)]
    return {
        "file": str(station.path),
        "format_version": station.format_version,
        "glove_id": None,   # several devices: each one's id is in `devices`
        "firmware": None,
        "board": None,
        "started_at": station.started_at,
        "ended_at": station.ended_at,
        "sample_rate_hz": station.rate_hz,
        "channels": list(station.layout.columns),
        "duration_s": station.duration_s,
        "samples": station.n_total,
        "station_samples": station.station_samples,
        "lost_samples": sum(rec.lost_samples for rec in devices),
        "gaps": [gap for role, rec in station.devices.items() for gap in _gaps(rec, role)],
        "frames": sum(int(len(rec.frames)) for rec in devices),
        "statuses": sum(len(rec.statuses) for rec in devices),
        "notes": len(notes),
        "note_kinds": sorted({note.kind for note in notes}),
        "metadata": station.metadata,
        "closed_cleanly": station.closed_cleanly,
        "truncated": station.truncated,
        "truncation_reason": station.truncation_reason,
        "problems": list(station.problems),
        "record_end": _record_end(station.notes) or next(
            (end for rec in devices if (end := _record_end(rec.notes))), None),
        "station_origin": station.station_origin,
        "layout": station.layout.describe(),
        "devices": [_device(role, rec, station.metadata) for role, rec in station.devices.items()],
    }


def _gaps(recording: Recording, role: str | None = None) -> list[dict[str, Any]]:
    return [
        {"first_index": g.first_index, "n_samples": g.n_samples, "start_s": g.first_index / recording.rate_hz,
         "reason": g.reason, "exact": g.exact, **({"device": role} if role else {})}
        for g in recording.gaps
    ]


def _record_end(notes: list) -> dict | None:
    return next((dict(n.payload) for n in reversed(notes) if n.kind == "record_end"), None)


def _transport(role: str, recording: Recording, metadata: dict) -> str | None:
    """How the device was connected, where the recording says: its latest "transport" note
    (`{"transport": "usb"}`), else `metadata["transports"][role]`, else its HELLO."""
    for note in reversed(recording.notes):
        if note.kind == "transport" and isinstance(note.payload.get("transport"), str):
            return note.payload["transport"]
    transports = metadata.get("transports")
    if isinstance(transports, dict) and isinstance(transports.get(role), str):
        return transports[role]
    value = recording.device_info.get("transport")
    return value if isinstance(value, str) else None


def _device(role: str, recording: Recording, metadata: dict) -> dict[str, Any]:
    index = recording.sample_index
    return {
        "role": role,
        "id": recording.glove_id,
        "transport": _transport(role, recording, metadata),
        "firmware": recording.firmware,
        "board": recording.device_info.get("board"),
        "channels": len(recording.channels),
        "samples": recording.samples,
        "lost_samples": recording.lost_samples,
        "first_index": int(index[0]) if len(index) else None,
        "last_index": int(index[-1]) if len(index) else None,
        "duration_s": recording.duration_s,
        "gaps": len(recording.gaps),
        "closed_cleanly": recording.closed_cleanly,
        "alignment": (recording.end_info or {}).get("alignment"),
        "problems": list(recording.problems),
    }


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)} min {secs:05.2f} s" if minutes else f"{secs:.2f} s"


def _lost_pct(samples: int, lost: int) -> float:
    return 100.0 * lost / (samples + lost) if samples + lost else 0.0


def _gap_lines(gaps: list[dict[str, Any]], indent: str) -> list[str]:
    lines = []
    for gap in gaps[:_GAPS_SHOWN]:
        approx = "" if gap["exact"] else " (estimated)"
        lines.append(f"{indent}at {gap['start_s']:.3f} s: {gap['n_samples']} samples{approx}, {gap['reason']}")
    if len(gaps) > _GAPS_SHOWN:
        lines.append(f"{indent}... and {len(gaps) - _GAPS_SHOWN} more")
    return lines


def format_summary(info: dict[str, Any]) -> str:
    lines = _station_head(info) if info["format_version"] >= 2 else _one_device_head(info)
    kinds = f" ({', '.join(info['note_kinds'])})" if info["note_kinds"] else ""
    lines.append(f"  notes      {info['notes']}{kinds}; {info['statuses']} status messages")
    end = info.get("record_end") or {}
    if end and not end.get("complete", True):
        why = end.get("unfinished") or ("interrupted" if end.get("interrupted") else "")
        lines.append(f"  session    INCOMPLETE: {end.get('recorded_samples')} of {end.get('planned_samples')} planned "
                     f"samples" + (f" ({why})" if why else ""))
    if info["closed_cleanly"] and not info["truncated"]:
        lines.append("  file       " + ("closed cleanly" if end and not end.get("complete", True)
                                         else "complete, closed cleanly"))
    else:
        state = "closed cleanly" if info["closed_cleanly"] else "not closed (the recorder stopped abruptly)"
        lines.append(f"  file       {state}")
        for problem in info["problems"]:
            lines.append(f"    {problem}")
    return "\n".join(lines)


def _common_head(info: dict[str, Any], slots: str = "") -> list[str]:
    return [
        f"  started    {info['started_at']}" + (f", ended {info['ended_at']}" if info["ended_at"] else ""),
        f"  duration   {_format_duration(info['duration_s'])} at {info['sample_rate_hz']} Hz{slots}",
        f"  channels   {len(info['channels'])}: {', '.join(info['channels'])}",
    ]


def _one_device_head(info: dict[str, Any]) -> list[str]:
    return [
        f"{info['file']}",
        f"  glove      {info['glove_id'] or '?'} (firmware {info['firmware'] or '?'}, board {info['board'] or '?'})",
        *_common_head(info),
        f"  samples    {info['samples']} recorded, {info['lost_samples']} lost "
        f"({_lost_pct(info['samples'], info['lost_samples']):.2f} %) in {len(info['gaps'])} gap(s)",
        *_gap_lines(info["gaps"], "    "),
    ]


def _station_head(info: dict[str, Any]) -> list[str]:
    slots = f" ({info['station_samples']} station slots)" if info.get("station_samples") is not None else ""
    lines = [
        f"{info['file']}",
        f"  station    {len(info['devices'])} device(s): {', '.join(d['role'] for d in info['devices'])}",
        *_common_head(info, slots),
        "  devices",
    ]
    for device in info["devices"]:
        where = "no samples" if device["first_index"] is None else \
            f"indices {device['first_index']}..{device['last_index']}"
        lines.append(
            f"    {device['role']:<12} {device['id'] or '?'} (firmware {device['firmware'] or '?'}, "
            f"board {device['board'] or '?'}, {device['transport'] or 'transport ?'}): {device['samples']} recorded, "
            f"{device['lost_samples']} lost ({_lost_pct(device['samples'], device['lost_samples']):.2f} %) "
            f"in {device['gaps']} gap(s), {where}"
            + ("" if device["closed_cleanly"] else ", not closed"))
        lines += _gap_lines([g for g in info["gaps"] if g.get("device") == device["role"]], "      ")
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        recording = open_any_recording(args.file)
    except RecordingError as exc:
        raise CommandError(str(exc)) from exc
    info = summarize(recording)
    print(json.dumps(info, indent=2) if args.json else format_summary(info))
    return 0
