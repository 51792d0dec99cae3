"""A room that outgrows one broker: a group's Mosquitto bridged to the room's central one.

Two real Mosquitto processes, both started by RoomBroker: the central (instructor's) broker with
TLS, accounts and a bridge login; the group's broker with its devices' accounts and a `Bridge`
to the central one. The real firmware publishes to the group's broker; the instructor reads it
on the central broker (commands go the other way through the bridge) and gets every frame in
order. Then the added latency of the hop is measured on 2,000 messages and printed
(docs/classroom.md quotes it).
"""

from __future__ import annotations

import queue
import struct
import time

import numpy as np
import paho.mqtt.client as paho
import pytest
from tls_certs import make_room_tls

from glovecoach.link.client import GapDetected, GloveClient, LinkDown, SamplesReceived
from glovecoach.link.room_broker import Bridge, RoomAccounts, RoomBroker
from mqtt_helpers import MOSQUITTO, MqttGlove

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")

ROOM = "room12"
DEVICE = "GC-GRP2-L"


@pytest.fixture
def bridged(tmp_path):
    """(central accounts, central broker, group accounts, group broker, the room CA)."""
    tls = make_room_tls(tmp_path / "certs")
    central_accounts = RoomAccounts.create(ROOM)
    bridge_password = central_accounts.add_bridge("bridge-group-2")
    group_accounts = RoomAccounts.create(ROOM, devices=[DEVICE])
    with RoomBroker(central_accounts, host="127.0.0.1", tls=tls) as central:
        bridge = Bridge("127.0.0.1", central.port, ROOM, username="bridge-group-2", password=bridge_password,
                        cafile=tls.cafile, name="group-2")
        with RoomBroker(group_accounts, host="127.0.0.1", bridge=bridge) as group:
            wait_bridge_up(central, group)
            yield central_accounts, central, group_accounts, group, tls


