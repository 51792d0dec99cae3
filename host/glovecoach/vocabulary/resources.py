"""Where the files shared with the firmware and hardware live.

The firmware (`firmware/`) and the sensor map (`hardware/sensor_map.json`) sit at the top of
the repository because the glove needs them as much as the host does; git holds one copy of
each. A wheel or a non-editable `pip install .` carries them inside the package, as
`glovecoach/_firmware/` and `glovecoach/_hardware/sensor_map.json` (pyproject.toml maps the
folders; setup.py lists the packages). They are looked up in this order:

1. the environment variables GLOVECOACH_FIRMWARE / GLOVECOACH_SENSOR_MAP (other layouts);
2. the copy installed inside the package (wheel, `pip install .`);
3. the repository (a checkout or an editable install: setuptools' editable finder cannot
   import a mapped folder that has no __init__.py, so the package copy is absent there and
   the checkout's folders are the ones in use, as they should be while editing).

Both are real directories on disk, never a zip: MicroPython's unix port runs the firmware
from there and `deploy` copies it file by file.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

_PACKAGE = resources.files("glovecoach")
# A checkout: host/glovecoach/ -> the repository (whichever module of the package this is).
_REPO_ROOT = Path(str(_PACKAGE)).resolve().parents[1]


def _packaged(relative: str) -> Path | None:
    """`relative` inside the installed package, if it is there as a real file or folder."""
    found = _PACKAGE.joinpath(relative)
    if not isinstance(found, Path):   # e.g. imported from a zip: no path MicroPython can use
        return None
    return found if found.exists() else None


def _locate(env_var: str, packaged: str, in_repo: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not path.exists():
            raise FileNotFoundError(f"{env_var}={override}: {path} does not exist")
        return path
    path = _packaged(packaged) or _REPO_ROOT / in_repo
    if not path.exists():
        raise FileNotFoundError(
            f"{in_repo} not found: neither installed inside the glovecoach package "
            f"({packaged}) nor in a checkout at {path}; reinstall glovecoach or set {env_var}"
        )
    return path


def firmware_dir() -> Path:
    """The MicroPython firmware sources (what `deploy` copies and the virtual glove runs)."""
    return _locate("GLOVECOACH_FIRMWARE", "_firmware", "firmware")


def sensor_map_path() -> Path:
    """`hardware/sensor_map.json`, the channel layout shared by firmware and host."""
    return _locate("GLOVECOACH_SENSOR_MAP", "_hardware/sensor_map.json", "hardware/sensor_map.json")
