"""One station session recorded in several files, read as one: `join_station_parts`.

A classroom instructor's app that stops mid-class (killed, a crash, a power cut) and starts
again finds the devices still streaming: it records on in a new file, and the session the
trainee had is the two files together. The devices' streams never stopped, so each device's
samples in the later file continue its samples in the earlier one, on the device's own clock:

* Each device's later part is placed after its earlier part by the device's own microsecond
  clock (the frame tables' ``t_us``: the stamp of each frame's first sample), unwrapped with
  the host clock (the frames' ``host_time``) to the right multiple of its 30-bit period. Where
  the device kept its boot (the same ``boot_id`` in the HELLO each side) the number of samples
  between the last frame of one part and the first of the next is then whole, and the gap
  between the files, what streamed while no app recorded, is **exact** (reason
  `NOT_RECORDED`). Otherwise (a reboot in between, a device heard in one part only) the host
  clock places it, and the gap says it is an estimate.
* The station keeps the first part's origin. A later part that went on with that origin (the
  classroom's does: `glovecoach.pipeline.station_session.ResumedSession`) needs no moving; one
  that aligned its devices afresh has its slots, marks and notes moved by its origin's
  distance from the first, so the instructor's marks stay at their moment.
* Nothing is renumbered inside a part; the joined `StationRecording` is what one file would
  have held had the app never stopped, with the hole where it did, and every analysis
  (`glovecoach.station.replay.align_station_recording`, the debrief) takes it unchanged.

Parts that are not of one session (another station, another layout or rate, overlapping
samples) are refused by name, never joined into a wrong timeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from glovecoach.recording.format import STATION_ORIGIN_NOTE, T_US_MODULUS
from glovecoach.recording.reader import Note, Recording, StationRecording, open_station_recording
from glovecoach.vocabulary.stream import SessionGap

NOT_RECORDED = "not_recorded"          # the gap between two parts: no app recorded the stream
CONTINUES_KEY = "continues"            # a part's metadata: the file names of the parts before it
SAMPLE_FRACTION_TOLERANCE = 0.2        # device clock agrees with a whole number of samples
HOST_AGREEMENT_S = 0.5                 # device clock and host clock agree on the gap this closely
GRID_FRAMES = 200                      # frames each side that find the device's sampling grid
_INDEX_KEYS = ("first_index", "station_index")


class PartsError(ValueError):
    """Files that are not parts of one station session; the message names them."""


def continued_parts(path: str | Path, station: StationRecording | None = None) -> list[Path]:
    """The files a part says it continues (its metadata ``continues``, names in its folder),
    oldest first, followed by the part itself; ``[path]`` for a file that continues nothing.
    PartsError if one of them is missing."""
    path = Path(path)
    station = station if station is not None else open_station_recording(path)
    names = station.metadata.get(CONTINUES_KEY) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PartsError(f"{path}: its metadata '{CONTINUES_KEY}' is not a list of file names")
    earlier = [path.parent / Path(name).name for name in names]
    missing = [str(p) for p in earlier if not p.is_file()]
    if missing:
        raise PartsError(f"{path} continues a session recorded before it in {', '.join(missing)}, which "
                         f"{'is' if len(missing) == 1 else 'are'} not there: put the parts back beside it, "
                         f"or give the parts you have (glovecoach analyze PART PART ...)")
    return [*earlier, path]


def open_station_session(paths: Sequence[str | Path]) -> StationRecording:
    """Open the parts and join them (`join_station_parts`); one path opens as it is."""
    recordings = [open_station_recording(p) for p in paths]
    return recordings[0] if len(recordings) == 1 else join_station_parts(recordings)


def join_station_parts(parts: Sequence[StationRecording]) -> StationRecording:
    """The parts of one station session (any order) as one `StationRecording`."""
    if not parts:
        raise PartsError("no parts to join")
    # By origin, then by when each was begun: a part that went on with the session's origin
    # has the same origin as the part before it.
    parts = sorted(parts, key=lambda part: (_origin_of(part), part.started_at))
    first = parts[0]
    for part in parts[1:]:
        _check_same_session(first, part)
    rate = float(first.rate_hz)
    origin = _origin_of(first)
    devices = {role: first.devices[role] for role in first.devices}
    notes = list(first.notes)
    problems = [f"{first.path.name}: {p}" for p in first.problems] if len(parts) > 1 else list(first.problems)
    station_end = _station_end(first)
    for part in parts[1:]:
        # A part that went on with the session's own origin (the classroom's does) is at 0;
        # one that aligned its devices afresh, by the distance between the two origins.
        station_offset = round((_origin_of(part) - origin) * rate)
        for role, rec in part.devices.items():
            devices[role] = _join_device(devices[role], rec, station_offset, origin, rate)
        notes += [_moved(n, station_offset, rate) for n in part.notes if n.kind != STATION_ORIGIN_NOTE]
        problems += [f"{part.path.name}: {p}" for p in part.problems]
        station_end = max(station_end, station_offset + _station_end(part))
    last = parts[-1]
    end_info = dict(last.end_info) if last.end_info is not None else None
    if end_info is not None:
        end_info["station_samples"] = station_end
        end_info["station_origin"] = origin
    metadata = {**first.metadata, **{k: v for k, v in last.metadata.items() if k != CONTINUES_KEY},
                "parts": [p.path.name for p in parts]}
    return dataclasses.replace(
        first, path=last.path, metadata=metadata, devices=devices, notes=notes, problems=problems,
        closed_cleanly=last.closed_cleanly, ended_at=last.ended_at, end_info=end_info,
        station_origin=origin, skipped=[s for p in parts for s in p.skipped],
        parts=tuple(parts) if len(parts) > 1 else ())


def _origin_of(part: StationRecording) -> float:
    if part.station_origin is None:
        raise PartsError(f"{part.path}: the recording holds no station origin (its session never aligned a "
                         "sample), so it cannot be placed among other parts")
    return float(part.station_origin)


def _station_end(part: StationRecording) -> int:
    if part.station_samples is not None:
        return int(part.station_samples)
    # Not closed (the app was killed): the devices' timelines, on the station clock as far as
    # the host time of their last frame tells.
    origin = _origin_of(part)
    ends = [0]
    for rec in part.devices.values():
        if len(rec.frames):
            ends.append(int(np.ceil((float(rec.frames["host_time"].max()) - origin) * part.rate_hz)))
    return max(ends)


def _check_same_session(first: StationRecording, part: StationRecording) -> None:
    def differ(what: str, a: object, b: object) -> PartsError:
        return PartsError(f"{part.path.name} is not a part of the session of {first.path.name}: "
                          f"{what} {b!r} against {a!r}")

    if first.layout.describe() != part.layout.describe():
        raise differ("station layout", first.layout.roles, part.layout.roles)
    if float(first.rate_hz) != float(part.rate_hz):
        raise differ("rate (Hz)", first.rate_hz, part.rate_hz)
    for key in ("room", "station"):
        a, b = first.metadata.get(key), part.metadata.get(key)
        if a is not None and b is not None and a != b:
            raise differ(key, a, b)
    a = dict(first.metadata.get("devices") or {})
    b = dict(part.metadata.get("devices") or {})
    for role in set(a) & set(b):
        if a[role] != b[role]:
            raise differ(f"{role.replace('_', ' ')} device", a[role], b[role])


def _join_device(before: Recording, after: Recording, station_offset: int, origin: float,
                 rate: float) -> Recording:
    """``after`` placed on ``before``'s index (see the module's docstring)."""
    offset, exact = _device_offset(before, after, station_offset, origin, rate)
    covered = [int(after.sample_index[0])] if len(after.sample_index) else []
    covered += [g.first_index for g in after.gaps]
    start = offset + min(covered, default=after.n_total)
    if start < before.n_total:
        raise PartsError(f"{after.path.name}: the {after.role or 'device'}'s samples begin at {start} on the "
                         f"session's index, before {before.path.name}'s end at {before.n_total}: the "
                         "parts overlap (recorded at the same time?)")
    between = [SessionGap(before.n_total, start - before.n_total, NOT_RECORDED, exact)] \
        if start > before.n_total else []
    frames = after.frames.copy()
    frames["sample_index"] += offset
    return dataclasses.replace(
        before,
        path=after.path,
        raw=np.concatenate([before.raw, after.raw]),
        sample_index=np.concatenate([before.sample_index, after.sample_index + offset]),
        frames=np.concatenate([before.frames, frames]),
        gaps=[*before.gaps, *between,
              *(SessionGap(g.first_index + offset, g.n_samples, g.reason, g.exact) for g in after.gaps)],
        notes=[*before.notes, *(_moved(n, offset, rate) for n in after.notes)],
        statuses=[*before.statuses, *after.statuses],
        problems=[*before.problems, *after.problems],
        closed_cleanly=after.closed_cleanly,
        ended_at=after.ended_at,
        end_info=after.end_info,
        n_total=offset + after.n_total,
        skipped=[*before.skipped, *after.skipped],
        device_info=before.device_info or after.device_info,
        hellos=[*before.hellos, *after.hellos],
    )


def _device_offset(before: Recording, after: Recording, station_offset: int, origin: float,
                   rate: float) -> tuple[int, bool]:
    """Where ``after``'s index 0 falls on ``before``'s, and whether that is exact."""
    if not len(after.frames):
        return max(before.n_total, station_offset), False
    b = after.frames[np.argmin(after.frames["sample_index"])]
    if not len(before.frames):
        # Never heard before this part: placed by the host clock against the station origin.
        at = round((float(b["host_time"]) - origin) * rate)
        return max(before.n_total, at - int(b["sample_index"])), False
    a = before.frames[np.argmax(before.frames["sample_index"])]
    host_gap_s = float(b["host_time"]) - float(a["host_time"])
    estimate = host_gap_s * rate
    samples, exact = round(estimate), False
    same_boot = (before.hellos and after.hellos and before.hellos[-1].get("boot_id") is not None
                 and before.hellos[-1].get("boot_id") == after.hellos[0].get("boot_id"))
    if same_boot:
        grid_a = _grid_t_us(before.frames, int(a["sample_index"]), rate)
        grid_b = _grid_t_us(after.frames, int(b["sample_index"]), rate)
        ticks = (grid_b - grid_a) % T_US_MODULUS
        ticks += round((host_gap_s * 1e6 - ticks) / T_US_MODULUS) * T_US_MODULUS
        on_device = ticks * rate / 1e6
        if abs(on_device - round(on_device)) < SAMPLE_FRACTION_TOLERANCE \
                and abs(on_device - estimate) < HOST_AGREEMENT_S * rate:
            samples, exact = round(on_device), True
    return int(a["sample_index"]) + samples - int(b["sample_index"]), exact


def _grid_t_us(frames: np.ndarray, index: int, rate: float) -> float:
    """The device's clock (t_us, mod 2**30) at the slot of sample ``index``, from the frames
    nearest it. The firmware takes each sample on a fixed grid of deadlines and stamps a
    frame when it reads its first sample, never early but up to a period late on a busy
    device; so the earliest stamps against the grid (the lower envelope) are on it."""
    near = frames[np.argsort(np.abs(frames["sample_index"] - index))[:GRID_FRAMES]]
    ref = frames[frames["sample_index"] == index][0]
    half = T_US_MODULUS // 2
    ticks = (near["t_us"].astype(np.int64) - int(ref["t_us"]) + half) % T_US_MODULUS - half
    slots = near["sample_index"].astype(np.int64) - index
    return (int(ref["t_us"]) + float(np.min(ticks - slots * (1e6 / rate)))) % T_US_MODULUS


def _moved(note: Note, offset: int, rate: float) -> Note:
    """A later part's note on the joined index: its index keys and ``at_s`` moved."""
    payload = dict(note.payload)
    changed = False
    for key in _INDEX_KEYS:
        if isinstance(payload.get(key), int) and not isinstance(payload.get(key), bool):
            payload[key] += offset
            changed = True
    if isinstance(payload.get("at_s"), (int, float)) and not isinstance(payload.get("at_s"), bool):
        payload["at_s"] = payload["at_s"] + offset / rate
        changed = True
    return dataclasses.replace(note, payload=payload) if changed else note
