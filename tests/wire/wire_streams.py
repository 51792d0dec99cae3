"""Stream builders and normalisers shared by the wire tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from glovecoach.wire import (
    Ack,
    ErrorReply,
    Hello,
    Log,
    SampleBatch,
    Status,
    encode_samples,
)


@dataclass(frozen=True)
class SentFrame:
    """A SAMPLES frame as the device sent it."""

    seq: int
    sample_index: int
    t_us: int
    flags: int
    raw: np.ndarray
    wire: bytes


def sample_frames(rng: np.random.Generator, count: int, *, channels: int = 20, max_samples: int = 4,
                  first_seq: int = 0, first_index: int = 0, skip_prob: float = 0.0,
                  start_flag: bool = True) -> list[SentFrame]:
    """``count`` consecutive frames of one stream; with ``skip_prob`` the device skips grid slots."""
    frames = []
    index = first_index
    for k in range(count):
        n = int(rng.integers(1, max_samples + 1))
        raw = rng.integers(0, 4096, size=(n, channels), dtype=np.uint16)
        raw[rng.random(raw.shape) < 0.2] = 0  # plenty of 0x00 bytes for COBS to remove
        flags = 1 if (k == 0 and start_flag) else 0
        t_us = (index * 5000 + 777) & 0x3FFFFFFF
        frames.append(SentFrame(first_seq + k, index, t_us, flags, raw,
                                encode_samples(first_seq + k, index, t_us, raw, flags)))
        index += n
        if skip_prob and rng.random() < skip_prob:
            index += int(rng.integers(1, 5))
    return frames


def frame_records(items: list[Any]) -> list[tuple]:
    """Decoder output with sample batches split back into frames: independent of how frames
    were grouped into batches, so outputs of different chunkings compare equal."""
    records: list[tuple] = []
    for item in items:
        if isinstance(item, SampleBatch):
            rows = item.frame_rows
            for f in range(item.n_frames):
                block = item.raw[rows[f]:rows[f] + item.n_per_frame[f]]
                records.append(("SAMPLES", int(item.seq[f]), int(item.sample_index[f]), int(item.t_us[f]),
                                int(item.flags[f]), block.shape, block.tobytes()))
        else:
            records.append(("MESSAGE", item))
    return records


def sent_records(frames: list[SentFrame]) -> list[tuple]:
    return [("SAMPLES", f.seq, f.sample_index, f.t_us, f.flags, f.raw.shape, f.raw.tobytes()) for f in frames]


def golden_fields(item: Any) -> dict[str, Any]:
    """A decoded message in the shape of the ``fields`` of tests/golden/frames.json."""
    if isinstance(item, SampleBatch):
        assert item.n_frames == 1, f"a golden vector is one frame, got {item!r}"
        return {"type": "SAMPLES", "n_samples": int(item.n_per_frame[0]), "n_channels": item.n_channels,
                "flags": int(item.flags[0]), "seq": int(item.seq[0]), "sample_index": int(item.sample_index[0]),
                "t_us": int(item.t_us[0]), "raw": item.raw.tolist()}
    if isinstance(item, Status):
        return {"type": "STATUS", **{k: getattr(item, k) for k in (
            "flags", "rate_hz", "t_us", "boot_id", "seq", "dropped_samples", "saturated_mask", "open_mask",
            "loop_max_us")}}
    if isinstance(item, Hello):
        return {"type": "HELLO", "protocol_version": item.protocol_version, "info": item.info}
    if isinstance(item, Ack):
        return {"type": "ACK", "token": item.token, "command": int(item.command), "detail": item.detail}
    if isinstance(item, ErrorReply):
        return {"type": "ERROR", "token": item.token, "command": int(item.command), "code": int(item.code),
                "message": item.message}
    if isinstance(item, Log):
        return {"type": "LOG", "level": int(item.level), "message": item.message}
    raise TypeError(f"unexpected item {item!r}")
