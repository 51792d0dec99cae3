"""A classroom at scale: N stations x 3 devices at 200 Hz into one instructor process.

The room: Mosquitto on the loopback, fed by one light publisher process (room_publisher.py:
one RecordingPlayer per device, the wire encoders, whole frames per message) on every device's
topics, since 36 real firmware processes would take this 2-core machine by themselves (the
classroom's correctness tests use the real firmware). Each device's channels 0 and 2 count its
slots (`room_publisher.slot_counter`, kept below every alert's floor), and every station's right
glove presses hard for 0.6 s every few seconds. `--alerts lockstep`: every station at the same
instants, so each press is an alert on every tile within the same 20 ms (the worst case);
`staggered`: station s starts s/N of a press period into the signal, the presses spread over
the period as independent trainees' would be; `both` (default) runs each size both ways.

The instructor: the real `Classroom` (a GloveClient per device through the broker, aligner,
lossless station recording, station coach, tile) and the real grid offscreen, pumped every
10 ms in slices of PUMP_SLICE_S with the tiles' words redrawn after each and their traces at
10 fps, as the window does.

Printed: samples lost and samples shifted (the slot counter not counting on by one inside a
run), tile frames per second, alert latency, the instructor process's CPU, and Mosquitto's,
and the instructor process's memory: its resident size and how fast it grows per station.

Alert latency runs from the instant the triggering sample was taken on the device to the tile
repainted showing the alert. The publisher's players run on the wall clock and tell (through a
small JSON file) when each device's slot 0 was taken; the instructor's side reads the right
glove's own slot count in the slot that triggered the alert, so the instant comes from the
device, not from the instructor's clock fit (which placed some alerts up to 0.45 s before they
were drawn). It includes the sample's wait for its 20 ms frame, the publisher, the broker, the
aligner's wait for all three devices, and the coaching. Baseline in the same run: the same room
watched by today's full station views instead of tiles (`--views K`: K stations, as many as
still run).

    .venv/bin/python benchmarks/bench_classroom.py [--stations 12] [--seconds 120] [--views K]
        [--alerts lockstep|staggered|both] [--channels N] [--parts]

`--channels 20`: every device carries 20 channels, the issue's "3 devices x 20 channels" taken
literally (a widened sensor map, benchmarks/wide_sensor_map.py; today's devices carry 12 / 12 / 8).

`--parts` also prints where the instructor's CPU goes (`PartClock`).
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from machine_pace import LOOP_STEPS, python_loop_s  # noqa: E402

RATE = 200
PRESS_EVERY_S = 4.0
# Alerts raised in the first seconds of the class are left out of the latency figures (and
# counted apart): each device's first frames are held until they span the aligner's warm-up
# and 36 connections are still settling; the class's steady state is what is measured.
WARMUP_S = 5.0


def _rss_mb() -> float:
    """This process's resident size, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def publisher_main(port: int, room: str, n: int, seconds: float, clocks_path: str, stagger: bool) -> None:
    from room_publisher import RoomPublisher, make_signal

    from glovecoach.vocabulary.sensors import device_map

    raws = {role: make_signal(seconds + 60, RATE, len(device_map(role).ids), seed=k,
                              press_every_s=PRESS_EVERY_S if role == "right_glove" else None)
            for k, role in enumerate(("left_glove", "right_glove", "spine_strip"))}
    devices = {f"GC-B{s:02d}{letter}": role for s in range(n)
               for role, letter in (("left_glove", "L"), ("right_glove", "R"), ("spine_strip", "S"))}
    # Staggered: station s starts s/n of a press period into the signal, so the stations'
    # presses (and alerts) are spread over the period, as independent trainees' would be.
    start_rows = {d: int(round(int(d[4:6]) * PRESS_EVERY_S / n * RATE)) if stagger else 0 for d in devices}
    pub = RoomPublisher("127.0.0.1", port, room, devices, raws, RATE, start_rows=start_rows).start()
    try:
        end = time.monotonic() + seconds + 60
        while time.monotonic() < end:
            # When each device's slot 0 was taken (wall clock): the instructor's side times its
            # alerts from the instant the triggering sample was taken, not from its own estimate.
            tmp = Path(clocks_path + ".tmp")
            tmp.write_text(json.dumps({**pub.clocks(), "_publish_lag_ms": pub.lag_ms()}))
            tmp.replace(clocks_path)
            time.sleep(0.5)
    finally:
        pub.stop()


