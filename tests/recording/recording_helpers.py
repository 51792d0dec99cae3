"""Helpers shared by the recording tests: deterministic sample data and real files on disk.

Imported by module name from the tests; the name is unique so it cannot clash with other suites.
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np

from glovecoach.recording import FRAME_DTYPE, RecordingWriter

CHANNELS = tuple(f"ch{k:02d}" for k in range(20))
HELLO = {
    "protocol": 1, "firmware": "0.1.0", "glove_id": "GC-TEST-0007", "board": "unix-sim",
    "boot_id": 123456789, "rate_hz": 200, "samples_per_frame": 4, "adc_bits": 12, "adc_max": 4095,
    "channels": list(CHANNELS), "streaming": True, "link_bytes_per_s": None, "tare": None,
}


def pattern(first_index: int, n: int, n_channels: int = len(CHANNELS)) -> np.ndarray:
    """Raw rows whose value identifies (index, channel), so any misplaced row is detected."""
    index = np.arange(first_index, first_index + n, dtype=np.int64)[:, None]
    channel = np.arange(n_channels, dtype=np.int64)[None, :]
    return ((index * 7 + channel * 131) % 4096).astype(np.uint16)


def frames_for(first_index: int, n: int, per_frame: int = 4, rate_hz: int = 200) -> np.ndarray:
    starts = np.arange(first_index, first_index + n, per_frame, dtype=np.int64)
    frames = np.empty(len(starts), dtype=FRAME_DTYPE)
    frames["sample_index"] = starts
    frames["t_us"] = (starts * (1_000_000 // rate_hz)) & 0x3FFFFFFF
    frames["host_time"] = 1000.0 + starts / rate_hz + 0.003
    return frames


def write_session(path: Path, blocks: list[tuple[int, int]], *, flush_each: bool = False) -> Path:
    """A closed recording holding `pattern` rows for each (first_index, n) block."""
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
        for first, n in blocks:
            writer.write_samples(first, pattern(first, n), frames_for(first, n))
            if flush_each:
                writer.flush()  # seals the block into its own SAMPLES record
    return path


class FillingDisk:
    """A writer's raw file on a disk with ``room`` bytes left: ENOSPC after that, as os.write
    raises it (the physical edge; put in place of a writer's ``_file``)."""

    def __init__(self, raw, room: int) -> None:
        self._raw, self.room = raw, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self._raw.write(memoryview(data)[: self.room])
        self.room -= n
        return n

    def __getattr__(self, name: str):
        return getattr(self._raw, name)
