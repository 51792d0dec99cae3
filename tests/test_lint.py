"""ruff finds nothing in the repository, with the rules in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    # The ruff of this interpreter's environment first (a venv need not be on PATH).
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    # --no-cache: a test run leaves no .ruff_cache behind in the repository.
    return subprocess.run([exe, "check", "--no-cache", "--output-format", "concise", *args], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_the_repository_is_lint_clean():
    result = _ruff(".")
    assert result.returncode == 0, "ruff check . found:\n" + result.stdout[-6000:] + result.stderr[-2000:]


def test_the_check_is_not_vacuous():
    """The same command, given a host module with an unused import and a line too long, reports
    both: the project's configuration is the one in force and the host code is not excluded."""
    source = "import os\n\nTEXT = '" + "x" * 130 + "'\n"
    result = _ruff("--stdin-filename", "host/glovecoach/lint_probe.py", "-", stdin=source)
    assert result.returncode == 1
    assert "F401" in result.stdout and "E501" in result.stdout
