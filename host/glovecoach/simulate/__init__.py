"""Labelled synthetic massage sessions with ground truth (see docs/simulator.md).

`simulate(scenario, seed)` gives a `SimulatedSession`; `simulate_messy(seed, scenario=...,
realism=Realism(...))` a `MessySession` with real people's and real sensors' imperfections
(glovecoach.simulate.realism). `write_recording`, `write_csv` and `write_signal_file` put a
session on disk as a `.gcrec`, a CSV with a ground-truth sidecar, or a `.gcsig` the virtual
glove plays. `simulate_station(seed)` gives a `SimulatedStation` (a left glove, a right glove
and the spine strip on one timeline, glovecoach.simulate.station); `write_station_signals`
puts one `.gcsig` per device and the truth in a folder for the virtual station.
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
from glovecoach.simulate.station import (
    HandStretch,
    SimulatedStation,
    SpineContact,
    simulate_station,
    write_station_signals,
)

__all__ = [
    "EXPECTED_VIOLATIONS",
    "FAULT_KINDS",
    "MESSY_SCENARIOS",
    "ChannelFault",
    "HandStretch",
    "MessySession",
    "Realism",
    "SCENARIOS",
    "SimulatedSession",
    "SimulatedStation",
    "SpineContact",
    "TruthEvent",
    "label_runs",
    "simulate",
    "simulate_messy",
    "simulate_station",
    "simulate_technique",
    "write_csv",
    "write_recording",
    "write_signal_file",
    "write_station_signals",
]