class PartClock:
    """The instructor's main-thread CPU per part of its work (`time.thread_time` inside each):
    the stations' intake (`StationPipeline.pump`: frames decoded, aligned, recorded, tested for
    alerts), their coaching (`coach_due`, quiet stretches and alerts apart) and the painting
    (the grid's refresh, the event loop and any full views). Installed on the classes for one
    run and taken off again; about 1 us of timing per call."""

    def __init__(self) -> None:
        self.seconds: collections.Counter = collections.Counter()
        self._undo: list[tuple[type, str, object]] = []

    def install(self) -> None:
        from glovecoach.pipeline.station_coaching import ALERT_DUE
        from glovecoach.pipeline.station_session import StationPipeline

        seconds = self.seconds
        pump, coach_due = StationPipeline.pump, StationPipeline.coach_due

        def timed_pump(pipeline):
            t = time.thread_time()
            try:
                return pump(pipeline)
            finally:
                seconds["intake"] += time.thread_time() - t

        def timed_coach_due(pipeline):
            part = "coaching alerts" if pipeline.coaching_due == ALERT_DUE else "coaching quiet stretches"
            t = time.thread_time()
            try:
                return coach_due(pipeline)
            finally:
                seconds[part] += time.thread_time() - t

        self._undo = [(StationPipeline, "pump", pump), (StationPipeline, "coach_due", coach_due)]
        StationPipeline.pump, StationPipeline.coach_due = timed_pump, timed_coach_due

    def uninstall(self) -> None:
        for owner, name, original in self._undo:
            setattr(owner, name, original)
        self._undo = []


def _room_mqtt_thread_clock() -> int | None:
    """The CPU clock of the room's MQTT client thread (it reads the broker, decodes every
    device's frames and places them on the device's clock), or None if it is not running."""
    import threading

    from glovecoach.link.mqtt_room_client import THREAD_NAME

    for thread in threading.enumerate():
        if thread.name.startswith(THREAD_NAME) and thread.ident is not None:
            try:
                return time.pthread_getcpuclockid(thread.ident)
            except (AttributeError, OSError):
                return None
    return None


def _cpu_clock_s(clock: int | None) -> float:
    """A thread's CPU seconds by its clock, NaN if there is none or the thread has ended (its
    clock goes with it)."""
    if clock is None:
        return float("nan")
    try:
        return time.clock_gettime(clock)
    except OSError:
        return float("nan")


