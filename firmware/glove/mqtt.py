"""A small MQTT 3.1.1 client for the glove: CONNECT, PUBLISH QoS 0, SUBSCRIBE, PINGREQ.

micropython-lib's umqtt.simple cannot be installed from PyPI, and it allocates on every
publish (it builds the header with bytes concatenation and sends header and payload in
separate writes), so the glove carries this one. It uses only `socket` and `select`, so the
same code runs on the ESP32 and in the unix port the tests use.

The sending path allocates nothing: `publish_into` writes the fixed header, remaining length
and topic *backwards* into the headroom the caller left in front of the payload, and sends
header and payload with one `write(buf, offset, length)`. One write per message also keeps
Nagle's algorithm from holding a payload back behind its own header (on a socket where
TCP_NODELAY is not available).

Everything else (connecting, reading what the broker sends, which are PINGRESP and the
command messages) is rare and may allocate. Errors: OSError when the connection fails or
breaks, TlsRefused (an OSError) when the broker's certificate is not trusted, MqttRefused when
the broker answers CONNECT with a refusal.

TLS: given an `ssl_context` (tls_context(ca_der): the broker's CA, CERT_REQUIRED), the TCP
socket is wrapped after it connects and every byte, CONNECT included, goes through mbedTLS;
the broker's certificate must be signed by that CA and name `server_hostname` (the broker's
host as the glove reaches it, an IP address checked against the certificate's IP SAN). The
sending path stays one `write(buf, offset, length)` per message: one TLS record, encrypted in
mbedTLS's own output buffer. On the unix port that write allocates nothing from the
MicroPython heap (tests/firmware/test_tls_no_alloc.py runs it under heap_lock); on the ESP32
mbedTLS allocates from the IDF heap, outside the MicroPython heap, and only while connecting.
"""

import select
import socket
import time

import micropython
from micropython import const

PROTOCOL_LEVEL = const(4)      # MQTT 3.1.1
CONNECT = const(0x10)
CONNACK = const(0x20)
PUBLISH = const(0x30)
SUBSCRIBE = const(0x82)        # packet type 8 with the flags 0b0010 the spec requires
SUBACK = const(0x90)
PINGREQ = const(0xC0)
PINGRESP = const(0xD0)
DISCONNECT = const(0xE0)
RETAIN = const(0x01)

# Headroom publish_into needs in front of the payload beyond the topic itself: the fixed
# header byte, up to 4 remaining-length bytes, the 2-byte topic length.
HEADER_EXTRA = const(1 + 4 + 2)
# Largest packet body read from the broker (commands are < 80 bytes; bigger is skipped).
RX_MAX = const(256)
# Every blocking call is bounded well below the ESP32 watchdog (2 s, hal_esp32.py), because the
# client runs inside the sampling loop. Connecting (TCP handshake and CONNACK) may take this
# long before it is abandoned and retried later:
CONNECT_TIMEOUT_S = 0.5
# A write that cannot go out within this (the TCP send buffer is full: the WiFi is gone but
# the stack does not know it yet) fails, and the connection is dropped and remade; the frames
# meanwhile are lost and counted, which the host sees as a sequence gap. At 200 Hz the sampler
# skips (and counts) at most ~20 slots for it.
IO_TIMEOUT_S = 0.1
# IPPROTO_TCP and TCP_NODELAY have these values on Linux and in lwIP (the ESP32's stack);
# neither port's socket module names them.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}

_PINGREQ_PACKET = b"\xc0\x00"
_DISCONNECT_PACKET = b"\xe0\x00"


class TlsRefused(OSError):
    """The TLS handshake failed: the broker's certificate is not signed by the configured CA,
    does not name the host, or the broker does not speak TLS. Says which (mbedTLS's words)."""

    def __init__(self, reason):
        super().__init__("TLS refused: %s" % reason)
        self.reason = reason


