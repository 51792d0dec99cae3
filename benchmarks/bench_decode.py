"""Host decode throughput: the framed binary protocol against the hobbyist text-line baseline.

Both decoders turn the same 20-channel raw ADC samples into an (n, 20) uint16 array, in the same
run, on the same machine, so the ratio is meaningful even though the machine is noisy:

* **binary** (this project): SAMPLES frames (docs/protocol.md) fed to ``StreamDecoder``, and the
  batches passed through ``ContinuityTracker``;
* **text** (the common hobbyist link): the device prints ``v0,v1,...,v19\\n`` per sample and the
  host does ``readline()`` on a buffered stream, ``split(b',')``, ``int`` per value, and
  ``np.array`` of the collected rows. Collecting rows and converting once is the faster of the
  usual hobbyist variants, so the baseline is not a straw man. It carries no sequence numbers,
  timestamps or CRC, so it could not even detect loss.

Two ways of feeding the binary decoder:

* **bulk**: 64 KiB or 1 MiB per ``feed()``, as when replaying a capture or catching up after a
  stall (numpy's fixed cost per call is shared by more frames in the larger feeds);
* **live**: one ``feed()`` per 10 ms of link bytes, as a serial reader thread delivers them. Its
  cost per second of signal is the share of one core the live app spends decoding.

Prints medians over ``--repeats`` runs and asserts nothing about time (the targets are ratio
>= 20x and live decode at 20 ch x 1000 Hz < 5 % of one core).

    .venv/bin/python benchmarks/bench_decode.py [--seconds 60] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from glovecoach.wire import ContinuityTracker, SampleBatch, StreamDecoder, encode_samples
from glovecoach.wire.frames import CRC32_IMPLEMENTATION

CHANNELS = 20
BULK_FEED_BYTES = (64 * 1024, 1024 * 1024)
LIVE_READ_INTERVAL_S = 0.010


def synthetic_raw(n_samples: int, rate_hz: int, seed: int = 7) -> np.ndarray:
    """Plausible glove data: unloaded sensors near their bias reading with ADC noise, plus
    pressure strokes of about a second that push a few channels up towards saturation."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / rate_hz
    level = 120 + 60 * rng.random(CHANNELS)
    raw = level + rng.normal(0, 6, (n_samples, CHANNELS))
    for channel in range(CHANNELS):
        phase, period = rng.random() * 6.28, 0.8 + rng.random() * 1.5
        stroke = np.clip(np.sin(2 * np.pi * t / period + phase), 0, None) ** 2
        raw[:, channel] += stroke * rng.uniform(800, 3900)
    return np.clip(raw, 0, 4095).astype(np.uint16)


def binary_stream(raw: np.ndarray, samples_per_frame: int, rate_hz: int) -> bytes:
    frames = [b"\x00"]  # the firmware's boot delimiter
    period_us = 1_000_000 // rate_hz
    for seq, start in enumerate(range(0, raw.shape[0], samples_per_frame)):
        frames.append(encode_samples(seq, start, (start * period_us) & 0x3FFFFFFF,
                                     raw[start:start + samples_per_frame], flags=int(seq == 0)))
    return b"".join(frames)


def text_stream(raw: np.ndarray) -> bytes:
    return "".join(",".join(map(str, row)) + "\n" for row in raw.tolist()).encode()


def decode_text(text: bytes) -> np.ndarray:
    stream = io.BufferedReader(io.BytesIO(text))
    rows = []
    while True:
        line = stream.readline()
        if not line:
            break
        rows.append([int(v) for v in line.split(b",")])
    return np.array(rows, dtype=np.uint16)


def decode_binary(stream: bytes, feed_bytes: int) -> np.ndarray:
    decoder = StreamDecoder()
    tracker = ContinuityTracker()
    batches = []
    for start in range(0, len(stream), feed_bytes):
        for item in decoder.feed(stream[start:start + feed_bytes]):
            if isinstance(item, SampleBatch):
                tracker.update(item)
                batches.append(item.raw)
    if tracker.lost_frames or decoder.stats.corrupt_frames:
        raise RuntimeError("benchmark stream decoded with losses")
    return np.concatenate(batches)


def median_cpu_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median CPU time of this process per run. CPU time, not wall time: the machine is shared,
    and waiting for a core is not work the decoder does (and is what a 'share of one core' is)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="signal length per rate (default 60)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure; medians are shown")
    args = parser.parse_args()

    print(f"decode benchmark: {CHANNELS} channels, {args.seconds:g} s of signal per rate, median CPU time of "
          f"{args.repeats} runs;\nPython {platform.python_version()}, numpy {np.__version__}, "
          f"CRC-32 from {CRC32_IMPLEMENTATION}\n")
    rows = []
    for rate_hz, samples_per_frame in ((200, 4), (1000, 20)):
        n = int(args.seconds * rate_hz)
        raw = synthetic_raw(n, rate_hz)
        binary, text = binary_stream(raw, samples_per_frame, rate_hz), text_stream(raw)
        live_bytes = max(1, int(len(binary) / args.seconds * LIVE_READ_INTERVAL_S))
        # Same output, or the comparison means nothing.
        assert np.array_equal(decode_text(text), raw)
        for feed_bytes in (*BULK_FEED_BYTES, live_bytes):
            assert np.array_equal(decode_binary(binary, feed_bytes), raw)
        text_s = median_cpu_seconds(lambda: decode_text(text), args.repeats)
        bulk_s = [median_cpu_seconds(lambda: decode_binary(binary, size), args.repeats) for size in BULK_FEED_BYTES]
        live_s = median_cpu_seconds(lambda: decode_binary(binary, live_bytes), args.repeats)
        rows.append((rate_hz, samples_per_frame, n, len(text), len(binary), live_bytes, text_s, bulk_s, live_s))

    print("throughput (samples per CPU second) and ratio binary/text (target >= 20x)")
    head = (f"{'rate':>7} {'samples/frame':>13} | {'text lines':>11} | {'binary 64 KiB feeds':>19} {'ratio':>6} | "
            f"{'binary 1 MiB feeds':>18} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for rate_hz, spf, n, _, _, _, text_s, (small_s, large_s), _ in rows:
        print(f"{rate_hz:>5}Hz {spf:>13} | {n / text_s:>11,.0f} | {n / small_s:>19,.0f} {text_s / small_s:>5.1f}x | "
              f"{n / large_s:>18,.0f} {text_s / large_s:>5.1f}x")

    print(f"\nlive (one feed() per {LIVE_READ_INTERVAL_S * 1000:g} ms of link bytes): "
          "share of one core to keep up with the glove")
    head = (f"{'rate':>7} {'bytes/sample':>12} {'(text)':>7} {'bytes/feed':>10} | "
            f"{'binary':>7} {'text (best case)':>16}")
    print(head)
    print("-" * len(head))
    for rate_hz, spf, n, text_len, bin_len, live_bytes, text_s, _, live_s in rows:
        print(f"{rate_hz:>5}Hz {bin_len / n:>12.1f} {text_len / n:>7.1f} {live_bytes:>10} | "
              f"{100 * live_s / args.seconds:>6.2f}% {100 * text_s / args.seconds:>15.2f}%")
    print("binary figures include ContinuityTracker; target for binary at 1000 Hz: < 5 % of one core.")
    print("text (best case) is the bulk text figure: a real serial readline() adds per-read overhead.")


if __name__ == "__main__":
    main()
