# MicroPython: stream at 200 Hz, stall the loop for 3.5 periods once, print every frame (hex).
# argv: "skip" (a HAL that cannot read the past, like the ESP32's) or "catchup" (the sim's).
import binascii
import sys
import time

from glove.device import build

hal, writer, sampler, handler = build("main.py")
if sys.argv[1] == "skip":
    hal.catch_up_slots = 0
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
