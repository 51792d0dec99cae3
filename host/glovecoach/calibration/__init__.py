"""Raw ADC counts to newtons, per sensor, with saturation and open-lead masks.

A `Calibration` holds one FSR curve (`glovecoach.fsr_model.FsrParams`) per channel: fitted
per sensor by `glovecoach calibrate` and stored as JSON under the glove's id, or the nominal
curve from the sensor map when the glove was never calibrated (`nominal` is then True and
every report says so). Converting is one vectorised expression over the whole block.

Saturation is a condition, not a force: `ForceBlock.saturated` marks samples at or above the
sensor map's `saturated_at`; their `newtons` hold the force at that ceiling (a saturated
sensor carries at least that much), which detectors may use as a lower bound but reports
never show as a reading. Samples below `open_below` (a broken lead) read 0 N and are marked
in `ForceBlock.open`. See docs/calibration.md.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from glovecoach.calibration.fit import CalibrationError, SensorFit, fit_sensor, kg_to_newtons
from glovecoach.fsr_model import FsrParams, raw_to_force
from glovecoach.sensor_map import SensorMap, load_sensor_map

FORMAT_NAME = "glovecoach-calibration"
FORMAT_VERSION = 1
DIRECTORY_ENV = "GLOVECOACH_CALIBRATIONS"


@dataclass
class ForceBlock:
    first_index: int
    newtons: np.ndarray      # (n, ch) float32; 0 where open; at saturation: the ceiling, not a reading
    saturated: np.ndarray    # (n, ch) bool
    open: np.ndarray         # (n, ch) bool

    @property
    def n_samples(self) -> int:
        return int(self.newtons.shape[0])


def default_directory() -> Path:
    """Where calibrations live: $GLOVECOACH_CALIBRATIONS, else ~/.config/glovecoach/calibrations."""
    override = os.environ.get(DIRECTORY_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "glovecoach" / "calibrations"


def calibration_path(glove_id: str, directory: str | os.PathLike[str] | None = None) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in glove_id)
    return Path(directory or default_directory()) / f"{safe}.json"


@dataclass
class Calibration:
    glove_id: str | None
    nominal: bool
    channels: tuple[str, ...]
    params: dict[str, FsrParams]
    fits: dict[str, SensorFit] = field(default_factory=dict)
    nominal_channels: tuple[str, ...] = ()
    source: str | None = None
    created: str | None = None
    sensor_map: SensorMap = field(default_factory=load_sensor_map, repr=False)

    def __post_init__(self) -> None:
        missing = [c for c in self.channels if c not in self.params]
        if missing:
            raise CalibrationError(f"no curve for channel(s) {', '.join(missing)}")
        self._set_vectors()

    def _set_vectors(self) -> None:
        # One FsrParams whose fields are per-channel arrays: fsr_model's functions broadcast
        # them against (n, ch) blocks, so conversion needs no loop over channels.
        ps = [self.params[c] for c in self.channels]
        self._vector = FsrParams(
            r1_ohm=np.array([p.r1_ohm for p in ps]), alpha=np.array([p.alpha for p in ps]),  # type: ignore[arg-type]
            divider_ohm=np.array([p.divider_ohm for p in ps]),  # type: ignore[arg-type]
            bias_ohm=np.array([p.bias_ohm for p in ps]),  # type: ignore[arg-type]
            adc_max=self.sensor_map.adc_max,
        )
        self._ceiling = raw_to_force(np.full(len(ps), self.sensor_map.saturated_at), self._vector).astype(np.float32) \
            if ps else np.zeros(0, np.float32)
        # Every possible reading of every channel, converted once: a block is then one
        # table lookup (open readings -> 0 N, saturated ones -> the ceiling, as convert() promises).
        counts = np.arange(self.sensor_map.adc_max + 1)
        table = raw_to_force(counts[:, None].astype(np.float64), self._vector).astype(np.float32) \
            if ps else np.zeros((len(counts), 0), np.float32)
        table[counts < self.sensor_map.open_below] = 0.0
        table[counts >= self.sensor_map.saturated_at] = self._ceiling
        self._table = table
        self._columns = np.arange(len(ps))

    @property
    def ceiling_n(self) -> dict[str, float]:
        """The force at which each channel saturates."""
        return {c: float(v) for c, v in zip(self.channels, self._ceiling)}

    # -- construction
    @classmethod
    def nominal_for(cls, channels: Sequence[str], sensor_map: SensorMap | None = None,
                    glove_id: str | None = None) -> Calibration:
        smap = sensor_map or load_sensor_map()
        params = {c: nominal_params(c, smap) for c in channels}
        return cls(glove_id=glove_id, nominal=True, channels=tuple(channels), params=params,
                   nominal_channels=tuple(channels), sensor_map=smap)

    @classmethod
    def from_fits(cls, fits: Sequence[SensorFit], channels: Sequence[str], glove_id: str | None,
                  sensor_map: SensorMap | None = None) -> Calibration:
        """Fitted sensors where given, the nominal curve for the rest."""
        smap = sensor_map or load_sensor_map()
        by_channel = {f.channel: f for f in fits}
        params = {c: by_channel[c].params if c in by_channel else nominal_params(c, smap) for c in channels}
        nominal_channels = tuple(c for c in channels if c not in by_channel)
        return cls(glove_id=glove_id, nominal=not by_channel, channels=tuple(channels), params=params,
                   fits=by_channel, nominal_channels=nominal_channels, sensor_map=smap,
                   created=datetime.now(timezone.utc).isoformat(timespec="seconds"))

    # -- conversion
    def convert(self, raw: np.ndarray, first_index: int = 0) -> ForceBlock:
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != len(self.channels):
            raise ValueError(f"raw block must be (n, {len(self.channels)}), got {raw.shape}")
        counts = np.clip(raw, 0, self.sensor_map.adc_max).astype(np.intp, copy=False)
        newtons = self._table[counts, self._columns]
        saturated = raw >= self.sensor_map.saturated_at
        open_ = raw < self.sensor_map.open_below
        return ForceBlock(first_index=int(first_index), newtons=newtons, saturated=saturated, open=open_)

    def to_newtons(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(newtons, saturated), the shape docs/architecture.md names."""
        block = self.convert(raw)
        return block.newtons, block.saturated

    def describe(self) -> dict:
        return {"nominal": self.nominal, "glove_id": self.glove_id, "source": self.source,
                "nominal_channels": list(self.nominal_channels) if not self.nominal else list(self.channels)}

    # -- files
    def save(self, path: str | Path) -> None:
        data = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "glove_id": self.glove_id,
            "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sensors": {c: (self.fits[c].to_json() if c in self.fits else None) for c in self.channels
                        if c in self.fits},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)   # never leave a half-written calibration behind

    @classmethod
    def load(cls, path: str | Path, channels: Sequence[str] | None = None,
             sensor_map: SensorMap | None = None) -> Calibration:
        """Read a calibration file; channels it lacks use the nominal curve."""
        path = Path(path)
        smap = sensor_map or load_sensor_map()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise CalibrationError(f"{path}: field format: not a glovecoach calibration file")
        if data.get("version") != FORMAT_VERSION:
            raise CalibrationError(f"{path}: field version: unsupported version {data.get('version')!r}")
        sensors = data.get("sensors")
        if not isinstance(sensors, dict):
            raise CalibrationError(f"{path}: field sensors: must be an object of sensor id -> curve")
        fits = []
        for channel, entry in sensors.items():
            if channel not in smap.ids:
                raise CalibrationError(f"{path}: field sensors.{channel}: unknown sensor id")
            fits.append(_fit_from_json(path, channel, entry, smap))
        glove_id = data.get("glove_id")
        if glove_id is not None and not isinstance(glove_id, str):
            raise CalibrationError(f"{path}: field glove_id: must be a string")
        cal = cls.from_fits(fits, tuple(channels) if channels is not None else smap.ids, glove_id, smap)
        cal.source = str(path)
        cal.created = data.get("created")
        return cal


