"""Running the coaching engine over a whole session on disk: a `.gcrec` recording or a CSV.

The engine sees the same blocks it would see live (just longer ones: the results do not
depend on block size), with the recording's gaps passed on as gaps.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from glovecoach.calibration import Calibration, calibration_for

from glovecoach.vocabulary.blocks import ForceBlock
from .coaching import CoachingEngine
from .report import SessionReport
from glovecoach.protocols import Protocol
from glovecoach.vocabulary.sensors import ALL_CHANNELS

ANALYSIS_BLOCK_S = 30.0   # results do not depend on block size; longer blocks cost less overhead
CSV_DEFAULT_RATE_HZ = 200.0   # for a CSV of a single row, where no rate can be measured


class ForceCsvError(ValueError):
    """A CSV of forces that cannot be analysed; names file, line and column."""


@dataclass
class ForceTable:
    """Newtons on a sample grid: `newtons[k]` is sample `sample_index[k]` at `rate_hz`."""

    channels: tuple[str, ...]
    rate_hz: float
    sample_index: np.ndarray
    newtons: np.ndarray


def read_force_csv(path: str | os.PathLike[str]) -> ForceTable:
    """`time_s` (seconds) and one column per channel id, in newtons; any subset of channels."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ForceCsvError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ForceCsvError(f"{path}: not UTF-8 text") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ForceCsvError(f"{path}: line 1: empty file, expected a header row starting with time_s")
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    if header[0] != "time_s":
        raise ForceCsvError(f"{path}: line 1: the first column must be time_s, not {header[0]!r}")
    channels = header[1:]
    if not channels:
        raise ForceCsvError(f"{path}: line 1: no channel columns after time_s")
    for name in channels:
        if name not in ALL_CHANNELS:
            raise ForceCsvError(f"{path}: line 1: unknown column {name!r} (channel ids: {', '.join(ALL_CHANNELS)})")
    duplicates = {c for c in channels if channels.count(c) > 1}
    if duplicates:
        raise ForceCsvError(f"{path}: line 1: column {sorted(duplicates)[0]!r} appears twice")
    body = [(k, line) for k, line in enumerate(lines[1:], start=2) if line.strip()]
    if not body:
        return ForceTable(tuple(channels), CSV_DEFAULT_RATE_HZ, np.zeros(0, np.int64), np.zeros((0, len(channels)), np.float32))
    try:
        table = np.loadtxt(io.StringIO("\n".join(line for _, line in body)), delimiter=",", dtype=np.float64,
                           ndmin=2)
        if table.shape[1] != len(header):
            raise ValueError("column count")
    except ValueError:
        _find_bad_cell(path, header, body)   # raises with line and column
        raise
    if not np.isfinite(table).all():
        row, column = np.argwhere(~np.isfinite(table))[0]
        raise ForceCsvError(f"{path}: line {body[row][0]}: column {header[column]}: not a finite number")
    time_s = table[:, 0]
    steps = np.diff(time_s)
    if (steps <= 0).any():
        k = int(np.argmax(steps <= 0)) + 1
        raise ForceCsvError(f"{path}: line {body[k][0]}: column time_s: times must increase "
                            f"({time_s[k]:g} after {time_s[k - 1]:g})")
    rate = float(1.0 / np.median(steps)) if len(steps) else CSV_DEFAULT_RATE_HZ
    rate = float(round(rate)) if abs(rate - round(rate)) < 0.01 * rate else rate
    index = np.round(time_s * rate).astype(np.int64)
    off_grid = np.abs(time_s * rate - index) > 0.25
    if off_grid.any():
        k = int(np.argmax(off_grid))
        raise ForceCsvError(f"{path}: line {body[k][0]}: column time_s: {time_s[k]:g} s is off the "
                            f"{rate:g} Hz sample grid")
    newtons = table[:, 1:].astype(np.float32)
    if (newtons < 0).any():
        row, column = np.argwhere(newtons < 0)[0]
        raise ForceCsvError(f"{path}: line {body[row][0]}: column {channels[column]}: negative force {newtons[row, column]:g}")
    return ForceTable(tuple(channels), rate, index, newtons)


def _find_bad_cell(path: Path, header: list[str], body: list[tuple[int, str]]) -> None:
    """Only on the error path: walk the rows to name the first bad cell."""
    for number, line in body:
        cells = next(csv.reader([line]))
        if len(cells) != len(header):
            raise ForceCsvError(f"{path}: line {number}: {len(cells)} cells, the header has {len(header)}")
        for name, cell in zip(header, cells):
            try:
                float(cell)
            except ValueError:
                raise ForceCsvError(f"{path}: line {number}: column {name}: not a number: {cell.strip()!r}") from None


def runs(sample_index: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) row ranges of consecutive sample indices."""
    if len(sample_index) == 0:
        return []
    breaks = np.flatnonzero(np.diff(sample_index) != 1) + 1
    edges = np.concatenate([[0], breaks, [len(sample_index)]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def analyze_table(table: ForceTable, protocol: Protocol, calibration_info: dict | None = None,
                  block_s: float = ANALYSIS_BLOCK_S) -> SessionReport:
    engine = CoachingEngine(protocol, table.channels, table.rate_hz,
                            calibration=calibration_info or {"nominal": False, "glove_id": None, "source": "csv"})
    size = max(1, int(block_s * table.rate_hz))
    zeros = np.zeros((size, len(table.channels)), dtype=bool)
    if len(table.sample_index) and table.sample_index[0] > 0:
        engine.gap(0, int(table.sample_index[0]))
    for a, b in runs(table.sample_index):
        for k in range(a, b, size):
            stop = min(b, k + size)
            n = stop - k
            engine.process(ForceBlock(int(table.sample_index[k]), table.newtons[k:stop], zeros[:n], zeros[:n]))
    return engine.finish()


def analyze_recording(recording, protocol: Protocol, calibration: Calibration | None = None,
                      calibration_dir: str | os.PathLike[str] | None = None,
                      block_s: float = ANALYSIS_BLOCK_S) -> SessionReport:
    """A `glovecoach.recording.Recording` through the engine, with its glove's calibration."""
    channels = tuple(recording.channels)
    if calibration is None:
        calibration = calibration_for(recording.device_info.get("glove_id"), channels, calibration_dir)
    engine = CoachingEngine(protocol, channels, recording.rate_hz, calibration=calibration.describe())
    size = max(1, int(block_s * recording.rate_hz))
    index = np.asarray(recording.sample_index)
    if len(index) and index[0] > 0:
        engine.gap(0, int(index[0]))
    for a, b in runs(index):
        for k in range(a, b, size):
            stop = min(b, k + size)
            engine.process(calibration.convert(recording.raw[k:stop], int(index[k])))
    end = len(index) and int(index[-1]) + 1
    total = int(getattr(recording, "n_total", end) or end)
    if total > end:
        engine.gap(end, total - end)
    return engine.finish()


__all__ = ["ANALYSIS_BLOCK_S", "ForceCsvError", "ForceTable", "analyze_recording", "analyze_table",
           "read_force_csv", "runs"]
