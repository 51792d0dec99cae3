"""A station recording as one CSV: the devices aligned on the station index, one column per
station column (`left.thumb_tip`, ..., `spine_1`), named by `StationLayout`.

Rows are station slots that at least one device filled; a cell of a device absent in that row
is left empty, never written as a reading. Newtons go through each device's own calibration
(its stored one by its id, else the nominal curves), as `analyze` coaches on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glovecoach.calibration import Calibration, calibration_for
from glovecoach.recording.export import ExportResult, export_csv
from glovecoach.station.replay import AlignedStation
from glovecoach.vocabulary.blocks import ForceBlock


@dataclass
class _AlignedRows:
    """What export_csv reads of a recording, made from an aligned station."""

    path: Path
    rate_hz: float
    channels: tuple[str, ...]
    raw: np.ndarray
    sample_index: np.ndarray
    device_info: dict

    @property
    def samples(self) -> int:
        return int(self.raw.shape[0])

    def time_s(self) -> np.ndarray:
        return self.sample_index / float(self.rate_hz)


def station_calibrations(station: Any, directory: str | os.PathLike[str] | None = None) -> dict[str, Calibration]:
    """Each device's calibration: stored for its id, else nominal."""
    out = {}
    for device in station.layout.devices:
        rec = station.devices.get(device.role)
        glove_id = rec.device_info.get("glove_id") if rec is not None else None
        out[device.role] = calibration_for(glove_id, device.channels, directory)
    return out


def export_station_csv(station: Any, aligned: AlignedStation, out_path: str | os.PathLike[str], *,
                       newtons: bool = True, calibrations: dict[str, Calibration] | None = None,
                       overwrite: bool = True) -> ExportResult:
    layout = aligned.layout
    filled = aligned.present.any(axis=1)
    rows = np.flatnonzero(filled)
    # (rows, columns): a device's columns are absent where the device was
    absent = np.zeros((len(rows), len(layout.columns)), dtype=bool)
    for k, device in enumerate(layout.devices):
        absent[:, aligned.layout.slice_of(device.role)] = ~aligned.present[rows, k][:, None]
    view = _AlignedRows(Path(station.path), aligned.rate_hz, tuple(layout.columns), aligned.raw[rows],
                        rows.astype(np.int64), {"glove_id": "+".join(
                            str((station.devices[r].device_info or {}).get("glove_id") or r)
                            for r in layout.roles if r in station.devices)})
    convert = None
    if newtons:
        cals = calibrations or station_calibrations(station)

        def convert(raw: np.ndarray):
            n = np.zeros(raw.shape, dtype=np.float64)
            sat = np.zeros(raw.shape, dtype=bool)
            opn = np.zeros(raw.shape, dtype=bool)
            for device in layout.devices:
                cols = aligned.layout.slice_of(device.role)
                block = cals[device.role].convert(raw[:, cols])
                n[:, cols], sat[:, cols], opn[:, cols] = block.newtons, block.saturated, block.open
            return ForceBlock(0, n, sat, opn)
    return export_csv(view, out_path, to_newtons=convert, overwrite=overwrite, absent=absent)  # type: ignore[arg-type]
