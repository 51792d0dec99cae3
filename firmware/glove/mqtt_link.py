"""The link to the host over MQTT: the same frames as over USB, carried in MQTT messages.

Same interface as StdioLink (write(buf, n), flush(), read_rx(buf) -> n), so the sampler,
frame writer and command handler do not know which link they use. Topics, for a device
with id D in room R (docs/wifi-mqtt.md):

  glovecoach/R/D/frames   device -> host: SAMPLES, STATUS, ACK, ERROR, LOG frames, in the
                          order the firmware wrote them; each message holds one or more
                          whole frames, each ending with its 0x00 delimiter
  glovecoach/R/D/hello    device -> host: HELLO frames, retained (a screen that subscribes
                          later learns at once which devices exist and what they carry)
  glovecoach/R/D/online   device -> anyone: "1" retained on each connect; the broker
                          publishes the glove's will, "0" retained, when its connection
                          ends without a goodbye (power, WiFi or the glove gone)
  glovecoach/R/D/cmd      host -> device: command frames, as over USB

STATUS stays in the frame stream: it carries the sequence number and dropped-sample count
that the host checks against the SAMPLES around it, so it must keep its place among them.

Batching: a SAMPLES frame already holds 20 ms of samples at every rate (samples_per_frame is
rate/50), so one frame per message is ~50 messages/s. `batch_frames` > 1 puts several
SAMPLES frames in one message, trading (batch_frames - 1) x 20 ms of latency for fewer
packets (docs/wifi-mqtt.md has the measurements). Any other frame (an ACK, a LOG, STATUS)
is sent at once, together with the samples waiting before it, so replies are never held.

While the broker is unreachable, frames are dropped (counted in `frames_dropped`); the
host sees them as a sequence gap of exactly that many frames. The link retries connecting
from read_rx (called once per sampling slot), backing off from RETRY_MS to RETRY_MAX_MS,
and after each (re)connect calls `on_up()`, which the device sets to send a fresh HELLO
(device.py).

The password in the configuration is passed to the MQTT client and never printed.

TLS: a configuration with "ca" (the PEM certificate of the CA that signed the broker's
certificate, given at provisioning) connects with TLS (port 8883 unless given), verifies the
broker's certificate against that CA and `host`, and logs in with its user and password
inside the encrypted connection. A certificate the glove does not trust is logged as such
("TLS refused: the broker's certificate is not trusted: ...") and retried with
the usual back-off; nothing is sent to that broker, the password least of all.
"""

import binascii
import json
import os
import time

from micropython import const

from glove import mqtt

MSG_HELLO = const(0x01)     # frames.MSG_HELLO (not imported: frames pulls in viper code twice)
MSG_SAMPLES = const(0x10)
TOPIC_ROOT = "glovecoach"
DEFAULT_PORT = const(1883)
DEFAULT_TLS_PORT = const(8883)
# A CA certificate in PEM: an EC P-256 one is ~470 characters, an RSA-2048 one ~1,100-1,400.
CA_MAX_CHARS = const(1600)
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"
DEFAULT_ROOM = "default"
DEFAULT_KEEPALIVE_S = const(30)
DEFAULT_BATCH_FRAMES = const(1)
# Room for any one frame (the largest, a 2048-byte LOG, COBS-encodes to ~2062 bytes) plus
# a batch of 1000 Hz SAMPLES frames (~830 bytes each for 20 channels).
BATCH_BYTES = const(4096)
HELLO_BYTES = const(2200)
RX_QUEUE_BYTES = const(512)
# Reconnection attempts: at once after a loss, then after RETRY_MS, doubling up to
# RETRY_MAX_MS while the broker stays unreachable (each failed attempt against a host that
# does not answer costs the sampling loop up to mqtt.CONNECT_TIMEOUT_S).
RETRY_MS = const(250)
RETRY_MAX_MS = const(2000)
NET_CONFIG_ENV = "GLOVECOACH_NET_CONFIG"   # unix port: path of the configuration file
NET_CONFIG_FILE = "net.json"               # on the device, next to main.py


class NetConfigError(ValueError):
    pass


def _check_name(value, what, source):
    if not isinstance(value, str) or not value:
        raise NetConfigError("%s: %s must be a non-empty string" % (source, what))
    for ch in "/+#":
        if ch in value:
            raise NetConfigError("%s: %s %r may not contain %r (it is an MQTT topic level)"
                                 % (source, what, value, ch))
    return value


