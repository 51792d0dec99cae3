"""A whole session on disk through the coaching: a `.gcrec` recording or a table of newtons.

A recording goes through the same pipeline as a live session (`RecordingSource` ->
`CoachingListener`: its glove's calibration, the TARE from its HELLO, then the engine), in
longer blocks: the results do not depend on block size, and longer blocks cost less overhead.
A CSV of newtons (`glovecoach.recording.force_csv`) has no raw counts to calibrate, so its
force blocks go to the engine directly, with the same block cutting.
"""

from __future__ import annotations

import os

import numpy as np

from glovecoach.calibration import Calibration, calibration_for
from glovecoach.engine.coaching import CoachingEngine
from glovecoach.engine.report import SessionReport
from glovecoach.pipeline.coaching import CoachingListener
from glovecoach.pipeline.notifier import Notifier
from glovecoach.pipeline.recording_source import RecordingSource
from glovecoach.protocols import Protocol
from glovecoach.recording.force_csv import ForceTable
from glovecoach.recording.runs import contiguous_blocks
from glovecoach.vocabulary.blocks import ForceBlock

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
