"""Fitting one sensor's FSR curve from a tare and reference weights, and rejecting bad sensors.

Pure functions, no I/O: the guided `glovecoach calibrate` command collects the readings and
calls `fit_sensor`; tests call it directly.

The model is `glovecoach.calibration.fsr_model`: R_fsr(F) = r1_ohm · F^(-alpha) behind a divider with a
bias resistor across the FSR. From a reading we recover the FSR's resistance exactly
(inverting the divider), so log R = log r1 - alpha · log F is a straight line in log space and
r1_ohm and alpha come from an ordinary least-squares line fit. The tare (unloaded) reading
measures the bias path, so the fit uses this glove's actual bias resistance rather than
the nominal 1 MΩ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from glovecoach.calibration.fsr_model import FsrParams

GRAVITY = 9.80665  # m/s², to turn reference masses into newtons


class CalibrationError(ValueError):
    """A calibration that cannot be used; names the file, field or sensor at fault."""


@dataclass(frozen=True)
class SensorFit:
    channel: str
    params: FsrParams
    tare_raw: float
    points: tuple[tuple[float, float], ...]   # (force_n, mean raw) used in the fit
    dropped: tuple[float, ...]                # forces whose reading was saturated (not fitted)
    rms_log_error: float                      # fit residual, natural log of force

    def to_json(self) -> dict:
        return {
            "r1_ohm": self.params.r1_ohm, "alpha": self.params.alpha,
            "divider_ohm": self.params.divider_ohm, "bias_ohm": self.params.bias_ohm,
            "tare_raw": self.tare_raw, "points": [list(p) for p in self.points],
            "dropped_saturated_n": list(self.dropped), "rms_log_error": self.rms_log_error,
        }


def divider_conductance(raw: np.ndarray | float, divider_ohm: float, adc_max: int) -> np.ndarray:
    """Conductance (S) of everything above the divider resistor, from an ADC reading."""
    x = np.clip(np.asarray(raw, dtype=np.float64), 0.0, adc_max - 0.5) / adc_max
    return x / (divider_ohm * (1.0 - x))


def fit_sensor(
    channel: str,
    tare_raw: float,
    loaded: list[tuple[float, float]],
    *,
    divider_ohm: float,
    nominal_bias_ohm: float,
    adc_max: int,
    open_below: int,
    saturated_at: int,
) -> SensorFit:
    """Fit r1_ohm and alpha for `channel` from its tare and (force_n, mean raw) readings.

    Raises CalibrationError naming the sensor when it reads open, reads saturated unloaded,
    does not rise with load, or leaves fewer than two usable reference loads.
    """
    if tare_raw < open_below:
        raise CalibrationError(
            f"sensor {channel}: reads open (unloaded reading {tare_raw:.0f} < {open_below}): "
            "check its lead and connector")
    if tare_raw >= saturated_at:
        raise CalibrationError(
            f"sensor {channel}: reads saturated with no load (unloaded reading {tare_raw:.0f} >= "
            f"{saturated_at}): shorted, or still pressed")
    if not loaded:
        raise CalibrationError(f"sensor {channel}: no reference weights were measured")
    ordered = sorted(loaded)
    previous_force, previous_raw = 0.0, tare_raw
    for force, raw in ordered:
        if force <= 0:
            raise CalibrationError(f"sensor {channel}: reference load {force:g} N must be positive")
        if raw < open_below:
            raise CalibrationError(
                f"sensor {channel}: reads open under {force:.1f} N (reading {raw:.0f} < {open_below})")
        if raw <= previous_raw and previous_raw < saturated_at:
            what = "the unloaded reading" if previous_force == 0 else f"{previous_force:.1f} N"
            raise CalibrationError(
                f"sensor {channel}: not monotonic: {force:.1f} N reads {raw:.0f}, no higher than "
                f"{what} ({previous_raw:.0f}); reseat the weight or replace the sensor")
        previous_force, previous_raw = force, raw

    usable = [(f, r) for f, r in ordered if r < saturated_at]
    dropped = tuple(f for f, r in ordered if r >= saturated_at)
    if len(usable) < 2:
        raise CalibrationError(
            f"sensor {channel}: needs at least two reference loads below saturation, has "
            f"{len(usable)} (saturated at {', '.join(f'{f:.1f} N' for f in dropped) or '-'}); use lighter weights")

    g_bias = float(divider_conductance(tare_raw, divider_ohm, adc_max))
    bias_ohm = 1.0 / g_bias if g_bias > 0 else nominal_bias_ohm
    forces = np.array([f for f, _ in usable])
    g_top = divider_conductance(np.array([r for _, r in usable]), divider_ohm, adc_max)
    g_fsr = g_top - g_bias
    if np.any(g_fsr <= 0):
        raise CalibrationError(f"sensor {channel}: a loaded reading is no higher than its tare")
    log_r = np.log(1.0 / g_fsr)
    log_f = np.log(forces)
    slope, intercept = np.polyfit(log_f, log_r, 1)
    alpha = -float(slope)
    if not (0.2 <= alpha <= 3.0):
        raise CalibrationError(
            f"sensor {channel}: fitted exponent alpha={alpha:.2f} is outside the FSR range 0.2-3; "
            "the readings barely change with load")
    r1_ohm = float(math.exp(intercept))
    predicted_log_f = (intercept - log_r) / alpha
    rms = float(np.sqrt(np.mean((predicted_log_f - log_f) ** 2)))
    params = FsrParams(r1_ohm=r1_ohm, alpha=alpha, divider_ohm=float(divider_ohm),
                       bias_ohm=float(bias_ohm), adc_max=adc_max)
    return SensorFit(channel, params, float(tare_raw), tuple((float(f), float(r)) for f, r in usable),
                     dropped, rms)


def kg_to_newtons(kg: float) -> float:
    return kg * GRAVITY
