"""`glovecoach info FILE [--json]`: what a recording holds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from glovecoach.commands import CommandError
from glovecoach.recording import Recording, RecordingError, open_recording


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="summarise a .gcrec recording")
    parser.add_argument("file", metavar="FILE", help="a .gcrec session recording")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def summarize(recording: Recording) -> dict[str, Any]:
    """The facts `info` reports, as JSON-ready values."""
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
        "gaps": [
            {"first_index": g.first_index, "n_samples": g.n_samples, "start_s": g.first_index / recording.rate_hz,
             "reason": g.reason, "exact": g.exact}
            for g in recording.gaps
        ],
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
        "record_end": next((dict(n.payload) for n in reversed(recording.notes) if n.kind == "record_end"), None),
    }


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)} min {secs:05.2f} s" if minutes else f"{secs:.2f} s"


def format_summary(info: dict[str, Any]) -> str:
    total = info["samples"] + info["lost_samples"]
    lost_pct = 100.0 * info["lost_samples"] / total if total else 0.0
    lines = [
        f"{info['file']}",
        f"  glove      {info['glove_id'] or '?'} (firmware {info['firmware'] or '?'}, board {info['board'] or '?'})",
        f"  started    {info['started_at']}" + (f", ended {info['ended_at']}" if info["ended_at"] else ""),
        f"  duration   {_format_duration(info['duration_s'])} at {info['sample_rate_hz']} Hz",
        f"  channels   {len(info['channels'])}: {', '.join(info['channels'])}",
        f"  samples    {info['samples']} recorded, {info['lost_samples']} lost ({lost_pct:.2f} %) "
        f"in {len(info['gaps'])} gap(s)",
    ]
    for gap in info["gaps"][:10]:
        approx = "" if gap["exact"] else " (estimated)"
        lines.append(f"    at {gap['start_s']:.3f} s: {gap['n_samples']} samples{approx}, {gap['reason']}")
    if len(info["gaps"]) > 10:
        lines.append(f"    ... and {len(info['gaps']) - 10} more")
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


def run(args: argparse.Namespace) -> int:
    try:
        recording = open_recording(args.file)
    except RecordingError as exc:
        raise CommandError(str(exc)) from exc
    info = summarize(recording)
    print(json.dumps(info, indent=2) if args.json else format_summary(info))
    return 0