def measure(n: int, seconds: float, full_views: bool, pump_s: float = 0.01, stagger: bool = False,
            parts: bool = False) -> dict:
    from PySide6 import QtWidgets
    from room_publisher import COUNTER_MODULUS, slot_counter

    from glovecoach.app.classroom_view import ClassroomGrid
    from glovecoach.app.classroom_window import PUMP_SLICE_S
    from glovecoach.app.station_view import StationModel, StationView
    from glovecoach.classroom.hub import Classroom, settle_garbage_collector
    from glovecoach.classroom.room import Room
    from glovecoach.link.broker import BrokerAddress
    from glovecoach.link.room_broker import RoomBroker
    from glovecoach.pipeline.listener import Listener
    from glovecoach.pipeline.station_coaching import StationUpdate
    from glovecoach.protocols import default_protocol
    from glovecoach.recording import open_station_recording
    from glovecoach.vocabulary.station import StationSamples

    pace_s = python_loop_s()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    room = Room("bench")
    for s in range(n):
        seat = room.add_station(f"table {s + 1}", f"trainee {s + 1}")
        for role, letter in (("left_glove", "L"), ("right_glove", "R"), ("spine_strip", "S")):
            room.assign_device(f"GC-B{s:02d}{letter}", seat.name, role)

    alerts_pending: list[tuple[str, int, float]] = []     # (station, its slot count, decided at)
    right_cols = _layout().slice_of("right_glove")           # the right glove's slot counter
    right_glove = {f"table {s + 1}": f"GC-B{s:02d}R" for s in range(n)}

    class AlertProbe(Listener):
        """Per over-force alert: the right glove's own sample number of the triggering slot
        (its channels 0 and 2 count them), so the latency runs from when that sample was taken."""

        def __init__(self, name: str) -> None:
            self.name = name
            self.blocks: collections.deque = collections.deque(maxlen=200)

        def on_other(self, message):
            if isinstance(message, StationSamples) and message.present[1]:
                self.blocks.append((message.first_index, slot_counter(message.raw[:, right_cols])))
            elif isinstance(message, StationUpdate):
                for hand in message.hands.values():
                    for e in hand.events:
                        if e.kind == "overforce" and e.state == "begin":
                            slot = int(round(e.at_s * RATE))
                            for first, counts in reversed(self.blocks):
                                if first <= slot < first + len(counts):
                                    alerts_pending.append((self.name, int(counts[slot - first]), time.time()))
                                    break

    views: dict[str, StationView] = {}

    def listeners_for(name: str):
        extra = [AlertProbe(name)]
        if full_views:
            model = StationModel(_layout(), RATE)
            views[name] = StationView(model)
            views[name].resize(1600, 1000)
            views[name].show()
            extra.append(model)
        return extra

    record = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    with RoomBroker(None, host="127.0.0.1") as broker:
        clocks_path = str(record / "publisher-clocks.json")
        publisher = subprocess.Popen([sys.executable, __file__, "--publisher", str(broker.port), room.name, str(n),
                                      str(seconds), clocks_path, "stagger" if stagger else "lockstep"])
        try:
            time.sleep(1.5)
            classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=record,
                                  protocol=default_protocol(), rate_hz=RATE, listeners_for=listeners_for).start()
            settle_garbage_collector()      # as `glovecoach classroom` does once the room is open
            grid = ClassroomGrid([s.tile for s in classroom.stations.values()])
            grid.resize(1920, 1080)
            grid.show()
            app.processEvents()
            latencies: list[float] = []
            decided: list[float] = []       # the part from the device's sample to the coach's decision
            warming = 0
            settled_from = time.time() + WARMUP_S
            clock = PartClock()
            if parts:
                clock.install()
            main0 = time.thread_time()
            room_thread = _room_mqtt_thread_clock()
            room0 = _cpu_clock_s(room_thread)
            cpu0, broker0, t0 = time.process_time(), _proc_cpu_s(broker._proc.pid), time.monotonic()
            publisher0 = _proc_cpu_s(publisher.pid)
            next_frame = t0
            frames = 0
            # Memory growth is read from a quarter into the run (at most 30 s in), when the
            # tiles' traces and the links' buffers have filled: what grows after is the class.
            rss_from, rss_mid, t_mid = min(30.0, seconds / 4), None, t0
            while time.monotonic() - t0 < seconds:
                tick = time.monotonic()
                if rss_mid is None and tick - t0 >= rss_from:
                    rss_mid, t_mid = _rss_mb(), tick
                got = classroom.pump(PUMP_SLICE_S)
                now = time.monotonic()
                painting = time.thread_time()
                if now >= next_frame:       # traces at 10 fps (and views at 30 fps, baseline)
                    grid.refresh(traces=True)
                    for v in views.values():
                        v.redraw()
                    frames += 1
                    next_frame += 0.1
                elif got:
                    grid.refresh(traces=False)
                app.processEvents()
                clock.seconds["painting"] += time.thread_time() - painting
                if alerts_pending:
                    drawn = time.time()
                    clocks = json.loads(Path(clocks_path).read_text())
                    for name, count, decided_at in alerts_pending:
                        slot0 = clocks.get(right_glove[name])
                        if slot0 is None:
                            continue
                        # The triggering sample is the newest one with this count (mod the
                        # counter's modulus) taken before now.
                        newest = int((drawn - slot0) * RATE)
                        k = newest - (newest - count) % COUNTER_MODULUS
                        if slot0 + k / RATE < settled_from:
                            warming += 1
                            continue
                        latencies.append(drawn - (slot0 + k / RATE))
                        decided.append(decided_at - (slot0 + k / RATE))
                    alerts_pending.clear()
                time.sleep(max(0.0, pump_s - (time.monotonic() - tick)))
            elapsed = time.monotonic() - t0
            rss_end = _rss_mb()
            growth = (rss_end - rss_mid) / n / ((t0 + elapsed - t_mid) / 60) if rss_mid is not None else np.nan
            publish_lag = json.loads(Path(clocks_path).read_text())["_publish_lag_ms"]
            cpu = (time.process_time() - cpu0) / elapsed
            main_s = time.thread_time() - main0
            clock.uninstall()
            shares = {}
            if parts:
                shares = {part: clock.seconds[part] / elapsed for part in PARTS[:4]}
                shares["other, main thread"] = (main_s - sum(clock.seconds.values())) / elapsed
                room_s = _cpu_clock_s(room_thread) - room0
                shares["room's MQTT thread"] = room_s / elapsed
                shares["other threads"] = cpu - (main_s + (0.0 if np.isnan(room_s) else room_s)) / elapsed
            broker_cpu = (_proc_cpu_s(broker._proc.pid) - broker0) / elapsed
            publisher_cpu = (_proc_cpu_s(publisher.pid) - publisher0) / elapsed
            classroom.finish()
        finally:
            publisher.kill()
    lost = shifted = samples = 0
    widths: set[tuple[int, ...]] = set()   # each station recording's channels per device
    for s in classroom.stations.values():
        rec = open_station_recording(s.recording)
        widths.add(tuple(dev.raw.shape[1] for dev in rec.devices.values()))
        for dev in rec.devices.values():
            samples += dev.samples
            lost += dev.lost_samples
            counter = slot_counter(dev.raw)
            idx = dev.sample_index
            run = np.diff(idx) == 1                 # consecutive session slots
            step = (np.diff(counter) % COUNTER_MODULUS)[run]
            shifted += int(np.count_nonzero(step != 1))
    lat = np.asarray(latencies) * 1000
    dec = np.asarray(decided) * 1000
    return {"n": n, "views": full_views, "stagger": stagger, "samples": samples, "lost": lost, "shifted": shifted,
            "fps": frames / elapsed, "cpu": cpu, "broker_cpu": broker_cpu, "publisher_cpu": publisher_cpu,
            "alerts": len(lat), "warming": warming,
            "lat": np.percentile(lat, [50, 99]) if len(lat) else (np.nan, np.nan),
            "decided": np.percentile(dec, [50, 99]) if len(dec) else (np.nan, np.nan), "publish_lag": publish_lag,
            "latencies": lat, "parts": shares, "pace_s": pace_s,
            "rss_mb": rss_end, "growth_mb": growth, "recorded_widths": sorted(widths)}


