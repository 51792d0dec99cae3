"""TLS from the gloves: the real firmware (MicroPython unix port, mbedTLS) connecting to the
classroom's real Mosquitto (RoomBroker with TLS, accounts and ACL), verifying the broker's
certificate against the CA it was provisioned with and logging in with its own account.

Certificates are made at test time (tls_certs.py). The host reads the device as a screen does,
GloveClient over mqtts:// with the instructor's login, and checks every sample.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from tls_certs import make_room_tls

from glovecoach.link.client import GapDetected, GloveClient, LinkDown, SamplesReceived
from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from mqtt_helpers import MOSQUITTO, REPO, MqttGlove

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")

N_CHANNELS = len(json.loads((REPO / "hardware" / "sensor_map.json").read_text())["channels"])
N_ROWS = 991   # prime: the row a sample holds names its slot
ROOM = "room9"
DEVICE = "GC-TLS-A"


def signal_rows() -> np.ndarray:
    r = np.arange(N_ROWS)[:, None]
    c = np.arange(N_CHANNELS)[None, :]
    return (200 + (r * 7 + c * 113) % 3000).astype(np.uint16)


@pytest.fixture(scope="module")
def signal_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sig") / "rows.gcsig"
    path.write_bytes(b"GCSIG1\n\0" + struct.pack("<HHI", N_CHANNELS, 200, N_ROWS) + signal_rows().tobytes())
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    return make_room_tls(folder, "room"), make_room_tls(folder, "stranger")


@pytest.fixture
def room(certs):
    tls, _ = certs
    accounts = RoomAccounts.create(ROOM, devices=[DEVICE])
    with RoomBroker(accounts, host="127.0.0.1", tls=tls) as broker:
        yield accounts, broker


def tls_glove(port: int, ca: Path, password: str, signal_path: Path | None = None,
              ca_text: str | None = None) -> MqttGlove:
    """The firmware with a net.json as `glovecoach provision --ca` writes it (PEM text)."""
    glove = MqttGlove(port, glove_id=DEVICE, room=ROOM, user=DEVICE, password=password,
                      signal_path=signal_path)
    config = json.loads(glove.config.read_text())
    config["mqtt"]["ca"] = ca_text if ca_text is not None else ca.read_text()
    glove.config.write_text(json.dumps(config))
    return glove


def collect(client: GloveClient, seconds: float) -> list:
    events, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        event = client.wait_event(0.05)
        if event is not None:
            events.append(event)
    return events


def test_a_glove_streams_over_tls_with_its_own_login_and_nothing_is_lost(room, certs, signal_file, monkeypatch):
    accounts, broker = room
    tls, _ = certs
    password = accounts.devices[DEVICE]
    with tls_glove(broker.port, tls.cafile, password, signal_file) as glove:
        out = glove.wait_output("connected to", timeout=10)
        assert f"connected to 127.0.0.1:{broker.port} (TLS) as {DEVICE}, room {ROOM}" in out
        monkeypatch.setenv("GLOVECOACH_MQTT_USER", "instructor")
        monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", accounts.screens["instructor"])
        with GloveClient(f"mqtts://127.0.0.1:{broker.port}/{ROOM}/{DEVICE}?ca={tls.cafile}") as client:
            hello = client.connect(timeout=5)
            assert hello.glove_id == DEVICE
            client.start(200)
            events = collect(client, 5.0)
            client.stop()
            events += collect(client, 0.3)
            stats = client.stats
        out = glove.output()
    assert not [e for e in events if isinstance(e, (GapDetected, LinkDown))]
    assert stats.lost_frames == stats.duplicates == stats.corrupt_frames == 0
    batches = [e for e in events if isinstance(e, SamplesReceived)]
    rows = signal_rows()
    offset = (int(np.flatnonzero((rows == batches[0].raw[0]).all(axis=1))[0]) - batches[0].first_index) % N_ROWS
    expected_index = batches[0].first_index
    for b in batches:   # every sample in order, each holding its own slot's row
        assert b.first_index == expected_index
        np.testing.assert_array_equal(b.raw, rows[(offset + b.first_index + np.arange(len(b.raw))) % N_ROWS])
        expected_index += len(b.raw)
    n = expected_index - batches[0].first_index
    assert n >= 200 * 5.0 * 0.95
    assert password not in out
    print(f"TLS 200 Hz: {n} samples in order, none lost")


def test_a_broker_signed_by_another_ca_is_refused_and_nothing_is_sent(certs, signal_file):
    """The glove was provisioned with the room's CA; this broker's certificate is another
    CA's (a stranger's broker on the room's network): no CONNECT, so no password, leaves."""
    room_tls, stranger_tls = certs
    accounts = RoomAccounts.create(ROOM, devices=[DEVICE])
    with RoomBroker(accounts, host="127.0.0.1", tls=stranger_tls) as broker, \
            tls_glove(broker.port, room_tls.cafile, accounts.devices[DEVICE], signal_file) as glove:
        out = glove.wait_output("TLS refused", timeout=10)
        time.sleep(1.0)   # a few retries
        out = glove.output()
        log = broker.log()
        # The glove keeps sampling and retrying (with its back-off).
        assert glove.proc is not None and glove.proc.poll() is None
    assert (f"mqtt: broker 127.0.0.1:{broker.port}, nothing sent: TLS refused: the broker's certificate is "
            "not trusted: The certificate is not correctly signed by the trusted CA (check mqtt.ca, given at "
            "provisioning)") in out
    assert "connected to" not in out
    assert out.count("TLS refused") == 1   # said once: the link logs changes of state
    assert accounts.devices[DEVICE] not in out
    assert f"as {DEVICE}" not in log   # Mosquitto never saw a login from it


