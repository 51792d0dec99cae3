"""A glove on WiFi, end to end: the real firmware (MicroPython unix port) publishing over real
sockets to a real broker on the loopback (Mosquitto, or the embedded amqtt), read by the
unchanged GloveClient through the mqtt:// transport.

The glove plays a signal file whose rows are all different, so every received sample can be
checked against the row it must hold: a lost or duplicated message may make a counted gap,
never shifted data.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest

from glovecoach.link.broker import EmbeddedBroker
from glovecoach.link.client import GapDetected, GloveClient, LinkDown, LinkUp, SamplesReceived
from glovecoach.link.mqtt_transport import BrokerRefused, MqttTransport
from mqtt_helpers import REPO, Mosquitto, MqttGlove, TcpRelay

N_CHANNELS = len(json.loads((REPO / "hardware" / "sensor_map.json").read_text())["channels"])
N_ROWS = 997   # prime, so the row a sample holds identifies its slot modulo 997


def signal_rows() -> np.ndarray:
    r = np.arange(N_ROWS)[:, None]
    c = np.arange(N_CHANNELS)[None, :]
    return (100 + (r * 3 + c * 131) % 3000).astype(np.uint16)


@pytest.fixture(scope="module")
def signal_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sig") / "rows.gcsig"
    rows = signal_rows()
    path.write_bytes(b"GCSIG1\n\0" + struct.pack("<HHI", N_CHANNELS, 200, N_ROWS) + rows.tobytes())
    return path


def collect(client: GloveClient, seconds: float) -> list:
    events, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        event = client.wait_event(0.05)
        if event is not None:
            events.append(event)
    return events


def check_samples(events: list) -> tuple[int, np.ndarray]:
    """Every sample holds the signal row of its slot (one offset for the whole session: the
    firmware reads a row every slot since boot, START picks where index 0 lands). Returns
    the number of samples and the host-side latency of the last sample of each frame (s)."""
    rows = signal_rows()
    batches = [e for e in events if isinstance(e, SamplesReceived)]
    assert batches, "no samples"
    first = batches[0]
    offsets = np.flatnonzero((rows == first.raw[0]).all(axis=1))
    assert len(offsets) == 1
    offset = (offsets[0] - first.first_index) % N_ROWS
    for b in batches:
        expected = rows[(offset + b.first_index + np.arange(len(b.raw))) % N_ROWS]
        np.testing.assert_array_equal(b.raw, expected, err_msg=f"shifted data at index {b.first_index}")
    return sum(len(b.raw) for b in batches), np.concatenate([b.frames for b in batches])


def latencies_s(client: GloveClient, frames: np.ndarray) -> np.ndarray:
    """Receive time on the host minus the device time of each frame's FIRST sample.

    The unix port's ticks_us and Python's time.monotonic read the same CLOCK_MONOTONIC, so the
    difference is real latency: filling the frame (spf - 1 periods), the device's send, the
    broker, paho, the reader thread. (The first sample's t_us is its true time; the others'
    are on the slot grid, which the first may trail by up to a period, so "the last sample's
    latency" can only be estimated as this minus spf - 1 periods.)"""
    frames = frames[:-1]   # the last is the partial frame STOP sends at once
    received_us = ((frames["host_time"] - client.host_time(0.0)) * 1e6).astype(np.int64)
    wrapped = (received_us - frames["t_us"].astype(np.int64) + (1 << 29)) % (1 << 30) - (1 << 29)
    return wrapped / 1e6


def stream_without_loss(url: str, rate_hz: int, seconds: float) -> dict:
    with GloveClient(url) as client:
        hello = client.connect(timeout=5)
        assert hello.info["board"] == "unix-sim"
        assert len(hello.info["channels"]) == N_CHANNELS
        client.start(rate_hz)
        events = collect(client, seconds)
        client.stop()
        events += collect(client, 0.2)
        assert not [e for e in events if isinstance(e, (GapDetected, LinkDown))]
        n, frames = check_samples(events)
        stats = client.stats
        assert stats.lost_frames == stats.duplicates == stats.corrupt_frames == 0
        lat = latencies_s(client, frames)
    # All the samples of the run arrived (the STOP's partial frame included).
    assert n >= rate_hz * seconds * 0.95
    fill_s = (rate_hz // 50 - 1) / rate_hz
    assert lat.min() > fill_s - 1.0 / rate_hz, "a frame arrived before it was full: clock mix-up"
    return {"frame_fill_ms": round(1e3 * fill_s, 2), "samples": n, "rate": round(n / seconds, 1),
            "p50_ms": round(1e3 * float(np.median(lat)), 2), "p99_ms": round(1e3 * float(np.percentile(lat, 99)), 2),
            "max_ms": round(1e3 * float(lat.max()), 2)}


@pytest.mark.parametrize("rate_hz", [200, 1000])
def test_wifi_glove_streams_through_mosquitto_without_loss(signal_file, rate_hz):
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-M", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        figures = stream_without_loss(glove.url, rate_hz, 5.0)
    print(f"mosquitto {rate_hz} Hz: {figures}")
    assert figures["p99_ms"] - figures["frame_fill_ms"] < 50


def test_wifi_glove_streams_through_the_embedded_broker(signal_file):
    with EmbeddedBroker() as broker:
        with MqttGlove(broker.address.port, glove_id="GC-WIFI-A", signal_path=signal_file) as glove:
            glove.wait_output("connected")
            figures = stream_without_loss(glove.url, 200, 5.0)
    print(f"amqtt 200 Hz: {figures}")
    assert figures["p99_ms"] - figures["frame_fill_ms"] < 100


def test_broker_restart_mid_stream_is_one_exact_counted_gap(signal_file):
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-R", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as client:
            client.connect()
            client.start(200)
            events = collect(client, 1.5)
            broker.restart(down_s=0.5)
            events += collect(client, 3.0)
            client.stop()
            events += collect(client, 0.2)
            stats = client.stats
            received = client.samples_received
        out = glove.output()
    kinds = [type(e) for e in events]
    assert LinkDown in kinds and LinkUp in kinds[kinds.index(LinkDown):]
    gaps = [e for e in events if isinstance(e, GapDetected)]
    # One gap, sized from the device's own sample counters (exact), whole frames of 4.
    assert len(gaps) == 1 and gaps[0].exact and gaps[0].reason == "link_lost", gaps
    assert gaps[0].n_samples % 4 == 0 and stats.lost_frames == gaps[0].n_samples // 4
    n, _ = check_samples(events)   # and the samples on both sides hold their own rows
    last = max(e.first_index + len(e.raw) for e in events if isinstance(e, SamplesReceived))
    assert n == received and n + gaps[0].n_samples == last
    # The glove kept sampling through it and reconnected by itself.
    assert out.count("connected to") == 2 and "connection lost" in out
    print(f"broker down 0.5 s: gap of {gaps[0].n_samples} samples ({stats.lost_frames} frames)")


def stream_with_intruder(signal_file, glove_id: str, intrude) -> tuple[list, object]:
    """The real firmware streaming at 200 Hz through Mosquitto to a GloveClient, and a second
    client on the glove's frames topic (QoS 0's retransmission, or anything with a login on
    it) that sees the glove's SAMPLES frames and, a second in, publishes there:
    ``intrude(frames_seen, publish)`` returns the client's events while it did. Returns
    (every event, the client's stats)."""
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id=glove_id, signal_path=signal_file) as glove:
        glove.wait_output("connected")
        captured: list[bytes] = []
        topic = f"glovecoach/test/{glove.glove_id}/frames"
        spy = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        spy.on_message = lambda c, u, m: captured.append(m.payload)
        spy.connect("127.0.0.1", broker.port)
        spy.subscribe(topic)
        spy.loop_start()
        try:
            with GloveClient(glove.url) as client:
                client.connect()
                client.start(200)
                events = collect(client, 1.0)
                samples = [m for m in captured if m[1] == 0x10]   # COBS: byte 1 is the type

                def publish(payload: bytes) -> list:
                    spy.publish(topic, payload).wait_for_publish(2)
                    return collect(client, 0.05)

                events += intrude(samples, publish)
                events += collect(client, 1.0)
                client.stop()
                stats = client.stats
        finally:
            spy.loop_stop()
            spy.disconnect()
    return events, stats


def test_a_duplicated_message_is_dropped_and_counted(signal_file):
    """QoS 0 may deliver a message twice (a retransmission after a reconnect): the client
    drops the repeated frames by sequence number and counts them; nothing shifts."""
    events, stats = stream_with_intruder(signal_file, "GC-WIFI-D", lambda frames, publish: publish(frames[-3]))
    assert stats.duplicates + stats.out_of_order == 1 and stats.lost_frames == 0
    assert not [e for e in events if isinstance(e, GapDetected)]
    check_samples(events)


def test_cut_frames_and_noise_on_the_topic_cost_only_themselves(signal_file):
    """Bytes that are not whole frames (a frame cut in half, noise, noise ending in a
    delimiter) published on a glove's topic are counted corrupt; none runs into the next
    message and takes the glove's next frame with it: no gap, nothing shifted."""
    rng = np.random.default_rng(5)

    def noise(frames, publish):
        frame = frames[-1]
        payloads = [frame[:len(frame) // 2], frame[1:], b"\x7f" * 40,
                    rng.integers(1, 256, 300, dtype=np.uint8).tobytes(),
                    rng.integers(1, 256, 50, dtype=np.uint8).tobytes() + b"\x00"]
        return [e for payload in payloads * 4 for e in publish(payload)]

    events, stats = stream_with_intruder(signal_file, "GC-WIFI-C", noise)
    assert not [e for e in events if isinstance(e, GapDetected)]
    assert stats.lost_frames == 0 and stats.corrupt_frames >= 16, stats
    check_samples(events)


def test_several_screens_watch_one_glove(signal_file):
    """The broker fans the frames out: a second client sees the stream the first started."""
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-S", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as coach, GloveClient(glove.url) as watcher:
            coach.connect()
            coach.start(200)
            hello = watcher.connect()
            assert hello.info["streaming"] is True
            events = collect(watcher, 1.5)
            coach.stop()
    n, _ = check_samples(events)
    assert n >= 250


def test_a_stream_stopped_by_another_screen_is_started_again_by_one_that_wants_it(signal_file):
    """A trainee's screen closing sends STOP; the instructor, who joined that stream and still
    wants it, starts it again: the samples missed are one counted gap, then the stream goes on.
    A screen that only watches does not restart anything."""
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-J", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as trainee, GloveClient(glove.url) as instructor, \
                GloveClient(glove.url) as watcher:
            trainee.connect()
            trainee.start(200)
            instructor.connect()
            watcher.connect()
            assert instructor.join_stream() == 200
            events = collect(instructor, 1.0)
            trainee.stop()                    # the trainee's screen closes
            trainee.close()
            events += collect(instructor, 4.0)
            watched = instructor.samples_received
            instructor.stop()
            events += collect(instructor, 0.3)
    gaps = [e for e in events if isinstance(e, GapDetected)]
    assert [g.reason for g in gaps] == ["stopped_elsewhere"], gaps
    after = [e for e in events if isinstance(e, SamplesReceived) and e.first_index >= gaps[0].end_index]
    assert sum(len(e.raw) for e in after) >= 400, "the stream went on after the STOP"
    assert watched > 0


def test_a_screen_that_stopped_does_not_record_the_stream_another_screen_starts_again(signal_file):
    """The trainee's screen sends STOP and is still open (finishing its session) when the
    instructor starts the stream again: the trainee's session ends at its STOP, without a
    gap and without the instructor's new stream."""
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-K", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as trainee, GloveClient(glove.url) as instructor:
            trainee.connect()
            trainee.start(200)
            instructor.connect()
            assert instructor.join_stream() == 200
            collect(instructor, 1.0)
            trainee.stop()
            restarted = collect(instructor, 3.0)      # the instructor starts it again meanwhile
            trainee_events = collect(trainee, 0.5)    # every event of the trainee's session
            instructor.stop()
    assert [g.reason for g in restarted if isinstance(g, GapDetected)] == ["stopped_elsewhere"]
    assert not [e for e in trainee_events if isinstance(e, GapDetected)], trainee_events
    last_trainee = max(e.frames["t_us"][-1] for e in trainee_events if isinstance(e, SamplesReceived))
    after_gap = [e for e in restarted if isinstance(e, SamplesReceived) and e.frames["t_us"][0] > last_trainee]
    assert sum(len(e.raw) for e in after_gap) >= 400, "the instructor's stream did not go on"
    assert trainee.samples_received == sum(len(e.raw) for e in trainee_events if isinstance(e, SamplesReceived))


def test_wrong_password_is_refused_with_a_clear_error(signal_file):
    with Mosquitto(users={"glove": "right-horse"}) as broker:
        # The host: a clear, specific error, without the password in it.
        bad = MqttTransport("127.0.0.1", broker.port, "test", "GC-X", username="glove", password="wrong-battery")
        refused = "refused the connection: Not authorized.*user name and password"
        with pytest.raises(BrokerRefused, match=refused) as err:
            bad.open()
        assert "wrong-battery" not in str(err.value)
        anonymous = MqttTransport("127.0.0.1", broker.port, "test", "GC-X")
        with pytest.raises(BrokerRefused):
            anonymous.open()
        # The glove: refused, says why on its console, never shows the password, keeps retrying.
        with MqttGlove(broker.port, glove_id="GC-WIFI-P", user="glove", password="wrong-battery") as glove:
            out = glove.wait_output("refused")
            assert "not authorized" in out or "bad user name or password" in out
            assert "wrong-battery" not in out
            assert glove.proc is not None and glove.proc.poll() is None
        # With the right password both sides get through.
        with MqttGlove(broker.port, glove_id="GC-WIFI-P", user="glove", password="right-horse") as glove:
            glove.wait_output("connected")
            good = MqttTransport("127.0.0.1", broker.port, "test", "GC-WIFI-P", username="glove",
                                 password="right-horse")
            with GloveClient(good) as client:
                assert client.connect().info["glove_id"] == "GC-WIFI-P"
            assert "right-horse" not in glove.output()


def test_no_broker_is_link_lost_naming_the_broker():
    from glovecoach.link.transport import LinkLost, make_transport
    from mqtt_helpers import free_port

    port = free_port()
    transport = make_transport(f"mqtt://127.0.0.1:{port}/test/GC-1")
    with pytest.raises(LinkLost, match=f"mqtt://127.0.0.1:{port}/test/GC-1: cannot reach the broker"):
        transport.open()


def test_wifi_drop_and_rejoin_is_one_exact_counted_gap(signal_file):
    """The glove's network goes for 0.5 s (its broker connection is reset, reconnecting is
    refused meanwhile); the host stays connected. The glove keeps sampling, drops what it
    cannot send, reconnects by itself; the host sees a stall, then one exact gap."""
    with Mosquitto() as broker:
        relay = TcpRelay(broker.port)
        try:
            with MqttGlove(relay.port, glove_id="GC-WIFI-W", signal_path=signal_file) as glove:
                glove.wait_output("connected")
                url = f"mqtt://127.0.0.1:{broker.port}/test/GC-WIFI-W"   # the host's own way
                with GloveClient(url) as client:
                    client.connect()
                    client.start(200)
                    events = collect(client, 1.5)
                    relay.cut(down_s=0.5)
                    events += collect(client, 3.0)
                    client.stop()
                    events += collect(client, 0.2)
                    stats = client.stats
                out = glove.output()
        finally:
            relay.close()
    gaps = [e for e in events if isinstance(e, GapDetected)]
    assert len(gaps) == 1 and gaps[0].exact, gaps
    assert gaps[0].n_samples % 4 == 0 and stats.lost_frames == gaps[0].n_samples // 4
    assert not [e for e in events if isinstance(e, LinkDown)]   # the host's link never went
    n, _ = check_samples(events)
    last = max(e.first_index + len(e.raw) for e in events if isinstance(e, SamplesReceived))
    assert n + gaps[0].n_samples == last
    assert out.count("connected to") == 2
    print(f"WiFi cut 0.5 s: gap of {gaps[0].n_samples} samples ({gaps[0].reason})")


def test_glove_rebooting_mid_session_is_a_counted_gap_and_streaming_resumes(signal_file):
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-B", signal_path=signal_file) as glove:
        glove.wait_output("connected")
        with GloveClient(glove.url) as client:
            boot_before = client.connect().boot_id
            client.start(200)
            events = collect(client, 1.0)
            glove.stop()          # power cut
            time.sleep(0.3)
            glove.start()         # boots again: HELLO with a new boot id, not streaming
            events += collect(client, 3.0)
            client.stop()
            events += collect(client, 0.2)
            assert client.hello is not None and client.hello.boot_id != boot_before
    gaps = [e for e in events if isinstance(e, GapDetected)]
    assert [g.reason for g in gaps] == ["device_reset"], gaps
    batches = [e for e in events if isinstance(e, SamplesReceived)]
    after = [b for b in batches if b.first_index >= gaps[0].end_index]
    # The client restarted the stream on the new boot: samples keep coming after the gap,
    # and each side of it holds consecutive rows of the signal (the new boot reads from row 0).
    assert sum(len(b.raw) for b in after) >= 300
    check_samples([b for b in batches if b.first_index < gaps[0].first_index])
    check_samples(after)
    print(f"reboot: gap of {gaps[0].n_samples} samples (exact={gaps[0].exact})")


def test_the_glove_says_it_is_online_and_the_broker_says_when_it_is_gone():
    """The glove publishes online "1" (retained) on connecting and leaves "0" as its will: a
    screen learns at once that a glove lost power or network, not after a stall timeout."""
    with Mosquitto() as broker, MqttGlove(broker.port, glove_id="GC-WIFI-O") as glove:
        glove.wait_output("connected")
        transport = MqttTransport("127.0.0.1", broker.port, "test", "GC-WIFI-O")
        transport.open()
        try:
            wait_until(lambda: transport.device_online is True)   # the retained "1"
            glove.stop()                                           # power cut: no DISCONNECT
            t0 = time.monotonic()
            wait_until(lambda: transport.device_online is False)
            gone_s = time.monotonic() - t0
            glove.start()
            wait_until(lambda: transport.device_online is True)
            assert transport.read(65536, 0.1).startswith(b"\x00")  # presence never enters the bytes
        finally:
            transport.close()
    assert gone_s < 1.0
    print(f"offline seen {1e3 * gone_s:.0f} ms after the glove died")


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