def ca_der(pem, source):
    """The DER bytes of the one certificate in `pem` (text). Raises NetConfigError.

    Decoded here because mbedTLS on the unix port cannot parse PEM (the ESP32's can; one
    path for both)."""
    if not isinstance(pem, str) or not pem:
        raise NetConfigError("%s: mqtt.ca must be the broker CA's certificate as PEM text" % source)
    if len(pem) > CA_MAX_CHARS:
        raise NetConfigError("%s: mqtt.ca is %d characters, at most %d (an EC P-256 or RSA-2048 CA)"
                             % (source, len(pem), CA_MAX_CHARS))
    begin = pem.find(_PEM_BEGIN)
    end = pem.find(_PEM_END)
    if begin < 0 or end < begin:
        raise NetConfigError("%s: mqtt.ca is not a PEM certificate (no %s ... %s)"
                             % (source, _PEM_BEGIN, _PEM_END))
    if pem.find(_PEM_BEGIN, end) >= 0:
        raise NetConfigError("%s: mqtt.ca holds more than one certificate; give the one CA "
                             "that signed the broker's" % source)
    body = "".join(pem[begin + len(_PEM_BEGIN):end].split())
    try:
        der = binascii.a2b_base64(body)
    except ValueError:
        raise NetConfigError("%s: mqtt.ca is not valid base64 between its PEM lines" % source)
    if len(der) < 64 or der[0] != 0x30:
        raise NetConfigError("%s: mqtt.ca does not hold a DER certificate" % source)
    return der


def parse_net_config(data, source):
    """The "mqtt" part of the network configuration, checked; the "wifi" part is the HAL's.

    {"wifi": {"ssid": ..., "password": ...},            (ESP32 only)
     "mqtt": {"host": ..., "port": 1883, "user": ..., "password": ...,
              "room": "default", "keepalive_s": 30, "batch_frames": 1,
              "ca": "-----BEGIN CERTIFICATE-----..."}}    (TLS, port 8883 by default)

    The result holds "ca" as DER bytes (None without TLS).
    """
    if not isinstance(data, dict) or not isinstance(data.get("mqtt"), dict):
        raise NetConfigError("%s: no \"mqtt\" object" % source)
    m = data["mqtt"]
    host = m.get("host")
    if not isinstance(host, str) or not host:
        raise NetConfigError("%s: mqtt.host must be the broker's host name or address" % source)
    cfg = {"host": host, "room": _check_name(m.get("room", DEFAULT_ROOM), "mqtt.room", source)}
    cfg["ca"] = ca_der(m["ca"], source) if m.get("ca") is not None else None
    port = DEFAULT_PORT if cfg["ca"] is None else DEFAULT_TLS_PORT
    for key, default, low, high in (("port", port, 1, 65535),
                                    ("keepalive_s", DEFAULT_KEEPALIVE_S, 1, 65535),
                                    ("batch_frames", DEFAULT_BATCH_FRAMES, 1, 16)):
        v = m.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise NetConfigError("%s: mqtt.%s must be an integer in %d..%d" % (source, key, low, high))
        cfg[key] = v
    for key in ("user", "password"):
        v = m.get(key)
        if v is not None and not isinstance(v, str):
            raise NetConfigError("%s: mqtt.%s must be a string" % (source, key))
        cfg[key] = v
    if cfg["password"] is not None and cfg["user"] is None:
        raise NetConfigError("%s: mqtt.password given without mqtt.user" % source)
    return cfg


