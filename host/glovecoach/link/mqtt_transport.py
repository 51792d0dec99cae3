"""``mqtt://``: a glove on WiFi, reached through an MQTT broker (paho-mqtt).

The glove publishes the same COBS-framed, CRC-checked, sequence-numbered frames as over USB
(docs/wifi-mqtt.md): frames to ``glovecoach/<room>/<device>/frames``, HELLO retained to
``.../hello``; it takes command frames from ``.../cmd``. Every message holds whole frames, so
this transport only has to concatenate the payloads: the result is the byte stream a serial
port would give, and :class:`~glovecoach.link.client.GloveClient` runs on it unchanged. A
message lost under QoS 0 takes whole frames with it, which the client sees as a sequence gap
(counted, never shifted data); a duplicate is a repeated sequence number, dropped and counted.

What this transport adds to the byte stream, and why:

* a 0x00 at the start of each connection, so the decoder's resync (it drops bytes up to the
  first delimiter of a freshly opened port) does not eat the first frame;
* a delimiter after a message that does not end in one (`closed_message`): only a broken or
  hostile publisher sends such bytes, and they must not spoil the next message's frame;
* nothing from retained messages: a retained HELLO says what was true when the device last
  announced itself (possibly "not streaming", possibly an earlier boot); fed to the client
  after a reconnect it would restart a stream that never stopped. The client asks with INFO
  and gets a live HELLO instead. Other screens use the retained one to discover devices.

The broker's connection is the link: when it drops (broker restart, network gone) ``read``
raises :class:`LinkLost`, and the client's reconnect logic reopens it, asks for HELLO and
sizes the gap from the device's counters, as after a USB replug.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho

from glovecoach.link.transport import LinkLost, Transport
from glovecoach.wire.frames import DELIMITER

TOPIC_ROOT = "glovecoach"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
DEFAULT_KEEPALIVE_S = 10
CONNECT_TIMEOUT_S = 3.0
# Environment for credentials, so they never sit in a URL that ends up in a log or a title bar.
USER_ENV = "GLOVECOACH_MQTT_USER"
PASSWORD_ENV = "GLOVECOACH_MQTT_PASSWORD"


class BrokerRefused(LinkLost):
    """The broker answered but refused us (wrong credentials, not authorised).

    A LinkLost, because ``Transport.open`` raises that; the message says what to fix."""


def device_topics(room: str, device_id: str) -> dict[str, str]:
    base = f"{TOPIC_ROOT}/{room}/{device_id}"
    return {"frames": f"{base}/frames", "hello": f"{base}/hello", "cmd": f"{base}/cmd",
            "online": f"{base}/online", "marks": f"{base}/marks", "messages": f"{base}/messages"}


def _check_level(value: str, what: str, url: str) -> str:
    if not value or any(c in value for c in "/+#"):
        raise ValueError(f"{url}: {what} {value!r} must be one MQTT topic level (no '/', '+', '#')")
    return value


class MqttTransport(Transport):
    """The byte stream of one device's frames through a broker; commands go to its ``cmd``."""

    def __init__(self, host: str, port: int, room: str, device_id: str, *,
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = DEFAULT_KEEPALIVE_S,
                 connect_timeout: float = CONNECT_TIMEOUT_S,
                 tls: bool = False, tls_ca: str | None = None) -> None:
        self.host, self.port, self.room, self.device_id = host, port, room, device_id
        # TLS (a classroom's broker, docs/classroom.md): the server's certificate is checked
        # against `tls_ca` (a PEM file: the room's own CA) or else the system's CAs.
        self.tls, self.tls_ca = tls or tls_ca is not None, tls_ca
        self.username, self._password = username, password
        self.keepalive_s = keepalive_s
        self.connect_timeout = connect_timeout
        self.topics = device_topics(room, device_id)
        self._note_topics = {self.topics["marks"]: "mark", self.topics["messages"]: "message"}
        self.notes_refused = 0    # marks and messages that were not a JSON object with a text
        # The name is shown to users and logged: never with the credentials.
        self.name = f"{'mqtts' if self.tls else 'mqtt'}://{host}:{port}/{room}/{device_id}"
        self._client: paho.Client | None = None
        self._cond = threading.Condition()
        self._chunks: list[bytes] = []
        self._lost: str | None = None
        self._connack: paho.ReasonCode | None = None
        self._subscribed = 0
        self.retained_skipped = 0
        # What the device's ``online`` topic last said: True after it connected, False once
        # the broker published its will (power, WiFi or device gone), None before any word.
        # For a screen to show at once; the client's own view (stall, gap) does not use it.
        self.device_online: bool | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._client is not None:
            return
        client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                             client_id=f"glovecoach-host-{uuid.uuid4().hex[:12]}",
                             protocol=paho.MQTTv311, clean_session=True)
        # A broker that does not answer (a host gone from the network) must not hold the
        # reader thread longer than this in each reconnect attempt.
        client.connect_timeout = self.connect_timeout
        if self.username is not None:
            client.username_pw_set(self.username, self._password)
        if self.tls:
            try:
                client.tls_set(ca_certs=self.tls_ca)
            except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
                raise LinkLost(f"{self.name}: cannot use the CA certificate {self.tls_ca}: {exc}") from exc
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        with self._cond:
            self._chunks = [b"\x00"]   # resync the decoder at a frame boundary
            self._lost = None
            self._connack = None
            self._subscribed = 0
        try:
            client.connect(self.host, self.port, keepalive=self.keepalive_s)
        except (OSError, ValueError) as exc:
            raise LinkLost(f"{self.name}: cannot reach the broker: {exc}") from exc
        client.loop_start()
        try:
            self._wait_connected(client)
        except BaseException:
            client.loop_stop()
            client.disconnect()
            raise
        self._client = client

    def _wait_connected(self, client: paho.Client) -> None:
        deadline = time.monotonic() + self.connect_timeout
        with self._cond:
            self._cond.wait_for(lambda: self._connack is not None or self._lost is not None,
                                timeout=self.connect_timeout)
            code, lost = self._connack, self._lost
        if code is None:
            raise LinkLost(f"{self.name}: {lost or f'no CONNACK within {self.connect_timeout:.1f} s'}")
        if code.is_failure:
            hint = (" (check the MQTT user name and password)"
                    if code.value in (4, 5, 134, 135) else "")
            raise BrokerRefused(f"{self.name}: the broker refused the connection: {code}{hint}")
        # Subscribe before returning, so the reply to the client's first INFO cannot be missed.
        # and the classroom instructor's marks and messages for this device's station
        wanted = ("frames", "hello", "online", "marks", "messages")
        for name in wanted:
            client.subscribe(self.topics[name], qos=0)
        with self._cond:
            self._cond.wait_for(lambda: self._subscribed >= len(wanted) or self._lost is not None,
                                timeout=max(0.0, deadline - time.monotonic()))
            if self._subscribed < len(wanted):
                raise LinkLost(f"{self.name}: {self._lost or 'no SUBACK from the broker'}")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        with self._cond:
            self._cond.notify_all()

    # -- bytes -------------------------------------------------------------------------------
    def read(self, max_bytes: int, timeout: float) -> bytes:
        with self._cond:
            if not self._chunks and self._lost is None:
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
            if self._client is None:
                raise LinkLost(f"{self.name} is not open")
            return b""

    def write(self, data: bytes) -> None:
        client = self._client
        if client is None or self._lost is not None:
            raise LinkLost(f"{self.name}: {self._lost or 'not open'}")
        info = client.publish(self.topics["cmd"], bytes(data), qos=0)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise LinkLost(f"{self.name}: publish failed: {paho.error_string(info.rc)}")

    def _take_note(self, kind: str, payload: bytes) -> None:
        note = instructor_note(payload)
        if note is None:
            self.notes_refused += 1
            return
        if self.on_note is not None:
            self.on_note(kind, note)

    # -- paho callbacks (its network thread) ---------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            self._connack = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._subscribed += 1
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            if self._lost is None:
                self._lost = f"disconnected from the broker ({reason_code})"
            self._cond.notify_all()
        # paho's thread would now reconnect by itself and resume without our subscriptions;
        # the client's reconnect logic decides instead (close() stops this thread, open()
        # builds a new connection and subscribes again).

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if message.topic == self.topics["online"]:
            # Retained or live, this is news about presence, not bytes of the stream.
            self.device_online = message.payload == b"1"
            return
        if message.retain:
            self.retained_skipped += 1
            return
        if message.topic in self._note_topics:
            self._take_note(self._note_topics[message.topic], message.payload)
            return
        with self._cond:
            self._chunks.append(closed_message(message.payload))
            self._cond.notify_all()


