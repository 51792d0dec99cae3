"""Print the arithmetic behind the divider and bias resistors in hardware/sensor_map.json.

For each divider value the sensor map uses: force -> ADC counts -> resolution (newtons per
count) -> millivolts at the ADC pin, the force where the reading reaches `saturated_at`, and
what a healthy unloaded sensor and a broken lead read. A second table compares candidate
divider values for each body region against the forces that region sees in the product
reference "Massage techniques as a pressure glove sees them", which is how the values were chosen.

Everything is computed by `glovecoach.calibration.fsr_model`, the same model the simulator and the
nominal calibration use, so this table and the rest of the project cannot disagree.

    python hardware/divider_table.py [--sensor-map PATH]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glovecoach.calibration.fsr_model import FsrParams, force_to_raw, raw_to_force, unloaded_raw
from glovecoach.vocabulary.sensors import SensorMap, load_sensor_map

# Forces each region must measure, newtons per sensor. Ranges come from the technique table
# (kneading up to 18 N per finger, percussion impacts up to 50 N, fist kneading 10-40 N on the
# knuckles, deep stroking up to 60 N spread over the palm); the spine range is set by rule R5:
# any pressure on the spine line is a fault, so the strip must see light touches, and anything
# past ~20 N is already a clear violation whose exact size does not matter.
REGION_FORCE_N: dict[str, tuple[float, float]] = {
    "fingertips": (0.5, 20.0),
    "palm": (1.0, 40.0),
    "hand_edge": (2.0, 50.0),
    "knuckles": (5.0, 60.0),
    "spine": (0.3, 20.0),
}

# Classic ESP32 at 11 dB: Espressif gives 150-2450 mV as the accurate window. Below about
# 100 mV the converter reads 0, so an unloaded sensor must sit clearly above the floor or it
# would look like a broken lead. Above 2450 mV the curve bends over and the reading pegs at
# 4095 somewhere around 3.1 V: forces there are lost, not merely less accurate.
ESP32_FLOOR_MV = 150.0
ESP32_LINEAR_TOP_MV = 2450.0
ESP32_PEG_MV = 3100.0
# Interlink rates its FSRs for about 1 mA per cm2 of loaded area. A fingertip, palm or knuckle
# contact loads 1-2 cm2 of the sensor, so more than 2 mA at the top of a region's range is
# flagged as too much current through the polymer.
FSR_CURRENT_LIMIT_MA = 2.0
# Every bias resistor is about 12x its divider, which puts every unloaded sensor at the same
# ~310 counts (~250 mV), clear of the ESP32's floor and far above `open_below`.
BIAS_TO_DIVIDER = 12.0

TABLE_FORCES_N = (0.0, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0, 100.0)
CANDIDATE_DIVIDERS_OHM = (1000, 1500, 2200, 4700, 10000, 22000)


@dataclass(frozen=True)
class DividerSummary:
    divider_ohm: int
    bias_ohm: int
    unloaded_counts: float
    unloaded_mv: float
    open_counts: float            # a broken FSR lead: the divider pulls the pin to ground
    saturation_force_n: float     # model reading reaches `saturated_at`
    linear_top_force_n: float     # pin reaches the end of the ESP32's accurate window
    peg_force_n: float            # pin reaches the voltage where a classic ESP32 reads 4095


def params_for(divider_ohm: float, bias_ohm: float, adc_max: int) -> FsrParams:
    return FsrParams(divider_ohm=float(divider_ohm), bias_ohm=float(bias_ohm), adc_max=adc_max)


def counts_to_mv(counts, sensor_map: SensorMap) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64) / sensor_map.adc_max * sensor_map.supply_v * 1000.0


def mv_to_counts(mv, sensor_map: SensorMap) -> np.ndarray:
    return np.asarray(mv, dtype=np.float64) / (sensor_map.supply_v * 1000.0) * sensor_map.adc_max


def fsr_current_ma(force_n, p: FsrParams, supply_v: float) -> np.ndarray:
    """Current through the FSR itself (the divider current less the bias resistor's share)."""
    v_pin = force_to_raw(force_n, p) / p.adc_max * supply_v
    divider_ma = v_pin / p.divider_ohm * 1000.0
    bias_ma = (supply_v - v_pin) / p.bias_ohm * 1000.0
    return divider_ma - bias_ma


def newtons_per_count(force_n, p: FsrParams) -> np.ndarray:
    """Force step that moves the reading by one count, at each force (the local resolution)."""
    f = np.asarray(force_n, dtype=np.float64)
    lo = np.maximum(f - np.maximum(f * 1e-4, 1e-6), 0.0)
    hi = f + np.maximum(f * 1e-4, 1e-6)
    slope = (force_to_raw(hi, p) - force_to_raw(lo, p)) / (hi - lo)
    with np.errstate(divide="ignore"):
        return np.where(slope > 0, 1.0 / slope, np.inf)


def summarize(divider_ohm: int, bias_ohm: int, sensor_map: SensorMap) -> DividerSummary:
    p = params_for(divider_ohm, bias_ohm, sensor_map.adc_max)
    unloaded = unloaded_raw(p)
    return DividerSummary(
        divider_ohm=divider_ohm,
        bias_ohm=bias_ohm,
        unloaded_counts=unloaded,
        unloaded_mv=float(counts_to_mv(unloaded, sensor_map)),
        open_counts=0.0,
        saturation_force_n=float(raw_to_force(sensor_map.saturated_at, p)),
        linear_top_force_n=float(raw_to_force(mv_to_counts(ESP32_LINEAR_TOP_MV, sensor_map), p)),
        peg_force_n=float(raw_to_force(mv_to_counts(ESP32_PEG_MV, sensor_map), p)),
    )


def divider_groups(sensor_map: SensorMap) -> dict[tuple[int, int], list[str]]:
    """(divider, bias) -> channel ids using it, in sensor-map order."""
    groups: dict[tuple[int, int], list[str]] = {}
    for ch in sensor_map.channels:
        groups.setdefault((ch.divider_ohm, ch.bias_ohm), []).append(ch.id)
    return groups


def adc_zone(mv: float) -> str:
    if mv < ESP32_FLOOR_MV:
        return "below ESP32 floor"
    if mv <= ESP32_LINEAR_TOP_MV:
        return ""
    if mv < ESP32_PEG_MV:
        return "ESP32 compressed"
    return "ESP32 pegged"


def check_thresholds(sensor_map: SensorMap) -> list[str]:
    """Problems with the map's resistor values against the ADC and the regions' forces."""
    problems = []
    for ch in sensor_map.channels:
        s = summarize(ch.divider_ohm, ch.bias_ohm, sensor_map)
        where = f"{ch.id} ({ch.divider_ohm} ohm divider, {ch.bias_ohm} ohm bias)"
        if s.unloaded_counts < 2 * sensor_map.open_below:
            problems.append(
                f"{where}: unloaded reading {s.unloaded_counts:.0f} counts is too close to "
                f"open_below={sensor_map.open_below}")
        if s.unloaded_mv < ESP32_FLOOR_MV:
            problems.append(
                f"{where}: unloaded sensor sits at {s.unloaded_mv:.0f} mV, below the ESP32's "
                f"{ESP32_FLOOR_MV:.0f} mV floor at 11 dB, where it would read 0 like a broken lead")
        top = REGION_FORCE_N.get(ch.region)
        if top is not None and s.peg_force_n < top[1]:
            problems.append(
                f"{where}: a classic ESP32 pegs at {s.peg_force_n:.1f} N, below the "
                f"{top[1]:g} N the {ch.region} region must measure")
    return problems


def format_divider_table(divider_ohm: int, bias_ohm: int, ids: list[str],
                         sensor_map: SensorMap) -> str:
    p = params_for(divider_ohm, bias_ohm, sensor_map.adc_max)
    s = summarize(divider_ohm, bias_ohm, sensor_map)
    forces = np.array(TABLE_FORCES_N)
    counts = force_to_raw(forces, p)
    res = newtons_per_count(forces, p)
    mv = counts_to_mv(counts, sensor_map)
    ma = fsr_current_ma(forces, p, sensor_map.supply_v)
    lines = [
        f"== divider {divider_ohm / 1000:g} kOhm, bias {bias_ohm / 1000:g} kOhm  "
        f"({len(ids)} channels: {', '.join(ids)})",
        f"   unloaded {s.unloaded_counts:.0f} counts ({s.unloaded_mv:.0f} mV); "
        f"open lead {s.open_counts:.0f} counts (open_below {sensor_map.open_below}); "
        f"saturated_at {sensor_map.saturated_at} at {s.saturation_force_n:.0f} N",
        f"   classic ESP32 at 11 dB: accurate up to {s.linear_top_force_n:.1f} N "
        f"({ESP32_LINEAR_TOP_MV:.0f} mV), reads 4095 from about {s.peg_force_n:.0f} N "
        f"({ESP32_PEG_MV:.0f} mV)",
        f"   {'force N':>8} {'counts':>7} {'N/count':>9} {'mV':>6} {'FSR mA':>7}",
    ]
    for f, c, r, v, i in zip(forces, counts, res, mv, ma):
        notes = [z for z in (adc_zone(float(v)),
                             "saturated_at" if c >= sensor_map.saturated_at else "") if z]
        # At 0 N the power law's slope is unbounded: no meaningful resolution to print.
        r_text = f"{r:9.4f}" if f > 0 and np.isfinite(r) else f"{'-':>9}"
        lines.append(f"   {f:8.1f} {c:7.0f} {r_text} {v:6.0f} {max(i, 0.0):7.2f}  "
                     f"{', '.join(notes)}".rstrip())
    return "\n".join(lines)


def format_region_comparison(sensor_map: SensorMap) -> str:
    """For each region: candidate dividers vs what they do at both ends of its force range."""
    chosen: dict[str, tuple[int, int]] = {}
    for ch in sensor_map.channels:
        chosen.setdefault(ch.region, (ch.divider_ohm, ch.bias_ohm))
    lines = [
        "== candidate dividers per region, bias = 12 x divider "
        "(lo/hi = the ends of the region's working range)",
        f"   {'region':<11} {'range N':>8} {'divider':>8} {'N/cnt lo':>9} {'N/cnt hi':>9} "
        f"{'mV hi':>6} {'mA hi':>6}  verdict",
    ]
    for region, (lo, hi) in REGION_FORCE_N.items():
        if region not in chosen:
            continue
        candidates = sorted(set(CANDIDATE_DIVIDERS_OHM) | {chosen[region][0]})
        for rd in candidates:
            rb = chosen[region][1] if rd == chosen[region][0] else round(rd * BIAS_TO_DIVIDER)
            p = params_for(rd, rb, sensor_map.adc_max)
            r_lo, r_hi = newtons_per_count(np.array([lo, hi]), p)
            mv_hi = float(counts_to_mv(force_to_raw(hi, p), sensor_map))
            ma_hi = float(fsr_current_ma(hi, p, sensor_map.supply_v))
            verdict = []
            if mv_hi >= ESP32_PEG_MV:
                verdict.append("top of range lost (pegged)")
            elif mv_hi > ESP32_LINEAR_TOP_MV:
                verdict.append("top compressed")
            if ma_hi > FSR_CURRENT_LIMIT_MA:
                verdict.append("FSR current high")
            if rd == chosen[region][0]:
                verdict.append("<- chosen")
            lines.append(
                f"   {region:<11} {f'{lo:g}-{hi:g}':>8} {rd / 1000:7.2f}k {r_lo:9.4f} {r_hi:9.3f} "
                f"{mv_hi:6.0f} {ma_hi:6.2f}  {', '.join(verdict)}".rstrip())
    return "\n".join(lines)


def format_report(sensor_map: SensorMap) -> str:
    parts = [
        "FSR model: glovecoach.calibration.fsr_model defaults (R = 6 kOhm at 1 N, alpha 0.78), "
        f"{sensor_map.supply_v:g} V supply, counts = pin voltage / supply x {sensor_map.adc_max}",
    ]
    for (rd, rb), ids in sorted(divider_groups(sensor_map).items()):
        parts.append(format_divider_table(rd, rb, ids, sensor_map))
    parts.append(format_region_comparison(sensor_map))
    problems = check_thresholds(sensor_map)
    parts.append("== threshold check: " + ("ok" if not problems else "PROBLEMS")
                 + "".join(f"\n   {p}" for p in problems))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sensor-map", type=Path, default=None,
                        help="sensor map JSON (default: hardware/sensor_map.json)")
    args = parser.parse_args(argv)
    try:
        sensor_map = load_sensor_map(args.sensor_map)
    except (OSError, ValueError) as exc:
        print(f"divider_table: {exc}", file=sys.stderr)
        return 2
    print(format_report(sensor_map))
    return 1 if check_thresholds(sensor_map) else 0


if __name__ == "__main__":
    sys.exit(main())
