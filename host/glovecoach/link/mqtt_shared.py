"""Many devices of one room over one MQTT connection (the instructor's classroom).

`MqttTransport` gives each device its own paho client: its own socket, its own network thread
waking for every message. For a station that is 3 connections; for a room of 12 stations it
is 36, and measured on this 2-core machine the paho side alone cost 21.5 % of a core for 36
devices at 200 Hz against 8.3 % with one connection subscribed to the whole room
(benchmarks/bench_classroom.py). `SharedMqttConnection` is that one connection: one client
subscribed to ``glovecoach/<room>/+/frames`` (and ``+/hello``, ``+/online``), handing each device's
payloads to that device's `SharedMqttTransport`. Above the transport nothing changes: each
device still has its `GloveClient`, decoder, sequence checks and gap sizing.

A broker lost is lost for every device at once: each transport raises `LinkLost`, each
client's reconnect policy reopens it, and the first reopen builds a new connection that the
others then join.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as paho

from glovecoach.link.mqtt_transport import CONNECT_TIMEOUT_S, DEFAULT_KEEPALIVE_S, TOPIC_ROOT, BrokerRefused
from glovecoach.link.reader import PushTransport, ReaderTicker
from glovecoach.link.transport import LinkLost


class SharedMqttConnection:
    """One paho client for every device of a room; `transport(device_id)` for each device."""

    def __init__(self, host: str, port: int, room: str, *, username: str | None = None,
                 password: str | None = None, tls: bool = False, tls_ca: str | None = None,
                 keepalive_s: int = DEFAULT_KEEPALIVE_S, connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.host, self.port, self.room = host, port, room
        self._credentials = (username, password)
        self.tls, self.tls_ca = tls or tls_ca is not None, tls_ca
        self.keepalive_s, self.connect_timeout = keepalive_s, connect_timeout
        self.name = f"{'mqtts' if self.tls else 'mqtt'}://{host}:{port}/{room}"
        self._lock = threading.Lock()          # one (re)connection at a time
        self._cond = threading.Condition()
        self._client: paho.Client | None = None
        self._lost: str | None = None
        self._connack: paho.ReasonCode | None = None
        self._subscribed = 0
        self._devices: dict[str, SharedMqttTransport] = {}
        self._pending: paho.Client | None = None
        self.retained_skipped = 0
        self.ticker = ReaderTicker(self.name)   # the clock for every device's reader

    def transport(self, device_id: str) -> SharedMqttTransport:
        return SharedMqttTransport(self, device_id)

    # ------------------------------------------------------------------ the connection
    def ensure_open(self) -> None:
        """Connected and subscribed, (re)connecting if needed; LinkLost / BrokerRefused if not."""
        with self._lock:
            if self._client is not None and self._lost is None:
                return
            self._drop_client()
            client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                 client_id=f"glovecoach-room-{uuid.uuid4().hex[:12]}",
                                 protocol=paho.MQTTv311, clean_session=True)
            client.connect_timeout = self.connect_timeout
            user, password = self._credentials
            if user is not None:
                client.username_pw_set(user, password)
            if self.tls:
                try:
                    client.tls_set(ca_certs=self.tls_ca)
                except (OSError, ValueError) as exc:
                    raise LinkLost(f"{self.name}: cannot use the CA certificate {self.tls_ca}: {exc}") from exc
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_subscribe = self._on_subscribe
            client.on_message = self._on_message
            with self._cond:
                self._lost, self._connack, self._subscribed = None, None, 0
                self._pending = client   # callbacks from an older client (paho retrying) are ignored
            try:
                client.connect(self.host, self.port, keepalive=self.keepalive_s)
            except (OSError, ValueError) as exc:
                raise LinkLost(f"{self.name}: cannot reach the broker: {exc}") from exc
            client.loop_start()
            try:
                self._wait_ready(client)
            except BaseException:
                client.loop_stop()
                client.disconnect()
                raise
            self._client = client

    def _wait_ready(self, client: paho.Client) -> None:
        deadline = time.monotonic() + self.connect_timeout
        with self._cond:
            self._cond.wait_for(lambda: self._connack is not None or self._lost is not None,
                                timeout=self.connect_timeout)
            code, lost = self._connack, self._lost
        if code is None:
            raise LinkLost(f"{self.name}: {lost or f'no CONNACK within {self.connect_timeout:.1f} s'}")
        if code.is_failure:
            raise BrokerRefused(f"{self.name}: the broker refused the connection: {code}")
        # frames, the live HELLO (its topic's retained copy is history and skipped), presence
        topics = [f"{TOPIC_ROOT}/{self.room}/+/{what}" for what in ("frames", "hello", "online")]
        for topic in topics:
            client.subscribe(topic, qos=0)
        with self._cond:
            self._cond.wait_for(lambda: self._subscribed >= len(topics) or self._lost is not None,
                                timeout=max(0.0, deadline - time.monotonic()))
            if self._subscribed < len(topics):
                raise LinkLost(f"{self.name}: {self._lost or 'no SUBACK from the broker'}")

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def close(self) -> None:
        with self._lock:
            self._drop_client()
        for device in list(self._devices.values()):
            device._mark_lost("the room's connection was closed")

    def publish_to(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish on the room's connection (a mark, a message to a station's screen)."""
        self.ensure_open()
        assert self._client is not None
        self._client.publish(topic, payload, qos=qos)

    def publish(self, device_id: str, data: bytes) -> None:
        client = self._client
        if client is None or self._lost is not None:
            raise LinkLost(f"{self.name}/{device_id}: {self._lost or 'not open'}")
        info = client.publish(f"{TOPIC_ROOT}/{self.room}/{device_id}/cmd", bytes(data), qos=0)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise LinkLost(f"{self.name}/{device_id}: publish failed: {paho.error_string(info.rc)}")

    # ------------------------------------------------------------------ paho's thread
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self._pending:
            return
        with self._cond:
            self._connack = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if client is not self._pending:
            return
        with self._cond:
            self._subscribed += 1
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self._pending:
            return
        why = f"disconnected from the broker ({reason_code})"
        with self._cond:
            if self._lost is None:
                self._lost = why
            self._cond.notify_all()
        for device in list(self._devices.values()):   # every device's stream broke here
            device._mark_lost(why)

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if client is not self._pending:
            return
        parts = message.topic.split("/")
        if len(parts) != 4:
            return
        device = self._devices.get(parts[2])
        if device is None:
            return
        if parts[3] == "online":
            device.device_online = message.payload == b"1"
            return
        if parts[3] not in ("frames", "hello"):
            return
        if message.retain:
            self.retained_skipped += 1
            return
        device._deliver(message.payload)


