"""Reconnecting to a glove that did not reboot: the gap is exact, from the device's counters."""

from __future__ import annotations

import os
import time

import numpy as np

from glovecoach.link import GapDetected, GloveClient, LinkDown, LinkUp, SamplesReceived, StatusReceived
from glovecoach.link.serial_link import SerialTransport


def _collect(client, until, timeout):
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(events):
        events += client.poll()
        time.sleep(0.01)
    return events


def _samples(events):
    return sum(len(e.raw) for e in events if isinstance(e, SamplesReceived))


def test_port_drop_without_reboot_gives_an_exact_gap(virtual_glove):
    transport = SerialTransport(virtual_glove.port)
    with GloveClient(transport, reconnect_interval=0.3) as client:
        client.connect(timeout=5.0)
        client.start(rate_hz=200)
        events = _collect(client, lambda ev: _samples(ev) >= 200, timeout=5)
        # The port vanishes for a while (a USB hub hiccup that keeps the glove powered) and
        # the reader loses its open port; the glove keeps streaming meanwhile. What it sends
        # during the outage is gone: pyserial flushes the input buffer when it reopens.
        hidden = virtual_glove.port + ".away"
        os.rename(virtual_glove.port, hidden)
        outage_start = time.monotonic()
        transport.close()
        events += _collect(client, lambda ev: any(isinstance(e, LinkDown) for e in ev), timeout=2)
        time.sleep(0.5)
        os.rename(hidden, virtual_glove.port)
        outage = time.monotonic() - outage_start
        events += _collect(client, lambda ev: any(isinstance(e, LinkUp) and e.reconnected
                                                  for e in ev), timeout=5)
        events += _collect(client, lambda ev: _samples(ev) >= 600, timeout=5)
        assert client.reconnects == 1
    kinds = [type(e).__name__ for e in events if isinstance(e, (LinkDown, LinkUp))]
    assert kinds == ["LinkUp", "LinkDown", "LinkUp"]
    hellos = [e.hello for e in events if isinstance(e, LinkUp)]
    assert hellos[0].boot_id == hellos[1].boot_id and hellos[1].streaming
    lost = [e for e in events if isinstance(e, GapDetected) and e.reason == "link_lost"]
    assert len(lost) == 1 and lost[0].exact, [e for e in events if not isinstance(e, (SamplesReceived, StatusReceived))]
    gap = lost[0]
    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    index = np.concatenate([b.first_index + np.arange(len(b.raw)) for b in blocks])
    # Exact: the timeline skips precisely the gap (device-skipped slots aside).
    assert gap.first_index not in index and gap.first_index - 1 in index
    assert gap.first_index + gap.n_samples in index
    assert not np.isin(np.arange(gap.first_index, gap.first_index + gap.n_samples), index).any()
    # About the outage (plus up to one 0.3 s reconnect poll and the HELLO round trip).
    gap_s = gap.n_samples / 200
    assert outage - 0.1 < gap_s < outage + 0.6, (outage, gap_s)
