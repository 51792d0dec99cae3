"""Coaching engine benchmark: detection accuracy, alert latency, and analysis speed.

    .venv/bin/python benchmarks/bench_engine.py [--sessions 54] [--latency-sessions 4] [--seed0 9000]

Prints figures, asserts nothing. Sessions come from glovecoach.simulate with seeds from
--seed0 on, which were never used while tuning the engine (tests use seeds below 100, tuning
used 1000-1010).

1. Accuracy over --sessions sessions (scenarios in turn): recall of the simulator's true
   over-force and spine-contact events by live alerts, and false alarms per session (live
   alerts matching no true event). Targets: recall 100 %, <= 1 false alarm per session.
2. Alert latency in streaming mode with 20 ms blocks: a sample is taken to reach the host at
   its own session time, a block is handed over when its last sample has arrived, and the
   alert leaves when process() returns. Latency = (block's last sample - alert's trigger
   sample) / rate + process() time. Target p99 < 50 ms.
3. Speed: a 15-minute 200 Hz x 20-channel session through calibration + engine in the blocks
   `glovecoach analyze` uses (ANALYSIS_BLOCK_S)
   (median of 3), beside a per-sample Python loop doing the same over-force threshold logic
   (debounce + hysteresis, 12 channels) and the engine's vectorised detector on the same data.
   Target < 1 s (>= 900x real time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from glovecoach.calibration import Calibration  # noqa: E402
from glovecoach.engine import CoachingEngine  # noqa: E402
from glovecoach.engine.detectors import ExcursionDetector  # noqa: E402
from glovecoach.engine.technique import PhaseSmoother, TechniqueRecognizer  # noqa: E402
from glovecoach.pipeline.analysis import ANALYSIS_BLOCK_S  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.simulate import simulate  # noqa: E402

SCENARIOS = ("excessive_force_kneading", "spine_contact_stroking", "good_session", "wrong_phase_order",
             "phase_too_long", "session_too_long")
ALERT_KINDS = ("overforce", "underforce", "spine_contact")
MATCH_SLACK_S = 0.3


def run_engine(session, block_samples: int, timed: bool = False):
    protocol = default_protocol()
    cal = Calibration.nominal_for(session.channels)
    engine = CoachingEngine(protocol, session.channels, session.rate_hz)
    events, latencies, block_times = [], [], []
    raw = session.raw
    for a in range(0, len(raw), block_samples):
        b = min(len(raw), a + block_samples)
        t0 = time.perf_counter()
        out = engine.process(cal.convert(raw[a:b], a))
        dt = time.perf_counter() - t0
        if timed:
            block_times.append(dt)
            for e in out:
                if e.kind in ALERT_KINDS and e.state == "begin":
                    trigger = int(round(e.at_s * session.rate_hz))
                    latencies.append((b - 1 - trigger) / session.rate_hz + dt)
        events += out
    return events, engine.finish(), latencies, block_times


def match(session, events) -> tuple[int, int, int, int, int]:
    """(overforce found, overforce true, spine found, spine true, false alarms)."""
    alerts = [e for e in events if e.kind in ALERT_KINDS and e.state == "begin"]
    used = set()

    def find(truth, kind: str) -> bool:
        for k, e in enumerate(alerts):
            if e.kind == kind and e.channel == truth.region and \
                    truth.start_s - MATCH_SLACK_S <= e.start_s <= truth.end_s + MATCH_SLACK_S:
                used.add(k)
                return True
        return False

    over_found = sum(find(t, "overforce") for t in session.overforce)
    spine_found = sum(find(t, "spine_contact") for t in session.spine_contacts)
    false_alarms = len(alerts) - len(used)
    return over_found, len(session.overforce), spine_found, len(session.spine_contacts), false_alarms


def per_sample_baseline(x: np.ndarray, limit: np.ndarray, release: np.ndarray, min_samples: int) -> int:
    """The over-force state machine, one sample and one channel at a time, in plain Python."""
    n, ch = x.shape
    rows = x.tolist()
    lim = limit.tolist()
    rel = release.tolist()
    run = [0] * ch
    active = [False] * ch
    count = 0
    for i in range(n):
        row = rows[i]
        for c in range(ch):
            v = row[c]
            if v > lim[c]:
                run[c] += 1
                if not active[c] and run[c] >= min_samples:
                    active[c] = True
                    count += 1
            else:
                run[c] = 0
                if active[c] and v < rel[c]:
                    active[c] = False
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=54)
    ap.add_argument("--latency-sessions", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=9000)
    args = ap.parse_args()

    # 1. Accuracy.
    totals = np.zeros(5, dtype=int)
    fa_per_session = []
    misses = []
    t_start = time.perf_counter()
    for k in range(args.sessions):
        scenario = SCENARIOS[k % len(SCENARIOS)]
        seed = args.seed0 + k
        s = simulate(scenario, seed)
        events, report, _, _ = run_engine(s, s.rate_hz)     # 1 s blocks (results do not depend on block size)
        m = match(s, events)
        totals += m
        fa_per_session.append(m[4])
        if m[0] < m[1] or m[2] < m[3] or m[4]:
            misses.append(f"  {scenario} seed {seed}: overforce {m[0]}/{m[1]}, spine {m[2]}/{m[3]}, "
                          f"false alarms {m[4]}")
    of, ot, sf, st, fa = totals
    print(f"Accuracy over {args.sessions} simulated sessions (seeds {args.seed0}-{args.seed0 + args.sessions - 1}, "
          f"{time.perf_counter() - t_start:.0f} s):")
    print(f"  over-force recall    {of}/{ot} = {100 * of / max(ot, 1):.1f} %   (target 100 %)")
    print(f"  spine-contact recall {sf}/{st} = {100 * sf / max(st, 1):.1f} %   (target 100 %)")
    print(f"  false alarms         {fa} in all, mean {np.mean(fa_per_session):.2f} / session, "
          f"max {max(fa_per_session)} / session   (target <= 1)")
    for line in misses:
        print(line)

    # 2. Latency, streaming 20 ms blocks.
    lat, blocks = [], []
    for k in range(args.latency_sessions):
        scenario = ("excessive_force_kneading", "spine_contact_stroking")[k % 2]
        s = simulate(scenario, args.seed0 + 500 + k)
        _, _, latencies, block_times = run_engine(s, int(0.02 * s.rate_hz), timed=True)
        lat += latencies
        blocks += block_times
    if lat:
        ms = np.array(lat) * 1000
        print(f"Alert latency, 20 ms blocks, {len(ms)} alerts in {args.latency_sessions} sessions: "
              f"p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms "
              f"(target p99 < 50 ms)")
    bt = np.array(blocks) * 1000
    print(f"  process() per 20 ms block: p50 {np.percentile(bt, 50):.2f} ms, p99 {np.percentile(bt, 99):.2f} ms, "
          f"max {bt.max():.1f} ms over {len(bt)} blocks")

    # 3. Speed on a 15-minute session.
    s = simulate("session_too_long", args.seed0 + 900)
    n = 15 * 60 * s.rate_hz
    raw = s.raw[:n]
    protocol = default_protocol()
    cal = Calibration.nominal_for(s.channels)

    def analyse() -> None:
        engine = CoachingEngine(protocol, s.channels, s.rate_hz)
        step = int(ANALYSIS_BLOCK_S * s.rate_hz)
        for a in range(0, n, step):
            engine.process(cal.convert(raw[a:a + step], a))
        engine.finish()

    def recognise_only() -> None:
        rec, smoother = TechniqueRecognizer(s.channels, s.rate_hz), PhaseSmoother(s.rate_hz)
        newtons = cal.convert(raw).newtons
        step = int(ANALYSIS_BLOCK_S * s.rate_hz)
        for a in range(0, n, step):
            smoother.update(rec.process(newtons[a:a + step], a))

    def timeit(fn, repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    t_all = timeit(analyse)
    t_rec = timeit(recognise_only)
    glove = np.arange(12)
    x = cal.convert(raw).newtons[:, glove].astype(np.float64)
    limit = np.array([protocol.force_limit("kneading", c)[1] for c in s.channels[:12]], dtype=np.float64)
    release = limit * protocol.force_feedback.live_release_ratio
    min_samples = round(protocol.force_feedback.live_min_duration_s * s.rate_hz)

    def vectorised() -> None:
        det = ExcursionDetector(12, min_samples)
        step = 5 * s.rate_hz
        for a in range(0, n, step):
            det.process(a, x[a:a + step], limit, release)

    t_vec = timeit(vectorised)
    t0 = time.perf_counter()
    per_sample_baseline(x, limit, release, min_samples)
    t_loop = time.perf_counter() - t0
    print(f"Speed, 15 min x {s.rate_hz} Hz x {len(s.channels)} channels ({n} samples), median of 3:")
    print(f"  full analysis (calibration + engine, {ANALYSIS_BLOCK_S:g} s blocks) {t_all:.2f} s "
          f"= {900 / t_all:.0f}x real time (target < 1 s)")
    print(f"    of which technique recognition       {t_rec:.2f} s")
    print(f"    the rest (detectors, spine, protocol) {max(t_all - t_rec, 0):.2f} s")
    print(f"  over-force thresholds, vectorised      {t_vec * 1000:.0f} ms")
    print(f"  same logic, per-sample Python loop     {t_loop * 1000:.0f} ms  (baseline; {t_loop / t_vec:.0f}x slower)")


if __name__ == "__main__":
    main()
