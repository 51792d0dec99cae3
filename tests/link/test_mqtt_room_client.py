"""The room's own MQTT client: packets cut out of any split of the byte stream, and against a real
Mosquitto: messages in order with their retained flag, many per read when they pile up, the
keep-alive held through silence, refusals and a lost broker said in words."""

from __future__ import annotations

import random
import socket
import threading
import time

import paho.mqtt.client as paho
import pytest

from glovecoach.link.mqtt_room_client import (
    MAX_PACKET_BYTES,
    MqttRefused,
    PacketCutter,
    RoomMqttClient,
    packet,
    publish_packet,
)
from glovecoach.link.mqtt_shared import SharedMqttConnection
from glovecoach.link.mqtt_transport import BrokerRefused
from glovecoach.link.transport import LinkLost
from mqtt_helpers import MOSQUITTO, Mosquitto, free_port


def feed_in_pieces(cutter: PacketCutter, stream: bytes, rng: random.Random) -> list:
    got, pos = [], 0
    while pos < len(stream):
        step = rng.choice([1, 2, 3, 50, 1000, 65536])
        got += cutter.feed(stream[pos:pos + step])
        pos += step
    return got


@pytest.mark.parametrize("seed", range(5))
def test_packets_are_cut_whole_from_any_split_of_the_stream(seed):
    rng = random.Random(seed)
    sizes = [0, 1, 127, 128, 200, 16383, 16384, 60000] + [rng.randrange(0, 600) for _ in range(40)]
    rng.shuffle(sizes)
    sent = [(f"glovecoach/r/D{k}/frames", bytes(rng.getrandbits(8) for _ in range(n)))
            for k, n in enumerate(sizes)]
    cutter = PacketCutter()
    got = feed_in_pieces(cutter, b"".join(publish_packet(t, p) for t, p in sent), rng)
    assert not cutter.buffer and cutter.oversize == 0
    assert [kind for kind, _, _ in got] == [3] * len(sent)
    for (_, _, body), (topic, payload) in zip(got, sent):
        topic_end = 2 + (body[0] << 8 | body[1])
        assert body[2:topic_end] == topic.encode() and body[topic_end:] == payload


@pytest.mark.parametrize("seed", range(5))
def test_an_oversize_packet_is_passed_over_and_the_stream_goes_on(seed):
    """A message longer than MAX_PACKET_BYTES (anything with a login may publish one) is not
    held or handed on, whatever pieces it arrives in; the packets around it arrive whole."""
    rng = random.Random(seed)
    small = [(f"glovecoach/r/D{k}/frames", bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300))))
             for k in range(20)]
    huge = [("glovecoach/r/EVIL/frames", bytes(MAX_PACKET_BYTES + 1)),
            ("glovecoach/r/EVIL/hello", bytes(3 * MAX_PACKET_BYTES))]
    stream = [publish_packet(t, p) for t, p in small[:7]] + [publish_packet(*huge[0])] \
        + [publish_packet(t, p) for t, p in small[7:15]] + [publish_packet(*huge[1]), packet(9, 0, bytes(70000))] \
        + [publish_packet(t, p) for t, p in small[15:]]
    cutter = PacketCutter()
    got = feed_in_pieces(cutter, b"".join(stream), rng)
    assert cutter.oversize == 3 and not cutter.buffer
    assert cutter.last_oversize == (b"", 70000 + 4)       # not a PUBLISH: no topic
    assert [body[2 + (body[0] << 8 | body[1]):] for _, _, body in got] == [p for _, p in small]
    # The topic of an oversize PUBLISH is read to say which one it was.
    one = PacketCutter()
    one.feed(publish_packet(*huge[1])[:200])
    assert one.oversize == 1 and one.last_oversize[0] == b"glovecoach/r/EVIL/hello" and not one.buffer


