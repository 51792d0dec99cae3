"""The glove's MQTT 3.1.1 client (firmware/glove/mqtt.py) in the real MicroPython unix port.

Its packets are checked byte by byte against the MQTT 3.1.1 specification (OASIS standard,
section numbers below) by a recording server written here from the spec, independent of the
client's code; the sampling loop with the MQTT link is run under heap_lock to prove the
sending path allocation-free. End-to-end runs through real brokers are in tests/link.
"""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from fwharness import decode_chunk, run_micropython

MP = os.path.join(os.path.dirname(__file__), "mp")


def spec_remaining_length(x: int) -> bytes:
    """The encoding algorithm of section 2.2.3, transcribed."""
    out = bytearray()
    while True:
        encoded = x % 128
        x //= 128
        if x > 0:
            encoded |= 128
        out.append(encoded)
        if x <= 0:
            return bytes(out)


def utf8(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def test_remaining_length_transcription_matches_the_spec_table():
    # Section 2.2.3, table 2.4: the boundaries of 1, 2, 3 and 4 byte encodings.
    assert spec_remaining_length(0) == b"\x00"
    assert spec_remaining_length(127) == b"\x7f"
    assert spec_remaining_length(128) == b"\x80\x01"
    assert spec_remaining_length(16383) == b"\xff\x7f"
    assert spec_remaining_length(16384) == b"\x80\x80\x01"
    assert spec_remaining_length(2097152) == b"\x80\x80\x80\x01"


class PacketServer:
    """Accepts one MQTT client on the loopback, records every packet as raw bytes, answers
    CONNECT (with `connack_code`), SUBSCRIBE and PINGREQ as a broker would, and publishes
    `command` to the client after its SUBACK."""

    def __init__(self, connack_code: int = 0, command: tuple[str, bytes] | None = None,
                 keep_all: bool = True) -> None:
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.connack_code = connack_code
        self.command = command
        self.keep_all = keep_all
        self.packets: list[bytes] = []
        self.publish_payloads: list[bytes] = []       # of .../frames topics
        self.other_publishes: list[tuple[bytes, bytes]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _run(self) -> None:
        try:
            conn, _ = self.srv.accept()
            with conn:
                while True:
                    try:
                        first = self._read(conn, 1)
                    except EOFError:
                        return
                    length_bytes = b""
                    while True:
                        b = self._read(conn, 1)
                        length_bytes += b
                        if not b[0] & 0x80:
                            break
                    remaining = 0
                    for i, b in enumerate(length_bytes):
                        remaining |= (b & 0x7F) << (7 * i)
                    body = self._read(conn, remaining)
                    raw = first + length_bytes + body
                    kind = first[0] & 0xF0
                    if kind == 0x30:
                        t = int.from_bytes(body[:2], "big")
                        if body[2:2 + t].endswith(b"/frames"):
                            self.publish_payloads.append(body[2 + t:])
                        else:
                            self.other_publishes.append((body[2:2 + t], body[2 + t:]))
                    if self.keep_all or kind != 0x30:
                        self.packets.append(raw)
                    if kind == 0x10:
                        conn.sendall(bytes((0x20, 2, 0, self.connack_code)))
                    elif kind == 0x80:
                        conn.sendall(b"\x90\x03" + body[:2] + b"\x00")
                        if self.command is not None:
                            topic, payload = self.command
                            pub = utf8(topic) + payload
                            conn.sendall(b"\x30" + spec_remaining_length(len(pub)) + pub)
                    elif kind == 0xC0:
                        conn.sendall(b"\xd0\x00")
                    elif kind == 0xE0:
                        return
        except BaseException as exc:  # reported by the test
            self.error = exc

    def close(self) -> None:
        self.srv.close()
        self.thread.join(5)


def test_packets_are_mqtt_3_1_1_byte_for_byte():
    command = bytes.fromhex("0a8100070102030400")
    server = PacketServer(command=("glovecoach/lab/GC-1/cmd", command))
    try:
        proc = run_micropython(os.path.join(MP, "mp_mqtt_packets.py"), str(server.port), "1")
        server.thread.join(5)
    finally:
        server.close()
    assert server.error is None, server.error
    out = proc.stdout.decode()
    p = server.packets
    # 3.1 CONNECT: protocol name "MQTT", level 4, flags user name (0x80), password (0x40),
    # will retain (0x20), will QoS 0, will flag (0x04), clean session (0x02); keepalive 1 s;
    # payload: client id, will topic, will message, user name, password, in that order.
    variable = b"\x00\x04MQTT" + b"\x04" + bytes((0x80 | 0x40 | 0x20 | 0x04 | 0x02,)) + b"\x00\x01"
    payload = (utf8("gc-test-1") + utf8("glovecoach/lab/GC-1/online") + b"\x00\x01" + b"0"
               + utf8("glove-user") + utf8("s3cret"))
    assert p[0] == b"\x10" + spec_remaining_length(len(variable + payload)) + variable + payload
    # 3.8 SUBSCRIBE: fixed header 0x82 (reserved flags 0010), packet id 1, filter, QoS 0.
    sub = b"\x00\x01" + utf8("glovecoach/lab/GC-1/cmd") + b"\x00"
    assert p[1] == b"\x82" + spec_remaining_length(len(sub)) + sub
    # 3.3 PUBLISH QoS 0: no packet id; RETAIN is bit 0 of the fixed header.
    hello = utf8("glovecoach/lab/GC-1/hello") + b"\x01\x02hi"
    assert p[2] == b"\x31" + spec_remaining_length(len(hello)) + hello
    data = bytes(i & 0xFF for i in range(20000))
    for packet, n in zip(p[3:5], (200, 20000)):
        body = utf8("glovecoach/lab/GC-1/frames") + data[:n]
        assert packet == b"\x30" + spec_remaining_length(len(body)) + body
    assert len(spec_remaining_length(2 + 26 + 20000)) == 3
    # 3.12 PINGREQ after half the keepalive idle, answered; 3.14 DISCONNECT last.
    assert b"\xc0\x00" in p[5:-1]
    assert p[-1] == b"\xe0\x00"
    assert "DONE 1" in out, out
    # 3.9 SUBACK's return code reached the client; the broker's PUBLISH on cmd arrived whole.
    assert "SUBACK 1 0" in out
    assert f"MSG glovecoach/lab/GC-1/cmd {command.hex()}" in out


@pytest.mark.parametrize("code,reason", [(4, "bad user name or password"), (5, "not authorized")])
def test_refused_connect_says_why_and_never_shows_the_password(code, reason):
    server = PacketServer(connack_code=code)
    try:
        proc = run_micropython(os.path.join(MP, "mp_mqtt_packets.py"), str(server.port), "30")
    finally:
        server.close()
    out = proc.stdout.decode() + proc.stderr.decode()
    assert f"REFUSED broker refused the connection: {reason} (CONNACK code {code})" in out
    assert "s3cret" not in out


@pytest.mark.parametrize("rate_hz,slots,batch", [(200, 400, 1), (1000, 1500, 1), (1000, 1500, 4)])
def test_sampling_loop_with_the_mqtt_link_allocates_nothing(tmp_path, rate_hz, slots, batch):
    server = PacketServer(keep_all=False)
    config = tmp_path / "net.json"
    config.write_text(json.dumps({"mqtt": {"host": "127.0.0.1", "port": server.port, "room": "lab",
                                           "batch_frames": batch}}))
    try:
        proc = run_micropython(os.path.join(MP, "mp_mqtt_no_alloc.py"), str(rate_hz), str(slots),
                               env={"GLOVECOACH_NET_CONFIG": str(config), "GLOVECOACH_GLOVE_ID": "GC-NOALLOC"})
    finally:
        server.close()
    assert server.error is None, server.error
    errors, frames, published, dropped, messages = map(int, proc.stdout.rsplit(b"\nRESULT ", 1)[1].split())
    assert errors == 0, "an allocation (MemoryError) happened in the sampling loop with the MQTT link"
    assert dropped == 0
    spf = rate_hz // 50
    assert frames >= slots // spf
    # Published: those SAMPLES frames and the STATUS frames (one a second) between them.
    assert frames < published <= frames + slots // rate_hz + 1
    # Every message the server got holds whole frames that decode with a good CRC; the
    # SAMPLES among them are consecutive (nothing lost or reordered on the way).
    decoded = [decode_chunk(c) for m in server.publish_payloads for c in m.split(b"\x00") if c]
    seqs = [d["seq"] for d in decoded if d["type"] == "SAMPLES"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(m.endswith(b"\x00") for m in server.publish_payloads)
    # On connecting, the glove said it is online (retained "1"; its will says "0").
    assert server.other_publishes[0] == (b"glovecoach/lab/GC-NOALLOC/online", b"1")
    if batch > 1:
        # SAMPLES travel `batch` frames per message (a STATUS flushes a batch early).
        sizes = [sum(1 for c in m.split(b"\x00") if c) for m in server.publish_payloads[-20:]]
        assert max(sizes) == batch
