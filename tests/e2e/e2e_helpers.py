"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import time

import numpy as np

from glovecoach.link import SamplesReceived
from glovecoach.simulate.files import SIGNAL_HEADER, SIGNAL_MAGIC

N_CHANNELS = 20


def signal_rows(n_rows: int) -> np.ndarray:
    """Rows that name their own position: ch0/ch1 hold the row number, the rest vary by channel."""
    k = np.arange(n_rows, dtype=np.int64)[:, None]
    c = np.arange(N_CHANNELS, dtype=np.int64)[None, :]
    rows = (k * 7 + c * 131) % 4096
    rows[:, 0] = k[:, 0] & 0xFFF
    rows[:, 1] = k[:, 0] >> 12
    return rows.astype(np.uint16)


def write_signal_file(path, rows: np.ndarray, rate_hz: int = 200):
    """A .gcsig (docs/architecture.md) holding ``rows``."""
    path.write_bytes(SIGNAL_HEADER.pack(SIGNAL_MAGIC, rows.shape[1], rate_hz, len(rows))
                     + rows.astype("<u2").tobytes())
    return path


def expected_rows(rows: np.ndarray, got: np.ndarray, session_index: np.ndarray) -> np.ndarray:
    """What the firmware should have sent for these session indices, given its first row."""
    first = int(got[0, 0]) | int(got[0, 1]) << 12
    return rows[(first + session_index - session_index[0]) % len(rows)]


def pump(client, writer, until, timeout, on_event=None):
    """Move events from the client into the writer until ``until(events)``; returns them all."""
    import dataclasses

    from glovecoach.link import GapDetected, StatusReceived

    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.poll()
        for event in batch:
            events.append(event)
            if isinstance(event, SamplesReceived):
                writer.write_samples(event.first_index, event.raw, event.frames)
            elif isinstance(event, GapDetected):
                writer.write_gap(event.first_index, event.n_samples, event.reason, event.exact)
            elif isinstance(event, StatusReceived):
                writer.write_status(event.host_time, dataclasses.asdict(event.status))
            if on_event:
                on_event(event)
        if until(events):
            return events
        if not batch:
            time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout} s with {len(events)} events")


def samples_in(events) -> int:
    return sum(len(e.raw) for e in events if isinstance(e, SamplesReceived))
