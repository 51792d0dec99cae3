"""`glovecoach provision` end to end: the CLI, over the port of a virtual glove (the real
firmware in the unix port on a pty), with the device's flash a temp folder."""

from __future__ import annotations

import io
import json

import pytest

from glovecoach.cli import main
from glovecoach.link.virtual_glove import VirtualGlove

WIFI_PASSWORD = "correct-horse-42"


@pytest.fixture
def flash(tmp_path, monkeypatch):
    path = tmp_path / "flash" / "net.json"
    path.parent.mkdir()
    # VirtualGlove hands the firmware this process's environment.
    monkeypatch.setenv("GLOVECOACH_NET_CONFIG", str(path))
    return path


@pytest.fixture
def glove(flash):
    with VirtualGlove(glove_id="GC-PROV-1") as g:
        g.plug()
        yield g


def provision(monkeypatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["provision", *args])


def test_provision_then_forget(glove, flash, tmp_path, monkeypatch, capsys):
    secret = tmp_path / "broker.pw"
    secret.write_text("broker-pw-77\n")
    code = provision(monkeypatch, "--port", glove.port, "--ssid", "massage-school", "--password-stdin",
                     "--broker", "192.168.1.10:1884", "--room", "room-1", "--username", "glove-7",
                     "--password-file", str(secret), stdin=WIFI_PASSWORD + "\n")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "glove GC-PROV-1: WiFi 'massage-school' (WPA2) stored" in out.out
    assert "publishing to 192.168.1.10:1884, room room-1" in out.out
    assert WIFI_PASSWORD not in out.out + out.err and "broker-pw-77" not in out.out + out.err
    assert json.loads(flash.read_text()) == {
        "wifi": {"ssid": "massage-school", "password": WIFI_PASSWORD},
        "mqtt": {"host": "192.168.1.10", "port": 1884, "room": "room-1", "user": "glove-7",
                 "password": "broker-pw-77"}}

    # An open network, no broker: the glove joins the WiFi and keeps its frames on USB.
    assert provision(monkeypatch, "--port", glove.port, "--ssid", "cafe", "--password-stdin", stdin="\n") == 0
    assert "(open network)" in capsys.readouterr().out
    assert json.loads(flash.read_text()) == {"wifi": {"ssid": "cafe", "password": ""}}

    assert provision(monkeypatch, "--port", glove.port, "--forget") == 0
    assert "network configuration removed" in capsys.readouterr().out
    assert not flash.exists()


@pytest.mark.parametrize("args,stdin,message", [
    (["--ssid", ""], "", "--ssid is empty"),
    (["--ssid", "x" * 33], "", "is 33 bytes; a WiFi network name has at most 32"),
    (["--ssid", "s", "--password-stdin"], "1234567\n", "has 7 characters; WPA2 needs 8..63"),
    (["--ssid", "s", "--password-stdin"], "p" * 64 + "\n", "has 64 characters"),
    (["--ssid", "s", "--password-stdin"], "pässwort\n", "only printable ASCII"),
    (["--ssid", "s", "--password-stdin", "--broker", "h:0"], "12345678\n", "port 0 outside 1..65535"),
    (["--ssid", "s", "--password-stdin", "--broker", "h:x"], "12345678\n", "is not a number"),
    (["--ssid", "s", "--password-stdin", "--room", "r"], "12345678\n", "give --broker too"),
    (["--ssid", "s", "--password-stdin", "--broker", "h", "--room", "a/b"], "12345678\n", "without / + #"),
    (["--ssid", "s", "--forget"], "", "--forget takes only --port"),
])
def test_bad_input_is_refused_by_the_host_before_sending(monkeypatch, capsys, tmp_path, args, stdin, message):
    # The port does not exist: any attempt to send would fail with another message.
    code = provision(monkeypatch, "--port", str(tmp_path / "no-such-port"), *args, stdin=stdin)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "1234567" not in err and "pässwort" not in err


def test_password_file_needs_a_username(monkeypatch, capsys, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    code = provision(monkeypatch, "--port", str(tmp_path / "none"), "--ssid", "s", "--password-stdin",
                     "--broker", "h", "--password-file", str(pw), stdin="12345678\n")
    assert code == 2 and "--password-file needs --username" in capsys.readouterr().err


def test_no_terminal_and_no_password_stdin_is_a_clear_error(monkeypatch, capsys, tmp_path):
    code = provision(monkeypatch, "--port", str(tmp_path / "none"), "--ssid", "s")
    assert code == 2 and "use --password-stdin" in capsys.readouterr().err


def test_a_classroom_room_gives_the_glove_its_own_login(glove, flash, tmp_path, monkeypatch, capsys):
    """`--room R` of a classroom room (its accounts on this machine), no --username: the glove's
    user name is its id and its password comes from the room's accounts, added there if new,
    so the instructor never copies a password by hand."""
    from glovecoach.link.room_broker import RoomAccounts

    monkeypatch.setenv("GLOVECOACH_ROOMS_DIR", str(tmp_path / "rooms"))
    accounts_path = tmp_path / "rooms" / "room7.accounts.json"
    RoomAccounts.create("room7", ["GC-OTHER"]).save(accounts_path)
    args = ["--port", glove.port, "--ssid", "massage-school", "--password-stdin", "--broker", "192.168.1.10",
            "--room", "room7"]
    assert provision(monkeypatch, *args, stdin=WIFI_PASSWORD + "\n") == 0
    out = capsys.readouterr()
    assert "its broker login is its id, GC-PROV-1, from room room7's accounts (new" in out.out
    accounts = RoomAccounts.load(accounts_path)
    password = accounts.devices["GC-PROV-1"]
    assert password not in out.out + out.err and set(accounts.devices) == {"GC-OTHER", "GC-PROV-1"}
    assert json.loads(flash.read_text())["mqtt"] == {"host": "192.168.1.10", "port": 1883, "room": "room7",
                                                     "user": "GC-PROV-1", "password": password}
    # provisioned again (another WiFi): the same login, not a new password the broker does not know
    assert provision(monkeypatch, *args, stdin=WIFI_PASSWORD + "\n") == 0
    assert "(new" not in capsys.readouterr().out
    assert RoomAccounts.load(accounts_path).devices["GC-PROV-1"] == password
    assert json.loads(flash.read_text())["mqtt"]["password"] == password
    # a room with no accounts here is any broker's room: nothing is made up
    assert provision(monkeypatch, *args[:-1], "room-elsewhere", stdin=WIFI_PASSWORD + "\n") == 0
    assert "user" not in json.loads(flash.read_text())["mqtt"]
