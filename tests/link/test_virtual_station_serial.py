"""The virtual station over serial: three real firmware processes, each its own device."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from glovecoach.link.events import SamplesReceived
from glovecoach.link.transport import make_transport
from glovecoach.link.virtual_glove import VirtualGloveTransport, virtual_url
from glovecoach.link.virtual_station import VirtualStation
from glovecoach.simulate.files import read_signal_file
from glovecoach.simulate.station import simulate_station, virtual_station, write_station_signals
from glovecoach.vocabulary.sensors import device_map
from glovecoach.vocabulary.station import STATION_ROLES

T_US_MODULUS = 1 << 30


def collect(clients, seconds: float) -> dict[str, list[SamplesReceived]]:
    got: dict[str, list[SamplesReceived]] = {role: [] for role in clients}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        for role, client in clients.items():
            got[role] += [e for e in client.poll() if isinstance(e, SamplesReceived)]
    return got


def true_rows(blocks: list[SamplesReceived], offset_us: int, epoch_us: int, n_rows: int) -> np.ndarray:
    """Per wire frame, the signal row real time stood at when the frame's first sample was
    taken: its device stamp, less the device's clock offset, is the machine's monotonic time
    (the skew adds under a millisecond in a few seconds), counted from the station's epoch."""
    t_us = np.concatenate([b.frames["t_us"] for b in blocks]).astype(np.int64)
    elapsed = (t_us - offset_us - epoch_us) % T_US_MODULUS
    return (elapsed * 200 // 1_000_000) % n_rows


def check_on_true_timeline(blocks: list[SamplesReceived], signal: np.ndarray, offset_us: int,
                           epoch_us: int) -> None:
    """Every frame's first row is the signal's row of the real instant it was sampled at (one
    row either way: a stamp is up to a period after its slot's deadline), and the frame's
    other rows follow it in the signal (but for at most one frame: a crystal 100 ppm off
    repeats or skips a row every 10,000 slots)."""
    n = len(signal)
    expected = iter(true_rows(blocks, offset_us, epoch_us, n))
    broken = 0
    for block in blocks:
        starts = list(block.frames["sample_index"] - block.first_index) + [len(block.raw)]
        for a, b in zip(starts, starts[1:]):
            row = next(expected)
            first = [r for r in ((row + d) % n for d in (-1, 0, 1)) if np.array_equal(block.raw[a], signal[r])]
            assert first, f"a frame of block {block.first_index} is not the row of its instant"
            broken += not np.array_equal(block.raw[a:b], signal[(first[0] + np.arange(b - a)) % n])
    assert broken <= 1


def test_three_devices_announce_their_roles_and_stream_their_own_columns():
    ppm = {"left_glove": 80.0, "right_glove": -30.0, "spine_strip": 0.0}
    offsets = {"left_glove": 2_000_000, "right_glove": 300_000_000, "spine_strip": 0}
    with virtual_station(8, 120, clock_ppm=ppm, clock_offset_us=offsets) as station:
        assert station.roles == STATION_ROLES
        clients = station.clients()
        try:
            hellos = {role: client.connect(timeout=10) for role, client in clients.items()}
            for role, hello in hellos.items():
                expected = device_map(role)
                assert hello.info["role"] == role
                assert hello.info["hand"] == {"left_glove": "left", "right_glove": "right", "spine_strip": None}[role]
                assert tuple(hello.channels) == expected.ids
                assert len(hello.channels) == (8 if role == "spine_strip" else 12)
                assert hello.glove_id == station.glove_ids[role]
            assert len({hello.glove_id for hello in hellos.values()}) == 3
            # Each device's clock stands where its offset puts it: PING's t_us against the
            # machine's monotonic clock (the unix port's ticks_us source).
            for role, client in clients.items():
                before = time.monotonic()
                ack, rtt = client.ping()
                host_us = int((before + rtt / 2) * 1e6)
                stands = (ack.detail["t_us"] - host_us) % T_US_MODULUS
                expected_us = offsets[role] % T_US_MODULUS
                assert abs((stands - expected_us + T_US_MODULUS // 2) % T_US_MODULUS - T_US_MODULUS // 2) < 20_000
            for client in clients.values():
                client.start(200)
            got = collect(clients, 2.5)
        finally:
            for client in clients.values():
                client.close()
        for role in STATION_ROLES:
            _, signal = read_signal_file(station.signals[role])
            assert signal.shape[1] == len(device_map(role).ids)
            blocks = got[role]
            assert sum(len(b.raw) for b in blocks) >= 300
            first = np.array([b.first_index for b in blocks])
            # No gaps: the blocks follow each other on the session index.
            assert np.array_equal(first[1:], first[:-1] + [len(b.raw) for b in blocks[:-1]])
            # Every device plays its own file on the station's one true timeline.
            check_on_true_timeline(blocks, signal, offsets[role], station.signal_epoch_us)
    # Closed: the processes and the station's folder are gone.
    assert not station.folder.exists()


def test_given_signal_files_and_the_kit_alone(tmp_path):
    """A station of the one-board kit is a station of one device, with today's 20 channels."""
    from glovecoach.simulate import simulate, write_signal_file

    kit = write_signal_file(simulate("technique_tour", 2).cut(0, 30), tmp_path / "kit.gcsig")
    with VirtualStation({"kit": kit}, roles=("kit",)) as station:
        client = station.client("kit")
        try:
            hello = client.connect(timeout=10)
        finally:
            client.close()
        assert hello.info["role"] == "kit" and len(hello.channels) == 20
        assert station.clock_ppm == {"kit": 0.0}


def test_bad_station_settings_are_named(tmp_path):
    station = simulate_station(1, 60 * 2)
    paths = write_station_signals(station, tmp_path)
    with pytest.raises(ValueError, match="exactly one of them"):
        VirtualStation(paths, make_signals=lambda d: paths)
    with pytest.raises(ValueError, match="transport must be one of"):
        VirtualStation(paths, transport="bluetooth")
    with pytest.raises(ValueError, match="broker_url is for transport='mqtt'"):
        VirtualStation(paths, broker_url="localhost:1883")
    with pytest.raises(ValueError, match="clock_ppm names role.*'kit'"):
        VirtualStation(paths, clock_ppm={"kit": 5.0})
    with pytest.raises(ValueError, match="a crystal is off by at most"):
        VirtualStation(paths, clock_ppm={"left_glove": 5000.0})
    with pytest.raises(ValueError, match="unknown device role 'tail'"):
        VirtualStation(paths, roles=("left_glove", "tail"))
    with pytest.raises(ValueError, match="room 'a/b' must be a non-empty name"):
        VirtualStation(paths, room="a/b")
    with pytest.raises(ValueError, match="each device needs its own id"):
        VirtualStation(paths, glove_ids={"left_glove": "GC-1", "right_glove": "GC-1"})
    with pytest.raises(ValueError, match="made at 200 Hz; this station streams at 100 Hz"):
        VirtualStation(paths, rate_hz=100).start()
    with pytest.raises(ValueError, match=r"no signal file for role\(s\) \['spine_strip'\]"):
        VirtualStation({r: p for r, p in paths.items() if r != "spine_strip"}).start()


def test_virtual_urls_carry_role_and_crystal(tmp_path):
    url = virtual_url(signal=tmp_path / "l.gcsig", glove_id="GC-L", role="left_glove", clock_ppm=-100.0,
                      clock_offset_us=1234)
    transport = make_transport(url)
    assert isinstance(transport, VirtualGloveTransport)
    assert transport._role == "left_glove" and transport._clock_ppm == -100.0
    assert transport._clock_offset_us == 1234 and transport._glove_id == "GC-L"
    assert Path(transport._signal) == tmp_path / "l.gcsig"
    with pytest.raises(ValueError, match="ppm='fast' is not a valid float"):
        make_transport("virtual://?ppm=fast")
    with pytest.raises(ValueError, match="a crystal is off by at most"):
        make_transport("virtual://?ppm=20000")
    with pytest.raises(ValueError, match="offset_us='1.5' is not a valid int"):
        make_transport("virtual://?offset_us=1.5")


def test_a_client_on_the_station_virtual_url_boots_a_device_of_that_role():
    from glovecoach.link import GloveClient

    with virtual_station(3, 120) as station:
        url = station.virtual_urls()["spine_strip"]
        assert "role=spine_strip" in url and "ppm=20.0" in url
        with GloveClient(url) as client:
            hello = client.connect(timeout=10)
            assert hello.info["role"] == "spine_strip" and len(hello.channels) == 8
            assert client.transport.glove.pid != station.glove("spine_strip").pid
