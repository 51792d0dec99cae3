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


class Owner:
    """What a GloveClient is to its reader, recording every call (the reader's contract)."""

    def __init__(self, transport):
        self.transport = transport
        self.up = True
        self.calls: list[tuple] = []
        self.data = b""
        self.threads: set[str] = set()

    def callbacks(self):
        import threading

        from glovecoach.link.reader import ReaderCallbacks

        def note(name, *args):
            self.calls.append((name, time.monotonic(), *args))
            self.threads.add(threading.current_thread().name)

        def on_bytes(data, received):
            note("bytes")
            self.data += data

        def reopen():
            note("reopen")
            try:
                self.transport.open()
            except LinkLost:
                return False
            self.up = True
            return True

        def on_lost(why):
            note("lost", why)
            self.up = False
            self.transport.close()

        return ReaderCallbacks(link_is_up=lambda: self.up, reopen=reopen, before_read=lambda now: None,
                               on_bytes=on_bytes, on_idle=lambda now: note("idle"), on_lost=on_lost)


def test_pushed_readers_get_every_byte_in_order_and_the_clock_on_one_shared_thread():
    import threading

    from glovecoach.link.reader import PushedReader, start_reader

    with Mosquitto() as broker:
        pub = publisher(broker.port)
        conn = SharedMqttConnection("127.0.0.1", broker.port, "r")
        owners = {}
        readers = {}
        for device in ("A", "B", "C"):
            t = conn.transport(device)
            t.open()
            owners[device] = Owner(t)
            readers[device] = start_reader(t, owners[device].callbacks(), reconnect=True, reconnect_interval=0.2)
            assert isinstance(readers[device], PushedReader)
        names = {th.name for th in threading.enumerate()}
        assert not any(n.startswith("glove-reader") for n in names), "no thread per device"
        assert sum(n.startswith("glove-ticker") for n in names) == 1
        frames = {d: [f"{d}{k:04d}".encode() + b"\x00" for k in range(300)] for d in owners}
        for k in range(300):
            for d in owners:
                pub.publish(f"glovecoach/r/{d}/frames", frames[d][k])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(len(o.data) < 1 + 6 * 300 for o in owners.values()):
            time.sleep(0.05)
        for d, o in owners.items():
            assert o.data == b"\x00" + b"".join(frames[d]), f"{d}: every byte, in order, the resync byte first"
        # silence: the clock still ticks for every device, about every 50 ms
        for o in owners.values():
            o.calls.clear()
        time.sleep(0.5)
        for o in owners.values():
            idle = [c[1] for c in o.calls if c[0] == "idle"]
            assert 5 <= len(idle) <= 15 and max(idle) - min(idle) > 0.3
        # the broker restarts: each owner is told once, reopens, and hears its device again
        broker.restart(0.3)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not all(o.up and any(c[0] == "lost" for c in o.calls)
                                                      for o in owners.values()):
            time.sleep(0.05)
        for o in owners.values():
            assert [c[0] for c in o.calls].count("lost") == 1 and o.up
            o.data = b""
        pub2 = publisher(broker.port)
        for d in owners:
            pub2.publish(f"glovecoach/r/{d}/frames", d.encode() + b" again\x00").wait_for_publish(2)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not all(o.data.endswith(b"again\x00") for o in owners.values()):
            time.sleep(0.05)
        for d, o in owners.items():
            assert o.data == b"\x00" + d.encode() + b" again\x00"
        for r in readers.values():
            r.stop()
        time.sleep(0.2)
        assert not any(th.name.startswith("glove-ticker") for th in threading.enumerate())
        conn.close()
        pub.loop_stop()
        pub2.loop_stop()
