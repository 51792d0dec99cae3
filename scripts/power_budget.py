"""Hours per charge of the glove and strip units, from hardware/power_budget.toml.

    python scripts/power_budget.py            # the markdown table hardware/units.md quotes
    python scripts/power_budget.py --json     # every term of every scenario

The model and the source of every figure are in the TOML file; this script only adds them up,
so changing a figure there and re-running this is how the table in units.md is kept true
(tests/hardware/test_power_budget.py fails when they differ).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_BUDGET = Path(__file__).resolve().parents[1] / "hardware" / "power_budget.toml"


@dataclass(frozen=True)
class Result:
    unit: str
    mode: str
    rate_hz: int
    base_ma: float
    wake_ma: float
    tx_ma: float
    cpu_ma: float
    sensors_ma: float
    misc_ma: float
    total_ma: float
    hours: float


def _rate_value(table: dict, rate_hz: int, what: str) -> float:
    try:
        return float(table[str(rate_hz)])
    except KeyError:
        raise ValueError(f"{what} has no value for {rate_hz} Hz (has {', '.join(table)})") from None


def compute(budget: dict) -> list[Result]:
    """One Result per [[scenarios]] entry (see the model in the TOML file's header)."""
    chip, link = budget["chip"], budget["link"]
    messages = float(link["messages_per_s"])
    out = []
    for k, scenario in enumerate(budget["scenarios"]):
        unit_name, mode_name, rate = scenario["unit"], scenario["mode"], int(scenario["rate_hz"])
        try:
            unit = budget["units"][unit_name]
            mode = budget["wifi_modes"][mode_name]
        except KeyError as exc:
            raise ValueError(f"scenarios[{k}]: {exc.args[0]!r} is not defined") from None
        base = float(mode["base_ma"])
        wake = float(mode["wake_ma_s"]) * messages
        tx = 0.0
        if mode["transmits"]:
            tx_ms = _rate_value(link["tx_ms"], rate, "link.tx_ms")
            tx = tx_ms / 1000 * messages * (float(chip["tx_ma"]) - float(chip["rx_listen_ma"]))
        cpu = _rate_value(unit["cpu_load"], rate, f"units.{unit_name}.cpu_load") * (
            float(chip["cpu_full_ma"]) - float(chip["cpu_idle_ma"]))
        sensors, misc = float(unit["sensors_ma"]), float(unit["misc_ma"])
        total = base + wake + tx + cpu + sensors + misc
        hours = float(unit["capacity_mah"]) * float(unit["usable_fraction"]) / total
        out.append(Result(unit_name, mode_name, rate, base, wake, tx, cpu, sensors, misc, total, hours))
    return out


def load(path: Path = DEFAULT_BUDGET) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def markdown_table(budget: dict, results: list[Result]) -> str:
    lines = ["| unit | link | rate | chip + radio | wake-ups | TX | sampling CPU | sensors + rest | "
             "total | hours per charge |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        unit = budget["units"][r.unit]
        lines.append(
            f"| {unit['label']} ({unit['capacity_mah']} mAh) | {budget['wifi_modes'][r.mode]['label']} | "
            f"{r.rate_hz} Hz | {r.base_ma:.1f} mA | {r.wake_ma:.1f} mA | {r.tx_ma:.1f} mA | {r.cpu_ma:.1f} mA | "
            f"{r.sensors_ma + r.misc_ma:.1f} mA | {r.total_ma:.1f} mA | {r.hours:.1f} h |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=Path, default=DEFAULT_BUDGET, help="the TOML file (default: hardware/)")
    parser.add_argument("--json", action="store_true", help="every term of every scenario as JSON")
    args = parser.parse_args(argv)
    try:
        budget = load(args.budget)
        results = compute(budget)
    except (OSError, tomllib.TOMLDecodeError, ValueError, KeyError) as exc:
        print(f"power_budget: {args.budget}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=1))
    else:
        print(markdown_table(budget, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
