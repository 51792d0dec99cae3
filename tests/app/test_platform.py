"""Where users open the app: no display, missing system libraries, an X server that does not
answer, a --port with no glove on it, a screenshot that cannot be saved. Each is one line on
stderr and exit status 2, found before anything runs (not a hang, not a Qt abort, not an
error after the trainee filled in the form or the demo ran)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))

from fake_glove import FakeGlove  # noqa: E402
from glovecoach.app import qt  # noqa: E402
from glovecoach.cli import main as cli_main  # noqa: E402
from glovecoach.commands import CommandError  # noqa: E402
from glovecoach.commands.app import check_port  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="DISPLAY, xcb and the sonames are Linux's")


def glovecoach(*args: str, env: dict[str, str | None], timeout: float = 60):
    """Run the command line in a fresh process with `env` changes (None removes a variable)."""
    full = {k: v for k, v in os.environ.items() if k not in env or env[k] is not None}
    full.update({k: v for k, v in env.items() if v is not None})
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "glovecoach", *args], capture_output=True,
                            text=True, env=full, timeout=timeout)
    return result, time.monotonic() - started


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


NO_DISPLAY = {"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None}


@linux_only
def test_app_without_a_display_says_so_and_exits():
    # Before: Qt fell back to an offscreen window nobody could see, and it never ended.
    result, took = glovecoach("app", "--virtual", env=NO_DISPLAY, timeout=30)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("glovecoach app: no display found")
    assert "DISPLAY" in line and "WAYLAND_DISPLAY" in line and "demo --seconds" in line
    assert took < 15


@linux_only
@pytest.mark.parametrize("platform, words", [
    ("xcb", "QT_QPA_PLATFORM=xcb but DISPLAY is not set"),
    ("wayland", "QT_QPA_PLATFORM=wayland but WAYLAND_DISPLAY is not set"),
])
def test_a_platform_asked_for_without_its_display_is_named(monkeypatch, platform, words):
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", platform)
    assert qt.display_problem() == qt.platform_problem(window=True)
    assert words in qt.display_problem()


@linux_only
@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc", "offscreen:configfile=x"])
def test_a_screenless_platform_needs_no_display(monkeypatch, platform):
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", platform)
    assert qt.display_problem() is None


@linux_only
def test_a_missing_xcb_library_is_named_with_its_package(monkeypatch, capsys):
    # The dynamic loader is the physical edge: it is told libxcb-cursor is not installed,
    # as on a desktop without libxcb-cursor0 (where Qt 6.5+ aborts the process).
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    real = qt.library_loads
    monkeypatch.setattr(qt, "library_loads",
                        lambda soname: soname != "libxcb-cursor.so.0" and real(soname))
    assert cli_main(["app", "--virtual"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "libxcb-cursor.so.0 (package libxcb-cursor0)" in line
    assert "sudo apt-get install libxcb-cursor0" in line and "System packages" in line


@linux_only
def test_every_missing_library_is_listed_once_with_one_install_line():
    gone = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libEGL.so.1"}
    missing = qt.missing_libraries(xcb=True, loads=lambda soname: soname not in gone)
    assert {soname for soname, _ in missing} == gone
    message = qt.missing_libraries_message(missing)
    assert "apt-get install libegl1 libxcb-icccm4 libxcb-keysyms1" in message
    # offscreen needs no xcb library, only what libQt6Gui links
    assert [s for s, _ in qt.missing_libraries(xcb=False, loads=lambda s: s not in gone)] \
        == ["libEGL.so.1"]


@linux_only
@pytest.mark.skipif(shutil.which("Xvfb") is None,
                    reason="no X stack here: .ci/run installs xvfb with the xcb libraries")
def test_this_machines_qt_libraries_are_all_found():
    # After .ci/run, the real loader finds every library of the list (none is misspelt).
    assert qt.missing_libraries(xcb=True) == []


@linux_only
def test_an_x_server_that_does_not_answer_is_an_error_not_an_abort(tmp_path):
    # A display number nobody serves (an SSH session's stale DISPLAY, a stopped Xvfb).
    free = next(n for n in range(150, 250) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                and not Path(f"/tmp/.X{n}-lock").exists())
    result, _ = glovecoach("app", "--virtual", env={"DISPLAY": f":{free}",
                                                    "QT_QPA_PLATFORM": "xcb",
                                                    "WAYLAND_DISPLAY": None}, timeout=30)
    assert result.returncode == 2
    line = one_line(result.stderr)
    # where the xcb libraries are missing, that is said first
    assert f"cannot connect to the X server DISPLAY=:{free}" in line or "missing system" in line
    assert "Aborted" not in result.stderr and "core dumped" not in result.stderr


def test_app_port_that_does_not_exist_fails_before_the_form():
    # Offscreen: were the port not checked first, the form would open and wait (timeout).
    result, took = glovecoach("app", "--port", "/dev/ttyNOPE",
                              env={"QT_QPA_PLATFORM": "offscreen"}, timeout=30)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("glovecoach app: --port /dev/ttyNOPE: cannot open /dev/ttyNOPE")
    assert "glovecoach devices" in line
    assert took < 20


def test_app_port_where_no_glove_answers_is_refused():
    # A real pty whose other side never answers: a serial device that is not a glove.
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with pytest.raises(CommandError, match=r"no answer to INFO within 0\.5 s"):
            check_port(os.ttyname(slave), timeout=0.5)
    finally:
        os.close(master)
        os.close(slave)


def test_app_port_with_a_glove_passes_the_check():
    with FakeGlove(glove_id="GC-PORT-0001") as glove:
        assert check_port(glove.port, timeout=2.0)["glove_id"] == "GC-PORT-0001"


def test_app_port_url_that_makes_no_sense_is_one_line():
    with pytest.raises(CommandError, match="unknown transport scheme"):
        check_port("bogus://thing")


@pytest.mark.parametrize("option, value, words", [
    ("--screenshot", "{tmp}/missing/live.png", "does not exist"),
    ("--screenshot", "{tmp}/live.jpg", "must end in .png"),
    ("--screenshot", "{tmp}", "must end in .png"),
    ("--debrief-screenshot", "{tmp}/nowhere/debrief.png", "does not exist"),
    ("--screenshot", "{tmp}/a_folder.png", "is a folder"),
])
def test_a_screenshot_that_cannot_be_saved_is_refused_before_the_run(tmp_path, option, value,
                                                                     words):
    (tmp_path / "a_folder.png").mkdir()
    sessions = tmp_path / "sessions"
    path = value.format(tmp=tmp_path)
    other = ["--screenshot", str(tmp_path / "ok.png")] if option != "--screenshot" else []
    result, took = glovecoach("demo", "--seconds", "30", option, path, *other, "--sessions",
                              str(sessions), env={"QT_QPA_PLATFORM": "offscreen"}, timeout=60)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"glovecoach demo: {option} {path}: ") and words in line
    assert took < 20 and not sessions.exists()   # nothing ran, nothing was recorded


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write into any folder")
def test_a_screenshot_in_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            qt.check_screenshot_path(folder / "x.png")
    finally:
        folder.chmod(0o755)
