"""A whole virtual station: latency from a sample on a glove to the alert on screen.

Three real firmware processes (MicroPython unix port: left glove, right glove, spine strip,
each on its own crystal) play a simulated station session with a hard press of the right
thumb every 2.5 s; the host runs what `glovecoach demo` runs: StationPipeline (link -> aligner
-> station recorder -> station coach) feeding the StationView, the link pumped every 10 ms and
the view drawn at 30 frames a second, and at once when an alert begins (offscreen). Measured
twice in the same run: the devices over WiFi (MQTT through the station's broker) and, as the
baseline, over USB (pseudo-terminals).

Latency of an alert = host time when the frame that shows it has been drawn - the instant the
sample that triggered it was taken (the station slot's time: origin + index / rate, the
host-clock instant the aligner maps the device's sample to). Also printed: the same for the
newest sample of every update (every frame on screen, not only alerts). Target (issue 12):
alert p99 < 100 ms through the broker.

    .venv/bin/python benchmarks/bench_station_latency.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

FRAME_S = 1 / 30
PUMP_S = 0.01
PRESS_EVERY_S, PRESS_S, PRESS_COUNTS = 2.5, 0.6, 3600
ALERT_KINDS = ("overforce", "spine_contact", "underforce")


def run(transport: str, seconds: float, seed: int) -> dict:
    from PySide6 import QtWidgets

    from glovecoach.app.station_view import StationModel, StationView
    from glovecoach.link.virtual_station import VirtualStation
    from glovecoach.pipeline.listener import Listener
    from glovecoach.pipeline.station_coaching import StationUpdate
    from glovecoach.pipeline.station_session import StationPipeline
    from glovecoach.protocols.load import default_protocol
    from glovecoach.recording import StationRecordingWriter
    from glovecoach.simulate.station import simulate_station, write_station_signals
    from glovecoach.vocabulary.station import StationLayout

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])

    class Probe(Listener):
        def __init__(self) -> None:
            self.pending: list[tuple[str, float]] = []   # (what, station time s) shown at the next draw
            self.in_block: list[float] = []   # trigger sample to the end of its update (s)

        def on_other(self, message):
            if not isinstance(message, StationUpdate):
                return None
            self.pending.append(("frame", (message.first_index + message.n_samples - 1) / rate))
            events = list(message.events)
            for hand in message.hands.values():
                events.extend(hand.events)
            for e in events:
                if e.state == "begin" and e.kind in ALERT_KINDS:
                    self.pending.append(("alert", e.at_s))
                    self.in_block.append((message.first_index + message.n_samples) / rate - e.at_s)
            return None

    rate = 200
    out = Path(tempfile.mkdtemp(prefix="bench-station-")) / "station.gcrec"
    latencies: dict[str, list[float]] = {"frame": [], "alert": []}
    def signals(folder: Path) -> dict:
        # A good session with a hard press of the right thumb every PRESS_EVERY_S: many alert
        # onsets to time, each a clean begin (the press ends before the next).
        sim = simulate_station(seed, max(90.0, seconds + 10), rate)
        thumb = sim.channels["right_glove"].index("thumb_tip")
        every, hold = int(PRESS_EVERY_S * rate), int(PRESS_S * rate)
        for start in range(5 * rate, sim.n_samples - hold, every):
            sim.raw["right_glove"][start:start + hold, thumb] = PRESS_COUNTS
        return write_station_signals(sim, folder)

    with VirtualStation(make_signals=signals, rate_hz=rate, transport=transport) as station:
        clients = station.clients()
        try:
            hellos = {role: c.connect(timeout=10) for role, c in clients.items()}
            layout = StationLayout.for_roles(list(clients))
            model = StationModel(layout, rate)
            view = StationView(model)
            view.resize(1600, 1000)
            view.show()
            probe = Probe()
            writer = StationRecordingWriter(out, layout, rate)
            pipeline = StationPipeline(clients, layout, rate, writer=writer, protocol=default_protocol(),
                                       device_info={r: h.info for r, h in hellos.items()},
                                       listeners=[model, probe], with_state=True)
            for c in clients.values():
                c.start(rate)
            end = time.monotonic() + seconds
            cpu0 = time.process_time()
            last_draw = 0.0
            while time.monotonic() < end:
                tick = time.monotonic()
                pipeline.pump()
                # The link is pumped every PUMP_S; the view is drawn at 30 fps, and at once when
                # an alert begins (an alert must not wait for the next frame).
                alert_now = any(what == "alert" for what, _ in probe.pending)
                if alert_now or tick - last_draw >= FRAME_S:
                    view.redraw()
                    app.processEvents()
                    last_draw = tick
                    origin = pipeline.source.origin_host_s
                    if origin is not None:
                        drawn = time.time()
                        for what, t in probe.pending:
                            latencies[what].append(drawn - (origin + t))
                    probe.pending.clear()
                time.sleep(max(0.0, PUMP_S - (time.monotonic() - tick)))
            cpu = (time.process_time() - cpu0) / seconds
            for c in clients.values():
                c.stop()
            pipeline.finish()
        finally:
            for c in clients.values():
                c.close()
    out.unlink(missing_ok=True)
    result = {"transport": transport, "cpu": cpu,
              "in_block_ms": float(np.median(probe.in_block) * 1000) if probe.in_block else float("nan")}
    for what, values in latencies.items():
        a = np.asarray(values) * 1000
        result[what] = (len(a), *(np.percentile(a, [50, 99]) if len(a) else (np.nan, np.nan)),
                        a.max() if len(a) else np.nan)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rows = [run("mqtt", args.seconds, args.seed), run("serial", args.seconds, args.seed)]
    print(f"virtual station (3 firmware processes), 200 Hz, {args.seconds:.0f} s each, view redrawn at 30 fps")
    print(f"{'devices over':<26} {'alerts':>6} {'alert p50/p99/max ms':>22} {'frames':>7} "
          f"{'frame p50/p99/max ms':>22} {'host CPU':>9}")
    for r in rows:
        n_a, a50, a99, amax = r["alert"]
        n_f, f50, f99, fmax = r["frame"]
        label = "WiFi (MQTT, broker)" if r["transport"] == "mqtt" else "USB (baseline)"
        print(f"{label:<26} {n_a:>6} {a50:>8.0f} {a99:>6.0f} {amax:>6.0f} {n_f:>7} {f50:>8.0f} {f99:>6.0f} "
              f"{fmax:>6.0f} {r['cpu'] * 100:>8.0f}%  (trigger to its update's end: median {r['in_block_ms']:.0f} ms)")


if __name__ == "__main__":
    main()