def load_net_config(path):
    """The whole configuration file as a dict (the HAL reads "wifi", the link "mqtt")."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise NetConfigError("network configuration %s cannot be read (%s)" % (path, exc))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NetConfigError("network configuration %s is not valid JSON (%s)" % (path, exc))


def topics(room, device_id):
    base = "%s/%s/%s/" % (TOPIC_ROOT, room, device_id)
    return ((base + "frames").encode(), (base + "hello").encode(), (base + "cmd").encode(),
            (base + "online").encode())


def say(message):
    # The USB/stdio side is free in MQTT mode: status lines go there (never the password).
    print("mqtt:", message)


class MqttLink:
    network = True      # commands arriving here came over the network (NET_CONFIG refuses them)

    def __init__(self, cfg, device_id, net_ready=None, log=say):
        self.device_id = _check_name(device_id, "device id", "glove")
        self.cfg = cfg
        self.topic_frames, self.topic_hello, self.topic_cmd, self.topic_online = topics(
            cfg["room"], device_id)
        self.batch_frames = cfg["batch_frames"]
        self.net_ready = net_ready
        self.log = log
        # The CA is parsed once: each reconnect reuses the context.
        context = mqtt.tls_context(cfg["ca"]) if cfg.get("ca") is not None else None
        self.tls = context is not None
        self.client = mqtt.MqttClient("glovecoach-" + device_id, cfg["host"], cfg["port"],
                                      cfg["user"], cfg["password"], cfg["keepalive_s"],
                                      on_message=self._on_message,
                                      will=(self.topic_online, b"0", True), ssl_context=context)
        room = mqtt.headroom(self.topic_hello if len(self.topic_hello) > len(self.topic_frames)
                             else self.topic_frames)
        self._start = room
        self._batch = bytearray(room + BATCH_BYTES)
        self._hello = bytearray(room + HELLO_BYTES)
        self._n = 0                 # bytes in the batch
        self._frames = 0            # frames in the batch
        self._rxq = bytearray(RX_QUEUE_BYTES)
        self._rx_head = 0
        self._rx_tail = 0
        self._next_try = time.ticks_ms()
        self._retry_ms = RETRY_MS
        self._state = ""            # last connection state logged (log changes only)
        self.on_up = None
        self.frames_sent = 0
        self.frames_dropped = 0
        self.messages_sent = 0
        self.connects = 0
        self.commands_dropped = 0
        self._try_connect()

    # -- the link interface ---------------------------------------------------------------

    def write(self, buf, n):
        """Queue one encoded frame (buf[:n], ending with 0x00); publish when due."""
        if n < 3:
            return   # a lone delimiter (the boot's resync byte): messages are frame-aligned
        # COBS: buf[0] is a code byte, and the message type is never 0, so buf[1] is the type.
        kind = buf[1]
        if kind == MSG_HELLO:
            self.flush()
            self._publish_hello(buf, n)
            return
        if self._n + n > BATCH_BYTES:
            self.flush()
        mqtt.copy_into(self._batch, self._start + self._n, buf, n)
        self._n += n
        self._frames += 1
        if kind != MSG_SAMPLES or self._frames >= self.batch_frames:
            self.flush()

    def flush(self):
        """Publish the frames waiting in the batch (dropped, and counted, if not connected)."""
        n = self._n
        if not n:
            return
        frames = self._frames
        self._n = 0
        self._frames = 0
        if self.client.sock is None:
            self.frames_dropped += frames
            return
        try:
            self.client.publish_into(self._batch, self._start, n, self.topic_frames)
        except OSError as exc:
            self.frames_dropped += frames
            self._lost(exc)
            return
        self.frames_sent += frames
        self.messages_sent += 1

    def read_rx(self, buf):
        """Service the connection, then hand over command bytes the broker delivered."""
        client = self.client
        if client.sock is None:
            if time.ticks_diff(time.ticks_ms(), self._next_try) >= 0:
                self._try_connect()
        else:
            try:
                client.service()
            except OSError as exc:
                self._lost(exc)
        head = self._rx_head
        if head == self._rx_tail:
            return 0
        n = self._rx_tail - head
        if n > len(buf):
            n = len(buf)
        q = self._rxq
        for i in range(n):
            buf[i] = q[head + i]
        head += n
        if head == self._rx_tail:
            head = self._rx_tail = 0
        self._rx_head = head
        return n

    # -- connection -----------------------------------------------------------------------

    def _try_connect(self):
        self._next_try = time.ticks_add(time.ticks_ms(), self._retry_ms)
        self._retry_ms = min(2 * self._retry_ms, RETRY_MAX_MS)
        if self.net_ready is not None and not self.net_ready():
            self._report("waiting for the network")
            return
        try:
            self.client.connect()
            self.client.subscribe(self.topic_cmd)
            self.client.publish(self.topic_online, b"1", retain=True)
        except mqtt.MqttRefused as exc:
            self._report(str(exc))   # says why (e.g. bad user name or password), not the password
            return
        except mqtt.TlsRefused as exc:
            # Nothing was sent: the certificate was checked before CONNECT (and its password).
            self._report("broker %s:%d, nothing sent: %s" % (self.cfg["host"], self.cfg["port"], exc))
            return
        except OSError as exc:
            self._report("cannot reach broker %s:%d (%s)" % (self.cfg["host"], self.cfg["port"], exc))
            return
        self.connects += 1
        self._retry_ms = RETRY_MS
        self._state = ""
        self._report("connected to %s:%d%s as %s, room %s"
                     % (self.cfg["host"], self.cfg["port"], " (TLS)" if self.tls else "",
                        self.device_id, self.cfg["room"]))
        if self.on_up is not None:
            self.on_up()

    def _lost(self, exc):
        self.client.close()
        self._report("connection lost (%s)" % exc)
        self._next_try = time.ticks_ms()   # first retry at once, then backing off

    def _report(self, state):
        if state != self._state:
            self._state = state
            try:
                self.log(state)
            except Exception:
                pass

    # -- messages -------------------------------------------------------------------------

    def _publish_hello(self, buf, n):
        if n > HELLO_BYTES or self.client.sock is None:
            self.frames_dropped += 1
            return
        mqtt.copy_into(self._hello, self._start, buf, n)
        try:
            self.client.publish_into(self._hello, self._start, n, self.topic_hello, True)
        except OSError as exc:
            self.frames_dropped += 1
            self._lost(exc)
            return
        self.frames_sent += 1
        self.messages_sent += 1

    def _on_message(self, topic, body, start, n):
        if topic != self.topic_cmd:
            return
        q = self._rxq
        tail = self._rx_tail
        if tail + n > len(q):
            # The firmware reads commands every slot; a full queue means a flood: drop it.
            self.commands_dropped += 1
            return
        for i in range(n):
            q[tail + i] = body[start + i]
        self._rx_tail = tail + n


def open_mqtt_link(config, device_id, net_ready=None, source="network configuration"):
    """An MqttLink from the configuration file's contents (dict)."""
    return MqttLink(parse_net_config(config, source), device_id, net_ready)


def config_path_from_env():
    """Unix port: the configuration file named by GLOVECOACH_NET_CONFIG, or None."""
    return os.getenv(NET_CONFIG_ENV) or None
