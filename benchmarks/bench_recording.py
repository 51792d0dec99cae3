"""Write and read a 15-minute 200 Hz x 20-channel session; compare with numpy's .npy and CSV.

    .venv/bin/python benchmarks/bench_recording.py [--minutes 15] [--repeats 5]

Writing feeds the writer one 4-sample wire frame at a time (with its frame-table row), as the
live link does, plus a STATUS a second. Figures are medians over the repeats; the baselines are
measured in the same run on the same array, so their ratios hold even on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from glovecoach.recording import FRAME_DTYPE, RecordingWriter, export_csv, open_recording
from glovecoach.recording.format import FILE_HEADER, SYNC, Kind, encode_record, encode_samples

RATE_HZ = 200
N_CHANNELS = 20
SAMPLES_PER_FRAME = 4


def make_session(minutes: float) -> tuple[np.ndarray, np.ndarray]:
    n = int(minutes * 60 * RATE_HZ) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 4096, size=(n, N_CHANNELS), dtype=np.uint16)
    frames = np.empty(n // SAMPLES_PER_FRAME, FRAME_DTYPE)
    frames["sample_index"] = np.arange(0, n, SAMPLES_PER_FRAME)
    frames["t_us"] = (frames["sample_index"] * 5000) & 0x3FFFFFFF
    frames["host_time"] = 1e9 + frames["sample_index"] / RATE_HZ
    return raw, frames


def write_gcrec(path: Path, raw: np.ndarray, frames: np.ndarray) -> float:
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    with RecordingWriter(path, device_info={"glove_id": "GC-BENCH"}, rate_hz=RATE_HZ,
                         channels=[f"c{k}" for k in range(N_CHANNELS)]) as writer:
        for k in range(len(frames)):
            first = k * SAMPLES_PER_FRAME
            writer.write_samples(first, raw[first: first + SAMPLES_PER_FRAME], frames[k: k + 1])
            if first % RATE_HZ == 0:
                writer.write_status(first / RATE_HZ, {"seq": k, "dropped_samples": 0})
    return time.perf_counter() - start


def write_one_record_per_frame(source: Path, path: Path, raw: np.ndarray, frames: np.ndarray) -> None:
    """The reader's worst case: no merging (as if the writer were flushed after every frame)."""
    data = source.read_bytes()
    session_end = data.index(SYNC, FILE_HEADER.size + 1)  # the first record after SESSION
    parts = [data[:session_end]]
    for k in range(len(frames)):
        first = k * SAMPLES_PER_FRAME
        payload = encode_samples(first, raw[first: first + SAMPLES_PER_FRAME], frames[k: k + 1])
        parts.append(encode_record(Kind.SAMPLES, payload))
    path.write_bytes(b"".join(parts))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    raw, frames = make_session(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        gcrec, npy, csv = tmp_dir / "s.gcrec", tmp_dir / "s.npy", tmp_dir / "s.csv"

        write_s = statistics.median(write_gcrec(gcrec, raw, frames) for _ in range(max(1, args.repeats // 2)))
        read_s = statistics.median(timed(lambda: open_recording(gcrec)) for _ in range(args.repeats))
        rec = open_recording(gcrec)
        assert np.array_equal(rec.raw, raw) and rec.lost_samples == 0, "round trip failed"

        per_frame = tmp_dir / "per_frame.gcrec"
        write_one_record_per_frame(gcrec, per_frame, raw, frames)
        per_frame_read_s = statistics.median(timed(lambda: open_recording(per_frame)) for _ in range(args.repeats))
        assert np.array_equal(open_recording(per_frame).raw, raw)

        npy_save_s = statistics.median(timed(lambda: np.save(npy, raw)) for _ in range(args.repeats))
        npy_load_s = statistics.median(timed(lambda: np.load(npy)) for _ in range(args.repeats))
        csv_s = timed(lambda: export_csv(rec, csv))
        csv_load_s = timed(lambda: np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64))

        mb = gcrec.stat().st_size / 1e6
        session_s = len(raw) / RATE_HZ
        print(f"session: {args.minutes:g} min, {len(raw)} samples x {N_CHANNELS} ch at {RATE_HZ} Hz, "
              f"{len(frames)} frames (median of {args.repeats} runs)")
        print(f"  .gcrec size      {mb:8.2f} MB   (.npy of raw alone {npy.stat().st_size / 1e6:.2f} MB, "
              f"CSV {csv.stat().st_size / 1e6:.2f} MB)")
        print(f"  .gcrec write     {write_s:8.3f} s    {len(raw) / write_s / 1e3:8.0f} k samples/s, "
              f"{mb / write_s:6.1f} MB/s, {session_s / write_s:6.0f}x real time "
              f"({write_s / len(frames) * 1e6:.1f} us per frame write)")
        print(f"  .gcrec load      {read_s:8.3f} s    ({mb / read_s:.0f} MB/s)")
        print(f"  worst-case load  {per_frame_read_s:8.3f} s    (one SAMPLES record per 4-sample frame, "
              f"{per_frame.stat().st_size / 1e6:.2f} MB)")
        print(f"  baseline np.save {npy_save_s:8.3f} s    np.load {npy_load_s:.3f} s   "
              f"-> .gcrec load / np.load = {read_s / npy_load_s:.1f}x")
        print(f"  CSV export       {csv_s:8.3f} s    np.loadtxt of it {csv_load_s:.3f} s   "
              f"-> np.loadtxt / .gcrec load = {csv_load_s / read_s:.0f}x")


if __name__ == "__main__":
    main()
