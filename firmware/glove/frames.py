"""Wire protocol v1 (docs/protocol.md) on the device side: framing and message payloads.

Everything a frame passes through on the way out runs without heap allocation, because
SAMPLES and STATUS frames are built inside the sampling loop:

- CRC-32 is computed by a viper function from a 1 KiB table into the four bytes after the
  payload. `binascii.crc32` would be simpler, but it returns the CRC as an int, and on the
  32-bit ESP32 every CRC >= 2**30 is a heap-allocated long int.
- COBS encodes into a preallocated output buffer (viper as well: a byte loop in bytecode
  costs ~2 ms per 1000 Hz frame on an ESP32).
- The encoded frame is written with the stream's `write(buf, offset, length)` form, which
  needs no memoryview slice (slicing a memoryview allocates).

Message builders for rare messages (HELLO, ACK, ERROR, LOG) use json/str and may allocate.
"""

import json
import struct

import micropython
from micropython import const

# Protocol numbers are const(): MicroPython folds them into the code that uses them inside
# this module (no dictionary lookup in the hot path); other modules still read them as
# attributes (frames.MSG_SAMPLES).
PROTOCOL_VERSION = const(1)

# Device -> host message types.
MSG_HELLO = const(0x01)
MSG_ACK = const(0x02)
MSG_ERROR = const(0x03)
MSG_STATUS = const(0x04)
MSG_LOG = const(0x05)
MSG_SAMPLES = const(0x10)

# ERROR codes.
ERR_BAD_FRAME = const(1)
ERR_UNKNOWN_COMMAND = const(2)
ERR_BAD_ARGUMENT = const(3)
ERR_BUSY = const(4)
ERR_NOT_ALLOWED = const(5)

LOG_INFO = const(0)
LOG_WARNING = const(1)
LOG_ERROR = const(2)

SAMPLES_HEADER_BYTES = const(16)
STATUS_BYTES = const(32)
# STATUS with battery_mv and rssi_dbm after loop_max_us (docs/protocol.md); sent only when
# one of them is known, so a glove without either sends the 32 bytes it always did.
STATUS_EXT_BYTES = const(36)
BATTERY_UNKNOWN = const(0xFFFF)
RSSI_UNKNOWN = const(-128)
CRC_BYTES = const(4)
MAX_PAYLOAD = const(2048)
# The most samples this firmware puts in one SAMPLES frame: the sampler's frame buffer holds
# this many rows. The protocol allows up to 64 (the host's MAX_SAMPLES_ACCEPTED_PER_FRAME);
# 32 keeps the buffer small, and samples_per_frame() never needs more than 20 (1000 Hz / 50).
MAX_SAMPLES_SENT_PER_FRAME = const(32)
T_US_MASK = const(0x3FFFFFFF)

STATUS_FLAG_STREAMING = const(0x01)
STATUS_FLAG_TARE_RUNNING = const(0x02)
SAMPLES_FLAG_FIRST = const(0x01)


def t_us30(ticks):
    """A ticks_us() value as the protocol's 30-bit t_us.

    The type stubs keep ticks opaque (only for ticks_diff/ticks_add); on every port they are
    small ints, and the protocol defines t_us as their low 30 bits.
    """
    return ticks & T_US_MASK


def cobs_max_encoded(n):
    """Worst-case COBS output for n input bytes, plus the 0x00 delimiter."""
    return n + 1 + n // 254 + 1


def samples_wire_bytes(n_samples, n_channels):
    """Bytes on the wire for one SAMPLES frame (docs/protocol.md section 4)."""
    n = SAMPLES_HEADER_BYTES + 2 * n_samples * n_channels + CRC_BYTES
    return n + (n + 253) // 254 + 1


def samples_per_frame(rate_hz):
    spf = rate_hz // 50
    if spf < 1:
        return 1
    if spf > MAX_SAMPLES_SENT_PER_FRAME:
        return MAX_SAMPLES_SENT_PER_FRAME
    return spf


def _make_crc_table():
    table = bytearray(1024)
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 1:
                c = 0xEDB88320 ^ (c >> 1)
            else:
                c >>= 1
        struct.pack_into("<I", table, 4 * i, c)
    return table


CRC_TABLE = _make_crc_table()


@micropython.viper
def _crc32_append(buf, n: int, table):
    # Reflected CRC-32 (ISO-HDLC), written little-endian into buf[n:n+4]. `uint` is the
    # machine word (64 bits on the unix port), so every step is masked back to 32 bits.
    p = ptr8(buf)
    t = ptr32(table)
    mask = (uint(0xFFFF) << 16) | uint(0xFFFF)
    crc = mask
    i = 0
    while i < n:
        crc = ((uint(t[int((crc ^ uint(p[i])) & uint(0xFF))]) & mask) ^ (crc >> 8))
        i += 1
    crc = crc ^ mask
    p[n] = crc & 0xFF
    p[n + 1] = (crc >> 8) & 0xFF
    p[n + 2] = (crc >> 16) & 0xFF
    p[n + 3] = (crc >> 24) & 0xFF


