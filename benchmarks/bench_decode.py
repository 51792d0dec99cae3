"""Host decode speed against what a competent engineer writes in an hour, measured in the same run.

All decoders turn the same 20-channel raw ADC samples into an (n, 20) uint16 array plus, for the
binary ones, each frame's ``seq``, ``sample_index`` and ``t_us``, and the results are checked to be
equal before anything is timed.

Binary (SAMPLES frames, docs/protocol.md):

* **project**: ``glovecoach.wire.StreamDecoder`` (resync, error counts by reason, partial frames
  across reads, every message type validated). A live read's ``SampleBatch`` makes its
  per-frame arrays when first read (the link reads ``batch.first`` instead); the equality check
  below reads them all, so they are what is compared;
* **hour**: :class:`HourDecoder` below, the decoder a competent engineer writes from
  docs/protocol.md in an hour with the usual libraries: ``bytes.split(b"\\x00")`` with the
  partial frame carried over, the ``cobs`` package's C ``cobs.decode``, ``zlib.crc32`` and
  ``numpy.frombuffer`` per frame, header by ``struct``. It is written sensibly (no per-byte
  loops, no per-sample Python, one concatenate at the end), and does less than the project:
  it drops bad frames without saying why and ignores other message types.

Feeds:

* **bulk**: reads of up to 1 MiB (replaying a capture, catching up after a stall); at the
  default 20 s of signal, the whole capture is one read;
* **live**: what one serial ``read()`` returns while streaming: one whole frame or three (the
  device writes a frame in one USB transfer), a 64-byte USB full-speed packet (frames cut
  anywhere), and 10 ms of link bytes (cut anywhere). ``bytes/feed`` is the mean read size.

Text (the hobbyist CSV link, one ``v0,...,v19\\n`` line per sample): a ``readline``/``split``/
``int`` loop, and numpy's own parser ``np.loadtxt`` on the whole buffer, the way a competent
engineer reads CSV. Both against the project's binary bulk figure.

Times are the median CPU time of this process over ``--repeats`` runs, the variants interleaved
run by run so that a busy moment on the shared machine hits them alike. Targets (issue 11):
project >= 3x hour in bulk, and no slower than hour (ratio >= 1.0x) on every live feed.

    .venv/bin/python benchmarks/bench_decode.py [--seconds 20] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import struct
import time
import zlib
from collections.abc import Callable

import numpy as np
from cobs import cobs  # type: ignore[import-untyped]

from glovecoach.wire import SampleBatch, StreamDecoder, encode_samples
from glovecoach.wire.frames import CRC32_IMPLEMENTATION

CHANNELS = 20
FRAME_RATE_HZ = 50            # the firmware sends samples_per_frame = rate_hz // 50
BULK_FEED_BYTES = 1024 * 1024
USB_PACKET_BYTES = 64         # full-speed USB CDC packet: reads return frames cut anywhere
LIVE_READ_INTERVAL_S = 0.010
MIN_SAMPLE_S = 0.05


class HourDecoder:
    """The decoder a competent engineer writes from docs/protocol.md in about an hour."""

    HEADER = struct.Struct("<BBBBIII")

    def __init__(self) -> None:
        self.buffer = b""
        self.synced = False
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[tuple[int, int, int, np.ndarray]]:
        """(seq, sample_index, t_us, samples) of every good SAMPLES frame completed by ``data``."""
        chunks = (self.buffer + data).split(b"\x00")
        self.buffer = chunks.pop()
        if not self.synced and chunks:  # a port opened mid-stream starts inside a frame
            chunks.pop(0)
            self.synced = True
        frames = []
        for chunk in chunks:
            if not chunk:
                continue
            try:
                decoded = cobs.decode(chunk)
            except cobs.DecodeError:
                self.bad_frames += 1
                continue
            payload, crc = decoded[:-4], decoded[-4:]
            if len(payload) < 1 or zlib.crc32(payload) != int.from_bytes(crc, "little"):
                self.bad_frames += 1
                continue
            if payload[0] != 0x10 or len(payload) < 16:
                continue
            _, n, channels, _, seq, index, t_us = self.HEADER.unpack_from(payload)
            if len(payload) != 16 + 2 * n * channels:
                self.bad_frames += 1
                continue
            frames.append((seq, index, t_us, np.frombuffer(payload, "<u2", offset=16).reshape(n, channels)))
        return frames


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


def cut(stream: bytes, feed_bytes: int) -> list[bytes]:
    """The reads a serial port would return; cut before timing (reading is not decoding)."""
    return [stream[start:start + feed_bytes] for start in range(0, len(stream), feed_bytes)]


def cut_frames(stream: bytes, frames: int) -> list[bytes]:
    """Reads of whole frames, each with its delimiter: what a reader gets when the device writes
    a frame in one USB transfer and the host reads what has arrived (the boot 0x00 alone first)."""
    ends = np.flatnonzero(np.frombuffer(stream, np.uint8) == 0) + 1
    bounds = [0, *ends[0::frames].tolist()]
    if bounds[-1] != len(stream):
        bounds.append(len(stream))
    return [stream[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def project_arrays(reads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Samples and (seq, sample_index, t_us) per frame as the project's decoder gives them."""
    decoder = StreamDecoder()
    batches = [item for data in reads for item in decoder.feed(data) if isinstance(item, SampleBatch)]
    if decoder.stats.corrupt_frames:
        raise RuntimeError("benchmark stream decoded with losses")
    return (np.concatenate([b.raw for b in batches]),
            np.stack([np.concatenate([b.seq for b in batches]), np.concatenate([b.sample_index for b in batches]),
                      np.concatenate([b.t_us for b in batches])]))


