# MicroPython: frame every hex payload line of argv[1] with the firmware's CRC + COBS.
import binascii
import sys

from glove import frames

out = bytearray(frames.cobs_max_encoded(2048 + 4))
for line in open(sys.argv[1]):
    data = binascii.unhexlify(line.strip())
    n = len(data)
    buf = bytearray(n + 4)
    buf[0:n] = data
    frames.crc32_append(buf, n)
    used = frames.cobs_encode_frame(buf, n + 4, out)
    print(binascii.hexlify(out[:used]).decode())