def test_a_certificate_that_does_not_name_the_host_is_refused(tmp_path, signal_file):
    """Signed by the CA the glove trusts, but issued to another host (a certificate lifted
    from another machine of the school): refused."""
    other = make_room_tls(tmp_path, "elsewhere", ip="10.9.8.7", dns="other-laptop")
    accounts = RoomAccounts.create(ROOM, devices=[DEVICE])
    with RoomBroker(accounts, host="127.0.0.1", tls=other) as broker, \
            tls_glove(broker.port, other.cafile, accounts.devices[DEVICE], signal_file) as glove:
        out = glove.wait_output("TLS refused", timeout=10)
    assert ("TLS refused: the broker's certificate is not trusted: The certificate Common Name (CN) does not "
            "match with the expected CN") in out
    assert "connected to" not in out


def test_a_wrong_password_over_tls_is_refused_by_the_broker(room, certs, signal_file):
    accounts, broker = room
    tls, _ = certs
    with tls_glove(broker.port, tls.cafile, "not-its-password", signal_file) as glove:
        out = glove.wait_output("refused", timeout=10)
    assert "broker refused the connection: not authorized (CONNACK code 5)" in out or \
        "bad user name or password (CONNACK code 4)" in out, out
    assert "not-its-password" not in out and "connected to" not in out


def test_a_plain_broker_is_not_taken_for_a_tls_one(certs, signal_file):
    """A glove provisioned for TLS meeting a broker without TLS: the handshake fails and the
    glove says so; it never falls back to sending its login in clear."""
    tls, _ = certs
    accounts = RoomAccounts.create(ROOM, devices=[DEVICE])
    with RoomBroker(accounts, host="127.0.0.1") as broker, \
            tls_glove(broker.port, tls.cafile, accounts.devices[DEVICE], signal_file) as glove:
        out = glove.wait_output("mqtt: ", timeout=10)
        time.sleep(1.0)
        out = glove.output()
    assert "connected to" not in out
    assert f"TLS refused: no TLS handshake ([Errno 104] ECONNRESET): is port {broker.port} the broker's TLS port?" \
        in out, out
    assert accounts.devices[DEVICE] not in broker.log()


def test_the_ca_may_be_given_as_der_by_provision_and_is_kept_as_pem(certs):
    """glovecoach provision --ca takes PEM or DER and gives the glove PEM (what it parses)."""
    from glovecoach.commands.provision import read_ca

    tls, _ = certs
    assert tls.cafile is not None
    der = tls.cafile.with_suffix(".der")
    assert read_ca(der) == read_ca(tls.cafile) == tls.cafile.read_text()
