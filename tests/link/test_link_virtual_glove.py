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

def test_a_signal_made_by_the_caller_is_played_and_removed_with_the_glove():
    """The caller renders the session (here with the simulator) into the glove's own directory;
    the firmware announces it, and the file goes with the glove."""
    from glovecoach.simulate import simulate, write_signal_file

    def make(directory):
        return write_signal_file(simulate("technique_tour", 3), directory / "tour.gcsig")

    with VirtualGlove(glove_id="GC-SCN", make_signal=make) as glove:
        link = open_transport(glove.port)
        try:
            assert _read_hello(link).glove_id == "GC-SCN"
            assert glove.signal_path.name == "tour.gcsig" and glove.signal_path.exists()
        finally:
            link.close()
    assert not glove.signal_path.exists()  # the temp dir went with the glove


def test_a_signal_file_and_a_maker_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="either a signal file or"):
        VirtualGlove(signal_path=tmp_path / "a.gcsig", make_signal=lambda d: d / "b.gcsig")


def test_the_link_does_not_render_scenarios():
    with pytest.raises(ValueError, match="plays signal files.*signal=PATH"):
        open_transport("virtual://?scenario=technique_tour&seed=3")


def test_glove_client_on_a_virtual_url_starts_and_stops_its_glove():
    from glovecoach.link import GloveClient

    client = GloveClient("virtual://?glove_id=GC-URL-9")
    with client:
        assert client.connect(timeout=5.0).glove_id == "GC-URL-9"
        glove = client.transport.glove
        pid, directory = glove.pid, Path(glove.port).parent
        assert _alive(pid)
    assert not _alive(pid) and not directory.exists()
