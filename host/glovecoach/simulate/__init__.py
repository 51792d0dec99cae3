"""Labelled synthetic massage sessions with ground truth (see docs/simulator.md).

`simulate(scenario, seed)` gives a `SimulatedSession`; `write_recording`, `write_csv` and
`write_signal_file` put it on disk as a `.gcrec`, a CSV with a ground-truth sidecar, or a
`.gcsig` the virtual glove plays.
"""

from __future__ import annotations

from glovecoach.simulate.files import write_csv, write_recording, write_signal_file
from glovecoach.simulate.session import (
    EXPECTED_VIOLATIONS,
    SCENARIOS,
    SimulatedSession,
    TruthEvent,
    label_runs,
    simulate,
    simulate_technique,
)

__all__ = [
    "EXPECTED_VIOLATIONS",
    "SCENARIOS",
    "SimulatedSession",
    "TruthEvent",
    "label_runs",
    "simulate",
    "simulate_technique",
    "write_csv",
    "write_recording",
    "write_signal_file",
]
