"""`StationSource`: several clients polled into one pipeline; every device's own messages first
(losslessly, for the recorder), then the station blocks they complete (for the coaching)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from glovecoach.link.client import GloveClient
from glovecoach.pipeline.station_source import StationSource
from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.station import align_recording
from glovecoach.station.replay import station_arrays
from glovecoach.station.virtual_frames import Dropout, VirtualDevice, deliver, simulate_device
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout, StationSamples
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived

RATE = 200
LAYOUT = StationLayout.full()


class ScriptedClient:
    """The physical edge: what a GloveClient's poll() returns, handed over by the test."""

    def __init__(self) -> None:
        self.queue: list = []

    def poll(self) -> list:
        out, self.queue = self.queue, []
        return out


def as_recording(events):
    """A device's messages as a recording holds them (duck-typed: what align_recording reads)."""
    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    return SimpleNamespace(
        rate_hz=RATE,
        raw=np.concatenate([b.raw for b in blocks]),
        sample_index=np.concatenate([np.arange(b.first_index, b.first_index + len(b.raw)) for b in blocks]),
        frames=np.concatenate([b.frames for b in blocks]) if blocks else np.zeros(0, FRAME_DTYPE),
        gaps=[e for e in events if isinstance(e, GapDetected)])


def test_device_messages_then_station_blocks_and_replay_agrees():
    rng = np.random.default_rng(8)
    devices = [
        VirtualDevice("left_glove", 12, skew_ppm=-90.0, offset_s=7.0, start_s=0.01),
        VirtualDevice("right_glove", 12, skew_ppm=75.0, offset_s=800.0, start_s=0.2,
                      dropouts=(Dropout(10.0, 5.0),)),
        VirtualDevice("spine_strip", 8, skew_ppm=0.0, offset_s=50.0, start_s=0.1),
    ]
    runs = [simulate_device(d, 30.0, RATE, rng) for d in devices]
    clients = {role: ScriptedClient() for role in LAYOUT.roles}
    source = StationSource(clients, LAYOUT, RATE)
    handed = {role: [] for role in LAYOUT.roles}
    passed = {role: [] for role in LAYOUT.roles}
    station = []
    for _, poll in deliver(runs, poll_s=0.03, max_join=2, rng=np.random.default_rng(1)):
        for m in poll:
            clients[m.role].queue.append(m.message)
            handed[m.role].append(m.message)
        out = source.poll()
        kinds = [isinstance(m, DeviceMessage) for m in out]
        # the devices' messages first, then the station's
        assert kinds == sorted(kinds, reverse=True)
        for m in out:
            if isinstance(m, DeviceMessage):
                passed[m.role].append(m.message)
            else:
                station.append(m)
        # a poll's station blocks are joined: one per stretch of the same devices present
        blocks = [m for m in out if not isinstance(m, DeviceMessage)]
        for a, b in zip(blocks[:-1], blocks[1:]):
            assert not (isinstance(a, StationSamples) and isinstance(b, StationSamples) and a.present == b.present)
    station.extend(source.finish())
    # lossless: every message of every device in its order (a poll's consecutive frames of
    # one device joined into one block: the same rows and the same frame table)
    for role in LAYOUT.roles:
        def rows(ms):
            return np.concatenate([m.raw for m in ms if isinstance(m, SamplesReceived)])

        def frames(ms):
            return np.concatenate([m.frames for m in ms if isinstance(m, SamplesReceived)])

        def others(ms):
            return [m for m in ms if not isinstance(m, SamplesReceived)]

        np.testing.assert_array_equal(rows(passed[role]), rows(handed[role]))
        np.testing.assert_array_equal(frames(passed[role]), frames(handed[role]))
        assert all(a is b for a, b in zip(others(passed[role]), others(handed[role]), strict=True))
    raw, present = station_arrays(station, LAYOUT)
    assert source.origin_host_s is not None
    replay = align_recording({r: as_recording(e) for r, e in passed.items()}, LAYOUT, RATE,
                             origin=source.origin_host_s)
    assert np.array_equal(replay.raw, raw) and np.array_equal(replay.present, present)
    right = LAYOUT.roles.index("right_glove")
    middle = present[RATE:len(present) - RATE, right]   # it started 0.2 s after the others
    assert abs(int((~middle).sum()) - 5 * RATE) < 0.05 * RATE
    assert source.stats()["right_glove"].gaps == 1


def test_a_device_without_a_client_is_absent_and_not_waited_for():
    rng = np.random.default_rng(3)
    runs = [simulate_device(VirtualDevice(role, len(LAYOUT.device(role).channels), offset_s=5.0 + k), 3.0,
                            RATE, rng) for k, role in enumerate(("left_glove", "right_glove"))]
    clients = {"left_glove": ScriptedClient(), "right_glove": ScriptedClient()}
    source = StationSource(clients, LAYOUT, RATE)
    behind = []
    for now, poll in deliver(runs, poll_s=0.02):
        for m in poll:
            clients[m.role].queue.append(m.message)
        source.poll()
        if now > 1.0:
            behind.append(now - source.origin_host_s - source.aligner.emitted_to / RATE)
    assert max(behind) < source.aligner.down_wait_s + 0.06
    assert source.stats()["spine_strip"].absent_slots == source.aligner.emitted_to


def test_clients_for_roles_the_station_does_not_have_are_refused():
    with pytest.raises(ValueError, match="'kit'.*does not have"):
        StationSource({"kit": ScriptedClient()}, LAYOUT, RATE)


def test_three_virtual_gloves_over_real_clients():
    """The real link: three GloveClients on virtual devices in their roles (the host's clock
    for all three: this checks the plumbing, the frame-level tests check the clocks)."""
    clients = {role: GloveClient(f"virtual://?role={role}") for role in LAYOUT.roles}
    try:
        for client in clients.values():
            client.connect()
        for client in clients.values():
            client.start(RATE)
        source = StationSource(clients, LAYOUT, RATE)
        out = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            out.extend(source.poll())
            time.sleep(0.02)
        for client in clients.values():
            client.stop()
        out.extend(source.finish())
    finally:
        for client in clients.values():
            client.close()
    station = [m for m in out if isinstance(m, (StationSamples, StationGap))]
    raw, present = station_arrays(station, LAYOUT)
    samples = {role: sum(len(m.message.raw) for m in out
                         if isinstance(m, DeviceMessage) and m.role == role
                         and isinstance(m.message, SamplesReceived)) for role in LAYOUT.roles}
    assert all(n > RATE for n in samples.values()), samples
    assert len(raw) > 1.5 * RATE
    # every device on nearly every slot (a few at the ends, where they started and stopped)
    assert present.mean(axis=0).min() > 0.95, present.mean(axis=0)
    stats = source.stats()
    for role in LAYOUT.roles:
        assert stats[role].filled_slots >= 0.98 * samples[role]
        assert stats[role].late_samples == 0