def test_a_malformed_length_is_an_error_not_a_wait():
    with pytest.raises(ValueError, match="longer than 4 bytes"):
        PacketCutter().feed(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(ValueError, match="topic is longer than the packet"):
        PacketCutter(max_packet=100).feed(b"\x30\xff\x01\xff\xff")


pytestmark_broker = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")


class Received:
    """``busy_call``: that call (1 = the first) does not return until ``busy`` is set, as a
    client busy with something else would not: the socket fills meanwhile."""

    def __init__(self, busy_call: int = 0) -> None:
        self.messages: list[tuple[bytes, bytes, bool]] = []
        self.calls = 0
        self.lost: list[str] = []
        self.busy_call = busy_call
        self.busy = threading.Event()
        self.changed = threading.Event()

    def on_messages(self, messages, received):
        assert isinstance(received, float)
        self.calls += 1
        self.messages += messages
        self.changed.set()
        if self.calls == self.busy_call:
            assert self.busy.wait(10.0), "the test never ended the busy moment"

    def on_lost(self, why):
        self.lost.append(why)
        self.changed.set()

    def wait_for(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            self.changed.wait(0.05)
            self.changed.clear()


def client_for(port: int, got: Received, **kw) -> RoomMqttClient:
    return RoomMqttClient("127.0.0.1", port, "test-room", ["glovecoach/r/+/frames", "glovecoach/r/+/hello"],
                          on_messages=got.on_messages, on_lost=got.on_lost, **kw)


def paho_publisher(port: int) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


@pytestmark_broker
def test_messages_arrive_in_order_many_to_a_read_and_retained_copies_are_marked():
    with Mosquitto() as broker:
        pub = paho_publisher(broker.port)
        pub.publish("glovecoach/r/A/hello", b"old", retain=True).wait_for_publish(2)
        got = Received(busy_call=2)      # busy from the first frame on, until all are sent
        client = client_for(broker.port, got)
        client.connect()
        got.wait_for(1)
        n = 600
        for k in range(n):
            pub.publish(f"glovecoach/r/D{k % 3}/frames", b"%05d" % k + b"x" * 180)
        pub.publish("glovecoach/r/A/other", b"not subscribed").wait_for_publish(2)
        got.wait_for(2)
        time.sleep(0.3)                  # the broker passes on what it was sent
        got.busy.set()
        got.wait_for(1 + n)
        client.close()
        pub.loop_stop()
    assert got.messages[0] == (b"glovecoach/r/A/hello", b"old", True)
    frames = got.messages[1:]
    assert [p[:5] for _, p, _ in frames] == [b"%05d" % k for k in range(n)]
    assert all(topic == f"glovecoach/r/D{k % 3}/frames".encode() and not retained
               for k, (topic, _, retained) in enumerate(frames))
    # what piled up while the first call was busy came in a few reads, not one wake per message
    assert got.calls < n / 5, got.calls
    assert not got.lost, "close() is not a loss"


@pytestmark_broker
def test_a_broker_without_a_size_limit_passes_a_huge_message_and_the_room_stays_connected():
    """A plain Mosquitto (not the room's, which refuses such packets: test_room_broker) hands
    the room a 2 MB message: passed over and counted, the connection and the order kept."""
    with Mosquitto() as broker:
        pub = paho_publisher(broker.port)
        got = Received()
        client = client_for(broker.port, got)
        client.connect()
        for k in range(5):
            pub.publish("glovecoach/r/D0/frames", b"before %d" % k)
        pub.publish("glovecoach/r/D1/frames", bytes(2_000_000))
        for k in range(5):
            pub.publish("glovecoach/r/D0/frames", b"after %d" % k).wait_for_publish(2)
        got.wait_for(10)
        oversize = client.packets.oversize, client.packets.last_oversize
        client.close()
        pub.loop_stop()
    assert [p for _, p, _ in got.messages] == [b"before %d" % k for k in range(5)] + [b"after %d" % k for k in range(5)]
    assert not got.lost
    assert oversize[0] == 1 and oversize[1][0] == b"glovecoach/r/D1/frames" and oversize[1][1] > 2_000_000


@pytestmark_broker
def test_the_keep_alive_holds_a_silent_connection_and_qos1_is_acknowledged():
    with Mosquitto() as broker:
        got = Received()
        client = client_for(broker.port, got, keepalive_s=1)
        client.connect()
        time.sleep(3.5)         # the broker drops a client silent for 1.5 keep-alives
        assert client.lost is None and not got.lost
        seen = []
        pub = paho_publisher(broker.port)
        pub.on_message = lambda c, u, m: seen.append((m.topic, m.payload, m.qos))
        pub.subscribe("glovecoach/r/+/cmd", qos=1)
        time.sleep(0.3)
        client.publish("glovecoach/r/D1/cmd", b"START", qos=1)
        client.publish("glovecoach/r/D2/cmd", b"STOP")
        deadline = time.monotonic() + 3
        while (len(seen) < 2 or client.puback_pending) and time.monotonic() < deadline:
            time.sleep(0.05)
        client.close()
        pub.loop_stop()
    assert sorted(seen) == [("glovecoach/r/D1/cmd", b"START", 1), ("glovecoach/r/D2/cmd", b"STOP", 0)]
    assert client.puback_pending == 0


@pytestmark_broker
def test_a_wrong_password_is_refused_in_words():
    with Mosquitto(users={"instructor": "right-horse"}) as broker:
        with pytest.raises(MqttRefused, match="user name or password|not authorized") as err:
            client_for(broker.port, Received(), username="instructor", password="wrong-battery").connect()
        assert err.value.code in (4, 5) and "wrong-battery" not in str(err.value)
        connection = SharedMqttConnection("127.0.0.1", broker.port, "r", username="instructor",
                                          password="wrong-battery")
        with pytest.raises(BrokerRefused, match=f"mqtt://127.0.0.1:{broker.port}/r: the broker refused"):
            connection.transport("D1").open()
        good = client_for(broker.port, Received(), username="instructor", password="right-horse")
        good.connect()
        good.close()


@pytestmark_broker
def test_a_broker_that_dies_is_told_once_and_close_after_it_is_quiet():
    with Mosquitto() as broker:
        got = Received()
        client = client_for(broker.port, got, keepalive_s=2)
        client.connect()
        broker.kill()
        deadline = time.monotonic() + 5
        while not got.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(got.lost) == 1 and "broker" in got.lost[0]
        with pytest.raises(LinkLost):
            client.publish("glovecoach/r/D1/cmd", b"INFO")
        client.close()
    assert len(got.lost) == 1


def test_no_broker_and_a_silent_listener_are_named():
    with pytest.raises(LinkLost, match="cannot reach the broker"):
        client_for(free_port(), Received()).connect()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        t0 = time.monotonic()
        with pytest.raises(LinkLost, match="no CONNACK within 0.5 s"):
            client_for(silent.getsockname()[1], Received(), connect_timeout=0.5).connect()
        assert time.monotonic() - t0 < 2.0
    finally:
        silent.close()
