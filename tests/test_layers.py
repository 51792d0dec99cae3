"""The layer contracts in .importlinter hold: no import against the direction of the data, no cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(source_root: Path = ROOT / "host") -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run([exe, "--no-cache", "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_layer_contracts_are_kept():
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    """The check is not vacuous: in a copy of the sources, a vocabulary module importing the
    engine is caught."""
    shutil.copytree(ROOT / "host" / "glovecoach", tmp_path / "glovecoach",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "glovecoach" / "vocabulary" / "wrong_way_probe.py").write_text(
        "import glovecoach.engine.coaching  # noqa: F401\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "glovecoach.vocabulary is not allowed to import glovecoach.engine" in result.stdout
