"""Where the files shared with the firmware and hardware live.

The firmware (`firmware/`) and the sensor map (`hardware/sensor_map.json`) sit at the top of
the repository because the glove needs them as much as the host does. The host finds them
relative to its source tree (editable install or a checkout), or through environment
variables for other layouts.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _locate(env_var: str, relative: str) -> Path:
    override = os.environ.get(env_var)
    path = Path(override) if override else _REPO_ROOT / relative
    if not path.exists():
        raise FileNotFoundError(
            f"{relative} not found at {path}: install glovecoach from a checkout "
            f"(pip install -e .) or set {env_var}"
        )
    return path


def firmware_dir() -> Path:
    """The MicroPython firmware sources (what `deploy` copies and the virtual glove runs)."""
    return _locate("GLOVECOACH_FIRMWARE", "firmware")


def sensor_map_path() -> Path:
    """`hardware/sensor_map.json`, the channel layout shared by firmware and host."""
    return _locate("GLOVECOACH_SENSOR_MAP", "hardware/sensor_map.json")
