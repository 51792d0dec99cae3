# MicroPython: the sampling loop with the MQTT link over TLS (GLOVECOACH_NET_CONFIG holds the
# broker CA's PEM) under heap_lock, as mp_mqtt_no_alloc.py does for plain TCP. Also says how
# much of the MicroPython heap the TLS connection holds on this port (mbedTLS allocates from
# it here). argv: rate_hz slots
import gc
import sys
import time

import micropython

from glove import mqtt_link
from glove.device import build

rate = int(sys.argv[1])
slots = int(sys.argv[2])
hal, writer, sampler, handler = build("main.py")
link = hal.link
assert link.tls, "the configuration has no CA: not a TLS link"
assert link.client.sock is not None, "not connected to the test's broker"

# The heap a connection holds: close it, collect, reconnect, collect again.
link.client.close()
gc.collect()
before = gc.mem_alloc()
link._try_connect()
assert link.client.sock is not None, "reconnect failed"
gc.collect()
tls_heap = gc.mem_alloc() - before

sampler.set_rate(rate)
sampler.start()
poll = handler.poll
sampler.deadline = time.ticks_us()
warm = 0
while warm < 2 * sampler.spf * link.batch_frames or not link.client.subacks:
    sampler.run_slot(poll)
    warm += 1
    assert warm < 5 * rate, "no SUBACK from the test's broker"
link.flush()
seq0 = sampler.seq
sent0 = link.frames_sent
_ = 0   # every global exists before the lock
micropython.heap_lock()
try:
    for _ in range(slots):
        sampler.run_slot(poll)
    link.flush()
finally:
    micropython.heap_unlock()
print("\nRESULT", sampler.errors_total, sampler.seq - seq0, link.frames_sent - sent0,
      link.frames_dropped, link.messages_sent, tls_heap, mqtt_link.DEFAULT_TLS_PORT)
