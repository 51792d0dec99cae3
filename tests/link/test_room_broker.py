"""The classroom's Mosquitto: nobody anonymous, a device speaks only for itself, TLS on request.

Real Mosquitto (the distribution's) started by `RoomBroker` with the files it writes, real
paho-mqtt clients, and the real firmware logging in with its own device account.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import queue
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from glovecoach.link.mqtt_room_client import MAX_PACKET_BYTES
from glovecoach.link.room_broker import RoomAccounts, RoomBroker, RoomBrokerError, TlsFiles, password_hash
from mqtt_helpers import MOSQUITTO, MOSQUITTO_PASSWD, MqttGlove

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")


class Screen:
    """A paho client that logs in and collects what it is sent."""

    def __init__(self, port: int, user: str | None, password: str | None, tls_ca: Path | None = None) -> None:
        self.messages: queue.Queue = queue.Queue()
        self.result: queue.Queue = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}")
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.client.on_connect = lambda c, u, f, rc, p=None: self.result.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def connected(self, timeout: float = 5.0):
        return self.result.get(timeout=timeout)

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        time.sleep(0.2)   # SUBACK before anything is published

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def received(self, settle_s: float = 0.5) -> list:
        time.sleep(settle_s)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get())
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def room():
    accounts = RoomAccounts.create("room7", devices=["GC-A", "GC-B"], screens=["station-1"])
    with RoomBroker(accounts, host="127.0.0.1") as broker:
        yield accounts, broker


def test_anonymous_and_wrong_passwords_are_refused(room):
    accounts, broker = room
    for user, password in ((None, None), ("GC-A", "not-its-password"), ("nobody", "x")):
        screen = Screen(broker.port, user, password)
        rc = screen.connected()
        screen.close()
        assert rc.is_failure, f"{user} got in"
    good = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not good.connected().is_failure
    good.close()


def test_a_device_publishes_only_to_its_own_topics(room):
    accounts, broker = room
    instructor = Screen(broker.port, "instructor", accounts.screens["instructor"])
    assert not instructor.connected().is_failure
    instructor.subscribe("glovecoach/room7/#")
    a = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not a.connected().is_failure
    a.publish("glovecoach/room7/GC-B/frames", b"forged")      # another device's stream
    a.publish("glovecoach/room7/GC-B/hello", b"forged hello")
    a.publish("glovecoach/other-room/GC-A/frames", b"elsewhere")
    a.publish("glovecoach/room7/GC-A/frames", b"own")         # its own, after the forgeries
    got = instructor.received()
    assert got == [("glovecoach/room7/GC-A/frames", b"own")]
    a.close()
    instructor.close()


def test_a_device_sending_a_huge_message_is_cut_off_and_nobody_gets_it(room):
    """One device publishing megabytes (a bug, or a hostile login) loses its own connection;
    the message reaches no subscriber, and the other devices' messages flow on."""
    accounts, broker = room
    instructor = Screen(broker.port, "instructor", accounts.screens["instructor"])
    assert not instructor.connected().is_failure
    instructor.subscribe("glovecoach/room7/#")
    a = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    b = Screen(broker.port, "GC-B", accounts.devices["GC-B"])
    assert not a.connected().is_failure and not b.connected().is_failure
    gone: queue.Queue = queue.Queue()
    a.client.on_disconnect = lambda c, u, f, rc, p=None: gone.put(rc)
    a.client.publish("glovecoach/room7/GC-A/frames", bytes(MAX_PACKET_BYTES + 1))
    assert gone.get(timeout=5) is not None       # the broker closed GC-A's connection
    b.publish("glovecoach/room7/GC-B/frames", b"B goes on")
    got = instructor.received()
    assert got == [("glovecoach/room7/GC-B/frames", b"B goes on")]
    # A message of the largest size allowed still goes through (its topic and header count).
    b.publish("glovecoach/room7/GC-B/frames", bytes(MAX_PACKET_BYTES - 100))
    assert [len(p) for _, p in instructor.received()] == [MAX_PACKET_BYTES - 100]
    for c in (a, b, instructor):
        c.close()