def crc32_append(buf, n):
    """Write CRC-32 of buf[:n] little-endian into buf[n:n+4]; buf needs n + 4 bytes."""
    _crc32_append(buf, n, CRC_TABLE)


@micropython.viper
def cobs_encode_frame(src, n: int, dst) -> int:
    """COBS-encode src[:n] into dst, append the 0x00 delimiter, return the bytes used.

    Matches the reference encoding (and the `cobs` package): a 254-byte run is closed with
    code 0xFF and no trailing empty block at the very end.
    """
    s = ptr8(src)
    d = ptr8(dst)
    code_pos = 0
    out = 1
    code = 1
    i = 0
    while i < n:
        b = s[i]
        if code == 0xFF:
            # A full block carries no implied zero: close it before anything else.
            d[code_pos] = code
            code_pos = out
            out += 1
            code = 1
        if b == 0:
            d[code_pos] = code
            code_pos = out
            out += 1
            code = 1
        else:
            d[out] = b
            out += 1
            code += 1
        i += 1
    d[code_pos] = code
    d[out] = 0
    return out + 1


def cobs_decode(data):
    """Decode one COBS chunk (without delimiter). Raises ValueError if it is malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside COBS data")
        end = i + code
        if end > n:
            raise ValueError("COBS block runs past the end")
        out.extend(data[i + 1:end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return out


class FrameWriter:
    """Turns payloads into frames and writes them to the host.

    `payload` is a scratch buffer for rare messages; SAMPLES and STATUS have their own
    buffers owned by the sampler and go through `send`.
    """

    def __init__(self, write, max_payload=MAX_PAYLOAD):
        self._write = write
        self.out = bytearray(cobs_max_encoded(max_payload + CRC_BYTES))
        self.payload = bytearray(max_payload + CRC_BYTES)
        self.max_payload = max_payload

    def send(self, buf, n):
        """Frame buf[:n] (buf must have 4 spare bytes after n for the CRC) and write it."""
        crc32_append(buf, n)
        used = cobs_encode_frame(buf, n + CRC_BYTES, self.out)
        self._write(self.out, used)

    def send_bytes(self, data):
        """Frame a payload given as bytes (rare messages; allocates nothing big)."""
        n = len(data)
        if n > self.max_payload:
            raise ValueError("payload of %d bytes exceeds %d" % (n, self.max_payload))
        self.payload[0:n] = data
        self.send(self.payload, n)

    def send_hello(self, info):
        self.send_bytes(hello_payload(info))

    def send_ack(self, token, command, detail):
        self.send_bytes(ack_payload(token, command, detail))

    def send_error(self, token, command, code, message):
        self.send_bytes(error_payload(token, command, code, message))

    def send_log(self, level, message):
        self.send_bytes(log_payload(level, message))


def hello_payload(info):
    return bytes((MSG_HELLO, PROTOCOL_VERSION)) + json.dumps(info).encode()


def ack_payload(token, command, detail):
    body = json.dumps(detail).encode() if detail is not None else b""
    return struct.pack("<BHB", MSG_ACK, token, command) + body


def error_payload(token, command, code, message):
    return struct.pack("<BHBB", MSG_ERROR, token, command, code) + message.encode()


def log_payload(level, message):
    # Keep LOG frames bounded: a long traceback text must not exceed the payload limit.
    data = message.encode()
    if len(data) > MAX_PAYLOAD - 2:
        data = data[:MAX_PAYLOAD - 2]
    return bytes((MSG_LOG, level)) + data


def pack_samples_header(buf, n_samples, n_channels, flags, seq, sample_index, t_us):
    struct.pack_into("<BBBBIII", buf, 0, MSG_SAMPLES, n_samples, n_channels, flags,
                     seq, sample_index, t_us)


def pack_status(buf, flags, rate_hz, t_us, boot_id, seq, dropped, saturated_mask,
                open_mask, loop_max_us, battery_mv=BATTERY_UNKNOWN, rssi_dbm=RSSI_UNKNOWN):
    """Pack STATUS into buf; return its length: 32 bytes, or 36 when the battery voltage
    or the WiFi signal is known."""
    if battery_mv == BATTERY_UNKNOWN and rssi_dbm == RSSI_UNKNOWN:
        struct.pack_into("<BBHIIIIIII", buf, 0, MSG_STATUS, flags, rate_hz, t_us, boot_id,
                         seq, dropped, saturated_mask, open_mask, loop_max_us)
        return STATUS_BYTES
    struct.pack_into("<BBHIIIIIIIHbB", buf, 0, MSG_STATUS, flags, rate_hz, t_us, boot_id,
                     seq, dropped, saturated_mask, open_mask, loop_max_us, battery_mv, rssi_dbm, 0)
    return STATUS_EXT_BYTES
