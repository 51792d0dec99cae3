"""One MQTT connection for a room's devices: each device gets its own bytes, retained copies
are skipped, a broker lost is lost for all, and reopening builds one new connection."""

from __future__ import annotations

import time

import paho.mqtt.client as paho
import pytest

from glovecoach.link.mqtt_shared import SharedMqttConnection
from glovecoach.link.transport import LinkLost
from mqtt_helpers import MOSQUITTO, Mosquitto

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")


def read_until(transport, want: bytes, timeout: float = 3.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got and time.monotonic() < deadline:
        got += transport.read(4096, 0.1)
    return got


def publisher(port: int) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_each_device_gets_its_own_stream_on_one_connection():
    with Mosquitto() as broker:
        pub = publisher(broker.port)
        pub.publish("glovecoach/r/A/hello", b"old hello\x00", retain=True).wait_for_publish(2)
        conn = SharedMqttConnection("127.0.0.1", broker.port, "r")
        a, b = conn.transport("A"), conn.transport("B")
        a.open()
        b.open()
        first = conn._client
        pub.publish("glovecoach/r/A/frames", b"for A\x00").wait_for_publish(2)
        pub.publish("glovecoach/r/B/frames", b"for B\x00").wait_for_publish(2)
        pub.publish("glovecoach/r/A/hello", b"live hello\x00").wait_for_publish(2)
        got_a, got_b = read_until(a, b"live hello"), read_until(b, b"for B")
        assert got_a == b"\x00for A\x00live hello\x00"     # the retained hello skipped, order kept
        assert got_b == b"\x00for B\x00"
        assert conn._client is first, "one connection for both devices"
        # commands go to each device's own cmd topic
        seen = []
        pub.on_message = lambda c, u, m: seen.append((m.topic, m.payload))
        pub.subscribe("glovecoach/r/+/cmd")
        time.sleep(0.2)
        b.write(b"INFO\x00")
        time.sleep(0.3)
        assert seen == [("glovecoach/r/B/cmd", b"INFO\x00")]
        # the broker goes: both devices are told, then reopen on one new connection
        broker.restart(0.3)
        for t in (a, b):
            with pytest.raises(LinkLost):
                for _ in range(50):
                    t.read(4096, 0.1)
        a.open()
        b.open()
        assert conn._client is not first
        pub2 = publisher(broker.port)
        pub2.publish("glovecoach/r/B/frames", b"again\x00").wait_for_publish(2)
        assert read_until(b, b"again").endswith(b"again\x00")
        conn.close()
        pub.loop_stop()
        pub2.loop_stop()
