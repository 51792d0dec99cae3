"""Labelled synthetic massage sessions with ground truth (see docs/simulator.md).

`simulate(scenario, seed)` gives a `SimulatedSession`; `simulate_messy(seed, scenario=...,
realism=Realism(...))` a `MessySession` with real people's and real sensors' imperfections
(glovecoach.simulate.realism). `write_recording`, `write_csv` and `write_signal_file` put a
session on disk as a `.gcrec`, a CSV with a ground-truth sidecar, or a `.gcsig` the virtual
glove plays.
"""

from __future__ import annotations

from glovecoach.simulate.files import write_csv, write_recording, write_signal_file
from glovecoach.simulate.realism import (
    FAULT_KINDS,
    MESSY_SCENARIOS,
    ChannelFault,
    MessySession,
    Realism,
    simulate_messy,
)
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
    "FAULT_KINDS",
    "MESSY_SCENARIOS",
    "ChannelFault",
    "MessySession",
    "Realism",
    "SCENARIOS",
    "SimulatedSession",
    "TruthEvent",
    "label_runs",
    "simulate",
    "simulate_messy",
    "simulate_technique",
    "write_csv",
    "write_recording",
    "write_signal_file",
]
