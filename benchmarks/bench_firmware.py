"""Firmware cost per sampling slot and per SAMPLES frame, on MicroPython's unix port.

Runs the real firmware modules (sim HAL, sampler, framing, CRC, COBS) in `micropython`
and prints medians over repeats, with baselines measured in the same run:
  - CRC-32: the firmware's viper table CRC vs binascii.crc32 (C),
  - COBS: the firmware's viper encoder vs the same algorithm in plain bytecode.
It then estimates the cost on a 240 MHz ESP32 (see ESP32 ESTIMATE below). That figure is an
estimate from a published benchmark ratio, not a measurement on hardware.

    .venv/bin/python benchmarks/bench_firmware.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MICROPYTHON = Path(sys.executable).with_name("micropython")

# ESP32 ESTIMATE. Basis: pystone_lowmem (micropython-lib) runs at 1075 pystones/s on an
# ESP32 (github.com/v923z/micropython-ulab/issues/296, MicroPython without ulab). The clock
# is not stated; MicroPython's ESP32 default is 160 MHz, so 240 MHz is taken as x1.5 =
# 1612 pystones/s. The same pystone_lowmem on this repository's unix port, on the
# development machine, ran at 185 000 pystones/s in its least-contended runs, when the
# reference loop in MP_SCRIPT took 145 us (2026-11-25, 2 shared cores). The slowdown factor
# is 185 000 / 1 612 = ~115 at calibration, rescaled by how fast the reference loop runs
# in this run, so a faster or busier machine is accounted for. If the ESP32 figure was
# taken at 240 MHz the factor is ~170 instead: read the estimate as -0 %/+50 %. Viper
# (native) code is assumed to slow down by the same factor as bytecode.
ESP32_240MHZ_PYSTONES = 1075 * 1.5
UNIX_PYSTONES_AT_CALIBRATION = 185_000
REF_LOOP_US_AT_CALIBRATION = 145.0

MP_SCRIPT = r'''
import sys, time, binascii
from glove.device import build
from glove import frames

REPEATS = int(sys.argv[1])
out = sys.stderr

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]

def per_call_us(fn, n):
    # Median over REPEATS of the mean time of n calls.
    results = []
    for _ in range(REPEATS):
        t0 = time.ticks_us()
        for _ in range(n):
            fn()
        results.append(time.ticks_diff(time.ticks_us(), t0) / n)
    return median(results)

def reference_loop():
    # Plain bytecode: integer arithmetic, a list store, attribute-free.
    acc = 0
    buf = [0] * 16
    for i in range(2000):
        acc = (acc + i * 7) & 0xFFFF
        buf[i & 15] = acc
    return acc

def cobs_bytecode(src, n, dst):
    # The firmware's COBS algorithm in plain bytecode: the baseline viper is measured against.
    code_pos = 0
    o = 1
    code = 1
    for i in range(n):
        b = src[i]
        if code == 0xFF:
            dst[code_pos] = code
            code_pos = o
            o += 1
            code = 1
        if b == 0:
            dst[code_pos] = code
            code_pos = o
            o += 1
            code = 1
        else:
            dst[o] = b
            o += 1
            code += 1
    dst[code_pos] = code
    dst[o] = 0
    return o + 1

hal, writer, sampler, handler = build("main.py")
results = {"reference_loop_us": per_call_us(reference_loop, 20)}
row = sampler.rows[0]
results["sim_read_pattern_us"] = per_call_us(lambda: hal.read_sample(row), 2000)
# From here the ADC read is a no-op, so slot figures are the firmware's own work (on the
# glove the ADC read replaces it; the sim read's cost is the line above).
hal.read_sample = lambda r: None
for rate in (200, 1000):
    sampler.set_rate(rate)
    spf = sampler.spf
    sampler.stop()
    results["slot_idle_us_%d" % rate] = per_call_us(lambda: sampler.sample_slot(time.ticks_us()), 2000)
    sampler.start()
    results["slot_streaming_us_%d" % rate] = per_call_us(lambda: sampler.sample_slot(time.ticks_us()), 2000)
    def one_frame():
        sampler.n_in_frame = spf
        sampler.send_frame()
    results["frame_send_us_%d" % rate] = per_call_us(one_frame, 500)
    n = frames.SAMPLES_HEADER_BYTES + 2 * spf * sampler.n_channels
    buf = sampler.frame
    results["crc_viper_us_%d" % rate] = per_call_us(lambda: frames.crc32_append(buf, n), 500)
    data = bytes(buf[:n])
    results["crc_binascii_us_%d" % rate] = per_call_us(lambda: binascii.crc32(data), 500)
    dst = writer.out
    results["cobs_viper_us_%d" % rate] = per_call_us(lambda: frames.cobs_encode_frame(buf, n + 4, dst), 500)
    results["cobs_bytecode_us_%d" % rate] = per_call_us(lambda: cobs_bytecode(buf, n + 4, dst), 100)
    results["frame_bytes_%d" % rate] = n + 4
    results["spf_%d" % rate] = spf
sampler.stop()
import json
print("RESULTS " + json.dumps(results), file=out)
'''


def run(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench_fw.py"
        script.write_text(MP_SCRIPT)
        env = dict(os.environ, MICROPYPATH=f"{REPO / 'firmware'}:.frozen",
                   GLOVECOACH_SENSOR_MAP=str(REPO / "hardware" / "sensor_map.json"))
        env.pop("GLOVECOACH_SIM_SIGNAL", None)
        r, w = os.pipe()   # stdin stays open: EOF would mean "unplugged" to the sim glove
        try:
            proc = subprocess.run([str(MICROPYTHON), str(script), str(repeats)], stdin=r,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                  timeout=600)
        finally:
            os.close(r)
            os.close(w)
    err = proc.stderr.decode()
    if proc.returncode != 0 or "RESULTS " not in err:
        raise SystemExit(f"benchmark script failed:\n{err}")
    return json.loads(err.rsplit("RESULTS ", 1)[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3, help="separate interpreter runs (median taken)")
    args = ap.parse_args()
    runs = [run(args.repeats) for _ in range(args.runs)]
    res = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ref_now = res["reference_loop_us"]
    ref_cal = REF_LOOP_US_AT_CALIBRATION
    factor = UNIX_PYSTONES_AT_CALIBRATION / ESP32_240MHZ_PYSTONES * (ref_cal / ref_now)

    print(f"MicroPython unix port: {MICROPYTHON}")
    print(f"medians of {args.runs} runs x {args.repeats} repeats; 20 channels, sim ADC\n")
    print(f"reference loop: {ref_now:.0f} us (calibration {ref_cal:.0f} us); "
          f"ESP32@240MHz slowdown factor used: {factor:.0f}x (estimate, see ESP32 ESTIMATE in this file)\n")
    head = f"{'':38} {'unix us':>9} {'ESP32 est us':>13} {'% of slot (ESP32 est)':>22}"
    for rate in (200, 1000):
        spf = int(res[f"spf_{rate}"])
        period = 1e6 / rate
        print(f"--- {rate} Hz: {spf} samples/frame, frame payload+CRC {int(res[f'frame_bytes_{rate}'])} B, "
              f"slot period {period:.0f} us")
        print(head)
        rows = [
            ("slot, not streaming (stats, TARE check)", res[f"slot_idle_us_{rate}"]),
            ("slot, streaming (+ frame, amortised)", res[f"slot_streaming_us_{rate}"]),
            ("one SAMPLES frame (pack+CRC+COBS+write)", res[f"frame_send_us_{rate}"]),
            ("  CRC-32 viper (firmware)", res[f"crc_viper_us_{rate}"]),
            ("  CRC-32 binascii (C baseline)", res[f"crc_binascii_us_{rate}"]),
            ("  COBS viper (firmware)", res[f"cobs_viper_us_{rate}"]),
            ("  COBS bytecode (baseline)", res[f"cobs_bytecode_us_{rate}"]),
        ]
        for name, us in rows:
            est = us * factor
            print(f"{name:38} {us:9.1f} {est:13.0f} {100 * est / period:21.1f}%")
        cobs_gain = res[f"cobs_bytecode_us_{rate}"] / res[f"cobs_viper_us_{rate}"]
        crc_loss = res[f"crc_viper_us_{rate}"] / res[f"crc_binascii_us_{rate}"]
        print(f"  viper COBS speed-up over bytecode: {cobs_gain:.1f}x; "
              f"viper CRC vs C binascii: {crc_loss:.1f}x slower\n")
    sim = res["sim_read_pattern_us"]
    print(f"sim ADC read (built-in pattern, 20 channels): {sim:.1f} us on the unix port (virtual glove only).")
    print("Slot figures exclude the ADC read. On the glove it is one mux settle (mux_settle_us) per")
    print("select setting in use plus one ADC1 read per channel: not estimated here.")


if __name__ == "__main__":
    main()