def hour_arrays(reads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The same from the hour's decoder."""
    decoder = HourDecoder()
    frames = [frame for data in reads for frame in decoder.feed(data)]
    if decoder.bad_frames:
        raise RuntimeError("benchmark stream decoded with losses")
    seq, index, t_us, samples = zip(*frames)
    return np.concatenate(samples), np.array([seq, index, t_us], dtype=np.uint32)


def timed_feeds(decoder: StreamDecoder | HourDecoder, reads: list[bytes]) -> None:
    """What a serial reader thread does: feed each read and hand the result on. The results are
    dropped here, as the consumer drops them once shown; keeping all of them alive would time the
    memory of this benchmark, not the decoder (their equality is checked before timing)."""
    feed = decoder.feed
    for data in reads:
        feed(data)


def text_lines(text: bytes) -> np.ndarray:
    """The hobbyist loop: readline on a buffered stream, split, int per value, one np.array."""
    stream = io.BufferedReader(io.BytesIO(text))
    rows = []
    while line := stream.readline():
        rows.append([int(v) for v in line.split(b",")])
    return np.array(rows, dtype=np.uint16)


def text_loadtxt(text: bytes) -> np.ndarray:
    """numpy's own CSV parser (C since numpy 1.23) on the whole buffer."""
    return np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.uint16, ndmin=2)


