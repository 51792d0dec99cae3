"""Many devices of one room over one MQTT connection (the instructor's classroom).

`MqttTransport` gives each device its own paho client: its own socket, its own network thread
waking for every message. For a station that is 3 connections; for a room of 12 stations it
is 36, and measured on this 2-core machine the paho side alone cost 21.5 % of a core for 36
devices at 200 Hz against 8.3 % with one connection subscribed to the whole room
(benchmarks/bench_classroom.py). `SharedMqttConnection` is that one connection: one client
(`RoomMqttClient`) subscribed to ``glovecoach/<room>/+/frames`` (and ``+/hello``, ``+/online``),
handing each device's payloads to that device's `SharedMqttTransport`. Above the transport nothing changes: each
device still has its `GloveClient`, decoder, sequence checks and gap sizing.

Each device's messages are weighed against its budget (`glovecoach.link.flood_guard`) before
anything is decoded: a device sending several times what any glove sends, for longer than a
burst lasts, has the excess dropped unread (a counted gap, and a device problem saying so), so
that it cannot take the instructor's process from every other station.

A broker lost is lost for every device at once: each transport raises `LinkLost`, each
client's reconnect policy reopens it, and the first reopen builds a new connection that the
others then join.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable

from glovecoach.link.flood_guard import GLOVE_FLOOD_LIMITS, FloodLimits, MessageBudget
from glovecoach.link.mqtt_room_client import Message, MqttRefused, RoomMqttClient
from glovecoach.link.mqtt_transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_KEEPALIVE_S,
    TOPIC_ROOT,
    BrokerRefused,
    closed_message,
)
from glovecoach.link.reader import PushTransport, ReaderTicker
from glovecoach.link.transport import LinkLost

log = logging.getLogger(__name__)
FLOOD_LOG_EVERY_S = 5.0


class SharedMqttConnection:
    """One connection for every device of a room; `transport(device_id)` for each device.

    The connection is a `RoomMqttClient` (glovecoach.link.mqtt_room_client), not paho: it reads
    the socket in large pieces and hands over every message of a read at once, and here each
    device gets the payloads of one read joined, in order, in one call."""

    def __init__(self, host: str, port: int, room: str, *, username: str | None = None,
                 password: str | None = None, tls: bool = False, tls_ca: str | None = None,
                 keepalive_s: int = DEFAULT_KEEPALIVE_S, connect_timeout: float = CONNECT_TIMEOUT_S,
                 flood_limits: FloodLimits = GLOVE_FLOOD_LIMITS) -> None:
        self.host, self.port, self.room = host, port, room
        self.flood_limits = flood_limits
        self._credentials = (username, password)
        self.tls, self.tls_ca = tls or tls_ca is not None, tls_ca
        self.keepalive_s, self.connect_timeout = keepalive_s, connect_timeout
        self.name = f"{'mqtts' if self.tls else 'mqtt'}://{host}:{port}/{room}"
        self._lock = threading.Lock()          # one (re)connection at a time
        self._client: RoomMqttClient | None = None
        self._devices: dict[str, SharedMqttTransport] = {}
        self._prefix = f"{TOPIC_ROOT}/{room}/".encode()
        self.retained_skipped = 0
        self.ticker = ReaderTicker(self.name)   # the clock for every device's reader

    def transport(self, device_id: str) -> SharedMqttTransport:
        return SharedMqttTransport(self, device_id)

    # ------------------------------------------------------------------ the connection
    def ensure_open(self) -> None:
        """Connected and subscribed, (re)connecting if needed; LinkLost / BrokerRefused if not."""
        with self._lock:
            if self._client is not None and self._client.lost is None:
                return
            self._drop_client()
            context = None
            if self.tls:
                try:
                    context = ssl.create_default_context(cafile=self.tls_ca)
                except (OSError, ValueError, ssl.SSLError) as exc:
                    raise LinkLost(f"{self.name}: cannot use the CA certificate {self.tls_ca}: {exc}") from exc
            user, password = self._credentials
            # frames, the live HELLO (its topic's retained copy is history and skipped), presence
            topics = [f"{TOPIC_ROOT}/{self.room}/+/{what}" for what in ("frames", "hello", "online")]
            client = RoomMqttClient(self.host, self.port, f"glovecoach-room-{uuid.uuid4().hex[:12]}", topics,
                                    on_messages=self._on_messages, on_lost=self._on_lost,
                                    username=user, password=password, ssl_context=context,
                                    keepalive_s=self.keepalive_s, connect_timeout=self.connect_timeout)
            try:
                client.connect()
            except MqttRefused as exc:
                raise BrokerRefused(f"{self.name}: the broker refused the connection: {exc}") from exc
            except LinkLost as exc:
                raise LinkLost(f"{self.name}: {exc}") from exc
            self._client = client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            self._drop_client()
        for device in list(self._devices.values()):
            device._mark_lost("the room's connection was closed")

    def publish_to(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish on the room's connection (a mark, a message to a station's screen)."""
        self.ensure_open()
        assert self._client is not None
        try:
            self._client.publish(topic, payload, qos=qos)
        except LinkLost as exc:
            raise LinkLost(f"{self.name}: {exc}") from exc

    def publish(self, device_id: str, data: bytes) -> None:
        client = self._client
        if client is None:
            raise LinkLost(f"{self.name}/{device_id}: not open")
        try:
            client.publish(f"{TOPIC_ROOT}/{self.room}/{device_id}/cmd", data, qos=0)
        except LinkLost as exc:
            raise LinkLost(f"{self.name}/{device_id}: {exc}") from exc

    # ------------------------------------------------------------------ the client's thread
    def _on_lost(self, why: str) -> None:
        for device in list(self._devices.values()):   # every device's stream broke here
            device._mark_lost(why)

    def _on_messages(self, messages: list[Message], received: float) -> None:
        """The messages of one read: each device's payloads joined, in their order, one call."""
        prefix, n = self._prefix, len(self._prefix)
        payloads: dict[SharedMqttTransport, list[bytes]] = {}
        flooding: set[SharedMqttTransport] = set()
        for topic, payload, retained in messages:
            if not topic.startswith(prefix):
                continue
            device_id, _, what = topic[n:].partition(b"/")
            device = self._devices.get(device_id.decode("utf-8", "replace"))
            if device is None:
                continue
            if what == b"online":
                device.device_online = payload == b"1"
            elif what in (b"frames", b"hello"):
                if retained:
                    self.retained_skipped += 1
                elif device.budget.admit(len(payload), received):
                    payloads.setdefault(device, []).append(closed_message(payload))
                else:
                    flooding.add(device)
        for device, parts in payloads.items():
            device._deliver(parts[0] if len(parts) == 1 else b"".join(parts), received)
        for device in flooding:
            device._report_flood()


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
        # What this device may send (glovecoach.link.flood_guard); it outlives reconnections.
        self.budget = MessageBudget(connection.flood_limits)
        self._flood_logged_at = -float("inf")

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

    def _deliver(self, payload: bytes, received: float) -> None:
        """Payloads (whole frames), on the connection's network thread."""
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
        receiver(payload, received)

    def _report_flood(self) -> None:
        """Tell the device's client that messages were dropped unread: it reports them as a
        device problem, at most every few seconds with the count since (a flood calls this on
        every read). Without a client, the log says so as seldom."""
        budget = self.budget
        message = (f"sends more than any glove: over {budget.limits.describe()}; "
                   f"{budget.refused} messages ({budget.refused_bytes} bytes) dropped unread so far (a counted gap)")
        if self.on_problem is not None:
            self.on_problem("flood", message)
            return
        now = time.monotonic()
        if now - self._flood_logged_at >= FLOOD_LOG_EVERY_S:
            self._flood_logged_at = now
            log.warning("%s: %s", self.name, message)

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
