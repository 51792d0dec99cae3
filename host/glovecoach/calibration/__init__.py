"""Raw ADC counts to newtons, per sensor, with saturation and open-lead masks.

A `Calibration` holds one FSR curve (`glovecoach.calibration.fsr_model.FsrParams`) per channel: fitted
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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from glovecoach.calibration.fit import CalibrationError, SensorFit, fit_sensor, kg_to_newtons
from glovecoach.calibration.fsr_model import FsrParams, raw_to_force
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import SensorMap, load_sensor_map

FORMAT_NAME = "glovecoach-calibration"
FORMAT_VERSION = 1
DIRECTORY_ENV = "GLOVECOACH_CALIBRATIONS"


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
        # Per channel, the running maximum of its curve: "the lowest count reaching a force" is
        # then a binary search even where a fitted curve dips (counts_reaching).
        self._reach = np.ascontiguousarray(np.maximum.accumulate(table, axis=0).T)

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
                   created=datetime.now(UTC).isoformat(timespec="seconds"))

    # -- conversion
    def convert(self, raw: np.ndarray, first_index: int = 0) -> ForceBlock:
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != len(self.channels):
            raise ValueError(f"raw block must be (n, {len(self.channels)}), got {raw.shape}")
        counts = np.clip(raw, 0, self.sensor_map.adc_max).astype(np.intp, copy=False)
        # self._table[counts, self._columns], gathered from the flat table (twice as fast)
        newtons = self._table.ravel().take(counts * self._table.shape[1] + self._columns)
        saturated = raw >= self.sensor_map.saturated_at
        open_ = raw < self.sensor_map.open_below
        return ForceBlock(first_index=int(first_index), newtons=newtons, saturated=saturated, open=open_)

    def counts_reaching(self, newtons: np.ndarray) -> np.ndarray:
        """Per channel, the lowest ADC count that converts to at least ``newtons[k]`` (int64;
        ``adc_max + 1`` where no count does, or the force is NaN or inf): a raw reading below it
        cannot be that force, whatever the curve's shape."""
        newtons = np.asarray(newtons, dtype=np.float64)
        if newtons.shape != (len(self.channels),):
            raise ValueError(f"one force per channel ({len(self.channels)}), got shape {newtons.shape}")
        top = self.sensor_map.adc_max + 1
        out = np.full(len(self.channels), top, dtype=np.int64)
        for k, force in enumerate(newtons.tolist()):
            if force == force and force != np.inf:      # NaN and inf: no count reaches them
                out[k] = int(np.searchsorted(self._reach[k], force, side="left"))
        return out

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
            "created": self.created or datetime.now(UTC).isoformat(timespec="seconds"),
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
             sensor_map: SensorMap | None = None, glove_id: str | None = None) -> Calibration:
        """Read a calibration file; channels it lacks use the nominal curve.

        `glove_id`: the glove this calibration is meant for; a file that names another glove
        is refused. Every error names the file, the line and the field (CalibrationError).
        """
        path = Path(path)
        smap = sensor_map or load_sensor_map()
        text = _read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
        except RecursionError:
            raise CalibrationError(f"{path}: line 1: not a calibration file (JSON nested too deeply)") from None
        except ValueError as exc:   # e.g. an integer with more digits than Python converts
            raise CalibrationError(f"{path}: not valid JSON ({exc})") from exc
        fields = _Fields(path, text)
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise fields.fail(("format",) if isinstance(data, dict) else (), "not a glovecoach calibration file")
        if isinstance(data.get("version"), bool) or data.get("version") != FORMAT_VERSION:
            raise fields.fail(("version",), f"unsupported version {data.get('version')!r} (this glovecoach reads "
                                            f"{FORMAT_VERSION})")
        file_glove = data.get("glove_id")
        if file_glove is not None and (not isinstance(file_glove, str)
                                       or not 0 < len(file_glove) <= MAX_GLOVE_ID_CHARS):
            raise fields.fail(("glove_id",), f"must be a glove id (a string of 1..{MAX_GLOVE_ID_CHARS} characters) "
                                             f"or null, got {_short(file_glove)}")
        if glove_id is not None and file_glove is not None and file_glove != glove_id:
            raise fields.fail(("glove_id",),
                              f"this calibration is for glove {file_glove!r}, not for glove {glove_id!r}")
        created = data.get("created")
        if created is not None and not isinstance(created, str):
            raise fields.fail(("created",), f"must be a date string or null, got {_short(created)}")
        sensors = data.get("sensors")
        if not isinstance(sensors, dict):
            raise fields.fail(("sensors",), f"must be an object of sensor id -> curve, got {_short(sensors)}")
        fits = []
        for channel, entry in sensors.items():
            if channel not in smap.ids:
                raise fields.fail(("sensors", channel), "unknown sensor id (not in the sensor map)")
            fits.append(_fit_from_json(fields, channel, entry, smap))
        cal = cls.from_fits(fits, tuple(channels) if channels is not None else smap.ids, file_glove, smap)
        cal.source = str(path)
        cal.created = created
        return cal