def _fit_from_json(path: Path, channel: str, entry: object, smap: SensorMap) -> SensorFit:
    where = f"{path}: field sensors.{channel}"
    if not isinstance(entry, dict):
        raise CalibrationError(f"{where}: must be an object")
    values = {}
    for key in ("r1_ohm", "alpha", "divider_ohm", "bias_ohm"):
        v = entry.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise CalibrationError(f"{where}.{key}: must be a positive number, got {v!r}")
        values[key] = float(v)
    expected_divider = smap.by_id(channel).divider_ohm
    if abs(values["divider_ohm"] - expected_divider) > 1e-6 * expected_divider:
        raise CalibrationError(
            f"{where}.divider_ohm: {values['divider_ohm']:g} does not match the sensor map ({expected_divider})")
    params = FsrParams(adc_max=smap.adc_max, **values)
    points = tuple(tuple(map(float, p)) for p in entry.get("points", []))
    return SensorFit(channel, params, float(entry.get("tare_raw", 0.0)), points,  # type: ignore[arg-type]
                     tuple(entry.get("dropped_saturated_n", [])), float(entry.get("rms_log_error", 0.0)))


def nominal_params(channel: str, smap: SensorMap | None = None) -> FsrParams:
    smap = smap or load_sensor_map()
    try:
        c = smap.by_id(channel)
    except ValueError:
        raise CalibrationError(f"unknown sensor id {channel!r} (not in the sensor map)") from None
    return FsrParams(divider_ohm=float(c.divider_ohm), bias_ohm=float(c.bias_ohm), adc_max=smap.adc_max)


def calibration_for(glove_id: str | None, channels: Sequence[str],
                    directory: str | os.PathLike[str] | None = None) -> Calibration:
    """The stored calibration of `glove_id` if there is one, else the nominal curves."""
    if glove_id:
        path = calibration_path(glove_id, directory)
        if path.exists():
            return Calibration.load(path, channels)
    return Calibration.nominal_for(channels, glove_id=glove_id)


__all__ = [
    "Calibration", "CalibrationError", "ForceBlock", "SensorFit", "calibration_for",
    "calibration_path", "default_directory", "fit_sensor", "kg_to_newtons", "nominal_params",
]
