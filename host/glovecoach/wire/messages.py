"""Messages of docs/protocol.md section 3: types, payload layouts, encoders and decoders.

Both directions live here. The host uses ``encode_command`` and ``decode_message``; the
device-side encoders (``encode_samples``, ``encode_status``, ``encode_hello`` ...) serve the
in-process replay device and the tests, and ``decode_command`` is what such a device parses.
Every ``encode_*`` returns complete wire bytes (framed, delimiter included).
"""

from __future__ import annotations

import enum
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.wire.frames import (
    MAX_COMMAND_PAYLOAD,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    CorruptReason,
    FrameError,
    encode_frame,
)


class MessageType(enum.IntEnum):
    """Device-to-host message types (first payload byte)."""

    HELLO = 0x01
    ACK = 0x02
    ERROR = 0x03
    STATUS = 0x04
    LOG = 0x05
    SAMPLES = 0x10


class Command(enum.IntEnum):
    """Host-to-device command types (first payload byte)."""

    START = 0x81
    STOP = 0x82
    SET_RATE = 0x83
    TARE = 0x84
    PING = 0x85
    INFO = 0x86
    MAINTENANCE = 0x87
    NET_CONFIG = 0x88


class ErrorCode(enum.IntEnum):
    BAD_FRAME = 1
    UNKNOWN_COMMAND = 2
    BAD_ARGUMENT = 3
    BUSY = 4
    NOT_ALLOWED = 5


class LogLevel(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


STATUS_STREAMING = 0x01
STATUS_TARE_RUNNING = 0x02
SAMPLES_FIRST_AFTER_START = 0x01
# The largest n_samples the host accepts in a SAMPLES frame (and in HELLO/ACK
# samples_per_frame): the protocol's limit (docs/protocol.md section 4), not what a glove
# sends. Firmware v0.1 sends at most 32 (firmware/glove/frames.py MAX_SAMPLES_SENT_PER_FRAME,
# 20 at 1000 Hz); the headroom lets a firmware grow its frames without a host release.
MAX_SAMPLES_ACCEPTED_PER_FRAME = 64
MAX_CHANNELS = 32
# The token of an ERROR BAD_FRAME about a command whose token could not be read (bad COBS or
# CRC, too short). The firmware's name for it is the same (firmware/glove/commands.py).
UNKNOWN_TOKEN = 0xFFFF
T_US_MAX = (1 << 30) - 1  # device stamps are 30-bit (docs/protocol.md section 2)
MAX_TEXT_FIELD = 64       # longest glove id, firmware version or channel id a HELLO may carry
MAX_JSON_DEPTH = 8         # HELLO and ACK bodies are flat objects with lists; deeper is not a glove

SAMPLES_HEADER = struct.Struct("<BBBBIII")  # type, n_samples, n_channels, flags, seq, sample_index, t_us
STATUS_LAYOUT = struct.Struct("<BBHIIIIIII")
# STATUS with the battery and WiFi signal after loop_max_us: battery_mv u16 (0xFFFF unknown),
# rssi_dbm i8 (-128 unknown), one reserved byte. A device sends it only when it knows one of
# them; bytes after these 36 are ignored, so a later firmware may add fields (docs/protocol.md).
STATUS_EXT_LAYOUT = struct.Struct("<BBHIIIIIIIHbB")
BATTERY_MV_UNKNOWN = 0xFFFF
RSSI_UNKNOWN = -128
# NET_CONFIG carries a JSON object (SSID, WPA2 passphrase, broker, and for TLS the broker
# CA's PEM certificate): longer than the other commands' 64 bytes, so it has a limit of its
# own (the firmware's receiver holds this much; firmware/glove/commands.py).
MAX_NET_CONFIG_PAYLOAD = 2048
_REPLY_HEADER = struct.Struct("<BHB")       # type, token, command (ACK and ERROR)
_COMMAND_HEADER = struct.Struct("<BH")      # command, token

# Each command's arguments in payload order: (name, struct format). docs/protocol.md 3.2.
COMMAND_ARGUMENTS: dict[Command, tuple[tuple[str, str], ...]] = {
    Command.START: (),
    Command.STOP: (),
    Command.SET_RATE: (("rate_hz", "H"),),
    Command.TARE: (("n", "H"),),
    Command.PING: (("nonce", "I"),),
    Command.INFO: (),
    Command.MAINTENANCE: (),
}
# Commands whose argument is a JSON object rather than fixed fields: (argument name).
JSON_COMMANDS: dict[Command, str] = {Command.NET_CONFIG: "config"}
_ARG_STRUCTS = {c: struct.Struct("<" + "".join(f for _, f in args)) for c, args in COMMAND_ARGUMENTS.items()}
_LIMITS = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}


