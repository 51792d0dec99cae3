"""Fixtures for the app tests: real Qt widgets offscreen, fed by the virtual glove."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from glovecoach.app.sources import simulated_session  # noqa: E402
from glovecoach.simulate import write_signal_file  # noqa: E402


def cut_signal(tmp_path: Path, scenario: str, start_s: float, duration_s: float,
               seed: int = 1) -> Path:
    """A `.gcsig` of `scenario` from `start_s`, `duration_s` long (the interesting minute)."""
    session = simulated_session(scenario, seed, start_s, duration_s)
    return write_signal_file(session, tmp_path / f"{scenario}-{int(start_s)}.gcsig")


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    path = tmp_path / "sessions"
    path.mkdir()
    return path


def _start_live(qtbot, url: str, sessions: Path, trainee: str = "Test trainee"):
    """Open the main window on `url`, pass the screening, wait until samples flow."""
    from glovecoach.app.main_window import MainWindow

    window = MainWindow(url, sessions=sessions, trainee=trainee)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    screening = window.screening_page
    screening.answer_all_no()
    screening.tick_all()
    assert screening.try_start()
    qtbot.waitUntil(lambda: window.controller is not None or window.error is not None,
                    timeout=15000)
    assert window.error is None, window.error
    qtbot.waitUntil(lambda: window.controller.model.samples_seen > 200, timeout=10000)
    return window


@pytest.fixture
def signal_cut(tmp_path: Path):
    """`signal_cut(scenario, start_s, duration_s)` -> path of a cut `.gcsig`."""
    return lambda scenario, start_s, duration_s, seed=1: cut_signal(tmp_path, scenario, start_s,
                                                                     duration_s, seed)


@pytest.fixture
def start_live(qtbot, sessions_dir: Path):
    """`start_live(url, trainee=...)` -> a MainWindow whose session is streaming."""
    windows = []

    def start(url: str, trainee: str = "Test trainee"):
        window = _start_live(qtbot, url, sessions_dir, trainee)
        windows.append(window)
        return window

    yield start
    for window in windows:   # never leave a firmware process or a recording open
        if window.controller is not None and window.controller.report is None:
            window.controller.finish()


@pytest.fixture
def fake_player():
    """`fake_player(dir, name)` -> log path: a `name` command in `dir` that logs its arguments,
    standing in for the machine's sound player (the speaker is the physical edge)."""
    import stat

    def make(directory: Path, name: str) -> Path:
        log = directory / f"{name}.log"
        script = directory / name
        script.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return log

    return make