def test_a_device_reads_only_its_own_commands_and_screens_may_send_them(room):
    accounts, broker = room
    a = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not a.connected().is_failure
    a.subscribe("glovecoach/room7/#")        # asks for everything, is given its own cmd only
    screen = Screen(broker.port, "station-1", accounts.screens["station-1"])
    assert not screen.connected().is_failure
    screen.publish("glovecoach/room7/GC-B/cmd", b"for B")
    screen.publish("glovecoach/room7/GC-A/cmd", b"for A")
    screen.publish("glovecoach/room7/GC-A/marks", b"a station screen may not mark")
    b = Screen(broker.port, "GC-B", accounts.devices["GC-B"])
    assert not b.connected().is_failure
    b.publish("glovecoach/room7/GC-B/frames", b"B's frames")
    assert a.received() == [("glovecoach/room7/GC-A/cmd", b"for A")]
    for c in (a, b, screen):
        c.close()


def test_only_the_instructor_marks_moments(room):
    accounts, broker = room
    watcher = Screen(broker.port, "station-1", accounts.screens["station-1"])
    assert not watcher.connected().is_failure
    watcher.subscribe("glovecoach/room7/+/marks")
    instructor = Screen(broker.port, "instructor", accounts.screens["instructor"])
    assert not instructor.connected().is_failure
    watcher.publish("glovecoach/room7/GC-A/marks", b"from a station screen")
    instructor.publish("glovecoach/room7/GC-A/marks", b"from the instructor")
    assert watcher.received() == [("glovecoach/room7/GC-A/marks", b"from the instructor")]
    watcher.close()
    instructor.close()


def test_the_real_firmware_logs_in_with_its_device_account(room, tmp_path):
    accounts, broker = room
    instructor = Screen(broker.port, "instructor", accounts.screens["instructor"])
    assert not instructor.connected().is_failure
    instructor.subscribe("glovecoach/room7/GC-A/hello")
    with MqttGlove(broker.port, glove_id="GC-A", room="room7", user="GC-A",
                   password=accounts.devices["GC-A"]) as glove:
        glove.wait_output("connected")
        got = instructor.received(1.0)
        assert [t for t, _ in got] == ["glovecoach/room7/GC-A/hello"]
        assert accounts.devices["GC-A"] not in glove.output()
    # With GC-B's login it is GC-B: its GC-A topics are refused, so nothing arrives.
    instructor.subscribe("glovecoach/room7/#")
    instructor.received(0.2)
    with MqttGlove(broker.port, glove_id="GC-A", room="room7", user="GC-B",
                   password=accounts.devices["GC-B"]) as glove:
        glove.wait_output("connected")
        assert instructor.received(1.0) == []
    instructor.close()


def test_password_hashes_are_mosquittos_own_format(tmp_path):
    line = password_hash("secret", salt=b"0123456789ab", iterations=101)
    _, alg, iterations, salt, digest = line.split("$")
    assert alg == "7" and iterations == "101"
    expect = hashlib.pbkdf2_hmac("sha512", b"secret", base64.b64decode(salt), 101, 64)
    assert base64.b64decode(digest) == expect
    # and the same as mosquitto_passwd makes from that salt (it picks its own salt: check its line)
    if MOSQUITTO_PASSWD.exists():
        pw = tmp_path / "pw"
        pw.write_text("")
        subprocess.run([str(MOSQUITTO_PASSWD), "-b", str(pw), "u", "secret"], check=True)
        theirs = pw.read_text().strip().split(":", 1)[1]
        _, alg2, it2, salt2, _ = theirs.split("$")
        assert password_hash("secret", base64.b64decode(salt2), int(it2)) == theirs


