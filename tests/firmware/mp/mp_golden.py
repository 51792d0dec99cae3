# MicroPython: encode every device->host golden vector with the firmware's encoder and
# decode every cmd_* vector with the firmware's command decoder; print one JSON per line.
import binascii
import json
import sys

from glove import commands, frames

captured = []


def capture(buf, n):
    captured.append(bytes(buf[:n]))


writer = frames.FrameWriter(capture)
doc = json.load(open(sys.argv[1]))
for vec in doc["vectors"]:
    f = vec["fields"]
    kind = f["type"]
    del captured[:]
    if kind == "SAMPLES":
        n, c = f["n_samples"], f["n_channels"]
        buf = bytearray(16 + 2 * n * c + 4)
        frames.pack_samples_header(buf, n, c, f["flags"], f["seq"], f["sample_index"], f["t_us"])
        for s in range(n):
            for ch in range(c):
                v = f["raw"][s][ch]
                buf[16 + 2 * (s * c + ch)] = v & 0xFF
                buf[17 + 2 * (s * c + ch)] = v >> 8
        writer.send(buf, 16 + 2 * n * c)
    elif kind == "STATUS":
        buf = bytearray(36)
        frames.pack_status(buf, f["flags"], f["rate_hz"], f["t_us"], f["boot_id"], f["seq"],
                           f["dropped_samples"], f["saturated_mask"], f["open_mask"], f["loop_max_us"])
        writer.send(buf, 32)
    elif kind == "LOG":
        writer.send_log(f["level"], f["message"])
    elif kind == "ERROR":
        writer.send_error(f["token"], f["command"], f["code"], f["message"])
    elif kind == "ACK":
        writer.send_ack(f["token"], f["command"], f["detail"])
    elif kind == "HELLO":
        writer.send_hello(f["info"])
    elif kind == "COMMAND":
        chunk = binascii.unhexlify(vec["frame_hex"])[:-1]   # without the delimiter
        cmd, token, args = commands.decode_command_frame(chunk)
        print(json.dumps({"name": vec["name"], "fields": {"type": "COMMAND", "command": cmd,
                                                          "token": token, "args": args}}))
        continue
    else:
        raise ValueError("no encoder for " + kind)
    print(json.dumps({"name": vec["name"], "frame_hex": binascii.hexlify(captured[0]).decode()}))
