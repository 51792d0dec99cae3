"""CSV export of a recording: one row per recorded sample, gap rows left out."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from glovecoach.recording.reader import Recording

_ROWS_PER_CHUNK = 20_000


def export_csv(
    recording: Recording,
    out_path: str | os.PathLike[str],
    *,
    to_newtons: Callable[[np.ndarray], Any] | None = None,
) -> None:
    """Write `time_s,<channel ids...>` rows: raw ADC counts, or newtons via `to_newtons(raw)`.

    `to_newtons` takes a (n, channels) uint16 block and returns a float array of the same
    shape; a `(newtons, saturated)` tuple, as `Calibration.to_newtons` returns, is accepted too.
    The file is written next to `out_path` under a temporary name and renamed into place, so a
    failure never leaves a half-written CSV behind.
    """
    out_path = Path(out_path)
    n_channels = len(recording.channels)
    value_format = ",%d" if to_newtons is None else ",%.4f"
    line_format = "%.6f" + value_format * n_channels + "\n"
    tmp_path = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp_path, "w", encoding="utf-8", newline="") as out:
            out.write(",".join(("time_s",) + recording.channels) + "\n")
            time_s = recording.time_s()
            for start in range(0, recording.samples, _ROWS_PER_CHUNK):
                stop = min(start + _ROWS_PER_CHUNK, recording.samples)
                block = recording.raw[start:stop]
                values = block if to_newtons is None else _newtons(to_newtons, block)
                table = np.empty((stop - start, n_channels + 1), dtype=np.float64)
                table[:, 0] = time_s[start:stop]
                table[:, 1:] = values
                # One %-format call per chunk instead of one per row.
                out.write((line_format * (stop - start)) % tuple(table.ravel().tolist()))
        os.replace(tmp_path, out_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _newtons(to_newtons: Callable[[np.ndarray], Any], raw: np.ndarray) -> np.ndarray:
    result = to_newtons(raw)
    if isinstance(result, tuple):
        result = result[0]
    newtons = np.asarray(result, dtype=np.float64)
    if newtons.shape != raw.shape:
        raise ValueError(f"to_newtons returned shape {newtons.shape} for a raw block of shape {raw.shape}")
    return newtons