def test_accounts_file_is_private_and_round_trips(tmp_path):
    accounts = RoomAccounts.create("room7", devices=["GC-A"], screens=["s1"])
    path = accounts.save(tmp_path / "rooms" / "room7.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = RoomAccounts.load(path)
    assert again == accounts
    assert len(set(accounts.devices.values()) | set(accounts.screens.values())) == 3   # all different


@pytest.mark.parametrize("text, words", [
    ("{", "not a room accounts file"),
    (json.dumps({"format": "other"}), "glovecoach-room-accounts"),
    (json.dumps({"format": "glovecoach-room-accounts", "room": "r", "devices": {"GC-A": ""}}),
     "non-empty passwords"),
    (json.dumps({"format": "glovecoach-room-accounts", "room": "r/1"}), "room name"),
])
def test_a_bad_accounts_file_is_refused_with_the_reason(tmp_path, text, words):
    path = tmp_path / "room.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=words):
        RoomAccounts.load(path)


@pytest.mark.parametrize("name", ["a/b", "+", "#", "", "with space", "x" * 49])
def test_names_that_would_break_topics_are_refused(name):
    with pytest.raises(ValueError, match="topic level"):
        RoomAccounts.create("room7", devices=[name])


def test_a_name_is_a_device_or_a_screen_not_both():
    with pytest.raises(ValueError, match="not both|already"):
        RoomAccounts("r", devices={"x": "p"}, screens={"x": "q"})


def test_a_port_in_use_is_a_clear_error(room):
    accounts, broker = room
    with pytest.raises(RoomBrokerError, match="port"):
        RoomBroker(accounts, host="127.0.0.1", port=broker.port).start()


def _self_signed(tmp_path: Path) -> TlsFiles:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "glovecoach test room CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(tmp_path / "server.crt", tmp_path / "server.key", tmp_path / "ca.crt")
    files.certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    assert files.cafile is not None
    files.cafile.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def test_tls_room_takes_tls_clients_only(tmp_path):
    tls = _self_signed(tmp_path)
    accounts = RoomAccounts.create("room7", devices=["GC-A"])
    with RoomBroker(accounts, host="127.0.0.1", tls=tls) as broker:
        secure = Screen(broker.port, "instructor", accounts.screens["instructor"], tls_ca=tls.cafile)
        assert not secure.connected().is_failure
        secure.close()
        # a client without TLS gets no CONNACK: the broker wants a TLS handshake
        plain = paho.Client(paho.CallbackAPIVersion.VERSION2)
        plain.username_pw_set("instructor", accounts.screens["instructor"])
        acked = []
        plain.on_connect = lambda *a: acked.append(a)
        try:
            plain.connect("127.0.0.1", broker.port, keepalive=5)
            plain.loop_start()
            time.sleep(1.0)
            plain.loop_stop()
        except (OSError, ssl.SSLError):
            pass
        assert acked == []


def test_the_room_broker_comes_back_on_its_port_after_a_crash(room):
    accounts, broker = room
    a = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not a.connected().is_failure
    a.close()
    broker.kill()
    assert not broker.running
    broker.start()
    again = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not again.connected().is_failure
    again.close()


def test_a_screen_reads_a_device_through_mqtts_with_the_rooms_ca(tmp_path, monkeypatch):
    from glovecoach.link.transport import make_transport

    tls = _self_signed(tmp_path)
    accounts = RoomAccounts.create("room7", devices=["GC-A"])
    with RoomBroker(accounts, host="127.0.0.1", tls=tls) as broker:
        monkeypatch.setenv("GLOVECOACH_MQTT_USER", "instructor")
        monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", accounts.screens["instructor"])
        transport = make_transport(f"mqtts://127.0.0.1:{broker.port}/room7/GC-A?ca={tls.cafile}")
        assert transport.name.startswith("mqtts://") and "instructor" not in transport.name
        transport.open()
        try:
            device = Screen(broker.port, "GC-A", accounts.devices["GC-A"], tls_ca=tls.cafile)
            assert not device.connected().is_failure
            device.publish("glovecoach/room7/GC-A/frames", b"\x05frame\x00")
            got = b""
            deadline = time.monotonic() + 5
            while b"frame" not in got and time.monotonic() < deadline:
                got += transport.read(4096, 0.2)
            assert b"\x05frame\x00" in got
            device.close()
        finally:
            transport.close()
        # without the room's CA the broker's certificate is not trusted
        untrusting = make_transport(f"mqtts://127.0.0.1:{broker.port}/room7/GC-A")
        from glovecoach.link.transport import LinkLost
        with pytest.raises(LinkLost):
            untrusting.open()


def test_mqtts_url_mistakes_are_named(tmp_path):
    from glovecoach.link.transport import make_transport

    with pytest.raises(ValueError, match="not a file"):
        make_transport(f"mqtts://h/room7/GC-A?ca={tmp_path / 'missing.crt'}")
    with pytest.raises(ValueError, match="unknown mqtt option"):
        make_transport("mqtt://h/room7/GC-A?ca=x")


@pytest.mark.parametrize("mosquitto", [True, False], ids=["mosquitto", "amqtt"])
def test_a_station_broker_is_mosquitto_on_the_loopback_when_installed_else_amqtt(monkeypatch, tmp_path, mosquitto):
    from glovecoach.link import broker as broker_module

    monkeypatch.delenv("GLOVECOACH_MQTT_BROKER", raising=False)
    if not mosquitto:
        monkeypatch.setenv("GLOVECOACH_MOSQUITTO", str(tmp_path / "no-mosquitto-here"))
    with broker_module.station_broker() as address:
        assert address.host == "127.0.0.1"
        screen = Screen(address.port, None, None)     # a single station's broker takes anyone
        assert not screen.connected().is_failure
        screen.subscribe("$SYS/broker/version")      # Mosquitto says what it is; amqtt here does not
        said = screen.received(0.5)
        screen.close()
        assert any(b"mosquitto" in payload for _, payload in said) == mosquitto


def test_a_broker_without_accounts_stays_on_the_loopback():
    with pytest.raises(RoomBrokerError, match="loopback"):
        RoomBroker(None, host="0.0.0.0")


def test_a_killed_owner_leaves_no_broker_listening(tmp_path):
    """The process that started a room's broker is killed (kill -9): the broker goes with it."""
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys, time\n"
        "from glovecoach.link.room_broker import RoomAccounts, RoomBroker\n"
        "b = RoomBroker(RoomAccounts.create('r'), host='127.0.0.1').start()\n"
        "print(b.port, b._proc.pid, flush=True)\n"
        "time.sleep(60)\n")
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        port, pid = map(int, owner.stdout.readline().split())
        owner.kill()
        owner.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            status = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            if status == "Z":
                break
            time.sleep(0.05)
        alive = os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        assert not alive, "the broker outlived the process that started it"
    finally:
        owner.kill()


