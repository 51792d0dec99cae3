"""Framing layer of docs/protocol.md section 1: ``COBS(payload || crc32_le(payload)) || 0x00``.

This module knows nothing about message types; it turns a payload into bytes for the wire
and one received chunk (the bytes between two delimiters) back into a payload, saying
precisely why a chunk was rejected.
"""

from __future__ import annotations

import enum
import struct

# The cobs package ships a C extension: cobs.encode/cobs.decode are builtins, not Python loops.
from cobs import cobs  # type: ignore[import-untyped]

try:
    # Same CRC-32 as zlib's, with SIMD: 4-5x faster on a 1000 Hz frame, which is a good part of
    # the decoder's time per frame (benchmarks/bench_decode.py). Optional: zlib gives equal results.
    from zlib_ng.zlib_ng import crc32, crc32_combine
    CRC32_IMPLEMENTATION = "zlib-ng"
except ImportError:  # pragma: no cover - depends on the environment
    from zlib import crc32
    crc32_combine = None  # the stdlib's zlib has no combine (the decoder then builds a buffer)
    CRC32_IMPLEMENTATION = "zlib"

PROTOCOL_VERSION = 1

DELIMITER = b"\x00"
CRC_SIZE = 4
MAX_PAYLOAD = 2048
MAX_COMMAND_PAYLOAD = 64
# COBS adds one byte per started 254-byte block; this is the longest chunk a valid frame makes.
MAX_ENCODED_FRAME = MAX_PAYLOAD + CRC_SIZE + -(-(MAX_PAYLOAD + CRC_SIZE) // 254)
# A run without a delimiter longer than this cannot be a frame (four times the longest one):
# the receiver drops it instead of buffering a noisy line forever.
MAX_UNDELIMITED_RUN = 8 * 1024

# CRC-32/ISO-HDLC (zlib.crc32) has a fixed residue: the CRC of any message followed by its own CRC
# (little-endian) is this constant. Checking it costs one crc32() over the decoded chunk and
# no slice copy to separate payload and CRC.
CRC32_RESIDUE = 0x2144DF1C

_CRC = struct.Struct("<I")


class CorruptReason(enum.StrEnum):
    """Why a received chunk was dropped (the keys of ``DecoderStats.corrupt_by_reason``)."""

    COBS = "cobs"                  # not valid COBS (a length code runs past the end)
    CRC = "crc"                    # CRC mismatch
    LENGTH = "length"              # too short/long for a frame, or wrong length for its type
    UNKNOWN_TYPE = "unknown_type"  # CRC fine, but the first byte is no known message type
    MALFORMED = "malformed"        # CRC and length fine, body invalid (bad JSON, field range)


class FrameError(ValueError):
    """A chunk or payload that is not a valid frame/message; ``reason`` says which check failed.

    ``field`` names the message field at fault when one is (``"glove_id"``, ``"t_us"``, ...), so
    a host can tell the user what is wrong with a device rather than only that something is.
    """

    def __init__(self, reason: CorruptReason, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


def encode_frame(payload: bytes) -> bytes:
    """Wire bytes for one payload: COBS of payload + CRC-32 (LE), then the 0x00 delimiter."""
    if not payload:
        raise ValueError("a frame payload needs at least its message type byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    return cobs.encode(payload + _CRC.pack(crc32(payload))) + DELIMITER


def decode_frame(frame: bytes) -> bytes:
    """Payload of one received frame (with or without its trailing 0x00).

    Raises :class:`FrameError` with reason ``cobs``, ``crc`` or ``length``.
    """
    chunk = bytes(frame)
    if chunk.endswith(DELIMITER):
        chunk = chunk[:-1]
    if DELIMITER in chunk:
        raise FrameError(CorruptReason.COBS, f"0x00 at offset {chunk.index(DELIMITER)} inside the frame")
    if not chunk:
        raise FrameError(CorruptReason.LENGTH, "empty frame")
    if len(chunk) > MAX_ENCODED_FRAME:
        raise FrameError(CorruptReason.LENGTH,
                         f"{len(chunk)} encoded bytes, more than a {MAX_PAYLOAD}-byte payload can make")
    try:
        decoded = cobs.decode(chunk)
    except cobs.DecodeError as exc:
        raise FrameError(CorruptReason.COBS, str(exc)) from None
    if len(decoded) <= CRC_SIZE:
        raise FrameError(CorruptReason.LENGTH,
                         f"{len(decoded)} decoded bytes: no room for a type byte and the CRC")
    if len(decoded) > MAX_PAYLOAD + CRC_SIZE:
        raise FrameError(CorruptReason.LENGTH,
                         f"payload of {len(decoded) - CRC_SIZE} bytes exceeds {MAX_PAYLOAD}")
    if crc32(decoded) != CRC32_RESIDUE:
        payload = decoded[:-CRC_SIZE]
        (sent,) = _CRC.unpack_from(decoded, len(payload))
        raise FrameError(CorruptReason.CRC,
                         f"CRC 0x{sent:08x} in frame, 0x{crc32(payload):08x} computed")
    return decoded[:-CRC_SIZE]
