# MicroPython: drive glove/mqtt.py against the test's packet-recording server.
# argv: port keepalive_s. Prints "MSG <topic> <payload hex>" for each PUBLISH received,
# "REFUSED <message>" if CONNECT is refused, "DONE <pings answered>" at the end.
import sys
import time

from glove import mqtt

port = int(sys.argv[1])
keepalive = int(sys.argv[2])


def on_message(topic, body, start, n):
    print("MSG", topic.decode(), bytes(body[start:start + n]).hex())


c = mqtt.MqttClient("gc-test-1", "127.0.0.1", port, "glove-user", "s3cret", keepalive,
                    on_message=on_message, will=(b"glovecoach/lab/GC-1/online", b"0", True))
try:
    c.connect()
except mqtt.MqttRefused as exc:
    print("REFUSED", exc)
    sys.exit(0)
c.subscribe("glovecoach/lab/GC-1/cmd")
# 1-byte remaining length, retained.
c.publish(b"glovecoach/lab/GC-1/hello", b"\x01\x02hi", retain=True)
# 2-byte remaining length (200-byte payload), through the allocation-free path.
topic = b"glovecoach/lab/GC-1/frames"
room = mqtt.headroom(topic)
buf = bytearray(room + 20000)
for i in range(20000):
    buf[room + i] = i & 0xFF
c.publish_into(buf, room, 200, topic)
# 3-byte remaining length (20000 bytes).
c.publish_into(buf, room, 20000, topic)
# Idle for longer than half the keepalive: the client must ping, and take the PINGRESP.
end = time.ticks_add(time.ticks_ms(), keepalive * 1000 * 3 // 4 + 300)
pings = 0
while time.ticks_diff(end, time.ticks_ms()) > 0:
    c.service()
    time.sleep_ms(5)
print("SUBACK", c.subacks, c.suback_code)
print("DONE", 0 if c._ping_pending else 1)
c.disconnect()
