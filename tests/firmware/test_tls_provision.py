"""`glovecoach provision --ca`: the broker CA reaches the glove's flash over USB, the glove
checks it with its own mbedTLS, and nothing of it (nor any password) comes back.

The real firmware in the unix port on a pty (VirtualGlove), its flash a temp folder."""

from __future__ import annotations

import io
import json
import ssl
import sys
from pathlib import Path

import pytest

from glovecoach.cli import main
from glovecoach.link.virtual_glove import VirtualGlove

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))   # tls_certs (shared)
from tls_certs import make_room_tls  # noqa: E402

WIFI_PASSWORD = "correct-horse-42"


@pytest.fixture
def flash(tmp_path, monkeypatch):
    path = tmp_path / "flash" / "net.json"
    path.parent.mkdir()
    monkeypatch.setenv("GLOVECOACH_NET_CONFIG", str(path))   # VirtualGlove passes the environment on
    return path


@pytest.fixture
def glove(flash):
    with VirtualGlove(glove_id="GC-PROV-TLS") as g:
        g.plug()
        yield g


def provision(monkeypatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["provision", *args])


@pytest.mark.parametrize("form", ["pem", "der"])
def test_provision_with_a_ca_stores_it_and_switches_to_tls(glove, flash, tmp_path, monkeypatch, capsys, form):
    tls = make_room_tls(tmp_path / "certs")
    assert tls.cafile is not None
    ca = tls.cafile if form == "pem" else tls.cafile.with_suffix(".der")
    secret = tmp_path / "broker.pw"
    secret.write_text("broker-pw-77\n")
    code = provision(monkeypatch, "--port", glove.port, "--ssid", "massage-school", "--password-stdin",
                     "--broker", "192.168.1.10", "--room", "room-1", "--username", "GC-PROV-TLS",
                     "--password-file", str(secret), "--ca", str(ca), stdin=WIFI_PASSWORD + "\n")
    out = capsys.readouterr()
    assert code == 0, out.err
    # Port 8883 by default with TLS; the ACK says TLS without sending the certificate back.
    assert "publishing to 192.168.1.10:8883 over TLS, room room-1" in out.out
    stored = json.loads(flash.read_text())["mqtt"]
    assert stored["port"] == 8883 and stored["user"] == "GC-PROV-TLS" and stored["password"] == "broker-pw-77"
    assert ssl.PEM_cert_to_DER_cert(stored["ca"]) == tls.cafile.with_suffix(".der").read_bytes()
    assert "broker-pw-77" not in out.out + out.err and WIFI_PASSWORD not in out.out + out.err


def test_the_glove_refuses_a_ca_its_mbedtls_cannot_read(glove, flash, tmp_path):
    """Sent anyway (a host that skips the checks): the device parses the certificate itself."""
    from glovecoach.link import DeviceCommandError, GloveClient
    from glovecoach.wire import Command

    tls = make_room_tls(tmp_path / "certs")
    assert tls.cafile is not None
    pem = tls.cafile.read_text()
    lines = pem.splitlines()
    body = lines[1:-1]
    body[2] = "A" * len(body[2])   # still base64, no longer a certificate
    broken = "\n".join([lines[0], *body, lines[-1]]) + "\n"
    config = {"wifi": {"ssid": "s", "password": ""}, "mqtt": {"host": "h", "ca": broken}}
    with GloveClient(glove.port, reconnect=False) as client:
        client.connect(timeout=5)
        with pytest.raises(DeviceCommandError) as err:
            client.command(Command.NET_CONFIG, timeout=5, config=config)  # type: ignore[arg-type]
        assert "mqtt.ca is not a certificate mbedTLS can use" in err.value.message
        with pytest.raises(DeviceCommandError) as err:
            client.command(Command.NET_CONFIG, timeout=5,  # type: ignore[arg-type]
                           config={"wifi": {"ssid": "s", "password": ""}, "mqtt": {"host": "h", "ca": "hello"}})
        assert "mqtt.ca is not a PEM certificate" in err.value.message
        with pytest.raises(DeviceCommandError) as err:
            client.command(Command.NET_CONFIG, timeout=5,  # type: ignore[arg-type]
                           config={"wifi": {"ssid": "s", "password": ""}, "mqtt": {"host": "h", "ca": pem + pem}})
        assert "more than one certificate" in err.value.message
    assert not flash.exists()


@pytest.mark.parametrize("content,message", [
    (b"not a certificate", "neither a PEM certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" * 2, "holds 2 certificates"),
])
def test_bad_ca_files_are_refused_by_the_host(tmp_path, monkeypatch, capsys, content, message):
    bad = tmp_path / "ca.crt"
    bad.write_bytes(content)
    code = provision(monkeypatch, "--port", "/dev/null", "--ssid", "s", "--password-stdin", "--broker", "h",
                     "--ca", str(bad), stdin="\n")
    assert code != 0
    assert message in capsys.readouterr().err


def test_ca_without_broker_is_refused(tmp_path, monkeypatch, capsys):
    tls = make_room_tls(tmp_path / "certs")
    code = provision(monkeypatch, "--port", "/dev/null", "--ssid", "s", "--password-stdin", "--ca", str(tls.cafile),
                     stdin="\n")
    assert code != 0
    assert "give --broker too" in capsys.readouterr().err
