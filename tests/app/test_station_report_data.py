"""Station reports for the station report tests: real `StationReport`s from the station
engine (`analyze_station`) on simulated stations (tests/engine/test_station_coach_data.py:
each glove its own simulated trainee, the strip the partner's resting load).

(Also imported by tests/classroom/test_class_summary_*.py.)
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_station_coach_data import REST_S, station  # noqa: E402

from glovecoach.pipeline.analysis import analyze_station  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402

# The whole protocol (without its optional phases) with both hands, except that the right
# hand starts kneading a minute early: the hands differ for that minute. One press on spine
# segment 3 while both hands are on the back, and a 60 N squeeze of the left thumb.
FULL_LEFT = [("stroking", 130), ("rubbing", 130), ("kneading", 130), ("stroking", 130)]
FULL_RIGHT = [("stroking", 130), ("rubbing", 60), ("kneading", 70), ("kneading", 130), ("stroking", 130)]
DIFFER_S = (REST_S + 190, REST_S + 260)       # where the hands differ (right kneading early)
PRESS_S = REST_S + 200
SQUEEZE_S = REST_S + 300


def analysed(d, present=None, gaps=()):
    present = np.ones((d.n, len(d.layout.roles)), dtype=bool) if present is None else present
    return analyze_station(d.raw, present, d.layout, d.rate_hz, default_protocol(), d.calibrations(), gaps=gaps)


@functools.cache
def full_station() -> dict:
    """A whole protocol done by both hands (the hands differ for a minute; a spine contact
    under both hands; an over-force of the left thumb): `StationReport.to_dict()`."""
    d = station(FULL_LEFT, FULL_RIGHT, seed=3, presses=[(PRESS_S, 3.0, "spine_3", 8.0)],
                squeezes=[("left", SQUEEZE_S, 2.0, "thumb_tip", 60.0)])
    return analysed(d).to_dict()


@functools.cache
def short_station() -> dict:
    """Stroking too short, rubbing skipped, kneading too long, no closing stroking, and a
    60 N squeeze of the right thumb."""
    d = station([("stroking", 60), ("kneading", 200)], [("stroking", 60), ("kneading", 200)], seed=7,
                squeezes=[("right", REST_S + 100, 2.0, "thumb_tip", 60.0)])
    return analysed(d).to_dict()


@functools.cache
def idle_station() -> dict:
    """Both gloves on, never on the back: no massage found."""
    return analysed(station([(None, 30)], [(None, 30)], seed=8)).to_dict()


@functools.cache
def glove_missing_station() -> dict:
    """Both hands kneading 60 s; the right glove missing for 10 s (30-40 s)."""
    d = station([("kneading", 60)], [("kneading", 60)], seed=9)
    present = np.ones((d.n, 3), dtype=bool)
    present[3000:4000, 1] = False
    raw = d.raw.copy()
    raw[3000:4000, d.layout.slice_of("right_glove")] = 0
    return analyze_station(raw, present, d.layout, d.rate_hz, default_protocol(), d.calibrations()).to_dict()


@functools.cache
def left_glove_only_station() -> dict:
    """One glove (left) and no strip."""
    return analysed(station([("kneading", 40)], None, seed=10, strip=False)).to_dict()
