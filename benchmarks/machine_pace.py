"""How fast this machine runs Python right now, for reading a benchmark's figures.

This 2-core machine's pace is not steady: the loop below takes 0.18 s on a quiet morning, and
the same loop took two to six times as long on busy ones (measured 2026-12-03/04), so a
benchmark near its limit (the classroom's alert latency at a core's worth of work) passes or
fails with it. A run that prints the pace beside its figures can be compared with another run
of another hour.
"""

from __future__ import annotations

import statistics
import time

LOOP_STEPS = 10_000_000


def python_loop_s(repeats: int = 3) -> float:
    """Median seconds for a bare Python loop of LOOP_STEPS steps (lower is faster)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(LOOP_STEPS):
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)