PARTS = ("intake", "coaching quiet stretches", "coaching alerts", "painting", "other, main thread",
         "room's MQTT thread", "other threads")
TARGET_FPS = 10.0
TARGET_P99_MS = 150.0


def meets(r: dict) -> bool:
    """Issue 13's targets for one run. The grid draws its traces on a 10 fps schedule, so a
    run that keeps up measures 9.98-10.0 (a frame due at the last instant is not counted):
    kept up means under 1 % of the frames missed."""
    return (r["lost"] == 0 and r["shifted"] == 0 and r["fps"] >= 0.99 * TARGET_FPS and r["alerts"] > 0
            and r["lat"][1] < TARGET_P99_MS and r["cpu"] < 1.0)


def _use_wide_sensor_map(per_device: int) -> None:
    """Every device of the room carries ``per_device`` channels: a widened sensor map for this
    process and the publisher it starts (both read the layout from GLOVECOACH_SENSOR_MAP),
    set before anything of glovecoach is imported."""
    if any(name == "glovecoach" or name.startswith("glovecoach.") for name in sys.modules):
        raise RuntimeError("the sensor map must be chosen before glovecoach is imported")
    from wide_sensor_map import widened_sensor_map

    base = json.loads((Path(__file__).resolve().parents[1] / "hardware" / "sensor_map.json").read_text())
    handle, path = tempfile.mkstemp(prefix="glovecoach-wide-map-", suffix=".json")
    with os.fdopen(handle, "w") as fh:
        json.dump(widened_sensor_map(base, per_device), fh)
    os.environ["GLOVECOACH_SENSOR_MAP"] = path
    atexit.register(os.unlink, path)


