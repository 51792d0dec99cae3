"""Physical model of one force-sensing channel: FSR + bias resistor + divider + ADC.

Circuit (per channel, see hardware/README.md):

    3.3 V ── FSR ──┬── ADC input ── R_divider ── GND
             (R_bias 1 MΩ across the FSR)

An FSR's resistance falls as a power law of force (Interlink FSR 400 series datasheet:
roughly 6 kΩ at 1 N, 1 kΩ at 10 N, ~200 Ω at 100 N), R_fsr(F) = r1_ohm · F^(-alpha).
The bias resistor keeps an unloaded sensor at a small known reading, so a broken lead
(reading ~0) can be told apart from "no force".

`force_to_raw` is what the simulator uses to turn modelled forces into ADC counts;
`raw_to_force` is its exact inverse and is the nominal (uncalibrated) conversion.
Calibration fits `r1_ohm` and `alpha` per sensor (see glovecoach.calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADC_MAX = 4095


@dataclass(frozen=True)
class FsrParams:
    r1_ohm: float = 6000.0      # FSR resistance at 1 N
    alpha: float = 0.78         # power-law exponent
    divider_ohm: float = 10000.0
    bias_ohm: float = 1_000_000.0
    adc_max: int = ADC_MAX


def force_to_raw(force_n, p: FsrParams) -> np.ndarray:
    """Forces (N, any shape) to ideal ADC counts (float, unrounded, clipped to the ADC range)."""
    f = np.maximum(np.asarray(force_n, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore"):
        g_fsr = np.where(f > 0, np.power(f, p.alpha) / p.r1_ohm, 0.0)   # FSR conductance
    g_top = g_fsr + 1.0 / p.bias_ohm
    ratio = p.divider_ohm * g_top / (1.0 + p.divider_ohm * g_top)      # Rd / (Rd + R_top)
    return np.clip(ratio * p.adc_max, 0.0, p.adc_max)


def unloaded_raw(p: FsrParams) -> float:
    """Reading of a healthy sensor with no force on it (bias resistor only)."""
    return float(force_to_raw(0.0, p))


def raw_to_force(raw, p: FsrParams) -> np.ndarray:
    """ADC counts (any shape) to newtons; at or below the unloaded reading gives 0."""
    x = np.clip(np.asarray(raw, dtype=np.float64), 0.0, p.adc_max - 0.5) / p.adc_max
    g_top = x / (p.divider_ohm * (1.0 - x))
    g_fsr = np.maximum(g_top - 1.0 / p.bias_ohm, 0.0)
    return np.power(g_fsr * p.r1_ohm, 1.0 / p.alpha)
