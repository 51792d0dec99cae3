"""What the glove's sensors make of a true force: gain spread, drift, noise, ADC counts.

Forces become counts through `glovecoach.calibration.fsr_model.force_to_raw` with each channel's divider
and bias from the sensor map, so the nominal calibration (`raw_to_force`) is the exact
inverse of the transfer curve; what it cannot undo is each part's own gain, its slow drift
and the ADC's noise, which is what a real, uncalibrated glove shows too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.calibration.fsr_model import FsrParams, force_to_raw
from glovecoach.simulate.signals import smooth_noise
from glovecoach.vocabulary.sensors import SensorMap, load_sensor_map

GAIN_SPREAD = 0.06          # FSR 400 series: +/-6 % part to part
DRIFT_FRACTION = 0.02       # slow creep of a loaded FSR, a few % over minutes
REPEATABILITY = 0.01        # force-proportional sensor noise (1 sigma)
ADC_NOISE_COUNTS = 1.5      # ESP32 ADC1 noise with the firmware's averaging, counts RMS


def channel_params(channels: Sequence[str], sensor_map: SensorMap | None = None) -> list[FsrParams]:
    """Nominal FSR parameters of each channel (its divider and bias from the sensor map)."""
    smap = sensor_map or load_sensor_map()
    out = []
    for ch in channels:
        c = smap.by_id(ch)
        out.append(FsrParams(divider_ohm=float(c.divider_ohm), bias_ohm=float(c.bias_ohm), adc_max=smap.adc_max))
    return out


@dataclass(frozen=True)
class SensorEffects:
    gain: np.ndarray            # (ch,) multiplicative, part to part
    adc_noise_counts: float
    drift_fraction: float
    repeatability: float = REPEATABILITY

    @classmethod
    def draw(cls, n_channels: int, rng: np.random.Generator) -> SensorEffects:
        return cls(gain=1.0 + rng.uniform(-GAIN_SPREAD, GAIN_SPREAD, n_channels),
                   adc_noise_counts=ADC_NOISE_COUNTS, drift_fraction=DRIFT_FRACTION)


def forces_to_raw(newtons: np.ndarray, channels: Sequence[str], rate_hz: float,
                  rng: np.random.Generator, effects: SensorEffects | None = None,
                  sensor_map: SensorMap | None = None) -> np.ndarray:
    """True forces (n, ch) to the uint16 ADC counts the glove would report.

    Readings clip at the ADC's top (4095): forces beyond the sensor's range read at or above
    the sensor map's `saturated_at`, never wrap around.
    """
    newtons = np.asarray(newtons, dtype=np.float64)
    n, n_ch = newtons.shape
    effects = effects or SensorEffects.draw(n_ch, rng)
    params = channel_params(channels, sensor_map)
    raw = np.empty((n, n_ch), dtype=np.uint16)
    for c, p in enumerate(params):      # one vectorised pass per channel (20 in all)
        drift = 1.0 + effects.drift_fraction * smooth_noise(n, rate_hz, 90.0, rng)
        # FSR repeatability (about +/-2 %) shows as a small force-proportional jitter.
        jitter = 1.0 + effects.repeatability * rng.standard_normal(n)
        sensed = newtons[:, c] * effects.gain[c] * drift * jitter
        counts = force_to_raw(sensed, p) + effects.adc_noise_counts * rng.standard_normal(n)
        raw[:, c] = np.rint(np.clip(counts, 0.0, p.adc_max)).astype(np.uint16)
    return raw
