"""VirtualGlove lifecycle: a real pty, a real firmware process, unplug/plug like a USB cable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glovecoach.link import LinkLost, open_transport
from glovecoach.link.virtual_glove import VirtualGlove, find_micropython
from glovecoach.wire import Hello, StreamDecoder

def _read_hello(link, timeout=5.0):
    import time

    from glovecoach.wire import Command, encode_command

    decoder = StreamDecoder()
    link.write(encode_command(Command.INFO, 1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in decoder.feed(link.read(4096, 0.1)):
            if isinstance(message, Hello):
                return message
    raise AssertionError("no HELLO")

def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False

def test_micropython_found_next_to_the_interpreter():
    assert Path(find_micropython()).name == "micropython"

def test_unplug_loses_the_link_and_plug_reboots_the_glove():
    with VirtualGlove(glove_id="GC-VG-1") as glove:
        port = glove.port
        first_target = os.readlink(port)
        pid = glove.pid
        link = open_transport(port)
        hello1 = _read_hello(link)
        assert hello1.glove_id == "GC-VG-1"
        glove.unplug()
        assert not os.path.exists(port)
        assert not _alive(pid)
        with pytest.raises(LinkLost):
            for _ in range(50):
                link.read(4096, 0.05)
        link.close()
        with pytest.raises(LinkLost):
            open_transport(port)  # the path is gone while unplugged
        glove.plug()
        assert glove.port == port and os.path.exists(port)
        link = open_transport(port)
        hello2 = _read_hello(link)
        link.close()
        assert hello2.boot_id != hello1.boot_id  # a replugged glove has rebooted
        assert glove.pid != pid
        directory = Path(port).parent
        new_pid = glove.pid
    assert not directory.exists() and not _alive(new_pid)
    assert first_target.startswith("/dev/pts/")

def test_missing_signal_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gcsig"):
        VirtualGlove(signal_path=tmp_path / "nope.gcsig")

def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown scenario 'nope'.*good_session"):
        VirtualGlove(scenario="nope")

def test_scenario_is_played_by_the_firmware():
    """virtual://?scenario= renders the simulator's session to a .gcsig the firmware announces."""

    link = open_transport("virtual://?scenario=technique_tour&seed=3&glove_id=GC-SCN")
    try:
        hello = _read_hello(link)
        assert hello.glove_id == "GC-SCN"
        glove = link.glove
        assert glove.signal_path.name == "technique_tour-3.gcsig" and glove.signal_path.exists()
    finally:
        link.close()
    assert not glove.signal_path.exists()  # the temp dir went with the glove


def test_glove_client_on_a_virtual_url_starts_and_stops_its_glove():
    from glovecoach.link import GloveClient

    client = GloveClient("virtual://?glove_id=GC-URL-9")
    with client:
        assert client.connect(timeout=5.0).glove_id == "GC-URL-9"
        glove = client.transport.glove
        pid, directory = glove.pid, Path(glove.port).parent
        assert _alive(pid)
    assert not _alive(pid) and not directory.exists()
