# MicroPython: run the real sampling loop (sim HAL, streaming) under heap_lock.
# Any allocation raises MemoryError: outside the slot's try block it ends this script with
# an error; inside it, the sampler counts it in errors_total, which is printed and checked.
# argv: rate_hz slots mode ("skip": a HAL that cannot read the past, like the ESP32's;
# "catchup": the sim's default, which takes late slots back to back)
import sys
import time

import micropython

from glove.device import build

rate = int(sys.argv[1])
slots = int(sys.argv[2])
hal, writer, sampler, handler = build("main.py")
if sys.argv[3] == "skip":
    hal.catch_up_slots = 0
sampler.set_rate(rate)
sampler.start()
poll = handler.poll
sampler.deadline = time.ticks_us()
# Warm-up outside the lock: first calls may intern names or size internal buffers once.
for _ in range(2 * sampler.spf):
    sampler.run_slot(poll)
seq0 = sampler.seq
status_before = sampler.slots_this_second
micropython.heap_lock()
try:
    for i in range(slots):
        if i == slots // 2:
            time.sleep_ms(4 * 1000 // rate)   # fall behind: exercises the skip or catch-up path
        sampler.run_slot(poll)
finally:
    micropython.heap_unlock()
print("\nRESULT", sampler.errors_total, sampler.seq - seq0, sampler.dropped, sampler.slot_index)
