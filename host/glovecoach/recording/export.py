"""CSV export of a recording: one row per recorded sample, gap rows left out.

The file says what it holds in a first comment line, which `glovecoach analyze` reads back
(docs/recording-format.md, "CSV export"):

    # glovecoach export: units=newtons, rate_hz=200, glove_id=GC-0007, calibration=stored, saturated=sat, open=open
    # ceiling_n: thumb_tip=436.5464, index_tip=436.5464, ...
    time_s,thumb_tip,index_tip,...

A saturated sensor is not a force reading, so its cell is the word `sat`, never a number; a
sensor with an open lead reads `open`. `# ceiling_n:` gives, per channel, the force at which
the calibration saturates: a reader may use it as a lower bound for `sat` cells.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glovecoach.output_files import atomic_output
from glovecoach.recording.reader import Recording

if TYPE_CHECKING:
    from glovecoach.calibration import Calibration

EXPORT_COMMENT = "# glovecoach export:"
CEILING_COMMENT = "# ceiling_n:"
SATURATED_CELL = "sat"
OPEN_CELL = "open"

_ROWS_PER_CHUNK = 20_000


@dataclass(frozen=True)
class ExportResult:
    rows: int
    units: str                 # "adc_counts" or "newtons"
    saturated_cells: int = 0   # cells written as `sat`
    open_cells: int = 0        # cells written as `open`


def export_csv(
    recording: Recording,
    out_path: str | os.PathLike[str],
    *,
    calibration: Calibration | None = None,
    to_newtons: Callable[[np.ndarray], Any] | None = None,
    overwrite: bool = True,
    absent: np.ndarray | None = None,
) -> ExportResult:
    """Write the export comment, `time_s,<channel ids...>` and one row per recorded sample.

    Values are raw ADC counts by default; newtons (4 decimals) with `calibration` (a
    `glovecoach.calibration.Calibration` for the recording's channels: saturated cells are
    written `sat`, open leads `open`, and the ceilings go into a `# ceiling_n:` line) or with
    `to_newtons(raw)`, a function of a (n, channels) uint16 block returning a float array of
    the same shape, a `(newtons, saturated)` pair or a `ForceBlock`.
    The file is written next to `out_path` under a temporary name and renamed into place, so a
    failure never leaves a half-written CSV behind nor destroys the file it would replace
    (glovecoach.output_files: never through a symbolic link, never over the recording itself;
    `overwrite=False` refuses an existing file).

    `absent` ((rows, channels) bool, for a station's aligned rows): cells of a device that was
    not there in that row are left empty, never written as a reading.
    """
    out_path = Path(out_path)
    n_channels = len(recording.channels)
    if calibration is not None and to_newtons is not None:
        raise ValueError("give calibration or to_newtons, not both")
    if calibration is not None:
        if tuple(calibration.channels) != tuple(recording.channels):
            raise ValueError(f"the calibration is for channels {calibration.channels}, "
                             f"the recording has {recording.channels}")
        convert: Callable[[np.ndarray], Any] | None = calibration.convert
    else:
        convert = to_newtons
    units = "adc_counts" if convert is None else "newtons"
    # %d prints a whole float as the kit's files always had it; an empty cell needs the NaN
    # that %.0f can print.
    value_format = (",%.0f" if absent is not None else ",%d") if convert is None else ",%.4f"
    line_format = "%.6f" + value_format * n_channels + "\n"
    saturated_cells = open_cells = 0
    with atomic_output(out_path, overwrite=overwrite, inputs=[recording.path]) as tmp_path, \
            open(tmp_path, "w", encoding="utf-8", newline="") as out:
        out.write(_comment(recording, units, calibration, custom=to_newtons is not None))
        out.write(",".join(("time_s",) + tuple(recording.channels)) + "\n")
        time_s = recording.time_s()
        for start in range(0, recording.samples, _ROWS_PER_CHUNK):
            stop = min(start + _ROWS_PER_CHUNK, recording.samples)
            block = recording.raw[start:stop]
            table = np.empty((stop - start, n_channels + 1), dtype=np.float64)
            table[:, 0] = time_s[start:stop]
            marked = False
            if convert is None:
                table[:, 1:] = block
            else:
                newtons, saturated, open_ = _newtons(convert, block)
                if absent is not None:
                    # an absent device's cells read 0: neither open nor saturated, just empty
                    gone = absent[start:stop]
                    saturated = saturated & ~gone if saturated is not None else None
                    open_ = open_ & ~gone if open_ is not None else None
                table[:, 1:] = newtons
                # +-inf stand in for the words while formatting: the time and every force
                # are finite, so the only "inf" in the text are these cells.
                if saturated is not None and saturated.any():
                    table[:, 1:][saturated] = np.inf
                    saturated_cells += int(saturated.sum())
                    marked = True
                if open_ is not None and open_.any():
                    table[:, 1:][open_] = -np.inf
                    open_cells += int(open_.sum())
                    marked = True
            if absent is not None and absent[start:stop].any():
                table[:, 1:][absent[start:stop]] = np.nan
                marked = True
            # One %-format call per chunk instead of one per row.
            text = (line_format * (stop - start)) % tuple(table.ravel().tolist())
            if absent is not None:
                text = text.replace("nan", "")
            if marked:
                text = text.replace("-inf", OPEN_CELL).replace("inf", SATURATED_CELL)
            out.write(text)
    return ExportResult(recording.samples, units, saturated_cells, open_cells)


def _clean(value: object) -> str:
    # Field values must not break the comment's `key=value, ...` syntax.
    return "".join("_" if c in ",=\r\n" else c for c in str(value))


def _comment(recording: Recording, units: str, calibration: Calibration | None, custom: bool) -> str:
    fields = {"units": units, "rate_hz": f"{recording.rate_hz:g}",
              "glove_id": recording.device_info.get("glove_id") or "unknown"}
    if units == "newtons":
        if calibration is None:
            fields["calibration"] = "custom" if custom else "unknown"
        elif calibration.nominal:
            fields["calibration"] = "nominal"
        elif calibration.nominal_channels:
            fields["calibration"] = f"stored (nominal for {len(calibration.nominal_channels)} channel(s))"
        else:
            fields["calibration"] = "stored"
        fields["saturated"] = SATURATED_CELL
        fields["open"] = OPEN_CELL
    lines = EXPORT_COMMENT + " " + ", ".join(f"{k}={_clean(v)}" for k, v in fields.items()) + "\n"
    if calibration is not None:
        lines += CEILING_COMMENT + " " + ", ".join(
            f"{c}={v:.4f}" for c, v in calibration.ceiling_n.items()) + "\n"
    return lines


def _newtons(convert: Callable[[np.ndarray], Any],
             raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    result = convert(raw)
    saturated = open_ = None
    if hasattr(result, "newtons"):          # a ForceBlock
        result, saturated, open_ = result.newtons, result.saturated, result.open
    elif isinstance(result, tuple):         # (newtons, saturated)
        result, saturated = result
    newtons = np.asarray(result, dtype=np.float64)
    if newtons.shape != raw.shape:
        raise ValueError(f"to_newtons returned shape {newtons.shape} for a raw block of shape {raw.shape}")
    if saturated is not None:
        saturated = np.asarray(saturated, dtype=bool)
    if open_ is not None:
        # A cell both open and saturated cannot happen with one threshold each; saturated wins.
        open_ = np.asarray(open_, dtype=bool) & ~saturated if saturated is not None else np.asarray(open_, bool)
    return newtons, saturated, open_
