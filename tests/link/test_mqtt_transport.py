"""mqtt:// URLs, the broker choice, and the transport's handling of what the broker delivers
(retained HELLO, broker gone) with real brokers."""

from __future__ import annotations

import time

import paho.mqtt.client as paho
import pytest

from glovecoach.link import broker as broker_mod
from glovecoach.link.broker import BrokerAddress, EmbeddedBroker, parse_address, station_broker
from glovecoach.link.mqtt_transport import MqttTransport, transport_from_url
from glovecoach.link.transport import LinkLost, make_transport
from mqtt_helpers import Mosquitto


def test_url_is_parsed_into_broker_room_and_device():
    t = make_transport("mqtt://10.0.0.5:1884/lab-2/GC-0A1B?keepalive=20")
    assert isinstance(t, MqttTransport)
    assert (t.host, t.port, t.room, t.device_id, t.keepalive_s) == ("10.0.0.5", 1884, "lab-2", "GC-0A1B", 20)
    assert t.topics == {what: f"glovecoach/lab-2/GC-0A1B/{what}"
                        for what in ("frames", "hello", "cmd", "online", "marks", "messages")}
    assert transport_from_url("mqtt://broker.local/r/d").port == 1883


def test_credentials_never_appear_in_the_name(monkeypatch):
    t = transport_from_url("mqtt://coach:pa%40ss@127.0.0.1:1883/r/GC-1")
    assert (t.username, t._password) == ("coach", "pa@ss")
    assert "pa@ss" not in t.name and "coach" not in t.name and "pa@ss" not in repr(t)
    monkeypatch.setenv("GLOVECOACH_MQTT_USER", "env-user")
    monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", "env-pw")
    t = transport_from_url("mqtt://127.0.0.1/r/GC-1")
    assert (t.username, t._password) == ("env-user", "env-pw")


@pytest.mark.parametrize("url,message", [
    ("mqtt:///r/d", "no broker host"),
    ("mqtt://h:99999/r/d", "port"),
    ("mqtt://h/r", "expected mqtt://host:port/<room>/<device_id>"),
    ("mqtt://h/r/d/extra", "expected mqtt://host:port/<room>/<device_id>"),
    ("mqtt://h/r/d+", "device id 'd\\+' must be one MQTT topic level"),
    ("mqtt://h/r/d?qos=1", "unknown mqtt option"),
    ("mqtt://h/r/d?keepalive=soon", "keepalive='soon' is not a whole number"),
])
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(ValueError, match=message):
        make_transport(url)


def test_broker_address_from_the_environment(monkeypatch):
    monkeypatch.delenv(broker_mod.BROKER_ENV, raising=False)
    assert broker_mod.configured_broker() is None
    monkeypatch.setenv(broker_mod.BROKER_ENV, "mqtt.school.lan:8883")
    assert broker_mod.configured_broker() == BrokerAddress("mqtt.school.lan", 8883)
    with station_broker() as address:   # a configured broker is used, none is started
        assert address == BrokerAddress("mqtt.school.lan", 8883)
    assert parse_address("10.1.2.3") == BrokerAddress("10.1.2.3", 1883)
    assert parse_address("[::1]:1884") == BrokerAddress("::1", 1884)
    with pytest.raises(ValueError, match="GLOVECOACH_MQTT_BROKER='h:x': port 'x' is not a number"):
        parse_address("h:x")
    with pytest.raises(ValueError, match="port in 1..65535"):
        parse_address("h:0")


def test_station_broker_starts_an_embedded_one_when_none_is_configured(monkeypatch):
    monkeypatch.delenv(broker_mod.BROKER_ENV, raising=False)
    with station_broker() as address:
        assert address.host == "127.0.0.1" and address.port > 0
        got = []
        sub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        sub.on_message = lambda c, u, m: got.append(m.payload)
        sub.connect(address.host, address.port)
        sub.subscribe("x/#")
        sub.loop_start()
        time.sleep(0.2)
        sub.publish("x/y", b"hi").wait_for_publish(2)
        deadline = time.monotonic() + 2
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        sub.loop_stop()
        sub.disconnect()
        assert got == [b"hi"]
    # Stopped with the block: the port is free again.
    with pytest.raises(LinkLost):
        MqttTransport(address.host, address.port, "r", "d").open()


def test_two_embedded_brokers_do_not_collide():
    with EmbeddedBroker() as a, EmbeddedBroker() as b:
        assert a.address != b.address


def test_retained_hello_is_not_fed_to_the_client_and_a_broker_gone_is_link_lost():
    """A retained HELLO is history (maybe another boot, maybe "not streaming"): the transport
    passes only live messages. And when the broker dies, read() raises LinkLost."""
    with Mosquitto() as broker:
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("glovecoach/r/GC-1/hello", b"\x02\x01\x00", retain=True).wait_for_publish(2)
        t = MqttTransport("127.0.0.1", broker.port, "r", "GC-1")
        t.open()
        try:
            time.sleep(0.2)
            assert t.read(1000, 0.1) == b"\x00"   # only the resync delimiter
            assert t.retained_skipped == 1
            pub.publish("glovecoach/r/GC-1/frames", b"\x03ab\x00").wait_for_publish(2)
            assert t.read(1000, 1.0) == b"\x03ab\x00"
            pub.loop_stop()
            pub.disconnect()
            broker.kill()
            with pytest.raises(LinkLost, match="disconnected from the broker"):
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    t.read(1000, 0.1)
        finally:
            t.close()


def test_an_instructors_notes_come_beside_the_stream_and_bad_ones_are_dropped():
    """A mark and a message on the device's own topics reach `on_note` (not the byte stream);
    what is not a JSON object with a text (noise, a list, a number for a text) is counted and
    dropped; another device's message does not come at all."""
    with Mosquitto() as broker:
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        t = MqttTransport("127.0.0.1", broker.port, "r", "GC-1")
        notes = []
        t.on_note = lambda kind, payload: notes.append((kind, payload))
        t.open()
        try:
            for topic, payload in (("glovecoach/r/GC-1/messages", b'{"text": "slow down", "host_time": 1.5}'),
                                   ("glovecoach/r/GC-1/marks", b'{"at_s": 3.0, "text": ""}'),
                                   ("glovecoach/r/GC-1/messages", b"\xff\x00noise"),
                                   ("glovecoach/r/GC-1/messages", b'["a", "list"]'),
                                   ("glovecoach/r/GC-1/messages", b'{"text": 42}'),
                                   ("glovecoach/r/GC-2/messages", b'{"text": "not yours"}'),
                                   ("glovecoach/r/GC-1/frames", b"\x03ab\x00")):
                pub.publish(topic, payload, qos=1).wait_for_publish(2)
            stream = b""
            deadline = time.monotonic() + 2
            while not stream.endswith(b"ab\x00") and time.monotonic() < deadline:
                stream += t.read(1000, 0.1)
            assert stream == b"\x00\x03ab\x00"     # the resync delimiter and the frame: nothing of the notes
            deadline = time.monotonic() + 2
            while t.notes_refused < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert notes == [("message", {"text": "slow down", "host_time": 1.5}),
                             ("mark", {"at_s": 3.0, "text": ""})]
            assert t.notes_refused == 3
        finally:
            t.close()
            pub.loop_stop()
            pub.disconnect()


def test_embedded_broker_on_a_busy_port_says_so():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="embedded MQTT broker \\(amqtt\\) failed to start.*"):
            EmbeddedBroker(port=port).start()
