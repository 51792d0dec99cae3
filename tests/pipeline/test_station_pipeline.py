"""A live station end to end: three real GloveClients on virtual devices (the real firmware in
its roles) through StationPipeline into a station recording and the station coach; the file,
aligned again afterwards, gives the slots the live session coached."""

from __future__ import annotations

import time

import numpy as np

from glovecoach.link.client import GloveClient
from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.pipeline.station_session import StationPipeline
from glovecoach.protocols.load import default_protocol
from glovecoach.recording import StationRecordingWriter, open_station_recording
from glovecoach.station.replay import align_station_recording
from glovecoach.vocabulary.station import StationLayout, StationSamples

RATE = 200
LAYOUT = StationLayout.full()


class Updates(Listener):
    def __init__(self) -> None:
        self.updates: list[StationUpdate] = []
        self.blocks: list[StationSamples] = []

    def on_other(self, message):
        if isinstance(message, StationUpdate):
            self.updates.append(message)
        elif isinstance(message, StationSamples):
            self.blocks.append(message)


def test_a_live_station_is_recorded_coached_and_replays_to_the_same_slots(tmp_path):
    clients = {role: GloveClient(f"virtual://?role={role}") for role in LAYOUT.roles}
    path = tmp_path / "station.gcrec"
    seen = Updates()
    try:
        hellos = {role: c.connect() for role, c in clients.items()}
        assert {r: h.role for r, h in hellos.items()} == {r: r for r in LAYOUT.roles}
        for client in clients.values():
            client.start(RATE)
        writer = StationRecordingWriter(path, LAYOUT, RATE, {"source": "test"})
        pipeline = StationPipeline(clients, LAYOUT, RATE, writer=writer, protocol=default_protocol(),
                                   device_info={r: h.info for r, h in hellos.items()},
                                   listeners=[seen], with_state=True)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            pipeline.pump()
            time.sleep(0.02)
        for client in clients.values():
            client.stop()
        report = pipeline.finish()
    finally:
        for client in clients.values():
            client.close()
    assert report is not None and set(report.to_dict()["hands"]) == {"left", "right"}
    coached = sum(u.n_samples for u in seen.updates)
    assert coached == pipeline.station_end_index > 2 * RATE
    assert all(set(u.hands) <= {"left", "right"} for u in seen.updates)

    station = open_station_recording(path)
    assert station.closed_cleanly and station.station_origin is not None
    assert set(station.devices) == set(LAYOUT.roles)
    for role, rec in station.devices.items():
        assert rec.samples > 2 * RATE and rec.device_info["role"] == role
        assert station.alignment[role]["filled_slots"] > 0
    aligned = align_station_recording(station)
    # the file gives the live slots: every live block's readings, in the same slots, from the
    # same devices
    assert aligned.n_total == pipeline.station_end_index
    assert len(seen.blocks) > 10
    for block in seen.blocks:
        rows = slice(block.first_index, block.first_index + block.n_samples)
        assert (aligned.present[rows] == np.array(block.present)).all()
        np.testing.assert_array_equal(aligned.raw[rows], block.raw)
