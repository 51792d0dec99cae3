"""NET_CONFIG (protocol 0x88) in the real firmware on the unix port, over a real pty.

The device's flash is a temp folder: GLOVECOACH_NET_CONFIG names the file the firmware writes
at NET_CONFIG and reads at boot. Every byte the device sends (pty output and stderr) is kept,
so the tests can say that no password ever appears in any of it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import struct
import subprocess
import time
import tty
from pathlib import Path

import pytest

from fwharness import CMD_INFO, FIRMWARE, MICROPYTHON, SENSOR_MAP, decode_chunk, encode_frame

CMD_NET_CONFIG = 0x88
BAD_FRAME, BAD_ARGUMENT, NOT_ALLOWED = 1, 3, 5
WIFI_PASSWORD = "wifi-Secret-7731"
BROKER_PASSWORD = "broker-Secret-9902"


def net_config_command(token: int, config: object) -> bytes:
    body = json.dumps(config).encode() if not isinstance(config, bytes) else config
    return encode_frame(struct.pack("<BH", CMD_NET_CONFIG, token) + body)


def closed_port() -> int:
    """A loopback port nobody listens on: the broker of a glove whose network join fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawDevice:
    """The firmware on a raw pty; keeps every byte it sends and decodes the frames in it.

    Unlike fwharness.Glove it tolerates console text between frames (a glove on WiFi prints
    its connection state on USB until a host speaks there)."""

    def __init__(self, net_config: Path | None, extra_env: dict[str, str] | None = None):
        env = dict(os.environ)
        for key in ("GLOVECOACH_SIM_SIGNAL", "GLOVECOACH_ROLE", "GLOVECOACH_NET_CONFIG"):
            env.pop(key, None)
        env["GLOVECOACH_SENSOR_MAP"] = str(SENSOR_MAP)
        if net_config is not None:
            env["GLOVECOACH_NET_CONFIG"] = str(net_config)
        env.update(extra_env or {})
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.proc = subprocess.Popen([str(MICROPYTHON), "main.py"], cwd=FIRMWARE, env=env,
                                     stdin=slave, stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        self.fd = master
        self.raw = b""          # everything received, text and frames
        self._pending = b""
        self.frames: list[dict] = []
        self.text: list[bytes] = []

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if not r:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            *chunks, self._pending = (self._pending + data).split(b"\x00")
            for chunk in chunks:
                if not chunk:
                    continue
                try:
                    self.frames.append(decode_chunk(chunk))
                except Exception:
                    self.text.append(chunk)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def reply(self, token: int, timeout: float = 5.0) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for f in self.frames:
                if f["type"] in ("ACK", "ERROR") and f["token"] == token:
                    self.frames.remove(f)
                    return f
            self.pump(0.05)
        raise TimeoutError(f"no reply to token {token}; text seen: {self.text!r}")

    def request(self, data: bytes, token: int) -> dict:
        self.send(data)
        return self.reply(token)

    def hello(self, token: int) -> dict:
        self.send(b"\x00" + encode_frame(struct.pack("<BH", CMD_INFO, token)))
        assert self.reply(token)["type"] == "ACK"
        end = time.monotonic() + 5
        while time.monotonic() < end:
            hellos = [f for f in self.frames if f["type"] == "HELLO"]
            if hellos:
                self.frames = [f for f in self.frames if f["type"] != "HELLO"]
                return hellos[-1]["info"]
            self.pump(0.05)
        raise TimeoutError("no HELLO after INFO")

    def close(self) -> bytes:
        """End the process; returns its stderr (the rest of what it said)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        err = self.proc.stderr.read() if self.proc.stderr else b""
        os.close(self.fd)
        return err


@pytest.fixture
def devices():
    started: list[RawDevice] = []

    def start(net_config: Path | None, extra_env: dict[str, str] | None = None) -> RawDevice:
        d = RawDevice(net_config, extra_env)
        started.append(d)
        d.pump(0.5)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.close()


def full_config(port: int) -> dict:
    return {"wifi": {"ssid": "massage-school", "password": WIFI_PASSWORD},
            "mqtt": {"host": "127.0.0.1", "port": port, "room": "room-1", "user": "glove-7",
                     "password": BROKER_PASSWORD}}


def test_net_config_is_stored_atomically_and_acked_without_passwords(devices, tmp_path):
    flash = tmp_path / "net.json"
    dev = devices(flash)
    assert dev.hello(1)["wifi"] == {"ssid": None, "configured": False}
    config = full_config(1883)
    ack = dev.request(net_config_command(2, config), 2)
    assert ack["type"] == "ACK" and ack["command"] == CMD_NET_CONFIG, ack
    assert ack["detail"] == {"wifi": {"ssid": "massage-school", "configured": True},
                             "mqtt": {"host": "127.0.0.1", "port": 1883, "room": "room-1", "user": "glove-7"},
                             "applies": "at the next boot"}
    # Written whole, by rename: the file holds exactly what was sent, no temporary is left.
    assert json.loads(flash.read_text()) == config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]
    assert dev.hello(3)["wifi"] == {"ssid": "massage-school", "configured": True}
    # Provisioning again replaces the configuration (rename over the old file).
    second = {"wifi": {"ssid": "open-cafe", "password": ""}}
    assert dev.request(net_config_command(4, second), 4)["detail"]["mqtt"] is None
    assert json.loads(flash.read_text()) == second
    assert dev.proc.poll() is None


@pytest.mark.parametrize("config,field", [
    ({"wifi": {"ssid": "", "password": "12345678"}}, "wifi.ssid must be a non-empty string"),
    ({"wifi": {"ssid": "x" * 33, "password": "12345678"}}, "wifi.ssid is 33 bytes, at most 32"),
    ({"wifi": {"ssid": "é" * 17, "password": "12345678"}}, "wifi.ssid is 34 bytes"),
    ({"wifi": {"ssid": "s", "password": "1234567"}}, "wifi.password must be 8..63 characters"),
    ({"wifi": {"ssid": "s", "password": "p" * 64}}, "got 64"),
    ({"wifi": {"ssid": "s", "password": "pässwörd1"}}, "printable ASCII"),
    ({"wifi": {"ssid": "s", "pass": "12345678"}}, "unknown key 'pass'"),
    ({"mqtt": {"host": "h"}}, "wifi is missing"),
    ({"wifi": {"ssid": "s"}, "mqtt": {"host": "h", "password": "abcdefgh"}}, "password given without mqtt.user"),
    ({"wifi": {"ssid": "s"}, "mqtt": {"host": "h", "port": 70000}}, "mqtt.port must be an integer in 1..65535"),
    ({"wifi": {"ssid": "s"}, "mqtt": {"host": "h", "room": "a/b"}}, "may not contain '/'"),
    (b"{not json", "NET_CONFIG needs a JSON object"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_values_sent_anyway_are_refused_by_the_device(devices, tmp_path, config, field):
    flash = tmp_path / "net.json"
    flash.write_text('{"wifi": {"ssid": "before", "password": ""}}')
    dev = devices(flash)
    err = dev.request(net_config_command(7, config), 7)
    assert err["type"] == "ERROR" and err["code"] == BAD_ARGUMENT, err
    assert field in err["message"], err["message"]
    # Nothing written: the old configuration stands.
    assert json.loads(flash.read_text()) == {"wifi": {"ssid": "before", "password": ""}}
    for secret in ("12345678", "abcdefgh", "1234567", "pässwörd1"):
        assert secret not in err["message"]


def test_a_net_config_longer_than_the_receiver_is_a_bad_frame(devices, tmp_path):
    dev = devices(tmp_path / "net.json")
    config = {"wifi": {"ssid": "s", "password": "12345678"}, "mqtt": {"host": "h" * 2100}}
    err = dev.request(net_config_command(8, config), 0xFFFF)
    assert err["type"] == "ERROR" and err["code"] == BAD_FRAME
    assert not (tmp_path / "net.json").exists()


def test_forget_removes_the_configuration(devices, tmp_path):
    flash = tmp_path / "net.json"
    dev = devices(flash)
    assert dev.request(net_config_command(1, {"wifi": {"ssid": "s", "password": ""}}), 1)["type"] == "ACK"
    assert flash.exists()
    ack = dev.request(net_config_command(2, {}), 2)
    assert ack["type"] == "ACK" and ack["detail"]["wifi"] == {"ssid": None, "configured": False}
    assert not flash.exists()
    assert dev.hello(3)["wifi"] == {"ssid": None, "configured": False}
    # Forgetting twice is no error.
    assert dev.request(net_config_command(4, {}), 4)["type"] == "ACK"


def test_a_simulated_glove_without_a_flash_file_refuses(devices):
    dev = devices(None)
    err = dev.request(net_config_command(5, {"wifi": {"ssid": "s", "password": ""}}), 5)
    assert err["type"] == "ERROR" and err["code"] == NOT_ALLOWED
    assert "GLOVECOACH_NET_CONFIG" in err["message"]
    assert not list(Path(FIRMWARE).glob("net.json*"))


def test_no_password_leaves_the_device_after_provisioning_info_failed_join_and_reboot(devices, tmp_path):
    flash = tmp_path / "net.json"
    port = closed_port()
    first = devices(flash)
    assert first.request(net_config_command(1, full_config(port)), 1)["type"] == "ACK"
    assert first.hello(2)["wifi"]["configured"] is True
    first.pump(0.3)
    said = [first.raw, first.close()]

    # Reboot: the glove now publishes over MQTT to a broker that is not there (the join
    # fails and is retried), and still answers on USB.
    second = devices(flash)
    second.pump(1.5)                       # connection attempts and their console text
    assert b"cannot reach broker 127.0.0.1:%d" % port in second.raw, second.raw
    hello = second.hello(3)
    assert hello["wifi"] == {"ssid": "massage-school", "configured": True}
    assert second.request(net_config_command(4, full_config(port)), 4)["type"] == "ACK"
    second.pump(2.5)                       # STATUS, retries while a USB host listens
    assert [f for f in second.frames if f["type"] == "STATUS"], "no STATUS over USB on a WiFi glove"
    said += [second.raw, second.close()]

    everything = b"".join(said)
    for secret in (WIFI_PASSWORD, BROKER_PASSWORD):
        for form in (secret.encode(), json.dumps(secret).encode(), secret.encode("utf-16-le")):
            assert form not in everything, f"{secret} left the device"


def test_net_config_over_mqtt_is_refused(devices, tmp_path):
    from test_mqtt_client import PacketServer

    flash = tmp_path / "net.json"
    stored = {"mqtt": {"host": "127.0.0.1", "port": 0, "room": "lab"}}
    attack = {"wifi": {"ssid": "elsewhere", "password": WIFI_PASSWORD}}
    server = PacketServer(command=("glovecoach/lab/GC-NET/cmd", b"\x00" + net_config_command(0x4242, attack)),
                          keep_all=False)
    stored["mqtt"]["port"] = server.port
    flash.write_text(json.dumps(stored))
    try:
        dev = devices(flash, {"GLOVECOACH_GLOVE_ID": "GC-NET"})
        deadline = time.monotonic() + 5
        replies: list[dict] = []
        while time.monotonic() < deadline and not replies:
            dev.pump(0.1)
            decoded = [decode_chunk(c) for m in server.publish_payloads for c in m.split(b"\x00") if c]
            replies = [d for d in decoded if d["type"] in ("ACK", "ERROR") and d["token"] == 0x4242]
    finally:
        dev.close()
        server.close()
    assert replies and replies[0]["type"] == "ERROR" and replies[0]["code"] == NOT_ALLOWED, replies
    assert "only taken over USB" in replies[0]["message"]
    assert json.loads(flash.read_text()) == stored
