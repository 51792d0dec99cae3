"""Write tests/golden/frames.json straight from docs/protocol.md.

This script builds every payload with `struct` by hand; it imports neither the firmware nor
the host package, so the golden vectors check both implementations against the document
rather than against each other. Run it only when the protocol version changes.
"""

import json
import struct
import zlib
from pathlib import Path

from cobs import cobs

CHANNELS = [
    "thumb_tip", "index_tip", "middle_tip", "ring_tip", "little_tip",
    "thenar", "hypothenar", "palm_center", "palm_heel",
    "hand_edge", "knuckles_index_middle", "knuckles_ring_little",
] + [f"spine_{k}" for k in range(1, 9)]


def frame(payload: bytes) -> bytes:
    return cobs.encode(payload + struct.pack("<I", zlib.crc32(payload))) + b"\x00"


def compact_json(obj) -> bytes:
    # The firmware's json.dumps writes ", " and ": " separators; so do we.
    return json.dumps(obj, separators=(", ", ": ")).encode()


def samples(seq, sample_index, t_us, rows, flags=0):
    n, c = len(rows), len(rows[0])
    payload = struct.pack("<BBBBIII", 0x10, n, c, flags, seq, sample_index, t_us)
    payload += b"".join(struct.pack(f"<{c}H", *r) for r in rows)
    return payload, {"type": "SAMPLES", "n_samples": n, "n_channels": c, "flags": flags,
                     "seq": seq, "sample_index": sample_index, "t_us": t_us, "raw": rows}


def status(flags, rate, t_us, boot_id, seq, dropped, sat, opn, loop_max):
    payload = struct.pack("<BBHIIIIIII", 0x04, flags, rate, t_us, boot_id, seq, dropped, sat, opn, loop_max)
    return payload, {"type": "STATUS", "flags": flags, "rate_hz": rate, "t_us": t_us, "boot_id": boot_id,
                     "seq": seq, "dropped_samples": dropped, "saturated_mask": sat, "open_mask": opn,
                     "loop_max_us": loop_max}


def vectors():
    out = []
    # 4 samples x 20 channels, values chosen to contain 0x00 bytes (COBS must remove them),
    # the ADC extremes, and 0x00FF / 0xFF00 patterns.
    rows = [[(37 * s + 211 * c) % 4096 for c in range(20)] for s in range(4)]
    rows[0][0], rows[0][1], rows[1][2], rows[2][3], rows[3][19] = 0, 4095, 256, 255, 0
    out.append(("samples_200hz_first_frame", *samples(0, 0, 123456, rows, flags=1)))
    out.append(("samples_wrapping_clock", *samples(70000, 280000, 0x3FFFFFF0, rows)))
    out.append(("samples_one_row_all_zero", *samples(5, 5, 1000, [[0] * 20])))
    big = [[(s * 20 + c) % 4096 for c in range(20)] for s in range(20)]  # 1000 Hz frame, > 254 bytes
    out.append(("samples_1000hz_20_rows", *samples(1, 20, 20000, big)))
    out.append(("status_streaming_with_faults", *status(0b01, 200, 999999, 0xDEADBEEF, 42, 3, 1 << 19, 0b101, 850)))
    info = {"protocol": 1, "firmware": "0.1.0", "glove_id": "GC-SIM-0001", "board": "unix-sim",
            "boot_id": 305419896, "rate_hz": 200, "samples_per_frame": 4, "adc_bits": 12, "adc_max": 4095,
            "channels": CHANNELS, "streaming": False, "link_bytes_per_s": None, "tare": None}
    out.append(("hello", bytes([0x01, 1]) + compact_json(info), {"type": "HELLO", "protocol_version": 1, "info": info}))
    detail = {"rate_hz": 200, "samples_per_frame": 4}
    out.append(("ack_start", struct.pack("<BHB", 0x02, 7, 0x81) + compact_json(detail),
                {"type": "ACK", "token": 7, "command": 0x81, "detail": detail}))
    out.append(("ack_stop_empty_detail", struct.pack("<BHB", 0x02, 8, 0x82) + b"{}",
                {"type": "ACK", "token": 8, "command": 0x82, "detail": {}}))
    msg = "rate_hz 2000 outside 50..1000"
    out.append(("error_bad_rate", struct.pack("<BHBB", 0x03, 9, 0x83, 3) + msg.encode(),
                {"type": "ERROR", "token": 9, "command": 0x83, "code": 3, "message": msg}))
    out.append(("log_warning", bytes([0x05, 1]) + b"watchdog reset",
                {"type": "LOG", "level": 1, "message": "watchdog reset"}))
    # Host -> device commands.
    out.append(("cmd_start", struct.pack("<BH", 0x81, 1), {"type": "COMMAND", "command": 0x81, "token": 1, "args": {}}))
    out.append(("cmd_stop", struct.pack("<BH", 0x82, 2), {"type": "COMMAND", "command": 0x82, "token": 2, "args": {}}))
    out.append(("cmd_set_rate", struct.pack("<BHH", 0x83, 3, 1000),
                {"type": "COMMAND", "command": 0x83, "token": 3, "args": {"rate_hz": 1000}}))
    out.append(("cmd_tare", struct.pack("<BHH", 0x84, 4, 0),
                {"type": "COMMAND", "command": 0x84, "token": 4, "args": {"n": 0}}))
    out.append(("cmd_ping", struct.pack("<BHI", 0x85, 0xFFFE, 0xCAFEF00D),
                {"type": "COMMAND", "command": 0x85, "token": 0xFFFE, "args": {"nonce": 0xCAFEF00D}}))
    out.append(("cmd_info", struct.pack("<BH", 0x86, 6), {"type": "COMMAND", "command": 0x86, "token": 6, "args": {}}))
    out.append(("cmd_maintenance", struct.pack("<BH", 0x87, 0x0300),
                {"type": "COMMAND", "command": 0x87, "token": 0x0300, "args": {}}))
    net = {"wifi": {"ssid": "massage-school", "password": "correct horse"},
           "mqtt": {"host": "192.168.1.10", "port": 1883, "room": "room-1"}}
    out.append(("cmd_net_config", struct.pack("<BH", 0x88, 9) + json.dumps(net, separators=(",", ":")).encode(),
                {"type": "COMMAND", "command": 0x88, "token": 9, "args": {"config": net}}))
    return [{"name": n, "payload_hex": p.hex(), "frame_hex": frame(p).hex(), "fields": f} for n, p, f in out]


if __name__ == "__main__":
    path = Path(__file__).with_name("frames.json")
    doc = {"protocol_version": 1, "source": "docs/protocol.md", "generator": "tests/golden/make_golden.py",
           "vectors": vectors()}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(doc['vectors'])} vectors to {path}")