def _layout():
    from glovecoach.vocabulary.station import StationLayout

    return StationLayout.full()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--publisher":
        publisher_main(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6],
                       sys.argv[7] == "stagger")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[12])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--pump-ms", type=float, default=10.0,
                        help="how often the classroom is pumped (as the grid window's PUMP_MS; default 10 ms)")
    parser.add_argument("--views", type=int, default=0,
                        help="baseline: also run with full station views for this many stations")
    parser.add_argument("--parts", action="store_true",
                        help="also print where the instructor's CPU goes: the main thread's time in the "
                             "stations' intake, their coaching and the painting, and the other threads'")
    parser.add_argument("--channels", type=int, default=None, metavar="N",
                        help="every device carries N channels (benchmarks/wide_sensor_map.py: the issue's "
                             "3 x 20 is --channels 20); default: the devices as built (hardware/sensor_map.json)")
    parser.add_argument("--alerts", choices=("lockstep", "staggered", "both"), default="both",
                        help="every station pressing at the same instants (the worst case), spread over "
                             "the press period (independent trainees), or each size both ways (default)")
    args = parser.parse_args()
    if args.channels is not None:
        _use_wide_sensor_map(args.channels)
    modes = {"lockstep": [False], "staggered": [True], "both": [False, True]}[args.alerts]
    rows = [measure(n, args.seconds, False, args.pump_ms / 1000, stagger, args.parts)
            for n in args.stations for stagger in modes]
    if args.views:
        rows.append(measure(args.views, args.seconds, True, args.pump_ms / 1000, modes[-1], args.parts))
    # The devices' widths as the stations' recordings hold them (every run's, every station's).
    recorded = sorted({w for r in rows for w in r["recorded_widths"]})
    widths = ", ".join(" / ".join(map(str, w)) for w in recorded)
    print(f"classroom at 200 Hz, 3 devices per station ({widths} channels recorded"
          f"{', benchmarks/wide_sensor_map.py' if args.channels else ', as built'}), "
          f"{args.seconds:.0f} s per run, this machine "
          f"({os.cpu_count()} cores)")
    print(f"{'stations':>8} {'display':<14} {'alerts':<10} {'samples':>9} {'lost':>5} {'shifted':>7} {'fps':>5} "
          f"{'alerts':>6} {'alert p50/p99 ms':>17} {'(decided)':>13} {'(published)':>13} {'instructor CPU':>15} "
          f"{'mosquitto':>9} {'publisher':>9} {'pace s':>6} {'RSS MB':>7} {'MB/stn/min':>10}  meets targets")
    for r in rows:
        print(f"{r['n']:>8} {'station views' if r['views'] else 'tiles':<14} "
              f"{'staggered' if r['stagger'] else 'lockstep':<10} {r['samples']:>9} {r['lost']:>5} "
              f"{r['shifted']:>7} {r['fps']:>5.1f} {r['alerts']:>6} {r['lat'][0]:>8.0f} {r['lat'][1]:>8.0f} "
              f"{r['decided'][0]:>6.0f} {r['decided'][1]:>6.0f} "
              f"{r['publish_lag'][0]:>6.0f} {r['publish_lag'][1]:>6.0f} "
              f"{r['cpu'] * 100:>14.0f}% {r['broker_cpu'] * 100:>8.1f}% {r['publisher_cpu'] * 100:>8.0f}% "
              f"{r['pace_s']:>6.2f} {r['rss_mb']:>7.0f} {r['growth_mb']:>10.2f}  "
              f"{'yes' if meets(r) else 'no'}")
    holding = {mode: [r["n"] for r in rows if not r["views"] and r["stagger"] == (mode == "staggered") and meets(r)]
               for mode in ("lockstep", "staggered")}
    print(f"alerts: timed after the first {WARMUP_S:.0f} s of the class ("
          f"{', '.join(str(r['warming']) for r in rows)} raised before, not timed); "
          "alert p50/p99: from the device's sample to the tile drawn; (decided): to the station's coach "
          "deciding it, the rest is the other stations' turns and the painting;\n(published): how late this "
          "benchmark's publisher handed frames to the broker (a device would not lag: a loaded machine shows here);\n"
          "publisher: the CPU of the process standing in for the room's devices, on the instructor's 2 cores "
          "(a real room's devices are not on the instructor's machine);\n"
          f"pace s: this machine's pace just before the run, a {LOOP_STEPS // 1_000_000}-million-step Python loop "
          "(0.18 s on a quiet morning here; two to six times that on busy ones, when the same code misses targets it "
          "meets on a quiet one);\nRSS MB: the instructor process's resident size at the end; MB/stn/min: its growth "
          "per station per minute, from a quarter into the run (the debriefs' kept samples, mostly)")
    print(f"targets: no sample lost or shifted, >= {TARGET_FPS:.0f} fps, alert p99 < {TARGET_P99_MS:.0f} ms, "
          "instructor under one core; largest N measured that meets them: "
          + ", ".join(f"{max(ns) if ns else 'none'} ({mode})" for mode, ns in holding.items()
                      if any(r["stagger"] == (mode == "staggered") for r in rows)))
    if args.parts:
        print("\nwhere the instructor's CPU goes, % of a core (main thread's CPU timed inside each part; the "
              "room's MQTT thread reads the broker, decodes the frames and places them on each device's clock; "
              "other threads: the recorders' writers, the stall watch)")
        print(f"{'stations':>8} {'display':<14} {'alerts':<10} " + " ".join(f"{p:>{max(len(p), 6)}}" for p in PARTS))
        for r in rows:
            print(f"{r['n']:>8} {'station views' if r['views'] else 'tiles':<14} "
                  f"{'staggered' if r['stagger'] else 'lockstep':<10} "
                  + " ".join(f"{r['parts'][p] * 100:>{max(len(p), 6) - 1}.1f}%" for p in PARTS))


if __name__ == "__main__":
    main()