def tls_context(ca_der):
    """An SSL context that trusts only `ca_der` (one DER certificate) and requires the
    broker's certificate to be signed by it. Raises ValueError if mbedTLS cannot read it.

    MicroPython's PROTOCOL_TLS_CLIENT context starts with verify_mode CERT_NONE (unlike
    CPython's), so CERT_REQUIRED is set here: without it any certificate would do. DER, not
    PEM, because the unix port's mbedTLS is built without PEM parsing (mqtt_link.py decodes
    the PEM the configuration holds)."""
    import ssl  # only a TLS configuration pays for the module

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The ESP32 stubs (micropython-esp32-stubs) lack the attribute; both ports have it (ssl.py).
    ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]
    ctx.load_verify_locations(cadata=ca_der)
    return ctx


class MqttRefused(Exception):
    """The broker answered CONNECT with a non-zero return code (wrong password, ...)."""

    def __init__(self, code):
        super().__init__("broker refused the connection: %s (CONNACK code %d)"
                         % (CONNACK_REASONS.get(code, "unknown reason"), code))
        self.code = code


def headroom(topic):
    """Bytes a payload buffer must leave free in front of the payload for `topic`."""
    return HEADER_EXTRA + len(topic)


def _utf8_field(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > 0xFFFF:
        raise ValueError("MQTT string of %d bytes is too long" % len(b))
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def _remaining_length(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def connect_packet(client_id, keepalive_s, user=None, password=None, clean_session=True,
                   will=None):
    """The CONNECT packet (3.1.1 section 3.1); built once per connection, so it may allocate.

    `will`: (topic, message, retain) the broker publishes at QoS 0 if the connection ends
    without DISCONNECT (the glove's power or network gone)."""
    flags = 0x02 if clean_session else 0
    payload = _utf8_field(client_id)
    if will is not None:
        topic, message, retain = will
        flags |= 0x04 | (0x20 if retain else 0)
        payload += _utf8_field(topic) + _utf8_field(message)
    if user is not None:
        flags |= 0x80
        payload += _utf8_field(user)
        if password is not None:
            flags |= 0x40
            payload += _utf8_field(password)
    elif password is not None:
        raise ValueError("MQTT 3.1.1 allows a password only with a user name")
    variable = b"\x00\x04MQTT" + bytes((PROTOCOL_LEVEL, flags, keepalive_s >> 8, keepalive_s & 0xFF))
    body = variable + payload
    return bytes((CONNECT,)) + _remaining_length(len(body)) + body


def subscribe_packet(packet_id, topic, qos=0):
    body = bytes((packet_id >> 8, packet_id & 0xFF)) + _utf8_field(topic) + bytes((qos,))
    return bytes((SUBSCRIBE,)) + _remaining_length(len(body)) + body


@micropython.viper
def copy_into(dst, offset: int, src, n: int):
    """dst[offset:offset+n] = src[:n] without a slice object or memoryview (no allocation)."""
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[offset + i] = s[i]
        i += 1


class MqttClient:
    """One connection to one broker. Not thread-safe (the glove has one thread).

    `on_message(topic, body, start, n)`: called for each PUBLISH from the broker with its
    topic (bytes) and the payload as body[start:start+n] (the buffer is reused afterwards).
    """

    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive_s=30,
                 connect_timeout_s=CONNECT_TIMEOUT_S, io_timeout_s=IO_TIMEOUT_S, on_message=None,
                 will=None, ssl_context=None, server_hostname=None):
        if not 0 < keepalive_s <= 0xFFFF:
            raise ValueError("keepalive %r outside 1..65535 s" % keepalive_s)
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.keepalive_ms = keepalive_s * 1000
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self._addr = None            # resolved once: a DNS lookup may block for seconds
        self.on_message = on_message
        self.will = will
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname or host
        self.sock = None
        self._raw = None             # the TCP socket under the TLS one (timeouts are set on it)
        self._poll = select.poll()
        self._head = bytearray(1)
        self._body = bytearray(RX_MAX)
        self._last_tx = time.ticks_ms()
        self._ping_pending = False   # a PINGREQ is unanswered since _ping_sent
        self._ping_sent = self._last_tx
        self._packet_id = 0
        self.subacks = 0             # SUBACKs received, and the return code of the last
        self.suback_code = None
        self.packets_in = 0

    @property
    def connected(self):
        return self.sock is not None

    def connect(self):
        """Open the TCP connection, send CONNECT, wait for CONNACK. Raises OSError/MqttRefused."""
        self.close()
        if self._addr is None:
            self._addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        raw = sock = socket.socket()
        try:
            raw.settimeout(self.connect_timeout_s)
            raw.connect(self._addr)
            try:
                raw.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass   # one write per packet keeps latency low without it
            if self.ssl_context is not None:
                sock = self._handshake(raw)
            self._write_all(sock, connect_packet(self.client_id, self.keepalive_s, self.user,
                                                 self._password, will=self.will))
            ack = self._read_exact(sock, 4)
            if ack[0] != CONNACK or ack[1] != 2:
                raise OSError("expected CONNACK, got packet 0x%02x" % ack[0])
            if ack[3]:
                raise MqttRefused(ack[3])
            # An SSL socket has no settimeout: its reads and writes go through `raw`.
            raw.settimeout(self.io_timeout_s)
        except BaseException:
            sock.close()
            if sock is not raw:
                raw.close()
            raise
        self.sock = sock
        self._raw = raw
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        for _ in self._poll.ipoll(0):   # ipoll allocates its result tuple on first use only
            break
        self._last_tx = time.ticks_ms()
        self._ping_pending = False

    def _handshake(self, raw):
        """Wrap the connected TCP socket in TLS and verify the broker (may take a while: the
        certificate check is public-key arithmetic). Raises TlsRefused saying why."""
        try:
            return self.ssl_context.wrap_socket(raw, server_hostname=self.server_hostname)
        except ValueError as exc:
            # mbedTLS's verification result ("The certificate is not correctly signed by the
            # trusted CA", "... Common Name (CN) does not match ..."), one line.
            raise TlsRefused("the broker's certificate is not trusted: %s (check mqtt.ca, given at "
                             "provisioning)" % (" ".join(str(exc).split()) or "verification failed"))
        except OSError as exc:
            # An mbedTLS error (-0x7780, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE") or the socket's
            # (a plain MQTT broker resets the connection on a ClientHello).
            args = exc.args
            what = ("%s %d" % (args[1], args[0]) if len(args) >= 2 and isinstance(args[1], str)
                    else str(exc))
            raise TlsRefused("no TLS handshake (%s): is port %d the broker's TLS port?"
                             % (what, self.port))

    def subscribe(self, topic, qos=0):
        """Send SUBSCRIBE; its SUBACK arrives through service() (subacks, suback_code)."""
        self._packet_id = self._packet_id % 0xFFFF + 1
        self._send(subscribe_packet(self._packet_id, topic, qos))

    def publish_into(self, buf, start, n, topic, retain=False):
        """PUBLISH QoS 0 of buf[start:start+n]; buf[:start] must hold headroom(topic) bytes.

        Allocates nothing. Raises OSError when the connection is broken (then closed)."""
        sock = self.sock
        if sock is None:
            raise OSError("not connected")
        t = len(topic)
        pos = start - t
        copy_into(buf, pos, topic, t)
        buf[pos - 2] = t >> 8
        buf[pos - 1] = t & 0xFF
        pos -= 2
        remaining = 2 + t + n
        # Remaining length: 7 bits a byte, least significant first, high bit = more follows.
        if remaining < 0x80:
            k = 1
        elif remaining < 0x4000:
            k = 2
        elif remaining < 0x200000:
            k = 3
        else:
            k = 4
        pos -= k
        i = 0
        while i < k:
            b = remaining & 0x7F
            remaining >>= 7
            buf[pos + i] = b | 0x80 if i < k - 1 else b
            i += 1
        pos -= 1
        buf[pos] = PUBLISH | RETAIN if retain else PUBLISH
        total = start + n - pos
        try:
            sent = sock.write(buf, pos, total)
        except OSError:
            self.close()
            raise
        if sent != total:
            # A partial packet would corrupt the stream for the broker: start over.
            self.close()
            raise OSError("short write: %s of %d bytes" % (sent, total))
        self._last_tx = time.ticks_ms()

    def publish(self, topic, payload, retain=False):
        """PUBLISH QoS 0 of a bytes-like payload (allocates: for rare messages and tests)."""
        room = headroom(topic)
        buf = bytearray(room + len(payload))
        buf[room:] = payload
        self.publish_into(buf, room, len(payload), topic, retain)

    def service(self):
        """Read what the broker sent and keep the connection alive; call often.

        Allocates nothing while nothing arrives and no ping is due. Raises OSError when the
        connection broke or the broker stopped answering pings (the connection is closed)."""
        sock = self.sock
        if sock is None:
            raise OSError("not connected")
        try:
            while True:
                events = 0
                for _obj, ev in self._poll.ipoll(0):
                    events = ev
                if not events:
                    break
                if events & (select.POLLHUP | select.POLLERR) and not events & select.POLLIN:
                    raise OSError("connection closed by the broker")
                self._read_packet(sock)
            now = time.ticks_ms()
            if self._ping_pending:
                if time.ticks_diff(now, self._ping_sent) > self.keepalive_ms:
                    raise OSError("no PINGRESP within the keepalive")
            elif time.ticks_diff(now, self._last_tx) >= self.keepalive_ms // 2:
                # Idle (not streaming): the spec wants a packet within the keepalive; half of
                # it leaves time for the answer. Streaming publishes keep the link alive.
                self._write_all(sock, _PINGREQ_PACKET)
                self._last_tx = now
                self._ping_sent = now
                self._ping_pending = True
        except OSError:
            self.close()
            raise

    def disconnect(self):
        if self.sock is not None:
            try:
                self._write_all(self.sock, _DISCONNECT_PACKET)
            except OSError:
                pass
        self.close()

    def close(self):
        sock, self.sock = self.sock, None
        raw, self._raw = self._raw, None
        if sock is not None:
            try:
                self._poll.unregister(sock)
            except (OSError, ValueError, KeyError):
                pass
            try:
                sock.close()
            except OSError:
                pass
        if raw is not None and raw is not sock:
            try:
                raw.close()   # closing the TLS socket closes it too on MicroPython; be sure
            except OSError:
                pass

    # -- internals ---------------------------------------------------------------------------

    def _send(self, data):
        if self.sock is None:
            raise OSError("not connected")
        try:
            self._write_all(self.sock, data)
        except OSError:
            self.close()
            raise
        self._last_tx = time.ticks_ms()

    @staticmethod
    def _write_all(sock, data):
        n = len(data)
        sent = sock.write(data)
        if sent != n:
            raise OSError("short write: %s of %d bytes" % (sent, n))

    @staticmethod
    def _read_exact(sock, n):
        buf = bytearray(n)
        got = 0
        mv = memoryview(buf)
        while got < n:
            k = sock.readinto(mv[got:], n - got)
            if not k:
                raise OSError("connection closed by the broker")
            got += k
        return buf

    def _read_packet(self, sock):
        head = self._head
        if not sock.readinto(head, 1):
            raise OSError("connection closed by the broker")
        kind = head[0]
        remaining = 0
        shift = 0
        while True:
            if not sock.readinto(head, 1):
                raise OSError("connection closed by the broker")
            remaining |= (head[0] & 0x7F) << shift
            if not head[0] & 0x80:
                break
            shift += 7
            if shift > 21:
                raise OSError("malformed remaining length from the broker")
        self.packets_in += 1
        body = self._body
        if remaining > len(body):
            # Not a packet the glove asked for (bigger than any command): read and drop it.
            left = remaining
            while left:
                k = sock.readinto(body, min(left, len(body)))
                if not k:
                    raise OSError("connection closed by the broker")
                left -= k
            return
        if remaining:
            got = sock.readinto(body, remaining)
            if not got:
                raise OSError("connection closed by the broker")
            if got < remaining:
                mv = memoryview(body)   # a packet split across TCP segments: rare
                while got < remaining:
                    k = sock.readinto(mv[got:], remaining - got)
                    if not k:
                        raise OSError("connection closed by the broker")
                    got += k
        packet = kind & 0xF0
        if packet == PINGRESP:
            self._ping_pending = False
        elif packet == SUBACK:
            self.subacks += 1
            self.suback_code = body[2] if remaining >= 3 else 0x80
        elif packet == PUBLISH:
            t = body[0] << 8 | body[1]
            start = 2 + t
            if (kind >> 1) & 3:
                start += 2   # QoS 1/2 carry a packet id (we subscribe at QoS 0; tolerate it)
            if self.on_message is not None and start <= remaining:
                self.on_message(bytes(body[2:2 + t]), body, start, remaining - start)
