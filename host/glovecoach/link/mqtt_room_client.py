"""A small MQTT 3.1.1 client for the room's one connection: it reads what the socket holds and
hands every message in it over at once.

Why not paho here: paho reads one packet per wake of its loop, with three or four ``recv``
calls for each (the type byte, the length bytes, the rest), then builds a message object and
dispatches it. For the 1,800 frames a second of a 12-station room that is the largest single
cost of the instructor's process: measured on this 2-core machine with 6 stations, paho's own
part was 136 µs a message (5.1 s of thread CPU in 40 s), more than all of glovecoach's work on
the message (105 µs). This client reads up to 64 kB a call, cuts every whole packet out of the
buffer, and passes the PUBLISHes of one read to ``on_messages`` together, so a busy room costs
fewer wake-ups, not more (benchmarks/bench_classroom.py).

What it speaks is the part of MQTT 3.1.1 a room's subscriber needs: CONNECT (clean session,
user name and password, keep-alive), SUBSCRIBE at QoS 0, PUBLISH in both directions (QoS 0,
or QoS 1 out, its PUBACK counted), PINGREQ/PINGRESP, DISCONNECT, over TCP or TLS. Device
connections keep paho (`glovecoach.link.mqtt_transport`): one device's 50 messages a second do
not need this.

All socket I/O after the handshake happens on the client's one thread (an SSL object is not
to be read and written from two threads at once); `publish` queues the packet and wakes it.
"""

from __future__ import annotations

import collections
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence

from glovecoach.link.transport import LinkLost

Message = tuple[bytes, bytes, bool]   # topic, payload, retained

_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 1, 2, 3, 4
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 8, 9, 12, 13, 14
_READ_BYTES = 65536
log = logging.getLogger(__name__)
# The client's thread is named THREAD_NAME, then the broker's address.
THREAD_NAME = "glovecoach-room-mqtt"
# The longest MQTT packet a room carries, with room to spare: a device's messages are at most
# 4 kB (the firmware's frame batch; its HELLO is 2.2 kB), a screen's a few hundred bytes. The
# room's Mosquitto disconnects a client that sends a longer one (room_broker, max_packet_size).
MAX_PACKET_BYTES = 65536

# CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3), in the words a person can act on.
CONNACK_REFUSALS = {
    1: "the broker does not speak MQTT 3.1.1",
    2: "the client id was rejected",
    3: "the broker is unavailable",
    4: "bad user name or password",
    5: "not authorized (this login may not connect)",
}


