# MicroPython: stream at 200 Hz, stall the loop for 3.5 periods once, print every frame (hex).
import binascii
import sys
import time

from glove.device import build

hal, writer, sampler, handler = build("main.py")
captured = []
writer._write = lambda buf, n: captured.append(bytes(buf[:n]))
sampler.start()
sampler.deadline = time.ticks_us()
for i in range(30):
    if i == 6:
        time.sleep_us(3 * sampler.period_us + sampler.period_us // 2)
    sampler.run_slot(handler.poll)
sampler.stop()
sampler.send_status(time.ticks_us())
for frame in captured:
    print(binascii.hexlify(frame).decode())
