# MicroPython: the sampling loop with the MQTT link (GLOVECOACH_NET_CONFIG set by the test)
# under heap_lock. Any allocation raises MemoryError: inside a slot the sampler counts it in
# errors_total (printed); the link's own counters say what it published.
# argv: rate_hz slots
import sys
import time

import micropython

from glove.device import build

rate = int(sys.argv[1])
slots = int(sys.argv[2])
hal, writer, sampler, handler = build("main.py")
link = hal.link
assert link.client.sock is not None, "not connected to the test's broker"
sampler.set_rate(rate)
sampler.start()
poll = handler.poll
sampler.deadline = time.ticks_us()
# Warm-up outside the lock, until the broker's SUBACK is in (receiving may allocate: it is
# rare; the test is about the sending path and the idle service of the connection).
warm = 0
while warm < 2 * sampler.spf * link.batch_frames or not link.client.subacks:
    sampler.run_slot(poll)
    warm += 1
    assert warm < 5 * rate, "no SUBACK from the test's broker"
link.flush()
seq0 = sampler.seq
sent0 = link.frames_sent
_ = 0   # every global exists before the lock (a new one may grow the module's dict)
micropython.heap_lock()
try:
    for _ in range(slots):
        sampler.run_slot(poll)
    link.flush()
finally:
    micropython.heap_unlock()
print("\nRESULT", sampler.errors_total, sampler.seq - seq0, link.frames_sent - sent0,
      link.frames_dropped, link.messages_sent)