def test_a_login_added_mid_class_is_taken_without_a_restart(room):
    """A glove provisioned while the class runs: refused until the running broker rereads the
    room's logins (SIGHUP), then let in; the clients already connected stay connected."""
    accounts, broker = room
    staying = Screen(broker.port, "GC-A", accounts.devices["GC-A"])
    assert not staying.connected().is_failure
    password = accounts.add_device("GC-NEW")
    before = Screen(broker.port, "GC-NEW", password)
    assert before.connected().is_failure
    before.close()
    broker.reload_accounts(accounts)
    assert logs_in_within(broker.port, "GC-NEW", password), "the new login was not taken"
    assert staying.client.is_connected()
    staying.close()


def test_the_classroom_takes_in_gloves_provisioned_since_it_started(room, tmp_path):
    """`glovecoach provision --room` adds a glove to the room's accounts file mid-class; the
    classroom's `logins` (asked when the Stations table opens) finds it and lets it in."""
    from glovecoach.commands.classroom import logins

    accounts, broker = room
    path = accounts.save(tmp_path / "room7.accounts.json")
    assert logins(accounts, broker, path) == {"GC-A", "GC-B"}
    on_disk = RoomAccounts.load(path)
    password = on_disk.add_device("GC-LATE")          # what provision does
    on_disk.save(path)
    assert logins(accounts, broker, path) == {"GC-A", "GC-B", "GC-LATE"}
    assert logs_in_within(broker.port, "GC-LATE", password)
    path.write_text("{broken")                          # a bad file: the logins it had, and says so
    assert logins(accounts, broker, path) == {"GC-A", "GC-B", "GC-LATE"}


def logs_in_within(port: int, user: str, password: str, seconds: float = 5.0) -> bool:
    """Whether ``user`` gets in within ``seconds`` (Mosquitto rereads its logins a moment
    after SIGHUP)."""
    deadline = time.monotonic() + seconds
    while True:
        client = Screen(port, user, password)
        rc = client.connected()
        client.close()
        if not rc.is_failure:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