def median_cpu_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median CPU time of this process per run of each variant, the variants interleaved. CPU
    time, not wall time: the machine is shared, and waiting for a core is not decoding work."""
    # Each timed sample repeats a run until it lasts about 50 ms: a single run of a few
    # milliseconds is at the mercy of one scheduler tick on a shared machine.
    loops = {}
    for name, run in runs.items():
        start = time.process_time()
        run()
        loops[name] = max(1, round(MIN_SAMPLE_S / max(time.process_time() - start, 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            for _ in range(loops[name]):
                run()
            times[name].append((time.process_time() - start) / loops[name])
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="signal length per rate (default 20)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure; medians are shown")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 200, 1000], help="sample rates in Hz")
    args = parser.parse_args()

    print(f"decode benchmark: {CHANNELS} channels, {args.seconds:g} s of signal per rate, median CPU time of "
          f"{args.repeats} interleaved runs;\nPython {platform.python_version()}, numpy {np.__version__}, "
          f"project CRC-32 from {CRC32_IMPLEMENTATION}, hour's decoder zlib\n")
    head = (f"{'rate':>6} {'spf':>3} {'feed':>13} {'bytes/feed':>10} | {'project':>11} {'hour':>11} "
            f"{'ratio':>6} | {'target':>6}")
    print("binary: samples per CPU second, project against the hour's decoder (ratio = project speed / hour speed)")
    print(head)
    print("-" * len(head))
    text_rows = []
    for rate_hz in args.rates:
        spf = max(1, rate_hz // FRAME_RATE_HZ)
        n = int(args.seconds * rate_hz) // spf * spf
        raw = synthetic_raw(n, rate_hz)
        binary = binary_stream(raw, spf, rate_hz)
        feeds = [("bulk", cut(binary, BULK_FEED_BYTES), 3.0),
                 ("live 1 frame", cut_frames(binary, 1), 1.0),
                 ("live 3 frames", cut_frames(binary, 3), 1.0),
                 ("live 64 B", cut(binary, USB_PACKET_BYTES), 1.0),
                 ("live 10 ms", cut(binary, max(1, int(len(binary) / args.seconds * LIVE_READ_INTERVAL_S))), 1.0)]
        for label, reads, target in feeds:
            feed_bytes = round(len(binary) / len(reads))
            # Same output, or the comparison means nothing (the boot delimiter is the first byte,
            # so neither decoder skips a frame).
            (p_raw, p_meta), (h_raw, h_meta) = project_arrays(reads), hour_arrays(reads)
            assert np.array_equal(p_raw, raw) and np.array_equal(h_raw, raw) and np.array_equal(p_meta, h_meta)
            t = median_cpu_seconds({"project": lambda reads=reads: timed_feeds(StreamDecoder(), reads),
                                    "hour": lambda reads=reads: timed_feeds(HourDecoder(), reads)}, args.repeats)
            ratio = t["hour"] / t["project"]
            verdict = "ok" if ratio >= target else "MISS"
            print(f"{rate_hz:>4}Hz {spf:>3} {label:>13} {feed_bytes:>10} | {n / t['project']:>11,.0f} "
                  f"{n / t['hour']:>11,.0f} {ratio:>5.2f}x | {'>=':>2}{target:>3.1f}x {verdict}")
        text = text_stream(raw)
        assert np.array_equal(text_lines(text), raw) and np.array_equal(text_loadtxt(text), raw)
        reads = cut(binary, BULK_FEED_BYTES)
        t = median_cpu_seconds({"lines": lambda text=text: text_lines(text),
                                "loadtxt": lambda text=text: text_loadtxt(text),
                                "binary": lambda reads=reads: project_arrays(reads)}, args.repeats)
        text_rows.append((rate_hz, n, len(text) / n, len(binary) / n, t))

    print("\ntext CSV against the project's binary bulk decode (samples per CPU second)")
    head = (f"{'rate':>6} {'bytes/sample text':>17} {'binary':>6} | {'readline loop':>13} {'np.loadtxt':>11} "
            f"{'binary':>11} | {'binary/loadtxt':>14}")
    print(head)
    print("-" * len(head))
    for rate_hz, n, text_bps, bin_bps, t in text_rows:
        print(f"{rate_hz:>4}Hz {text_bps:>17.1f} {bin_bps:>6.1f} | {n / t['lines']:>13,.0f} {n / t['loadtxt']:>11,.0f} "
              f"{n / t['binary']:>11,.0f} | {t['loadtxt'] / t['binary']:>13.1f}x")
    print("\nlive share of one core to decode the glove's stream = rate x 20 ch / (samples per CPU second).")


if __name__ == "__main__":
    main()
