"""Commands through the real firmware (MicroPython unix port) over a pty and pyserial."""

from __future__ import annotations

import json
import time

import pytest

from glovecoach.cli import main as cli_main
from glovecoach.link import DeviceCommandError, GloveClient, LinkLost
from glovecoach.link.discovery import list_devices
from glovecoach.wire import Command, ErrorCode


def test_acks_from_the_real_firmware(virtual_glove):
    with GloveClient(virtual_glove.port) as client:
        hello = client.connect(timeout=5.0)
        assert hello.glove_id == "GC-TEST-0042"
        assert hello.board == "unix-sim" and len(hello.channels) == 20
        ack, rtt = client.ping(nonce=0xC0FFEE)
        assert ack.command == Command.PING and ack.detail["nonce"] == 0xC0FFEE
        assert 0 <= ack.detail["t_us"] < 1 << 30 and rtt < 1.0
        ack = client.command(Command.SET_RATE, rate_hz=100)
        assert ack.detail == {"rate_hz": 100, "samples_per_frame": 2}
        ack = client.start(rate_hz=100)
        assert ack.command == Command.START and ack.detail["samples_per_frame"] == 2
        ack = client.tare(n=16)
        assert len(ack.detail["offsets"]) == 20
        client.stop()


def test_errors_from_the_real_firmware(virtual_glove):
    with GloveClient(virtual_glove.port) as client:
        client.connect(timeout=5.0)
        with pytest.raises(DeviceCommandError) as bad_rate:
            client.command(Command.SET_RATE, rate_hz=5000)
        assert bad_rate.value.code == ErrorCode.BAD_ARGUMENT
        assert "rate" in bad_rate.value.message and "1000" in bad_rate.value.message
        assert "SET_RATE refused by the device: BAD_ARGUMENT" in str(bad_rate.value)
        client.start(rate_hz=200)
        with pytest.raises(DeviceCommandError) as busy:
            client.command(Command.SET_RATE, rate_hz=100)
        assert busy.value.code == ErrorCode.NOT_ALLOWED
        # The session keeps its rate: asking for another one mid-session is refused host-side.
        time.sleep(0.2)
        client.poll()
        with pytest.raises(ValueError, match="one rate"):
            client.start(rate_hz=100)


def test_timeout_when_the_device_is_silent(silent_pty):
    with GloveClient(silent_pty, reconnect=False) as client:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="no HELLO"):
            client.connect(timeout=0.6)
        assert 0.55 < time.monotonic() - t0 < 2.0
        with pytest.raises(TimeoutError, match="PING: no reply"):
            client.command(Command.PING, timeout=0.3, nonce=1)


def test_command_before_connect_says_so(silent_pty):
    with pytest.raises(LinkLost, match="connect"):
        GloveClient(silent_pty).command(Command.PING, nonce=1)


def test_probe_marks_the_glove_and_not_the_silent_port(virtual_glove, silent_pty):
    reports = {r.path: r for r in list_devices([virtual_glove.port, silent_pty], timeout=1.0)}
    glove, silent = reports[virtual_glove.port], reports[silent_pty]
    assert glove.is_glove and glove.glove_id == "GC-TEST-0042" and glove.board == "unix-sim"
    assert not silent.is_glove and "no answer to INFO" in silent.problem


def test_devices_command_lists_the_virtual_glove(capsys):
    assert cli_main(["devices", "--json", "--virtual", "--timeout", "2"]) == 0
    reports = json.loads(capsys.readouterr().out)
    gloves = [r for r in reports if r["is_glove"]]
    assert [g["glove_id"] for g in gloves] == ["GC-SIM-0001"]
    assert "glovecoach-vglove" in gloves[0]["path"]


def test_devices_command_human_output(capsys):
    assert cli_main(["devices", "--virtual", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "virtual glove" in out and "glove GC-SIM-0001  firmware" in out
    assert out.rstrip().splitlines()[-1].startswith("1 glove(s) on ")
