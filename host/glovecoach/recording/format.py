"""The `.gcrec` byte layout, shared by the writer and the reader (see docs/recording-format.md).

A file is a 16-byte header followed by self-delimiting records:

    file header   magic(8) | format_version u16 | header_size u16 (=16) | reserved u32 (=0)
    record        sync(4) | kind u8 | flags u8 | stream u16 | length u32 | header_crc u32
                  | payload (length bytes) | payload_crc u32

Version 1 (one device) writes stream 0 in every record. Version 2 (a station of several
devices) uses it: stream 0 is the station, stream k >= 1 the k-th device of the station layout.

`header_crc` covers the first 12 bytes of the record header. It is what lets the reader tell a
torn tail (valid header, payload cut off by the end of the file) from a corrupt length field,
and lets it skip a record whose payload is damaged without scanning byte by byte.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import struct
import zlib
from typing import Any

import numpy as np

# PNG-style magic: the high-bit first byte catches 7-bit transfers, CR LF and LF catch
# line-ending conversion, 0x1A stops `type` on Windows from dumping binary to the console.
MAGIC = b"\x89GCREC\r\n"
FORMAT_VERSION = 1           # one device: what RecordingWriter writes
STATION_FORMAT_VERSION = 2   # a station's devices, each its own stream: StationRecordingWriter
READABLE_VERSIONS = (FORMAT_VERSION, STATION_FORMAT_VERSION)
FILE_HEADER = struct.Struct("<8sHHI")
assert FILE_HEADER.size == 16

# Cannot occur inside 12-bit ADC data at any byte alignment (each u16 it would span is > 4095),
# so a resync scan does not stop inside sample blocks.
SYNC = b"\xa7GCr"
RECORD_HEADER = struct.Struct("<4sBBHII")  # sync, kind, flags, stream, length, header_crc
RECORD_HEADER_SIZE = RECORD_HEADER.size
assert RECORD_HEADER_SIZE == 16
RECORD_TRAILER_SIZE = 4  # payload crc32
MAX_RECORD_PAYLOAD = 1 << 30  # a sanity bound: a bigger length can only be corruption

# What the reader accepts as physically meaningful (a value outside these is damage or a
# foreign writer, never a session): the firmware samples at 50-1000 Hz, so 10 kHz leaves room
# for other hardware; a session is minutes long, so 24 hours of indices is far beyond any real
# one while keeping an array of the whole timeline allocatable.
MAX_RATE_HZ = 10_000
MAX_CHANNELS = 256
MAX_CHANNEL_ID_CHARS = 64
MAX_SESSION_S = 24 * 3600
MAX_STREAMS = 64  # devices in one station recording (a station has three)

STATION_ORIGIN_NOTE = "station_origin"
"""The station NOTE holding `{"host_s": ...}`: the host time of station index 0."""
MARK_NOTE = "mark"
"""A station NOTE: the classroom instructor marked a moment (`{"at_s", "text", "host_time"}`)."""
INSTRUCTOR_MESSAGE_NOTE = "instructor_message"
"""A station NOTE: the classroom instructor's message to the station (`{"text", "host_time"}`)."""
T_US_MODULUS = 1 << 30  # the wire's t_us is 30 bits (docs/protocol.md section 2)


class Kind(enum.IntEnum):
    SESSION = 1
    SAMPLES = 2
    GAP = 3
    STATUS = 4
    NOTE = 5
    END = 6
    HELLO = 7  # version 2, a device's stream: the device's HELLO, whenever it (re)connects


# SAMPLES payload: this header, then n_samples*n_channels u16 LE (sample-major),
# then n_frames entries of FRAME_DTYPE.
SAMPLES_HEADER = struct.Struct("<qIHHI")  # first_index, n_samples, n_channels, reserved, n_frames
assert SAMPLES_HEADER.size == 20

FRAME_DTYPE = np.dtype([("sample_index", "<i8"), ("t_us", "<u4"), ("host_time", "<f8")])
"""One row per received wire frame: the session index of its first sample, the device's
30-bit `t_us` stamp, and the host's receive time (seconds, the caller's clock)."""
assert FRAME_DTYPE.itemsize == 20
RAW_DTYPE = np.dtype("<u2")


class RecordingError(Exception):
    """A file that cannot be read as a recording (names the file and what is wrong)."""


def file_header(version: int = FORMAT_VERSION) -> bytes:
    return FILE_HEADER.pack(MAGIC, version, FILE_HEADER.size, 0)


def encode_record(kind: int, payload: bytes | bytearray | memoryview, stream: int = 0) -> bytes:
    head = struct.pack("<4sBBHI", SYNC, kind, 0, stream, len(payload))
    return b"".join((
        head,
        struct.pack("<I", zlib.crc32(head)),
        payload,
        struct.pack("<I", zlib.crc32(payload)),
    ))


def _json_default(value: Any) -> Any:
    # Status and note dicts come from other modules and may hold numpy scalars/arrays or
    # dataclasses; store them as plain JSON rather than failing mid-session.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a recording: {value!r}")


def encode_json(obj: Any, nonfinite_to_null: bool = False) -> bytes:
    """Compact JSON. The reader refuses NaN and infinities (JSON has none), so by default a
    non-finite float is a ValueError now rather than a record skipped later. Free-form payloads
    (device STATUS, app notes) pass `nonfinite_to_null`: a non-finite float there is stored as
    null, as JavaScript's JSON.stringify does, so a NaN statistic cannot lose a whole note."""
    if not nonfinite_to_null:
        return json.dumps(obj, default=_json_default, separators=(",", ":"), allow_nan=False).encode()
    text = json.dumps(obj, default=_json_default, separators=(",", ":"))
    if "NaN" in text or "Infinity" in text:
        # Bare NaN/Infinity tokens only occur as numbers; a round trip turns them into null.
        text = json.dumps(json.loads(text, parse_constant=lambda _name: None), separators=(",", ":"))
    return text.encode()


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range for a float")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a recording may hold")


def decode_json(payload: bytes | bytearray | memoryview) -> Any:
    """A record's JSON payload. Refuses NaN, Infinity and numbers that overflow to infinity
    (1e400), which Python's json accepts; raises ValueError for anything unreadable, including
    nesting too deep for the parser (which would otherwise surface as RecursionError)."""
    try:
        return json.loads(bytes(payload), parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def encode_samples(first_index: int, raw: np.ndarray, frames: np.ndarray) -> bytes:
    n, ch = raw.shape
    return b"".join((
        SAMPLES_HEADER.pack(first_index, n, ch, 0, len(frames)),
        np.ascontiguousarray(raw, dtype=RAW_DTYPE).tobytes(),
        np.ascontiguousarray(frames, dtype=FRAME_DTYPE).tobytes(),
    ))
