# MicroPython: the glove's MQTT client over TLS publishing N frame-sized messages with
# publish_into under heap_lock (GLOVECOACH_NET_CONFIG names the broker and its CA).
# test_tls_no_alloc.py runs it under gdb to count the C library's allocations (mbedTLS's)
# around the sends. argv: n_messages
import os
import sys

import micropython

from glove import mqtt, mqtt_link

n = int(sys.argv[1])
cfg = mqtt_link.parse_net_config(mqtt_link.load_net_config(os.getenv("GLOVECOACH_NET_CONFIG")), "net.json")
client = mqtt.MqttClient("glovecoach-GC-TLS-GDB", cfg["host"], cfg["port"], connect_timeout_s=5,
                         ssl_context=mqtt.tls_context(cfg["ca"]))
client.connect()
topic = b"glovecoach/lab/GC-TLS-GDB/frames"
room = mqtt.headroom(topic)
buf = bytearray(room + 190)
client.publish_into(buf, room, 190, topic)   # the first record outside the count's window
i = 0
micropython.heap_lock()
try:
    for i in range(n):
        buf[room] = i & 0xFF
        client.publish_into(buf, room, 190, topic)
finally:
    micropython.heap_unlock()
client.disconnect()
print("\nRESULT", i + 1)