class Subscriber:
    """A paho client that stamps every message it receives with time.perf_counter()."""

    def __init__(self, port: int, user: str, password: str, topic: str, cafile=None) -> None:
        self.got: queue.Queue = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"sub-{user}-{time.monotonic_ns()}")
        self.client.username_pw_set(user, password)
        if cafile is not None:
            self.client.tls_set(ca_certs=str(cafile))
        self.client.on_message = lambda c, u, m: self.got.put((time.perf_counter(), m.topic, m.payload))
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *a: subscribed.put(True)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        self.client.subscribe(topic, qos=0)
        subscribed.get(timeout=5)

    def drain(self) -> list:
        out = []
        while not self.got.empty():
            out.append(self.got.get())
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_bridge_up(central: RoomBroker, group: RoomBroker, timeout: float = 10.0) -> None:
    """Mosquitto logs the bridge's connection on both sides once it is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "u'bridge-group-2'" in central.log():
            return
        time.sleep(0.05)
    raise TimeoutError(f"the bridge did not connect:\ngroup:\n{group.log()}\ncentral:\n{central.log()}")


def test_the_bridge_login_writes_device_streams_and_reads_commands_only(tmp_path):
    accounts = RoomAccounts.create(ROOM, devices=["GC-A"])
    accounts.add_bridge("bridge-group-2")
    acl = accounts.acl_file()
    block = acl.split("user bridge-group-2\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == [f"topic write glovecoach/{ROOM}/+/frames", f"topic write glovecoach/{ROOM}/+/hello",
                     f"topic write glovecoach/{ROOM}/+/online", f"topic read glovecoach/{ROOM}/+/cmd",
                     f"topic read glovecoach/{ROOM}/+/marks", f"topic read glovecoach/{ROOM}/+/messages"]
    again = RoomAccounts.load(accounts.save(tmp_path / "room.json"))
    assert again == accounts
    with pytest.raises(ValueError, match="already"):
        accounts.add_screen("bridge-group-2")
    with pytest.raises(ValueError, match="spaces"):
        Bridge("central", 8883, ROOM, username="b", password="with space").config_lines()


def test_a_device_on_the_groups_broker_reaches_the_instructor_losslessly(bridged, monkeypatch):
    central_accounts, central, group_accounts, group, tls = bridged
    monkeypatch.setenv("GLOVECOACH_MQTT_USER", "instructor")
    monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", central_accounts.screens["instructor"])
    with MqttGlove(group.port, glove_id=DEVICE, room=ROOM, user=DEVICE,
                   password=group_accounts.devices[DEVICE]) as glove:
        glove.wait_output("connected to", timeout=10)
        # The instructor is on the central broker only: HELLO (retained), START (cmd, in
        # through the bridge) and every frame (out through it).
        with GloveClient(f"mqtts://127.0.0.1:{central.port}/{ROOM}/{DEVICE}?ca={tls.cafile}") as client:
            hello = client.connect(timeout=5)
            assert hello.glove_id == DEVICE
            client.start(200)
            events: list = []
            end = time.monotonic() + 6.0
            while time.monotonic() < end:
                event = client.wait_event(0.05)
                if event is not None:
                    events.append(event)
            client.stop()
            stats = client.stats
    assert not [e for e in events if isinstance(e, (GapDetected, LinkDown))]
    assert stats.lost_frames == stats.duplicates == stats.corrupt_frames == 0
    batches = [e for e in events if isinstance(e, SamplesReceived)]
    index = batches[0].first_index
    for b in batches:   # contiguous: every frame, in order
        assert b.first_index == index
        index += len(b.raw)
    assert index - batches[0].first_index >= 200 * 6.0 * 0.95


@pytest.mark.parametrize("n_messages,rate", [(2000, 500), (4000, 1800)])
def test_the_bridge_adds_a_few_milliseconds(bridged, n_messages, rate):
    """Frame-sized messages published to the group's broker (500/s; 1,800/s, a 12-station room's
    rate), received both on
    the group's broker directly and on the central broker through the bridge (TLS): the
    difference of the two receive times is what the bridge adds. All arrive, in order."""
    central_accounts, central, group_accounts, group, tls = bridged
    topic = f"glovecoach/{ROOM}/{DEVICE}/frames"
    direct = Subscriber(group.port, "instructor", group_accounts.screens["instructor"], topic)
    far = Subscriber(central.port, "instructor", central_accounts.screens["instructor"], topic, tls.cafile)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-device")
    pub.username_pw_set(DEVICE, group_accounts.devices[DEVICE])
    pub.connect("127.0.0.1", group.port)
    pub.loop_start()
    try:
        payload = bytearray(190)   # a 200 Hz SAMPLES frame of 20 channels is ~190 bytes
        sent = np.zeros(n_messages)
        t0 = time.perf_counter()
        for i in range(n_messages):
            struct.pack_into("<I", payload, 0, i)
            sent[i] = time.perf_counter()
            pub.publish(topic, bytes(payload), qos=0)
            wait = t0 + (i + 1) / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        deadline = time.monotonic() + 10
        near, remote = [], []
        while time.monotonic() < deadline and (len(near) < n_messages or len(remote) < n_messages):
            near += direct.drain()
            remote += far.drain()
            time.sleep(0.05)
    finally:
        pub.loop_stop()
        pub.disconnect()
        direct.close()
        far.close()
    seq_near = [struct.unpack_from("<I", p)[0] for _, _, p in near]
    seq_far = [struct.unpack_from("<I", p)[0] for _, _, p in remote]
    assert seq_near == list(range(n_messages))
    assert seq_far == list(range(n_messages)), "the bridge lost or reordered a message"
    near_t = np.array([t for t, _, _ in near])
    added_ms = (np.array([t for t, _, _ in remote]) - near_t) * 1e3
    direct_ms = (near_t - sent) * 1e3
    p50, p99, worst = np.percentile(added_ms, 50), np.percentile(added_ms, 99), added_ms.max()
    print(f"bridge (group Mosquitto -> central Mosquitto with TLS), {n_messages} messages at {rate}/s: "
          f"added latency p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms; "
          f"for scale, publisher -> group broker -> subscriber p50 {np.percentile(direct_ms, 50):.2f} ms, "
          f"p99 {np.percentile(direct_ms, 99):.2f} ms")
    assert p50 < 20, "the bridge's hop should cost a few ms on the loopback"
