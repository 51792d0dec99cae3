"""The station's aligner on the real firmware: three virtual devices (each the firmware in
the unix port on its own crystal: +100, -100 and +30 ppm, different boot offsets) play one
true timeline; their samples through `StationAligner`, exactly as a live station places them.

Every row of the played signal is distinct, so the row a device's sample holds says when on
the true timeline it was taken. Alignment is right when, slot after slot, the rows the three
devices put in one slot are rows of the same instant: per device, slot - row stays constant
(no drift), and across devices the rows of one slot agree. Printed; the guard is loose (a
shared 2-core machine schedules three firmware processes and the host late now and then)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from glovecoach.simulate.files import read_signal_file
from glovecoach.simulate.station import virtual_station
from glovecoach.station.aligner import StationAligner
from glovecoach.vocabulary.station import DeviceMessage, StationSamples

RUN_S = 40.0
RATE = 200
WARM_SLOTS = 2 * RATE     # the clock fit learns its slope over the first 2 s


@pytest.mark.slow
def test_the_aligner_keeps_three_skewed_real_devices_on_one_index():
    ppm = {"left_glove": 100.0, "right_glove": -100.0, "spine_strip": 30.0}
    with virtual_station(5, 300, clock_ppm=ppm) as station:
        clients = station.clients()
        aligner = StationAligner(station.layout, RATE)
        blocks = []
        try:
            for client in clients.values():
                client.connect(timeout=10)
            for client in clients.values():
                client.start(RATE)
            deadline = time.monotonic() + RUN_S
            while time.monotonic() < deadline:
                time.sleep(0.025)
                messages = [DeviceMessage(role, e) for role, c in clients.items() for e in c.poll()]
                blocks += aligner.feed(messages)
        finally:
            for client in clients.values():
                client.close()
        blocks += aligner.finish()
        signals = {role: read_signal_file(station.signals[role])[1] for role in station.roles}
    layout = station.layout
    row_of = {role: {row.tobytes(): i for i, row in enumerate(signals[role])} for role in layout.roles}
    slots, rows = [], []
    for b in blocks:
        if not isinstance(b, StationSamples) or not all(b.present):
            continue
        for k in range(b.n_samples):
            slot = b.first_index + k
            if slot < WARM_SLOTS:
                continue
            here = [row_of[r].get(b.raw[k, layout.slice_of(r)].tobytes(), -1) for r in layout.roles]
            if min(here) >= 0:
                slots.append(slot)
                rows.append(here)
    rows = np.array(rows)
    slots = np.array(slots)
    lateness = slots[:, None] - rows                      # per device: slot - true row
    worst = {r: float(np.max(np.abs(lateness[:, i] - np.median(lateness[:, i])))) for i, r in enumerate(layout.roles)}
    between = np.abs(rows[:, :, None] - rows[:, None, :]).max(axis=(1, 2))
    stats = aligner.stats()
    print(f"\nStationAligner on 3 real virtual devices over {RUN_S:.0f} s, {ppm}: "
          f"worst |slot - row| around each device's median: "
          + ", ".join(f"{r} {w:.0f}" for r, w in worst.items())
          + f" samples; rows of one slot agree within {np.percentile(between, 99):.0f} (p99), "
            f"{between.max():.0f} (max) samples; fitted ppm "
          + ", ".join(f"{r} {stats[r].clock_ppm:+.1f}" for r in layout.roles))
    assert len(slots) > 0.8 * (RUN_S - 3) * RATE
    assert np.percentile(between, 99) <= 1, "the devices' rows of one slot are more than a sample apart"
    assert all(w <= 2 for w in worst.values()), worst
    for role, p in ppm.items():
        assert abs(stats[role].clock_ppm - p) < 25, (role, stats[role].clock_ppm)
