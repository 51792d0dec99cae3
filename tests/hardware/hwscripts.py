"""Load the scripts in hardware/ (a folder of scripts, not a package) as modules for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HARDWARE_DIR = Path(__file__).resolve().parents[2] / "hardware"


def load_script(name: str) -> ModuleType:
    module_name = f"hardware_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, HARDWARE_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
