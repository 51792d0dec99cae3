"""A glove on WiFi through a broker: samples/s, loss, latency and CPU, per broker and batching.

The device is the real firmware in MicroPython's unix port with a network configuration
(tests/link/mqtt_helpers.py: MqttGlove), publishing over real loopback sockets to Mosquitto
(/usr/sbin/mosquitto, started on a free port) or the embedded amqtt broker; the host reads
it with GloveClient over mqtt://. Latency is from the time of each frame's first sample
(device ticks_us, the same CLOCK_MONOTONIC as the host's time.monotonic on Linux) to its
arrival in GloveClient, so it includes filling the frame (spf - 1 sample periods). CPU:
the firmware process (from /proc) and this whole host process (client, paho, and the
embedded broker when it is the one used). docs/wifi-mqtt.md has the figures.

    .venv/bin/python benchmarks/bench_mqtt.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "link"))

from glovecoach.link.broker import EmbeddedBroker  # noqa: E402
from glovecoach.link.client import GloveClient, SamplesReceived  # noqa: E402
from mqtt_helpers import Mosquitto, MqttGlove  # noqa: E402

WARMUP_S = 0.5


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _host_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def measure(port: int, rate: int, batch: int, seconds: float) -> dict:
    with MqttGlove(port, glove_id=f"GC-BENCH-{rate}-{batch}", batch_frames=batch) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as client:
            client.connect()
            client.start(rate)
            time.sleep(WARMUP_S)
            assert glove.proc is not None
            fw0, host0, n0 = _process_cpu_s(glove.proc.pid), _host_cpu_s(), client.samples_received
            frames, end = [], time.monotonic() + seconds
            while time.monotonic() < end:
                event = client.wait_event(0.05)
                if isinstance(event, SamplesReceived):
                    frames.append(event.frames)
            fw1, host1, n1 = _process_cpu_s(glove.proc.pid), _host_cpu_s(), client.samples_received
            client.stop()
            f = np.concatenate(frames)
            received_us = ((f["host_time"] - client.host_time(0.0)) * 1e6).astype(np.int64)
            lat_ms = ((received_us - f["t_us"].astype(np.int64) + (1 << 29)) % (1 << 30) - (1 << 29)) / 1e3
            stats = client.stats
    return {"samples_per_s": round((n1 - n0) / seconds, 1), "lost_frames": stats.lost_frames,
            "p50_ms": round(float(np.median(lat_ms)), 1), "p99_ms": round(float(np.percentile(lat_ms, 99)), 1),
            "max_ms": round(float(lat_ms.max()), 1), "glove_cpu_pct": round(100 * (fw1 - fw0) / seconds, 1),
            "host_cpu_pct": round(100 * (host1 - host0) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    runs = [(200, 1), (200, 4), (1000, 1), (1000, 4)]
    with Mosquitto() as broker:
        for rate, batch in runs:
            print(f"mosquitto {rate} Hz batch {batch}: {measure(broker.port, rate, batch, args.seconds)}", flush=True)
    with EmbeddedBroker() as embedded:
        assert embedded.address is not None
        for rate, batch in runs:
            print(f"amqtt {rate} Hz batch {batch}: {measure(embedded.address.port, rate, batch, args.seconds)}",
                  flush=True)


if __name__ == "__main__":
    main()