class MqttRefused(Exception):
    """The broker answered CONNECT with a refusal (``code``: the CONNACK return code)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"{CONNACK_REFUSALS.get(code, 'refused')} (CONNACK code {code})")


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def packet(kind: int, flags: int, body: bytes) -> bytes:
    """One MQTT packet: fixed header (type, flags, remaining length) and ``body``."""
    return bytes([kind << 4 | flags]) + _remaining_length(len(body)) + body


def connect_packet(client_id: str, keepalive_s: int, username: str | None, password: str | None) -> bytes:
    flags = 0x02                                        # clean session
    payload = _string(client_id.encode())
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    body = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + payload
    return packet(_CONNECT, 0, body)


def publish_packet(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    head = _string(topic.encode()) + (struct.pack("!H", packet_id) if qos else b"")
    return packet(_PUBLISH, qos << 1, head + payload)


class PacketCutter:
    """Whole MQTT packets out of a byte stream read in pieces of any size: `feed` the bytes of
    each read, get [(type, flags, body)] of the packets they completed.

    A packet longer than ``max_packet`` is passed over as its bytes arrive, never held, and the
    connection goes on: a room's messages are frames of a few hundred bytes, and one device
    (or anything with a login) publishing megabytes must cost that message, not every
    station's stream. Mosquitto started by glovecoach refuses such packets itself
    (`glovecoach.link.room_broker`, ``max_packet_size``); this holds on any other broker.
    ``oversize`` counts them, each is logged with its topic and size; ``last_oversize`` is
    (topic, bytes) of the latest one (topic b"" when it was not a PUBLISH). A malformed length
    is a ValueError: the stream cannot be followed past it."""

    def __init__(self, max_packet: int = MAX_PACKET_BYTES) -> None:
        self.max_packet = max_packet
        self.buffer = bytearray()
        self._skip = 0                    # bytes of an oversize packet still to come
        self.oversize = 0
        self.last_oversize: tuple[bytes, int] | None = None

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        if self._skip:
            take = min(self._skip, len(data))
            self._skip -= take
            data = data[take:]
        buffer = self.buffer
        buffer += data
        out: list[tuple[int, int, bytes]] = []
        pos, n = 0, len(buffer)
        view = memoryview(buffer)
        try:
            while pos + 2 <= n:
                i, length, shift, whole = pos + 1, 0, 0, False
                while i < n:
                    byte = buffer[i]
                    i += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        whole = True
                        break
                    shift += 7
                    if shift > 21:
                        raise ValueError("a packet length longer than 4 bytes")
                if not whole:
                    break                 # the length itself is not all here yet
                end = i + length
                if length > self.max_packet:
                    topic = self._oversize_topic(buffer, pos, i, length, n)
                    if topic is None:
                        break             # its topic is not all here yet
                    self.oversize += 1
                    self.last_oversize = (topic, end - pos)
                    log.warning("passed over a message of %d bytes on %s (at most %d expected)", end - pos,
                                topic.decode("utf-8", "replace") or "(not a PUBLISH)", self.max_packet)
                    self._skip = max(0, end - n)
                    pos = min(end, n)
                    continue
                if end > n:
                    break
                out.append((buffer[pos] >> 4, buffer[pos] & 0x0F, bytes(view[i:end])))
                pos = end
        finally:
            view.release()
        del buffer[:pos]
        return out

    @staticmethod
    def _oversize_topic(buffer: bytearray, pos: int, body: int, length: int, n: int) -> bytes | None:
        """The topic of the oversize packet at ``pos`` (b"" if not a PUBLISH), None until its
        bytes are here. A PUBLISH whose topic overruns it is malformed (ValueError)."""
        if buffer[pos] >> 4 != _PUBLISH:
            return b""
        if body + 2 > n:
            return None
        topic_end = body + 2 + (buffer[body] << 8 | buffer[body + 1])
        if topic_end > body + length:
            raise ValueError("a PUBLISH whose topic is longer than the packet")
        return bytes(buffer[body + 2:topic_end]) if topic_end <= n else None


class RoomMqttClient:
    """One connection to the broker: `connect` (CONNECT, SUBSCRIBE to ``topics``, both
    answered, or LinkLost / MqttRefused), then every PUBLISH goes to ``on_messages(messages,
    received)`` (the messages of one read, in order; ``received`` is time.monotonic() of the
    read) on this client's thread, until `close` or the connection fails (``on_lost(why)``,
    once; never after `close`)."""

    def __init__(self, host: str, port: int, client_id: str, topics: Sequence[str], *,
                 on_messages: Callable[[list[Message], float], None], on_lost: Callable[[str], None],
                 username: str | None = None, password: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, keepalive_s: int = 60,
                 connect_timeout: float = 5.0) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.topics = list(topics)
        self._on_messages, self._on_lost = on_messages, on_lost
        self._credentials = (username, password)
        self._ssl = ssl_context
        self.keepalive_s, self.connect_timeout = keepalive_s, connect_timeout
        self._sock: socket.socket | None = None
        self._outbox: collections.deque[bytes] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._closing = False
        self._lost: str | None = None
        self._subscribed = threading.Event()
        self._refused_topics: list[str] = []
        self._thread: threading.Thread | None = None
        self._packet_id = 0
        self.puback_pending = 0    # QoS 1 publishes not yet acknowledged
        self.packets = PacketCutter()   # its `oversize`: messages passed over for their size
        self._count_lock = threading.Lock()

    # ------------------------------------------------------------------ the caller's side
    def connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise LinkLost(f"cannot reach the broker: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                try:
                    sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
                except (ssl.SSLError, OSError) as exc:
                    raise LinkLost(f"the TLS handshake with the broker failed: {exc}") from exc
            user, password = self._credentials
            sock.sendall(connect_packet(self.client_id, self.keepalive_s, user, password))
            self._read_connack(sock)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(max(1.0, self.keepalive_s / 2))
        self._sock = sock
        self._last_read = self._last_write = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_NAME} {self.host}:{self.port}",
                                        daemon=True)
        self._thread.start()
        body = struct.pack("!H", self._next_packet_id()) + b"".join(
            _string(topic.encode()) + b"\x00" for topic in self.topics)
        self._send(packet(_SUBSCRIBE, 0x02, body))
        if not self._subscribed.wait(self.connect_timeout):
            self.close()
            raise LinkLost(self._lost or f"no SUBACK within {self.connect_timeout:.1f} s")
        if self._lost is not None:
            self.close()
            raise LinkLost(self._lost)
        if self._refused_topics:
            self.close()
            raise LinkLost(f"the broker refused the subscription to {', '.join(self._refused_topics)}")

    def _read_connack(self, sock: socket.socket) -> None:
        cutter = PacketCutter()
        deadline = time.monotonic() + self.connect_timeout
        data = b""
        while True:
            packets = cutter.feed(data)
            if packets:
                kind, _, body = packets[0]
                if kind != _CONNACK or len(body) != 2:
                    raise LinkLost(f"the broker answered CONNECT with packet type {kind}, not CONNACK")
                if body[1]:
                    raise MqttRefused(body[1])
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkLost(f"no CONNACK within {self.connect_timeout:.1f} s")
            sock.settimeout(left)
            try:
                data = sock.recv(256)
            except TimeoutError:
                data = b""
                continue
            except OSError as exc:
                raise LinkLost(f"the broker closed the connection before CONNACK: {exc}") from exc
            if not data:
                raise LinkLost("the broker closed the connection before CONNACK")

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Queue a PUBLISH (QoS 0 or 1); LinkLost if the connection is gone."""
        if self._lost is not None or self._closing or self._sock is None:
            raise LinkLost(self._lost or "not connected")
        if qos not in (0, 1):
            raise ValueError(f"QoS {qos}: this client publishes at QoS 0 or 1")
        packet_id = 0
        if qos:
            with self._count_lock:   # counted before it can be acknowledged
                self.puback_pending += 1
                packet_id = self._next_packet_id()
        self._send(publish_packet(topic, bytes(payload), qos, packet_id))

    def close(self) -> None:
        """DISCONNECT and close (no ``on_lost``)."""
        self._closing = True
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
        sock, self._sock = self._sock, None
        if sock is not None and thread is None:
            sock.close()
        for end in (self._wake_r, self._wake_w):
            end.close()

    @property
    def lost(self) -> str | None:
        return self._lost

    def _next_packet_id(self) -> int:
        self._packet_id = self._packet_id % 0xFFFF + 1
        return self._packet_id

    def _send(self, data: bytes) -> None:
        self._outbox.append(data)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"w")
        except (BlockingIOError, OSError):
            pass   # already woken (a full pipe), or closed

    # ------------------------------------------------------------------ the client's thread
    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        why = None
        try:
            while not self._closing:
                why = self._turn(sock)
                if why is not None:
                    break
            else:
                self._flush(sock)
                sock.sendall(packet(_DISCONNECT, 0, b""))
        except (OSError, ValueError) as exc:
            why = why or f"the connection to the broker failed: {exc}"
        finally:
            try:
                sock.close()
            except OSError:
                pass
        if why is not None and not self._closing:
            self._lost = why
            self._subscribed.set()
            self._on_lost(why)

    def _turn(self, sock: socket.socket) -> str | None:
        """One wait and what it brought; returns why the connection is lost, or None."""
        now = time.monotonic()
        ping_in = self.keepalive_s / 2 - (now - self._last_write)
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        readable, _, _ = select.select([sock, self._wake_r], [], [], 0 if pending else max(0.0, ping_in))
        if self._wake_r in readable:
            try:
                while self._wake_r.recv(4096):
                    pass
            except BlockingIOError:
                pass
        self._flush(sock)
        now = time.monotonic()
        if sock in readable or pending:
            try:
                data = sock.recv(_READ_BYTES)
            except (TimeoutError, ssl.SSLWantReadError):
                data = None
            if data == b"":
                return "the broker closed the connection"
            if data:
                self._last_read = now
                self._handle(sock, self.packets.feed(data), now)
        if now - self._last_write >= self.keepalive_s / 2:
            sock.sendall(packet(_PINGREQ, 0, b""))
            self._last_write = now
        if now - self._last_read > 1.5 * self.keepalive_s:
            return f"no word from the broker for {now - self._last_read:.0f} s (keep-alive {self.keepalive_s} s)"
        return None

    def _flush(self, sock: socket.socket) -> None:
        while self._outbox:
            sock.sendall(self._outbox.popleft())
            self._last_write = time.monotonic()

    def _handle(self, sock: socket.socket, packets: list[tuple[int, int, bytes]], received: float) -> None:
        messages: list[Message] = []
        for kind, flags, body in packets:
            if kind == _PUBLISH:
                topic_end = 2 + (body[0] << 8 | body[1])
                qos = (flags >> 1) & 3
                start = topic_end + (2 if qos else 0)
                if qos == 1:   # subscribed at QoS 0, so not expected; acknowledged all the same
                    sock.sendall(packet(_PUBACK, 0, body[topic_end:start]))
                messages.append((body[2:topic_end], body[start:], bool(flags & 1)))
            elif kind == _SUBACK:
                self._refused_topics = [t for t, code in zip(self.topics, body[2:]) if code == 0x80]
                self._subscribed.set()
            elif kind == _PUBACK:
                with self._count_lock:
                    self.puback_pending = max(0, self.puback_pending - 1)
            # PINGRESP: its arrival is what counts (_last_read)
        if messages:
            self._on_messages(messages, received)
