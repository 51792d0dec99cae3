"""What a coached session keeps in memory for its debrief, beside the plain way of keeping it.

    .venv/bin/python benchmarks/bench_session_memory.py [--seeds 9100 9101 9102] [--block-s 0.1]

A simulated session (a different scenario per seed, 200 Hz) is streamed through
`CoachingEngine` in blocks of --block-s (0.1 s: a live view's ten frames a second; a classroom
station's are 0.1-0.25 s). The engine's `HindsightScorer` keeps every glove sample's
conditioned forces and flags so the debrief can judge each sample against the phase it turned
out to be in; that is what grows with the session (docs/classroom.md, Memory). It keeps them
in runs of a few seconds: the flags packed eight to a byte, the forces and levels deflated.

Baseline, in the same run on the same blocks: the plain way a competent engineer keeps them,
one tuple of arrays per block (forces as float32, the flags as numpy bools), which was this
scorer until 2026-12-04. Printed per seed: bytes kept per sample (arrays and their Python
objects, by tracemalloc over the session), what a 15-minute two-hand station holds, the end
of the session's time (the scoring pass over the kept runs, and the report), and whether both
give the same episodes (they must).

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from glovecoach.calibration import Calibration  # noqa: E402
from glovecoach.engine import CoachingEngine  # noqa: E402
from glovecoach.engine.scoring import HindsightScorer  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.simulate import simulate  # noqa: E402

SCENARIOS = ("excessive_force_kneading", "good_session", "session_too_long", "spine_contact_stroking")


class BlockListScorer(HindsightScorer):
    """The baseline: every block's arrays kept as they came, in a list."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._blocks: list[tuple] = []

    def keep(self, first, xg, sg, pressing, working, hand_on_level=None) -> None:
        level = None if hand_on_level is None else np.asarray(hand_on_level, dtype=np.float32)
        self._blocks.append((first, xg.astype(np.float32), sg.copy(), pressing.copy(), np.array(working), level))

    def _seal(self) -> None:
        # Handed to the scoring pass block by block, exactly as they were kept.
        for block in self._blocks:
            super().keep(*block)
            super()._seal()
        self._blocks = []


def kept_growth(session, scorer_class, block: int) -> tuple[int, float, list]:
    """(bytes the scorer holds at the end, finish()'s seconds, the episodes)."""
    protocol = default_protocol()
    cal = Calibration.nominal_for(session.channels)
    engine = CoachingEngine(protocol, session.channels, session.rate_hz)
    engine.hindsight = scorer_class(protocol, engine.limits, engine.rate_hz)
    blocks = [cal.convert(session.raw[a:a + block], a) for a in range(0, len(session.raw), block)]
    tracemalloc.start()
    for b in blocks:
        # Only the scorer's own allocations are counted: the engine's other state is the same
        # for both and does not grow with the session.
        engine.process(b)
    before = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size for stat in before.filter_traces(
        [tracemalloc.Filter(True, "*engine/scoring.py"), tracemalloc.Filter(True, __file__)]).statistics("filename"))
    engine.hindsight._seal()      # the baseline's blocks become one run each, outside the timing
    t0 = time.perf_counter()
    report = engine.finish()
    pass_s = time.perf_counter() - t0
    return held, pass_s, [report.overforce_events, report.underforce_events]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[9100, 9101, 9102])
    ap.add_argument("--block-s", type=float, default=0.1)
    args = ap.parse_args()
    print(f"Session memory, blocks of {args.block_s} s: the scorer's runs (flags packed, forces deflated) "
          "against per-block arrays (baseline), same session, same run")
    print(f"{'seed':>6} {'scenario':<26} {'min':>5} {'B/sample':>9} {'baseline':>9} {'ratio':>6} "
          f"{'MB/station/15 min':>18} {'baseline':>9} {'finish s':>11} {'baseline':>9} {'same':>5}")
    ratios = []
    for k, seed in enumerate(args.seeds):
        scenario = SCENARIOS[k % len(SCENARIOS)]
        session = simulate(scenario, seed)
        block = max(1, int(round(args.block_s * session.rate_hz)))
        samples = len(session.raw)
        ours, ours_s, ours_eps = kept_growth(session, HindsightScorer, block)
        base, base_s, base_eps = kept_growth(session, BlockListScorer, block)
        per, per_base = ours / samples, base / samples
        ratios.append(per / per_base)
        # two hands, 15 minutes at 200 Hz
        station = lambda b: 2 * b * 900 * 200 / 1e6  # noqa: E731
        print(f"{seed:>6} {scenario:<26} {samples / session.rate_hz / 60:>5.1f} {per:>9.1f} {per_base:>9.1f} "
              f"{per / per_base:>6.2f} {station(per):>18.1f} {station(per_base):>9.1f} {ours_s:>11.2f} "
              f"{base_s:>9.2f} {'yes' if ours_eps == base_eps else 'NO':>5}")
    print(f"median ratio {statistics.median(ratios):.2f} (kept bytes, ours / baseline)")


if __name__ == "__main__":
    main()
