"""SerialTransport on a real pseudo-terminal pair, with the test writing the device side."""

from __future__ import annotations

import os
import threading
import time
import tty

import pytest

from glovecoach.link import LinkLost, make_transport, open_transport
from glovecoach.link.serial_link import SerialTransport


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    state = {"master": master}
    yield path, state
    for fd in (state["master"], slave):
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def test_bytes_both_ways_on_a_real_pty(pty_pair):
    path, state = pty_pair
    with open_transport(f"serial://{path}?baud=115200") as link:
        assert isinstance(link, SerialTransport) and link.baudrate == 115200
        payload = bytes(range(256)) * 8  # every byte value, binary-clean (no echo, no CR/LF mangling)
        os.write(state["master"], payload)
        got = b""
        deadline = time.monotonic() + 2
        while len(got) < len(payload) and time.monotonic() < deadline:
            got += link.read(4096, 0.1)
        assert got == payload
        link.write(b"\x00hello\r\n\x00")
        time.sleep(0.05)
        assert os.read(state["master"], 100) == b"\x00hello\r\n\x00"


def test_read_returns_early_and_empty_on_timeout(pty_pair):
    path, state = pty_pair
    with open_transport(path) as link:
        t0 = time.monotonic()
        assert link.read(100, 0.2) == b""
        assert time.monotonic() - t0 >= 0.18
        threading.Timer(0.05, os.write, (state["master"], b"x")).start()
        t0 = time.monotonic()
        assert link.read(100, 2.0) == b"x"  # returns when the first byte arrives
        assert time.monotonic() - t0 < 1.0


def test_link_lost_when_the_other_side_closes(pty_pair):
    path, state = pty_pair
    link = open_transport(path)
    try:
        os.close(state["master"])
        state["master"] = None
        with pytest.raises(LinkLost, match=path):
            for _ in range(20):
                link.read(100, 0.05)
    finally:
        link.close()


def test_open_missing_port_is_link_lost_naming_it(tmp_path):
    missing = str(tmp_path / "ttyNOPE")
    with pytest.raises(LinkLost, match="ttyNOPE"):
        open_transport(missing)


@pytest.mark.parametrize("url, message", [
    ("", "empty"),
    ("bogus://x", "unknown transport scheme 'bogus'"),
    ("serial:///dev/ttyS0?baud=fast", "baud='fast' is not a valid int"),
    ("replay://x.gcrec?speed=0", "speed must be > 0"),
    ("virtual://?colour=red", "unknown virtual glove option"),
    ("serial://", "no serial port path"),
    ("replay://", "no recording path"),
])
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(ValueError, match=message):
        make_transport(url)
