"""A whole session on disk through the coaching: a `.gcrec` recording or a table of newtons.

A recording goes through the same pipeline as a live session (`RecordingSource` ->
`CoachingListener`: its glove's calibration, the TARE from its HELLO, then the engine), in
longer blocks: the results do not depend on block size, and longer blocks cost less overhead.
A CSV of newtons (`glovecoach.recording.force_csv`) has no raw counts to calibrate, so its
force blocks go to the engine directly, with the same block cutting.

A station's aligned columns (`analyze_station`: every device on one station index, with which
device was there at each slot) go through `StationCoachingListener`, the listener a live
station coaches through, as `StationSamples` / `StationGap` messages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from glovecoach.calibration import Calibration, calibration_for
from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.report import SessionReport, StationReport
from glovecoach.pipeline.coaching import CoachingListener
from glovecoach.pipeline.notifier import Notifier
from glovecoach.pipeline.recording_source import RecordingSource
from glovecoach.protocols import Protocol
from glovecoach.recording.runs import contiguous_blocks
from glovecoach.vocabulary.blocks import ForceBlock

if TYPE_CHECKING:
    # Imported where they are used: `analyze FILE.gcrec` starts without the station's and the
    # CSV's code (start-up is a third of a 15-minute analysis).
    from glovecoach.recording.force_csv import ForceTable
    from glovecoach.vocabulary.station import StationLayout

ANALYSIS_BLOCK_S = 60.0   # results do not depend on block size; longer blocks cost less overhead


def analyze_recording(recording, protocol: Protocol, calibration: Calibration | None = None,
                      calibration_dir: str | os.PathLike[str] | None = None,
                      block_s: float = ANALYSIS_BLOCK_S) -> SessionReport:
    """A `glovecoach.recording.Recording` through the coaching, with its glove's calibration."""
    channels = tuple(recording.channels)
    if calibration is None:
        calibration = calibration_for(recording.device_info.get("glove_id"), channels, calibration_dir)
    coaching = CoachingListener(protocol=protocol, calibration=calibration, channels=channels,
                                rate_hz=recording.rate_hz, device_info=dict(recording.device_info))
    source = RecordingSource(recording, max(1, int(block_s * recording.rate_hz)))
    source.advance_to_end()
    Notifier(source, [coaching], join_samples=False).pump()
    return coaching.finish()


def analyze_table(table: ForceTable, protocol: Protocol, calibration_info: dict | None = None,
                  block_s: float = ANALYSIS_BLOCK_S) -> SessionReport:
    """A table of newtons (a CSV) through the engine."""
    engine = CoachingEngine(protocol, table.channels, table.rate_hz,
                            calibration=calibration_info or {"nominal": False, "glove_id": None, "source": "csv"})
    # A CSV written by something other than `glovecoach export` has no `sat` cells: a reading at
    # the nominal sensor's ceiling (hundreds of newtons, far beyond any hand) is one all the same.
    ceiling = Calibration.nominal_for(table.channels).ceiling_n
    top = np.array([ceiling[c] for c in table.channels], dtype=np.float32) * np.float32(0.999)
    index = table.sample_index
    if len(index) and index[0] > 0:
        engine.gap(0, int(index[0]))
    starts, stops = contiguous_blocks(index, max(1, int(block_s * table.rate_hz)))
    for a, b in zip(starts.tolist(), stops.tolist()):
        newtons = table.newtons[a:b]
        engine.process(ForceBlock(int(index[a]), newtons, table.saturated[a:b] | (newtons >= top),
                                  table.open[a:b]))
    return engine.finish()


def station_messages(raw: np.ndarray, present: np.ndarray, gaps: Iterable[tuple[int, int]] = (),
                     block_rows: int = 12000, first_index: int = 0) -> list:
    """The aligned station rows as the messages a station pipeline carries: `StationSamples`
    blocks that never span a change in which devices are present (nor `block_rows`), and a
    `StationGap` for each stretch no device filled (rows with no device present, and the
    `gaps` given as (first_index, n_samples))."""
    from glovecoach.vocabulary.station import StationGap, StationSamples

    n = len(raw)
    empty = np.asarray(~present.any(axis=1), dtype=bool)
    for a, k in gaps:
        empty[max(0, a - first_index):max(0, a - first_index + k)] = True
    # One code per row: which devices are there (bit k: device k), -1 where none is.
    code = np.where(empty, -1, (present.astype(np.int64) << np.arange(present.shape[1])).sum(axis=1))
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(code)) + 1, [n]]) if n else np.zeros(1, np.int64)
    out: list = []
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        if code[a] < 0:
            out.append(StationGap(first_index + a, b - a, "no device"))
            continue
        here = tuple(bool(v) for v in present[a])
        for s in range(a, b, block_rows):
            e = min(b, s + block_rows)
            out.append(StationSamples(first_index + s, raw[s:e], here))
    return out


def analyze_station(raw: np.ndarray, present: np.ndarray | tuple, layout: StationLayout, rate_hz: float,
                    protocol: Protocol, calibrations: Mapping[str, Calibration] | None = None,
                    gaps: Iterable[tuple[int, int]] = (), device_info: Mapping[str, dict] | None = None,
                    calibration_dir: str | os.PathLike[str] | None = None,
                    block_s: float = ANALYSIS_BLOCK_S) -> StationReport:
    """A station's aligned recording through the station coaching.

    `raw` (n, len(layout.columns)): row i is station slot i; `present` (n, devices) bool, or
    one flag per device for the whole session: whether that device's columns hold its
    readings in that row; `gaps`: (first_index, n_samples) of slots that are gaps whatever
    the rows hold; `calibrations` per device role (else each device's stored one by its id in
    `device_info`, else nominal)."""
    from glovecoach.pipeline.station_coaching import StationCoachingListener

    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.shape[1] != len(layout.columns):
        raise ValueError(f"station data of shape {raw.shape} does not match the station's "
                         f"{len(layout.columns)} columns ({', '.join(layout.roles)})")
    present = np.asarray(present, dtype=bool)
    if present.ndim == 1:
        present = np.broadcast_to(present, (len(raw), len(present)))
    if present.shape != (len(raw), len(layout.devices)):
        raise ValueError(f"present has shape {present.shape}; expected ({len(raw)}, {len(layout.devices)}): "
                         f"one flag per row and device ({', '.join(layout.roles)})")
    coaching = StationCoachingListener(protocol=protocol, layout=layout, rate_hz=rate_hz,
                                       calibrations=calibrations, device_info=device_info,
                                       calibration_dir=calibration_dir)
    source = _Messages(station_messages(raw, present, gaps, max(1, int(block_s * rate_hz))))
    Notifier(source, [coaching], join_samples=False).pump()
    return coaching.finish()


def analyze_station_recording(station, protocol: Protocol,
                              calibration_dir: str | os.PathLike[str] | None = None) -> StationReport:
    """A station recording (one file, or the parts of one session joined by
    `glovecoach.recording.parts`): its devices aligned again exactly as they were live (the
    stored origin, the same aligner), then the station coach over the aligned rows."""
    from glovecoach.station.replay import align_station_recording

    aligned = align_station_recording(station)
    return analyze_station(aligned.raw, aligned.present, aligned.layout, aligned.rate_hz, protocol,
                           device_info={role: rec.device_info for role, rec in station.devices.items()},
                           calibration_dir=calibration_dir)


class _Messages:
    """A source that holds a whole session's messages and gives them at the first poll."""

    def __init__(self, messages: list) -> None:
        self._messages = messages

    def poll(self) -> list:
        out, self._messages = self._messages, []
        return out