# Physical ranges a stored curve must lie in; anything outside is a damaged or hand-made file,
# never a sensor (the fit's own checks produce values well inside them).
MAX_FILE_BYTES = 1 << 20
MAX_GLOVE_ID_CHARS = 64
R1_OHM_RANGE = (10.0, 1e7)         # FSR resistance at 1 N; datasheet parts are ~1-30 kΩ
ALPHA_RANGE = (0.2, 3.0)           # the power-law exponent; the same bounds fit_sensor applies
BIAS_OHM_RANGE = (10.0, 1e7)       # the bias path a tare reading between open and saturated implies
FORCE_N_RANGE = (0.0, 500.0)       # a reference load: 50 kg is far beyond any calibration weight
RMS_LOG_ERROR_MAX = 10.0
MAX_POINTS = 100
# The force at saturation is the power law extrapolated to the top of the ADC range, far past
# where an FSR follows it, so real fits reach a few kN there (alpha 0.5 behind a 1.5 kΩ divider:
# ~12 kN). 100 kN (10 t) is beyond any fit from real weights, while a curve like r1 = 1e7 Ω with
# alpha 0.2 (1e27 N) or the 1e308 that once read "inf N" is refused.
CEILING_N_RANGE = (1.0, 1e5)


def _read_text(path: Path) -> str:
    """The file as text, or a CalibrationError saying why it is not a text calibration file."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise CalibrationError(f"{path}: is a directory, not a calibration file") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise CalibrationError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a calibration file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and (raw[0] == 0) != (raw[1] == 0)):
        raise CalibrationError(f"{path}: line 1: UTF-16 text; a calibration file is UTF-8 JSON "
                               f"(save it as UTF-8)")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise CalibrationError(f"{path}: line {line}: binary data (a NUL byte); not a calibration file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CalibrationError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}); "
                               f"not a calibration file") from None


def _short(value: object) -> str:
    text = "null" if value is None else repr(value)
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}" if value is not None else "null"


_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:,\n]|[^\s"{}\[\]:,]+')


def _json_lines(text: str) -> dict[tuple, int]:
    """Line of every key and array item in valid JSON text, by its path (array items by index).

    The json module keeps no positions, so this small scanner finds them; it runs only when
    an error has to be reported.
    """
    lines: dict[tuple, int] = {(): 1}
    stack: list[list] = []     # [is_object, path, current key or index, expecting a key]
    line = 1
    for match in _JSON_TOKEN.finditer(text):
        tok = match.group()
        if tok == "\n":
            line += 1
            continue
        top = stack[-1] if stack else None
        if tok in ",:":
            if tok == "," and top is not None:
                if top[0]:
                    top[3] = True
                else:
                    top[2] += 1
            continue
        if tok in "}]":
            if stack:
                stack.pop()
            continue
        if top is not None and top[0] and top[3]:   # an object's key
            try:
                top[2] = json.loads(tok)
            except ValueError:
                top[2] = tok
            top[3] = False
            lines.setdefault(top[1] + (top[2],), line)
            continue
        path: tuple = () if top is None else top[1] + (top[2],)
        lines.setdefault(path, line)
        if tok == "{":
            stack.append([True, path, None, True])
        elif tok == "[":
            stack.append([False, path, 0, False])
    return lines


class _Fields:
    """Builds the errors: file, line (found in the text) and field, for a path of keys."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self._lines: dict[tuple, int] | None = None

    def fail(self, where: tuple, problem: str) -> CalibrationError:
        if self._lines is None:
            self._lines = _json_lines(self.text)
        probe = where
        while probe not in self._lines:   # a missing field: the line of the object that lacks it
            probe = probe[:-1]
        name = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(where))
        field_text = f"field {name}: " if name else ""
        return CalibrationError(f"{self.path}: line {self._lines[probe]}: {field_text}{problem}")

    def number(self, entry: dict, where: tuple, bounds: tuple[float, float], unit: str,
               required: bool = True, default: float = 0.0) -> float:
        key = where[-1]
        if key not in entry or (entry[key] is None and not required):
            if required:
                raise self.fail(where, "missing")
            return default
        return self.check_number(entry[key], where, bounds, unit)

    def check_number(self, value: object, where: tuple, bounds: tuple[float, float], unit: str) -> float:
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"must be a number, got {_short(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(where, f"must be a finite number, got {value!r}")
        # Compared before any float conversion: a 400-digit integer is valid JSON and would
        # overflow float().
        if not lo <= value <= hi:
            if isinstance(value, float) or abs(value) < 10**15:
                shown = f"{value:g}"
            else:
                shown = f"a {len(str(abs(value)))}-digit number"
            raise self.fail(where, f"{shown} is outside {lo:g}..{hi:g} {unit}".rstrip())
        return float(value)

    def number_list(self, entry: dict, where: tuple, shape: tuple, bounds: list, units: list) -> list:
        """A list of numbers (shape ()) or of fixed-length number lists (shape (k,))."""
        value = entry.get(where[-1], [])
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, got {_short(value)}")
        if len(value) > MAX_POINTS:
            raise self.fail(where, f"{len(value)} entries, at most {MAX_POINTS}")
        out: list = []
        for i, item in enumerate(value):
            if shape:
                if not isinstance(item, list) or len(item) != shape[0]:
                    raise self.fail(where + (i,), f"must be a list of {shape[0]} numbers, got {_short(item)}")
                out.append(tuple(self.check_number(v, where + (i, k), bounds[k], units[k]) for k, v in enumerate(item)))
            else:
                out.append(self.check_number(item, where + (i,), bounds[0], units[0]))
        return out