def instructor_note(payload: bytes) -> dict | None:
    """An instructor's mark or message as published (a JSON object; a message has a "text"),
    or None for anything else: whoever could publish there, a bad payload is dropped."""
    try:
        note = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(note, dict) or not isinstance(note.get("text", ""), str):
        return None
    return note


def closed_message(payload: bytes) -> bytes:
    """A message's bytes for the stream, ending in a frame delimiter. A device's messages hold
    whole frames, so they end in one already; bytes from anything else with a login on the
    topic (a broken or hostile publisher: a cut frame, noise) would otherwise run into the
    next message and take its first frame with them, as one corrupt frame."""
    payload = bytes(payload)     # (the same object when it is bytes already: no copy)
    return payload if payload[-1:] == DELIMITER else payload + DELIMITER


def transport_from_url(url: str) -> MqttTransport:
    """``mqtt://host[:port]/<room>/<device_id>?keepalive=10``, or ``mqtts://`` for TLS (port
    8883 unless given; ``?ca=/path/room-ca.crt`` names the CA that signed the broker's
    certificate, else the system's CAs are trusted).

    Credentials: ``mqtt://user:password@host/...`` or, better (a URL is shown and logged),
    the environment variables GLOVECOACH_MQTT_USER and GLOVECOACH_MQTT_PASSWORD."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url}: no broker host (expected mqtt://host:port/<room>/<device_id>)")
    secure = parts.scheme == "mqtts"
    try:
        port = parts.port or (DEFAULT_TLS_PORT if secure else DEFAULT_PORT)
    except ValueError:
        raise ValueError(f"{url}: the broker port is not a number in 1..65535") from None
    levels = [unquote(p) for p in parts.path.strip("/").split("/") if p]
    if len(levels) != 2:
        raise ValueError(f"{url}: expected mqtt://host:port/<room>/<device_id>, got path {parts.path!r}")
    room = _check_level(levels[0], "room", url)
    device = _check_level(levels[1], "device id", url)
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(params) - ({"keepalive", "ca"} if secure else {"keepalive"})
    if unknown:
        raise ValueError(f"{url}: unknown mqtt option(s) {sorted(unknown)}")
    try:
        keepalive = int(params.get("keepalive", DEFAULT_KEEPALIVE_S))
    except ValueError:
        raise ValueError(f"{url}: keepalive={params['keepalive']!r} is not a whole number of seconds") from None
    user = unquote(parts.username) if parts.username else os.environ.get(USER_ENV)
    password = unquote(parts.password) if parts.password else os.environ.get(PASSWORD_ENV)
    ca = params.get("ca") or None
    if ca is not None and not os.path.isfile(ca):
        raise ValueError(f"{url}: ca={ca!r} is not a file (the PEM certificate of the room's CA)")
    return MqttTransport(parts.hostname, port, room, device, username=user, password=password,
                         keepalive_s=keepalive, tls=secure, tls_ca=ca)