def samples_per_frame(rate_hz: int) -> int:
    """Samples in each SAMPLES frame at ``rate_hz``: ``clamp(rate_hz // 50, 1, 32)`` (docs/protocol.md 3.1)."""
    return max(1, min(32, rate_hz // 50))


def _enum_or_int(enum_type: type[enum.IntEnum], value: int) -> Any:
    """The enum member for a known value; the plain int for one a newer peer may send."""
    try:
        return enum_type(value)
    except ValueError:
        return value


def _json_body(obj: dict[str, Any]) -> bytes:
    # The firmware's json.dumps writes ", " and ": "; matching it keeps golden vectors byte-exact.
    return json.dumps(obj, separators=(", ", ": ")).encode()


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON and not values a device may send.
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _parse_json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        # [[[[...]]]] a thousand deep: the C scanner recurses once per level. The payload limit
        # (2048 bytes) keeps this cheap, but it must be a malformed message, not a crash.
        raise FrameError(CorruptReason.MALFORMED, f"{what} body is JSON nested too deeply", field=what) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(CorruptReason.MALFORMED, f"{what} body is not UTF-8 JSON: {exc}", field=what) from None
    if not isinstance(obj, dict):
        raise FrameError(CorruptReason.MALFORMED, f"{what} body is JSON {type(obj).__name__}, not an object",
                         field=what)
    _check_depth(obj, what)
    return obj


def _check_depth(obj: Any, what: str) -> None:
    """Reject JSON nested deeper than MAX_JSON_DEPTH (walked without recursion).

    json.loads parses a few hundred levels, but whatever later walks the value recursively
    (json.dumps into a recording note, a UI tree) would then fail far from the device that sent it.
    """
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise FrameError(CorruptReason.MALFORMED, f"{what} body is JSON nested deeper than {MAX_JSON_DEPTH}",
                             field=what)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _check_uint(name: str, value: int, fmt: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= _LIMITS[fmt]:
        raise ValueError(f"{name}={value} outside 0..{_LIMITS[fmt]}")
    return int(value)


def shorten(value: Any, limit: int = 40) -> str:
    """``repr`` of a device-supplied value, cut to ``limit`` characters: safe to print (control
    characters escaped) and short enough for one line whatever the device sent."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} long)" if isinstance(value, (str, list, dict)) else ""
    return text[:limit - 3] + "..." + size


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bad_field(what: str, key: str, problem: str) -> FrameError:
    return FrameError(CorruptReason.MALFORMED, f"{what} {key}: {problem}", field=key)


def _check_text(what: str, key: str, value: Any, limit: int = MAX_TEXT_FIELD) -> None:
    if not isinstance(value, str):
        raise _bad_field(what, key, f"must be a string, got {_kind(value)} {shorten(value)}")
    if not 1 <= len(value) <= limit:
        raise _bad_field(what, key, f"must be 1..{limit} characters, got {len(value)}: {shorten(value)}")
    if not value.isprintable():
        raise _bad_field(what, key, f"contains control characters: {shorten(value)}")


def _check_int(what: str, key: str, value: Any, low: int, high: int) -> None:
    # bool is an int in Python; true/false in JSON is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_field(what, key, f"must be an integer, got {_kind(value)} {shorten(value)}")
    if not low <= value <= high:
        raise _bad_field(what, key, f"must be {low}..{high}, got {shorten(value)}")


def _check_hello(info: dict[str, Any]) -> None:
    """Types and ranges of the HELLO keys docs/protocol.md defines, where present.

    Presence is the receiver's business (the host needs ``glove_id``, ``boot_id`` and
    ``channels``; a test device may send less); a key that is there must be valid, because the
    host computes with these values and shows them.
    """
    what = "HELLO"
    for key, low, high in (("protocol", 0, 0xFF), ("boot_id", 0, 0xFFFFFFFF), ("rate_hz", 1, 0xFFFF),
                           ("samples_per_frame", 1, MAX_SAMPLES_ACCEPTED_PER_FRAME), ("adc_bits", 1, 16),
                           ("adc_max", 1, 0xFFFF)):
        if key in info:
            _check_int(what, key, info[key], low, high)
    for key, limit in (("glove_id", MAX_TEXT_FIELD), ("firmware", MAX_TEXT_FIELD), ("board", 32),
                       ("role", 32)):
        if key in info:
            _check_text(what, key, info[key], limit)
    if info.get("hand") not in (None, "left", "right"):
        raise _bad_field(what, "hand", f"must be \"left\", \"right\" or null, got {shorten(info['hand'])}")
    if "streaming" in info and not isinstance(info["streaming"], bool):
        raise _bad_field(what, "streaming", f"must be true or false, got {shorten(info['streaming'])}")
    if "wifi" in info:
        wifi = info["wifi"]
        if not isinstance(wifi, dict) or not isinstance(wifi.get("configured"), bool):
            raise _bad_field(what, "wifi", f"must be an object with configured true/false, got {shorten(wifi)}")
        ssid = wifi.get("ssid")
        if ssid is not None and (not isinstance(ssid, str) or not 1 <= len(ssid.encode()) <= 32):
            raise _bad_field(what, "wifi.ssid", f"must be null or 1..32 bytes of text, got {shorten(ssid)}")
    if info.get("link_bytes_per_s") is not None:
        _check_int(what, "link_bytes_per_s", info["link_bytes_per_s"], 1, 0x7FFFFFFF)
    channels = info.get("channels")
    if "channels" in info:
        if not isinstance(channels, list):
            raise _bad_field(what, "channels", f"must be a list of channel ids, got {_kind(channels)}")
        if not 1 <= len(channels) <= MAX_CHANNELS:
            raise _bad_field(what, "channels", f"must list 1..{MAX_CHANNELS} channels, got {len(channels)}")
        for k, channel in enumerate(channels):
            _check_text(what, f"channels[{k}]", channel)
        if len(set(channels)) != len(channels):
            twice = sorted({c for c in channels if channels.count(c) > 1})
            raise _bad_field(what, "channels", f"repeats {shorten(twice)}")
    tare = info.get("tare")
    if tare is not None:
        if not isinstance(tare, list):
            raise _bad_field(what, "tare", f"must be a list of raw offsets or null, got {_kind(tare)}")
        if isinstance(channels, list) and len(tare) != len(channels):
            raise _bad_field(what, "tare", f"has {len(tare)} offsets for {len(channels)} channels")
        for k, offset in enumerate(tare):
            _check_int(what, f"tare[{k}]", offset, 0, 0xFFFF)


# --------------------------------------------------------------------------- messages


class MessageError(KeyError):
    """A message lacks a field the caller asked for (e.g. a HELLO without ``glove_id``)."""

    def __str__(self) -> str:  # KeyError would print the repr of the text
        return str(self.args[0])


@dataclass(frozen=True)
class Hello:
    protocol_version: int
    info: dict[str, Any]

    def _require(self, key: str) -> Any:
        try:
            return self.info[key]
        except KeyError:
            raise MessageError(f"HELLO has no {key!r} (keys: {', '.join(self.info) or 'none'})") from None

    @property
    def glove_id(self) -> str:
        return str(self._require("glove_id"))

    @property
    def boot_id(self) -> int:
        return int(self._require("boot_id"))

    @property
    def firmware(self) -> str:
        return str(self._require("firmware"))

    @property
    def board(self) -> str:
        return str(self._require("board"))

    @property
    def rate_hz(self) -> int:
        return int(self._require("rate_hz"))

    @property
    def samples_per_frame(self) -> int:
        return int(self._require("samples_per_frame"))

    @property
    def adc_bits(self) -> int:
        return int(self._require("adc_bits"))

    @property
    def adc_max(self) -> int:
        return int(self._require("adc_max"))

    @property
    def channels(self) -> list[str]:
        return list(self._require("channels"))

    @property
    def streaming(self) -> bool:
        return bool(self._require("streaming"))

    @property
    def link_bytes_per_s(self) -> int | None:
        """Usable link capacity the firmware assumes; None for native USB (not limiting)."""
        return self.info.get("link_bytes_per_s")

    @property
    def tare(self) -> list[int] | None:
        return self.info.get("tare")

    @property
    def wifi_configured(self) -> bool:
        """Whether WiFi credentials are stored on the device (``glovecoach provision``).
        Firmware from before provisioning does not say: False."""
        wifi = self.info.get("wifi")
        return bool(isinstance(wifi, dict) and wifi.get("configured"))

    @property
    def wifi_ssid(self) -> str | None:
        """The provisioned network's SSID (never its password: the device does not send it)."""
        wifi = self.info.get("wifi")
        ssid = wifi.get("ssid") if isinstance(wifi, dict) else None
        return ssid if isinstance(ssid, str) else None

    @property
    def announces_role(self) -> bool:
        """Whether the firmware knows roles (HELLO from before them has no "role")."""
        return "role" in self.info

    @property
    def role(self) -> str:
        """The device's role: kit, right_glove, left_glove or spine_strip (the sensor map's
        "roles"). Firmware from before roles was always the one-board kit."""
        role = self.info.get("role", "kit")
        if not isinstance(role, str) or not role:
            raise MessageError(f"HELLO role must be a non-empty string, got {role!r}")
        return role

    @property
    def hand(self) -> str | None:
        """"left", "right", or None for a device no hand wears (the spine strip). Firmware
        from before roles was the kit, a right glove."""
        if "role" not in self.info:
            return "right"
        hand = self.info.get("hand")
        if hand not in (None, "left", "right"):
            raise MessageError(f"HELLO hand must be \"left\", \"right\" or null, got {hand!r}")
        return hand


@dataclass(frozen=True)
class Ack:
    token: int
    command: Command | int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorReply:
    token: int
    command: Command | int
    code: ErrorCode | int
    message: str


@dataclass(frozen=True)
class Status:
    flags: int
    rate_hz: int
    t_us: int
    boot_id: int
    seq: int
    dropped_samples: int
    saturated_mask: int
    open_mask: int
    loop_max_us: int
    # Battery voltage (V) and WiFi signal (dBm); None when the device did not measure them:
    # a 32-byte STATUS (older firmware, the USB-powered kit, a glove on USB only).
    battery_v: float | None = None
    rssi_dbm: int | None = None

    @property
    def streaming(self) -> bool:
        return bool(self.flags & STATUS_STREAMING)

    @property
    def tare_running(self) -> bool:
        return bool(self.flags & STATUS_TARE_RUNNING)

    @property
    def saturated_channels(self) -> list[int]:
        """Indices of channels that reached ``saturated_at`` during the last second."""
        return _mask_bits(self.saturated_mask)

    @property
    def open_channels(self) -> list[int]:
        """Indices of channels that stayed below ``open_below`` all last second (broken lead)."""
        return _mask_bits(self.open_mask)


def _mask_bits(mask: int) -> list[int]:
    return [i for i in range(MAX_CHANNELS) if mask >> i & 1]


@dataclass(frozen=True)
class Log:
    level: LogLevel | int
    message: str


# A lazily built batch's per-frame fields become arrays through one record per frame, 16 bytes
# in native byte order, so that the five arrays are field views of one array (one array
# construction, not five) and plain uint32/uint16/uint8 arrays, as an eagerly built batch has.
_FRAME_RECORD_DTYPE = np.dtype([("seq", np.uint32), ("sample_index", np.uint32), ("t_us", np.uint32),
                                ("n", np.uint16), ("flags", np.uint8), ("pad", np.uint8)])
_pack_frame_record = struct.Struct("=IIIHBx").pack
_PER_FRAME = frozenset(("seq", "sample_index", "t_us", "n_per_frame", "flags"))


class SampleBatch:
    """One or more consecutive SAMPLES frames with the same channel count.

    ``raw`` holds every sample row of every frame in arrival order; the per-frame arrays say
    which rows came from which frame (frame *f* owns ``n_per_frame[f]`` rows starting at
    ``frame_rows[f]``). ``first`` is frame 0's ``(seq, sample_index, t_us, n, flags)`` as ints
    (None for a batch without frames).

    The decoder builds the batches of live reads with :meth:`from_fields`: the per-frame fields
    stay the ints it read from the headers, and the five arrays are made when one of them is
    first read. A serial reader gets one frame per read, and five small arrays cost more than
    the rest of decoding that frame; a consumer that needs only ``first`` (the continuity check
    and the timeline, on a one-frame batch) never pays for them. Whenever they are read, the
    arrays have the dtypes and values of an eagerly built batch. Treat them as read-only:
    ``first`` is read from them once and kept.
    """

    # Slots rather than a dataclass with properties: an unset slot is what makes a field lazy
    # (``__getattr__`` runs only then), so a field that is set is read as a plain attribute.
    __slots__ = ("_fields", "first", "flags", "n_frames", "n_per_frame", "raw", "sample_index", "seq", "t_us")

    raw: np.ndarray          # (n, ch) uint16
    seq: np.ndarray          # (frames,) uint32
    sample_index: np.ndarray  # (frames,) uint32: device grid slot of each frame's first row
    t_us: np.ndarray         # (frames,) uint32, 30-bit device clock at each frame's first row
    n_per_frame: np.ndarray  # (frames,) uint16
    flags: np.ndarray        # (frames,) uint8
    n_frames: int
    first: tuple[int, int, int, int, int] | None
    _fields: list[tuple[int, int, int, int, int]]  # until the arrays are built; [first] if unset

    def __init__(self, raw: np.ndarray, seq: np.ndarray, sample_index: np.ndarray, t_us: np.ndarray,
                 n_per_frame: np.ndarray, flags: np.ndarray) -> None:
        self.raw = raw
        self.seq = seq
        self.sample_index = sample_index
        self.t_us = t_us
        self.n_per_frame = n_per_frame
        self.flags = flags
        self.n_frames = int(seq.shape[0])

    @classmethod
    def from_fields(cls, raw: np.ndarray, fields: list[tuple[int, int, int, int, int]]) -> SampleBatch:
        """A batch from its (n, ch) uint16 samples and each frame's ``(seq, sample_index, t_us,
        n, flags)`` as ints; the per-frame arrays are made only if read."""
        if not fields:
            raise ValueError("from_fields needs at least one frame (an empty batch: use the constructor)")
        rows = sum(f[3] for f in fields)
        if rows != raw.shape[0]:
            raise ValueError(f"frames of {rows} samples in all, but raw has {raw.shape[0]} rows")
        batch = object.__new__(cls)
        batch.raw = raw
        batch.n_frames = len(fields)
        batch.first = fields[0]
        batch._fields = fields
        return batch

    def __getattr__(self, name: str) -> Any:
        # Python calls this only when a slot is unset: a lazy batch's field read for the first time.
        if name in _PER_FRAME:
            try:
                fields = object.__getattribute__(self, "_fields")
            except AttributeError:  # the decoder's one-frame batch sets only ``first``
                fields = [object.__getattribute__(self, "first")]
            records = b"".join([_pack_frame_record(*f) for f in fields])
            table = np.frombuffer(bytearray(records), _FRAME_RECORD_DTYPE)  # writable, as eager fields are
            self.seq, self.sample_index, self.t_us = table["seq"], table["sample_index"], table["t_us"]
            self.n_per_frame, self.flags = table["n"], table["flags"]
            return object.__getattribute__(self, name)
        if name == "first":  # an eagerly built batch: from its arrays
            first = ((int(self.seq[0]), int(self.sample_index[0]), int(self.t_us[0]), int(self.n_per_frame[0]),
                      int(self.flags[0])) if self.n_frames else None)
            self.first = first
            return first
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def n_samples(self) -> int:
        return int(self.raw.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.raw.shape[1])

    @property
    def frame_rows(self) -> np.ndarray:
        """Row of ``raw`` where each frame starts (int64)."""
        rows = np.zeros(self.n_frames, dtype=np.int64)
        np.cumsum(self.n_per_frame[:-1], out=rows[1:])
        return rows

    def row_sample_indices(self) -> np.ndarray:
        """Device grid slot of every row of ``raw`` (int64), vectorised over frames."""
        starts = self.sample_index.astype(np.int64) - self.frame_rows
        return np.repeat(starts, self.n_per_frame) + np.arange(self.n_samples, dtype=np.int64)

    def frames(self, start: int, stop: int) -> SampleBatch:
        """The frames ``start:stop`` as their own batch (views, no copy of ``raw``)."""
        rows = self.frame_rows
        first = int(rows[start]) if start < self.n_frames else self.n_samples
        last = int(rows[stop]) if stop < self.n_frames else self.n_samples
        return SampleBatch(self.raw[first:last], self.seq[start:stop], self.sample_index[start:stop],
                           self.t_us[start:stop], self.n_per_frame[start:stop], self.flags[start:stop])

    def select(self, keep: np.ndarray) -> SampleBatch:
        """The frames where ``keep`` (bool, one per frame) is true, in order, as their own batch."""
        keep = np.asarray(keep, dtype=bool)
        rows = np.repeat(keep, self.n_per_frame)
        return SampleBatch(self.raw[rows], self.seq[keep], self.sample_index[keep], self.t_us[keep],
                           self.n_per_frame[keep], self.flags[keep])

    @staticmethod
    def concat(batches: list[SampleBatch]) -> SampleBatch:
        """One batch holding the frames of ``batches`` in order (all must share a channel count)."""
        if not batches:
            raise ValueError("concat needs at least one batch")
        channels = {b.n_channels for b in batches}
        if len(channels) > 1:
            raise ValueError(f"cannot concatenate batches of {sorted(channels)} channels")
        return SampleBatch(
            np.concatenate([b.raw for b in batches]),
            np.concatenate([b.seq for b in batches]),
            np.concatenate([b.sample_index for b in batches]),
            np.concatenate([b.t_us for b in batches]),
            np.concatenate([b.n_per_frame for b in batches]),
            np.concatenate([b.flags for b in batches]),
        )

    def __repr__(self) -> str:
        seq = f"seq {int(self.seq[0])}..{int(self.seq[-1])}" if self.n_frames else "empty"
        return f"SampleBatch({self.n_frames} frames, {self.n_samples}x{self.n_channels}, {seq})"


Message = Hello | Ack | ErrorReply | Status | Log | SampleBatch


# --------------------------------------------------------------------------- device -> host


def decode_samples_header(payload: bytes) -> tuple[int, int, int, int, int, int]:
    """``(n_samples, n_channels, flags, seq, sample_index, t_us)`` of a SAMPLES payload, validated.

    Raises :class:`FrameError` (``length`` or ``malformed``).
    """
    if len(payload) < SAMPLES_HEADER.size:
        raise FrameError(CorruptReason.LENGTH, f"SAMPLES payload of {len(payload)} bytes, header needs 16")
    _, n, ch, flags, seq, index, t_us = SAMPLES_HEADER.unpack_from(payload)
    if not 1 <= n <= MAX_SAMPLES_ACCEPTED_PER_FRAME:
        raise FrameError(CorruptReason.MALFORMED,
                         f"SAMPLES n_samples={n} outside 1..{MAX_SAMPLES_ACCEPTED_PER_FRAME}", field="n_samples")
    if not 1 <= ch <= MAX_CHANNELS:
        raise FrameError(CorruptReason.MALFORMED, f"SAMPLES n_channels={ch} outside 1..{MAX_CHANNELS}",
                         field="n_channels")
    if t_us > T_US_MAX:
        raise FrameError(CorruptReason.MALFORMED, f"SAMPLES t_us={t_us} is not a 30-bit stamp", field="t_us")
    expected = SAMPLES_HEADER.size + 2 * n * ch
    if len(payload) != expected:
        raise FrameError(CorruptReason.LENGTH,
                         f"SAMPLES with {n} samples x {ch} channels needs {expected} bytes, got {len(payload)}")
    return n, ch, flags, seq, index, t_us


def _decode_samples(payload: bytes) -> SampleBatch:
    n, ch, flags, seq, index, t_us = decode_samples_header(payload)
    raw = np.frombuffer(bytearray(payload[SAMPLES_HEADER.size:]), dtype="<u2").astype(np.uint16, copy=False)
    return SampleBatch(raw.reshape(n, ch), np.array([seq], np.uint32), np.array([index], np.uint32),
                       np.array([t_us], np.uint32), np.array([n], np.uint16), np.array([flags], np.uint8))


def _require_length(payload: bytes, minimum: int, name: str) -> None:
    if len(payload) < minimum:
        raise FrameError(CorruptReason.LENGTH, f"{name} payload of {len(payload)} bytes, needs at least {minimum}")


def decode_message(payload: bytes) -> Message:
    """The message in one device-to-host payload (CRC already checked).

    Raises :class:`FrameError` with reason ``unknown_type``, ``length`` or ``malformed``.
    """
    if not payload:
        raise FrameError(CorruptReason.LENGTH, "empty payload")
    kind = payload[0]
    if kind == MessageType.SAMPLES:
        return _decode_samples(payload)
    if kind == MessageType.STATUS:
        if len(payload) == STATUS_LAYOUT.size:
            status = Status(*STATUS_LAYOUT.unpack(payload)[1:])
        elif len(payload) >= STATUS_EXT_LAYOUT.size:
            *fields, battery_mv, rssi, _reserved = STATUS_EXT_LAYOUT.unpack_from(payload)[1:]
            status = Status(*fields, battery_v=None if battery_mv == BATTERY_MV_UNKNOWN else battery_mv / 1000,
                            rssi_dbm=None if rssi == RSSI_UNKNOWN else rssi)
        else:
            raise FrameError(CorruptReason.LENGTH,
                             f"STATUS payload of {len(payload)} bytes, must be 32, or 36 and more")
        if status.t_us > T_US_MAX:
            raise FrameError(CorruptReason.MALFORMED, f"STATUS t_us={status.t_us} is not a 30-bit stamp",
                             field="t_us")
        if status.rate_hz == 0:
            raise FrameError(CorruptReason.MALFORMED, "STATUS rate_hz=0", field="rate_hz")
        return status
    if kind == MessageType.HELLO:
        _require_length(payload, 2, "HELLO")
        info = _parse_json_object(payload[2:], "HELLO")
        _check_hello(info)
        return Hello(payload[1], info)
    if kind == MessageType.ACK:
        _require_length(payload, _REPLY_HEADER.size, "ACK")
        _, token, command = _REPLY_HEADER.unpack_from(payload)
        body = payload[_REPLY_HEADER.size:]
        detail = _parse_json_object(body, "ACK detail") if body else {}
        return Ack(token, _enum_or_int(Command, command), detail)
    if kind == MessageType.ERROR:
        _require_length(payload, _REPLY_HEADER.size + 1, "ERROR")
        _, token, command = _REPLY_HEADER.unpack_from(payload)
        code = payload[_REPLY_HEADER.size]
        # The CRC passed, so these are the bytes the device meant; keep a message with a bad
        # byte readable rather than drop the whole error report.
        text = payload[_REPLY_HEADER.size + 1:].decode("utf-8", errors="replace")
        return ErrorReply(token, _enum_or_int(Command, command), _enum_or_int(ErrorCode, code), text)
    if kind == MessageType.LOG:
        _require_length(payload, 2, "LOG")
        return Log(_enum_or_int(LogLevel, payload[1]), payload[2:].decode("utf-8", errors="replace"))
    raise FrameError(CorruptReason.UNKNOWN_TYPE, f"message type 0x{kind:02x} is not a device-to-host type")


# --------------------------------------------------------------------------- device-side encoders


def encode_samples(seq: int, sample_index: int, t_us: int, raw: np.ndarray, flags: int = 0) -> bytes:
    """One SAMPLES frame from ``raw`` (n_samples x n_channels, values 0..65535)."""
    block = np.asarray(raw)
    if block.ndim != 2:
        raise ValueError(f"raw must be 2-D (n_samples, n_channels), got shape {block.shape}")
    n, ch = block.shape
    if not 1 <= n <= MAX_SAMPLES_ACCEPTED_PER_FRAME:
        raise ValueError(f"n_samples={n} outside 1..{MAX_SAMPLES_ACCEPTED_PER_FRAME}")
    if not 1 <= ch <= MAX_CHANNELS:
        raise ValueError(f"n_channels={ch} outside 1..{MAX_CHANNELS}")
    if block.dtype != np.uint16:
        if block.size and (block.min() < 0 or block.max() > 0xFFFF):
            raise ValueError(f"raw values must fit u16, got {block.min()}..{block.max()}")
        block = block.astype(np.uint16)
    header = SAMPLES_HEADER.pack(MessageType.SAMPLES, n, ch, _check_uint("flags", flags, "B"),
                                 _check_uint("seq", seq, "I"), _check_uint("sample_index", sample_index, "I"),
                                 _check_uint("t_us", t_us, "I"))
    payload = header + block.astype("<u2", copy=False).tobytes()
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{n} samples x {ch} channels make a {len(payload)}-byte payload, limit {MAX_PAYLOAD}")
    return encode_frame(payload)


def encode_status(flags: int, rate_hz: int, t_us: int, boot_id: int, seq: int, dropped_samples: int = 0,
                  saturated_mask: int = 0, open_mask: int = 0, loop_max_us: int = 0,
                  battery_v: float | None = None, rssi_dbm: int | None = None) -> bytes:
    """STATUS as the firmware sends it: 32 bytes, or 36 when ``battery_v`` or ``rssi_dbm`` is known."""
    values = {"flags": (flags, "B"), "rate_hz": (rate_hz, "H"), "t_us": (t_us, "I"), "boot_id": (boot_id, "I"),
              "seq": (seq, "I"), "dropped_samples": (dropped_samples, "I"), "saturated_mask": (saturated_mask, "I"),
              "open_mask": (open_mask, "I"), "loop_max_us": (loop_max_us, "I")}
    checked = [_check_uint(name, v, fmt) for name, (v, fmt) in values.items()]
    if battery_v is None and rssi_dbm is None:
        return encode_frame(STATUS_LAYOUT.pack(MessageType.STATUS, *checked))
    battery_mv = BATTERY_MV_UNKNOWN
    if battery_v is not None:
        if not (math.isfinite(battery_v) and 0 <= battery_v < BATTERY_MV_UNKNOWN / 1000):
            raise ValueError(f"battery_v={battery_v} outside 0..65.534 V")
        battery_mv = round(battery_v * 1000)
    rssi = RSSI_UNKNOWN
    if rssi_dbm is not None:
        if isinstance(rssi_dbm, bool) or not isinstance(rssi_dbm, int) or not -127 <= rssi_dbm <= 127:
            raise ValueError(f"rssi_dbm={rssi_dbm!r} outside -127..127")
        rssi = rssi_dbm
    return encode_frame(STATUS_EXT_LAYOUT.pack(MessageType.STATUS, *checked, battery_mv, rssi, 0))


def encode_hello(info: dict[str, Any], protocol_version: int | None = None) -> bytes:
    """HELLO carrying ``info`` in its key order; byte 1 defaults to ``info["protocol"]``."""
    version = info.get("protocol", PROTOCOL_VERSION) if protocol_version is None else protocol_version
    return encode_frame(bytes([MessageType.HELLO, _check_uint("protocol_version", version, "B")]) + _json_body(info))


def encode_ack(token: int, command: int, detail: dict[str, Any] | None = None) -> bytes:
    body = _json_body(detail) if detail is not None else b""
    return encode_frame(_REPLY_HEADER.pack(MessageType.ACK, _check_uint("token", token, "H"),
                                           _check_uint("command", command, "B")) + body)


def encode_error(token: int, command: int, code: int, message: str) -> bytes:
    header = _REPLY_HEADER.pack(MessageType.ERROR, _check_uint("token", token, "H"),
                                _check_uint("command", command, "B"))
    return encode_frame(header + bytes([_check_uint("code", code, "B")]) + message.encode("utf-8"))


def encode_log(level: int, message: str) -> bytes:
    return encode_frame(bytes([MessageType.LOG, _check_uint("level", level, "B")]) + message.encode("utf-8"))


def encode_message(message: Message) -> bytes:
    """Wire bytes for a decoded device-to-host message (a replay device re-sends what it read)."""
    if isinstance(message, Hello):
        return encode_hello(message.info, message.protocol_version)
    if isinstance(message, Ack):
        return encode_ack(message.token, message.command, message.detail)
    if isinstance(message, ErrorReply):
        return encode_error(message.token, message.command, message.code, message.message)
    if isinstance(message, Status):
        return encode_status(message.flags, message.rate_hz, message.t_us, message.boot_id, message.seq,
                             message.dropped_samples, message.saturated_mask, message.open_mask, message.loop_max_us,
                             message.battery_v, message.rssi_dbm)
    if isinstance(message, Log):
        return encode_log(message.level, message.message)
    if isinstance(message, SampleBatch):
        rows = message.frame_rows
        return b"".join(
            encode_samples(int(message.seq[f]), int(message.sample_index[f]), int(message.t_us[f]),
                           message.raw[rows[f]:rows[f] + message.n_per_frame[f]], int(message.flags[f]))
            for f in range(message.n_frames))
    raise TypeError(f"not a wire message: {type(message).__name__}")


# --------------------------------------------------------------------------- host -> device


class CommandFormatError(ValueError):
    """A command payload the device must answer with ERROR; carries what that reply needs."""

    def __init__(self, code: ErrorCode, token: int, command: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.token = token
        self.command = command
        self.message = message


def encode_command(command: Command | int, token: int, **args: Any) -> bytes:
    """Wire bytes of one command, e.g. ``encode_command(Command.SET_RATE, 3, rate_hz=1000)``.

    Only the encoding is checked here (names, u16/u32 ranges); whether a value is acceptable
    (50..1000 Hz, ...) is the device's decision, answered with ERROR BAD_ARGUMENT.
    """
    try:
        cmd = Command(command)
    except ValueError:
        raise ValueError(f"unknown command 0x{int(command):02x}; known: "
                         f"{', '.join(c.name for c in Command)}") from None
    if cmd in JSON_COMMANDS:
        name = JSON_COMMANDS[cmd]
        if set(args) != {name}:
            raise TypeError(f"{cmd.name} takes {name} (a dict), got {', '.join(args) or 'nothing'}")
        return encode_net_config(token, args[name])
    spec = COMMAND_ARGUMENTS[cmd]
    names = [name for name, _ in spec]
    if set(args) != set(names):
        problems = []
        missing = [n for n in names if n not in args]
        extra = [n for n in args if n not in names]
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected {', '.join(extra)}")
        problem = "; ".join(problems)
        raise TypeError(f"{cmd.name} takes {', '.join(names) or 'no arguments'}: {problem}")
    values = [_check_uint(name, args[name], fmt) for name, fmt in spec]
    payload = _COMMAND_HEADER.pack(cmd, _check_uint("token", token, "H")) + _ARG_STRUCTS[cmd].pack(*values)
    assert len(payload) <= MAX_COMMAND_PAYLOAD
    return encode_frame(payload)


def encode_net_config(token: int, config: dict[str, Any]) -> bytes:
    """NET_CONFIG: store ``config`` ({"wifi": {"ssid", "password"}, "mqtt": {...}}) on the
    device, or forget the stored one with ``{}``. Only the size is checked here; the values
    are checked by ``glovecoach.commands.provision`` before and by the device after."""
    if not isinstance(config, dict):
        raise TypeError(f"NET_CONFIG takes a dict, got {type(config).__name__}")
    payload = (_COMMAND_HEADER.pack(Command.NET_CONFIG, _check_uint("token", token, "H"))
               + json.dumps(config, separators=(",", ":")).encode())
    if len(payload) > MAX_NET_CONFIG_PAYLOAD:
        raise ValueError(f"NET_CONFIG of {len(payload)} bytes exceeds {MAX_NET_CONFIG_PAYLOAD}: "
                         "shorten the broker's host name or the credentials")
    return encode_frame(payload)


def decode_command(payload: bytes) -> tuple[Command, int, dict[str, Any]]:
    """``(command, token, args)`` of one host-to-device payload (CRC already checked).

    Raises :class:`CommandFormatError` with the ERROR code the device should reply with.
    """
    if len(payload) < _COMMAND_HEADER.size:
        command = payload[0] if payload else 0
        raise CommandFormatError(ErrorCode.BAD_FRAME, UNKNOWN_TOKEN, command,
                                 f"command of {len(payload)} bytes, needs at least type and token (3)")
    kind, token = _COMMAND_HEADER.unpack_from(payload)
    limit = MAX_NET_CONFIG_PAYLOAD if kind == Command.NET_CONFIG else MAX_COMMAND_PAYLOAD
    if len(payload) > limit:
        raise CommandFormatError(ErrorCode.BAD_FRAME, token, kind,
                                 f"command of {len(payload)} bytes exceeds {limit}")
    try:
        cmd = Command(kind)
    except ValueError:
        raise CommandFormatError(ErrorCode.UNKNOWN_COMMAND, token, kind,
                                 f"unknown command 0x{kind:02x}") from None
    if cmd in JSON_COMMANDS:
        try:
            config = json.loads(payload[_COMMAND_HEADER.size:].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise CommandFormatError(ErrorCode.BAD_ARGUMENT, token, kind, f"{cmd.name} needs a JSON object") from None
        return cmd, token, {JSON_COMMANDS[cmd]: config}
    layout = _ARG_STRUCTS[cmd]
    body = payload[_COMMAND_HEADER.size:]
    if len(body) != layout.size:
        raise CommandFormatError(ErrorCode.BAD_FRAME, token, kind,
                                 f"{cmd.name} takes {layout.size} argument bytes, got {len(body)}")
    names = [name for name, _ in COMMAND_ARGUMENTS[cmd]]
    return cmd, token, dict(zip(names, layout.unpack(body)))