def _fit_from_json(fields: _Fields, channel: str, entry: object, smap: SensorMap) -> SensorFit:
    where = ("sensors", channel)
    if not isinstance(entry, dict):
        raise fields.fail(where, f"must be an object (the sensor's curve), got {_short(entry)}")
    known = {"r1_ohm", "alpha", "divider_ohm", "bias_ohm", "tare_raw", "points", "dropped_saturated_n",
             "rms_log_error"}
    for key in entry:
        if key not in known:
            raise fields.fail(where + (key,), f"unknown field (allowed: {', '.join(sorted(known))})")
    adc = (0.0, float(smap.adc_max))
    values = {
        "r1_ohm": fields.number(entry, where + ("r1_ohm",), R1_OHM_RANGE, "ohm"),
        "alpha": fields.number(entry, where + ("alpha",), ALPHA_RANGE, ""),
        "divider_ohm": fields.number(entry, where + ("divider_ohm",), (1.0, 1e9), "ohm"),
        "bias_ohm": fields.number(entry, where + ("bias_ohm",), BIAS_OHM_RANGE, "ohm"),
    }
    expected_divider = smap.by_id(channel).divider_ohm
    if abs(values["divider_ohm"] - expected_divider) > 1e-6 * expected_divider:
        raise fields.fail(where + ("divider_ohm",),
                          f"{values['divider_ohm']:g} does not match the sensor map ({expected_divider})")
    params = FsrParams(adc_max=smap.adc_max, **values)
    ceiling = float(raw_to_force(float(smap.saturated_at), params))
    if not (math.isfinite(ceiling) and CEILING_N_RANGE[0] <= ceiling <= CEILING_N_RANGE[1]):
        raise fields.fail(where, f"this curve reads {ceiling:.3g} N at saturation, outside the physical "
                                 f"{CEILING_N_RANGE[0]:g}..{CEILING_N_RANGE[1]:g} N: recalibrate the sensor")
    tare = fields.number(entry, where + ("tare_raw",), adc, "ADC counts", required=False)
    points = fields.number_list(entry, where + ("points",), (2,), [FORCE_N_RANGE, adc], ["N", "ADC counts"])
    dropped = fields.number_list(entry, where + ("dropped_saturated_n",), (), [FORCE_N_RANGE], ["N"])
    rms = fields.number(entry, where + ("rms_log_error",), (0.0, RMS_LOG_ERROR_MAX), "", required=False)
    return SensorFit(channel, params, tare, tuple(points), tuple(dropped), rms)


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
            # The file name is the glove id made file-safe, so two ids can share a name: the
            # id inside the file decides.
            return Calibration.load(path, channels, glove_id=glove_id)
    return Calibration.nominal_for(channels, glove_id=glove_id)


def tare_newtons(device_info: dict, calibration: Calibration, channels) -> np.ndarray | None:
    """The glove's TARE (its unloaded readings, ADC counts, as HELLO reports them) in newtons:
    the resting baselines the conditioning starts from. None when the glove did no TARE or the
    offsets do not fit the channels."""
    tare = (device_info or {}).get("tare")
    if not isinstance(tare, (list, tuple)) or len(tare) != len(channels):
        return None
    try:
        counts = np.array([tare], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(counts).all() or (counts < 0).any() or (counts > 65535).any():
        return None
    block = calibration.convert(np.rint(counts).astype(np.uint16), 0)
    # An open lead (or a saturated one) tells no resting level.
    return np.where(block.open[0] | block.saturated[0], np.nan, block.newtons[0].astype(np.float64))


__all__ = [
    "Calibration", "CalibrationError", "SensorFit", "calibration_for",
    "calibration_path", "default_directory", "fit_sensor", "kg_to_newtons", "nominal_params", "tare_newtons",
]
