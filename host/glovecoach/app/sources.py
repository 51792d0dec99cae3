"""Device URLs for simulated sessions: the virtual glove (real firmware) or a fast replay."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from glovecoach.simulate import SCENARIOS, simulate, write_recording, write_signal_file


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")


def simulated_session(scenario: str, seed: int, start_s: float = 0.0,
                      duration_s: float | None = None, rate_hz: int = 200):
    """`simulate()` cut to [start_s, start_s + duration_s) (the whole session by default);
    the ground truth is cut and shifted with the samples."""
    _check(scenario)
    session = simulate(scenario, seed, rate_hz=rate_hz)
    if start_s == 0 and duration_s is None:
        return session
    return session.cut(start_s, duration_s)


def virtual_glove_url(scenario: str, seed: int = 1, *, start_s: float = 0.0,
                      duration_s: float | None = None, directory: str | Path | None = None) -> str:
    """A `virtual://` URL whose firmware plays `scenario` (from `start_s`) in real time.

    The session is rendered here to a `.gcsig` in `directory` (by default a new temporary
    folder, removed when the program exits): the link plays signal files and never runs the
    simulator itself.
    """
    _check(scenario)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="glovecoach-sig-")
        atexit.register(shutil.rmtree, directory, True)
    directory = Path(directory)
    session = simulated_session(scenario, seed, start_s, duration_s)
    path = write_signal_file(session, directory / f"{scenario}-{seed}-{int(start_s)}.gcsig")
    return f"virtual://?signal={path}"


def replay_url(scenario: str, seed: int = 1, *, speed: float = 1.0,
               directory: str | Path | None = None) -> str:
    """A `replay://` URL playing a recording of `scenario` at `speed` times real time."""
    directory = Path(directory or tempfile.mkdtemp(prefix="glovecoach-sim-"))
    session = simulated_session(scenario, seed)
    path = write_recording(session, directory / f"{scenario}-{seed}.gcrec", overwrite=True)
    return f"replay://{path}?speed={speed:g}"