class SharedMqttTransport(PushTransport):
    """One device's byte stream on a `SharedMqttConnection` (the same bytes `MqttTransport`
    gives: whole frames, a 0x00 first after each (re)open, retained messages skipped).

    Its client's reader is pushed the bytes on the connection's network thread
    (`PushedReader`); `read` still works for a caller that reads."""

    def __init__(self, connection: SharedMqttConnection, device_id: str) -> None:
        self.connection = connection
        self.device_id = device_id
        self.name = f"{connection.name}/{device_id}"
        self._chunks: list[bytes] = []
        self._lost: str | None = None
        self._open = False
        self._cond = threading.Condition()
        self._receiver: Callable[[bytes, float], None] | None = None
        self.device_online: bool | None = None

    # ------------------------------------------------------------------ pushing
    @property
    def ticker(self) -> ReaderTicker:
        return self.connection.ticker

    def set_receiver(self, receiver: Callable[[bytes, float], None] | None) -> None:
        # Chunks held from before (the resync byte of open(), a message in between) go out
        # with the next payload, on the network thread: one thread calls the receiver, so
        # the order is the order of arrival.
        with self._cond:
            self._receiver = receiver

    def lost_reason(self) -> str | None:
        if self._lost is not None:
            return f"{self.name}: {self._lost}"
        if not self._open:
            return f"{self.name} is not open"
        return None

    def _deliver(self, payload: bytes) -> None:
        """A message's payload, on the connection's network thread."""
        with self._cond:
            receiver = self._receiver
            if receiver is None:
                self._chunks.append(bytes(payload))
                self._cond.notify()   # each device its own condition: one wake-up per message
                return
            if self._chunks:
                payload = b"".join([*self._chunks, payload])
                self._chunks = []
        # Outside the lock: the receiver takes its reader's lock, whose holder may reopen us.
        receiver(payload, time.monotonic())

    def _mark_lost(self, why: str) -> None:
        with self._cond:
            self._lost = self._lost or why
            self._cond.notify_all()

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        if self._open and self._lost is None:
            return
        self.connection.ensure_open()
        with self._cond:
            self._chunks = [b"\x00"]     # resync the decoder at a frame boundary
            self._lost = None
        self.connection._devices[self.device_id] = self
        self._open = True

    def close(self) -> None:
        self._open = False
        if self.connection._devices.get(self.device_id) is self:
            del self.connection._devices[self.device_id]
        with self._cond:
            self._cond.notify_all()

    def read(self, max_bytes: int, timeout: float) -> bytes:
        with self._cond:
            if not self._chunks and self._lost is None and self._open:
                self._cond.wait(timeout)
            if self._chunks:
                data = b"".join(self._chunks)
                self._chunks = []
                if len(data) > max_bytes:
                    self._chunks = [data[max_bytes:]]
                    data = data[:max_bytes]
                return data
            if self._lost is not None:
                raise LinkLost(f"{self.name}: {self._lost}")
            if not self._open:
                raise LinkLost(f"{self.name} is not open")
            return b""

    def write(self, data: bytes) -> None:
        if self._lost is not None:
            raise LinkLost(f"{self.name}: {self._lost}")
        self.connection.publish(self.device_id, data)
