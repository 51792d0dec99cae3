"""Host CPU per streaming glove: ``GloveClient`` against a minimal pyserial reader, same run.

The device is the virtual glove: the real firmware in MicroPython's unix port on a
pseudo-terminal, streaming at ``--rate`` Hz in real time. Each measurement runs in its own
Python process (so imports, the GUI or the other reader cost nothing) and reports the CPU time
of that whole process (every thread, user + system, ``time.process_time``) over a steady
``--seconds`` window that starts once samples flow. The firmware's own process is not counted.

* **client**: ``GloveClient(port)``, ``connect()``, ``start(rate)`` and a listener that only
  counts samples, polling the client every 50 ms as a GUI timer would.
* **minimal**: what a competent engineer writes in an hour with pyserial: send SET_RATE and
  START, then ``read(in_waiting or 1)`` with a 0.1 s timeout, split on 0x00, ``cobs.decode``,
  ``zlib.crc32``, ``np.frombuffer`` of the samples. No continuity, clock, reconnect or
  command replies: the floor any reader pays for the bytes themselves.

The two alternate (client, minimal, client, minimal, ...) on the same glove, so machine load
hits both alike; the figures printed are medians over ``--repeats``. The issue's target is a
ratio (client / minimal) <= 2.

    .venv/bin/python benchmarks/bench_link.py [--seconds 10] [--repeats 5] [--rate 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

POLL_S = 0.05
WARMUP_S = 1.0


def _client(port: str, rate: int, seconds: float) -> dict:
    from glovecoach.link import GloveClient, SamplesReceived

    count = 0
    with GloveClient(port, reconnect=False) as client:
        client.connect(timeout=10)
        client.start(rate)
        t_end = time.monotonic() + WARMUP_S
        while time.monotonic() < t_end:
            client.poll()
            time.sleep(POLL_S)
        cpu0, wall0 = time.process_time(), time.monotonic()
        t_end = wall0 + seconds
        while time.monotonic() < t_end:
            for event in client.poll():
                if type(event) is SamplesReceived:
                    count += len(event.raw)
            time.sleep(POLL_S)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        client.stop()
    return {"cpu_s": cpu, "wall_s": wall, "samples": count}


def _minimal(port: str, rate: int, seconds: float) -> dict:
    import zlib

    import numpy as np
    import serial  # type: ignore[import-untyped]
    from cobs import cobs  # type: ignore[import-untyped]

    from glovecoach.wire.messages import Command, encode_command

    ser = serial.Serial(port, 115200, timeout=0.1)
    # The glove may still be streaming for the previous reader: stop, set the rate, start.
    ser.write(encode_command(Command.STOP, 1))
    ser.write(encode_command(Command.SET_RATE, 2, rate_hz=rate))
    ser.write(encode_command(Command.START, 3))
    buf = b""
    count = 0
    started = False
    t_warm = time.monotonic() + WARMUP_S
    cpu0 = wall0 = t_end = 0.0
    while True:
        now = time.monotonic()
        if not started and now >= t_warm:
            started, count = True, 0
            cpu0, wall0 = time.process_time(), now
            t_end = now + seconds
        elif started and now >= t_end:
            break
        buf += ser.read(ser.in_waiting or 1)
        *chunks, buf = buf.split(b"\x00")
        for chunk in chunks:
            if not chunk:
                continue
            try:
                frame = cobs.decode(chunk)
            except cobs.DecodeError:
                continue
            if len(frame) < 5 or zlib.crc32(frame[:-4]) != int.from_bytes(frame[-4:], "little"):
                continue
            if frame[0] == 0x10:  # SAMPLES: 16-byte header, then n x ch little-endian u16
                n, ch = frame[1], frame[2]
                samples = np.frombuffer(frame, "<u2", count=n * ch, offset=16).reshape(n, ch)
                count += samples.shape[0]
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    ser.write(encode_command(Command.STOP, 4))
    ser.close()
    return {"cpu_s": cpu, "wall_s": wall, "samples": count}


def _measure(kind: str, port: str, rate: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--port", port,
                          "--rate", str(rate), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cpu_pct"] = 100.0 * result["cpu_s"] / result["wall_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--child", choices=["client", "minimal"], help=argparse.SUPPRESS)
    parser.add_argument("--port", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = _client if args.child == "client" else _minimal
        print(json.dumps(run(args.port, args.rate, args.seconds)))
        return

    from glovecoach.link.virtual_glove import VirtualGlove

    print(f"python {platform.python_version()}, {platform.machine()}; virtual glove at {args.rate} Hz, "
          f"{args.seconds:g} s per measurement, {args.repeats} repeats")
    results: dict[str, list[dict]] = {"client": [], "minimal": []}
    ratios = []
    with VirtualGlove() as glove:
        for repeat in range(args.repeats):
            pair = {kind: _measure(kind, glove.port, args.rate, args.seconds) for kind in ("client", "minimal")}
            for kind, result in pair.items():
                results[kind].append(result)
            ratios.append(pair["client"]["cpu_pct"] / pair["minimal"]["cpu_pct"])
            print(f"  repeat {repeat + 1}: client {pair['client']['cpu_pct']:5.2f} % "
                  f"({pair['client']['samples']} samples), minimal {pair['minimal']['cpu_pct']:5.2f} % "
                  f"({pair['minimal']['samples']} samples), ratio {ratios[-1]:.2f}")
    client = statistics.median(r["cpu_pct"] for r in results["client"])
    minimal = statistics.median(r["cpu_pct"] for r in results["minimal"])
    print(f"median CPU of one core: GloveClient {client:.2f} %, minimal pyserial reader {minimal:.2f} %")
    print(f"median ratio (client / minimal, per repeat): {statistics.median(ratios):.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
