"""State of charge of a glove's or strip's LiPo cell from the voltage STATUS reports.

Lives in ``wire`` (beside ``Status.battery_v``) so the app, the classroom and any tool that
reads STATUS can turn the voltage into a percentage without pulling in anything above.

The curve. A single-cell lithium-polymer battery (LiCoO2 cathode, graphite anode, 3.7 V
nominal, 4.20 V full) has a flat middle: between about 3.75 V and 3.95 V sits half of its
charge, so a linear map from 3.0..4.2 V would read 50 % when it has about 75 %. The table
below is the resting (open-circuit) voltage against state of charge that hobby and maker
suppliers publish for such cells, e.g. the "LiPo voltage chart" tables of RC and maker shops
and the discharge curves in Adafruit's "Li-Ion & LiPoly Batteries" guide; individual cells
differ by some tens of millivolts, so read the result as +-10 %, good for "charge me soon",
not for a fuel gauge. Two choices of our own:

- 0 % is 3.30 V, not the cell's 3.0 V cut-off: the units' 3.3 V regulator (hardware/units.md)
  needs about 3.4 V in, so below that the ESP32 browns out anyway; what is left below is
  of no use to a glove and only wears the cell.
- The voltage is measured under load (the unit draws 40..130 mA, about 0.1 C of a 1000 mAh
  cell); with ~0.15 ohm of cell and protection resistance that reads 10..20 mV low, which
  is inside the table's own spread, so no load correction is applied.
"""

from __future__ import annotations

import numpy as np

# Resting voltage (V) -> state of charge (%), ascending in voltage.
LIPO_CURVE_V = np.array([3.30, 3.61, 3.69, 3.71, 3.73, 3.75, 3.77, 3.79, 3.80, 3.82, 3.84,
                         3.85, 3.87, 3.91, 3.95, 3.98, 4.02, 4.08, 4.11, 4.15, 4.20])
LIPO_CURVE_PERCENT = np.array([0.0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50,
                               55, 60, 65, 70, 75, 80, 85, 90, 95, 100])
# Below this the reading is no cell at all (a unit on USB power without its battery, or a
# broken sense divider), not an empty one.
NO_CELL_BELOW_V = 2.5


def battery_percent(volts: float | np.ndarray | None) -> float | np.ndarray | None:
    """State of charge (0..100 %) of a LiPo cell at ``volts``, from the curve above.

    A scalar gives a float (None for None: the device did not measure); an array gives an
    array (NaN where the voltage is NaN or below NO_CELL_BELOW_V). Voltages outside the
    curve clamp to 0 % and 100 %. A scalar below NO_CELL_BELOW_V raises ValueError: the
    caller should say "no battery", not "0 %".
    """
    if volts is None:
        return None
    v = np.asarray(volts, dtype=float)
    percent = np.interp(v, LIPO_CURVE_V, LIPO_CURVE_PERCENT)
    if v.ndim == 0:
        if not np.isfinite(v) or float(v) < NO_CELL_BELOW_V:
            raise ValueError(f"battery voltage {float(v):.2f} V is no LiPo cell (below "
                             f"{NO_CELL_BELOW_V} V: a unit without its battery, or a broken sense line)")
        return float(percent)
    return np.where(np.isfinite(v) & (v >= NO_CELL_BELOW_V), percent, np.nan)
