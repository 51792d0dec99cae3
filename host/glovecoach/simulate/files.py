"""Simulated sessions on disk: `.gcrec` recordings, CSV + truth sidecar, `.gcsig` signal files."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from glovecoach.calibration.fsr_model import raw_to_force
from glovecoach.output_files import atomic_output
from glovecoach.recording import RecordingWriter
from glovecoach.simulate.sensors import channel_params
from glovecoach.simulate.session import SimulatedSession

SIGNAL_MAGIC = b"GCSIG1\n\0"
SIGNAL_HEADER = struct.Struct("<8sHHI")
SIMULATED_GLOVE_ID = "GC-SIM-0000"
_BLOCK_S = 10.0


def device_info(session: SimulatedSession) -> dict:
    """The HELLO a simulated glove would have sent."""
    from glovecoach import __version__

    return {
        "protocol": 1, "firmware": f"simulator {__version__}", "glove_id": SIMULATED_GLOVE_ID,
        "board": "simulator", "boot_id": 0, "rate_hz": session.rate_hz, "samples_per_frame": 1,
        "adc_bits": 12, "adc_max": 4095, "channels": list(session.channels), "streaming": True,
        "link_bytes_per_s": None, "tare": None,
    }


def write_recording(session: SimulatedSession, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """The session as a `.gcrec`; the ground truth goes in a NOTE of kind "ground_truth".

    Written whole under a temporary name and renamed into place (glovecoach.output_files):
    unlike a live recording, nothing is lost if it is interrupted, so no half file is kept."""
    path = Path(path)
    metadata = {"source": "simulator", "scenario": session.scenario, "seed": session.seed}
    with atomic_output(path, overwrite=overwrite) as temporary:
        writer = RecordingWriter(temporary, device_info=device_info(session), rate_hz=session.rate_hz,
                                 channels=session.channels, metadata=metadata, overwrite=True)
        with writer:
            writer.write_note("ground_truth", session.truth_dict())
            step = int(_BLOCK_S * session.rate_hz)
            for first in range(0, session.n_samples, step):
                writer.write_samples(first, session.raw[first:first + step])
    return path


def measured_newtons(session: SimulatedSession) -> np.ndarray:
    """What a nominally calibrated glove reads from the simulated counts (float32 newtons)."""
    out = np.empty(session.raw.shape, dtype=np.float32)
    for c, p in enumerate(channel_params(session.channels)):
        out[:, c] = raw_to_force(session.raw[:, c], p)
    return out


def truth_sidecar_path(csv_path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(csv_path)}.truth.json")


def write_csv(session: SimulatedSession, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """`time_s` + one newton column per channel (the nominal reading of the simulated counts,
    so sensor gain, noise and saturation show as they would from a real glove); the ground
    truth goes to `<path>.truth.json`. Both are written under temporary names and renamed into
    place once both are complete; `overwrite=False` refuses existing files."""
    path = Path(path)
    newtons = measured_newtons(session)
    time_s = np.arange(session.n_samples) / session.rate_hz
    table = np.column_stack([time_s, newtons.astype(np.float64)])
    header = ",".join(["time_s", *session.channels])
    fmt = ["%.4f"] + ["%.3f"] * len(session.channels)
    # The CSV is renamed into place last (the inner block's rename runs first), so a CSV
    # under its final name always has its truth next to it.
    with atomic_output(path, overwrite=overwrite) as csv_temporary, \
            atomic_output(truth_sidecar_path(path), overwrite=overwrite) as truth_temporary:
        np.savetxt(csv_temporary, table, fmt=fmt, delimiter=",", header=header, comments="")
        with open(truth_temporary, "w", encoding="utf-8") as fh:
            json.dump(session.truth_dict(), fh, indent=1)
    return path


def write_signal_file(session: SimulatedSession, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """The raw counts as a `.gcsig` (docs/architecture.md) for the virtual glove to play,
    written under a temporary name and renamed into place; `overwrite=False` refuses an
    existing file."""
    return write_signal_rows(session.raw, session.rate_hz, path, overwrite=overwrite)


def write_signal_rows(raw: np.ndarray, rate_hz: int, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Counts (n, channels) at rate_hz as a `.gcsig`: one device's stream (a station writes one
    per device), written as `write_signal_file` writes a session's."""
    path = Path(path)
    raw = np.asarray(raw)
    if raw.ndim != 2:
        raise ValueError(f"a .gcsig holds rows of counts (n, channels), got an array of shape {raw.shape}")
    if raw.size and (raw.min() < 0 or raw.max() > 0xFFFF):
        raise ValueError(f"counts must fit 16 bits, got {raw.min()}..{raw.max()}")
    n, n_ch = raw.shape
    if n >= 2**32 or n_ch >= 2**16 or not 0 < int(rate_hz) < 2**16:
        raise ValueError(f"session too large for a .gcsig: {n} samples x {n_ch} channels at {rate_hz} Hz")
    with atomic_output(path, overwrite=overwrite) as temporary, open(temporary, "wb") as fh:
        fh.write(SIGNAL_HEADER.pack(SIGNAL_MAGIC, n_ch, int(rate_hz), n))
        fh.write(np.ascontiguousarray(raw, dtype="<u2").tobytes())
    return path


def read_signal_file(path: str | os.PathLike[str]) -> tuple[int, np.ndarray]:
    """(rate_hz, raw (n, ch) uint16) of a `.gcsig`; ValueError naming the file if malformed."""
    data = Path(path).read_bytes()
    if len(data) < SIGNAL_HEADER.size:
        raise ValueError(f"{path}: too short for a .gcsig header ({len(data)} bytes)")
    magic, n_ch, rate, n = SIGNAL_HEADER.unpack_from(data)
    if magic != SIGNAL_MAGIC:
        raise ValueError(f"{path}: not a .gcsig file (magic {magic!r})")
    expected = SIGNAL_HEADER.size + 2 * n * n_ch
    if len(data) != expected:
        raise ValueError(f"{path}: header says {n} x {n_ch} samples ({expected} bytes), file has {len(data)}")
    raw = np.frombuffer(data, dtype="<u2", offset=SIGNAL_HEADER.size).reshape(n, n_ch)
    return rate, raw.astype(np.uint16)
