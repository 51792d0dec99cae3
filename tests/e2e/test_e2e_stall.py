"""The real firmware stops while its pty stays open: frozen (SIGSTOP) and then resumed, or
killed outright. The link never goes down, so only the absence of samples can tell."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import numpy as np
import pytest

from e2e_helpers import expected_rows, pump, samples_in
from glovecoach.commands.record import ChannelSummary, Progress, record
from glovecoach.link import GapDetected, GloveClient, LinkDown, LinkResumed, LinkStalled, SamplesReceived
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.recording import RecordingWriter, open_recording

RATE = 200


@pytest.mark.slow
def test_frozen_firmware_is_a_stall_and_its_gap_is_exact(tmp_path, signal_file):
    path, rows = signal_file
    out = tmp_path / "frozen.gcrec"
    with VirtualGlove(signal_path=path) as glove, GloveClient(glove.port) as client:
        hello = client.connect(timeout=5.0)
        with RecordingWriter(out, device_info=hello.info, rate_hz=RATE, channels=hello.channels) as writer:
            client.start(rate_hz=RATE)
            events = pump(client, writer, lambda ev: samples_in(ev) >= RATE, timeout=8)
            frozen_at = time.monotonic()
            os.kill(glove.pid, signal.SIGSTOP)
            try:
                events += pump(client, writer, lambda ev: any(isinstance(e, LinkStalled) for e in ev), timeout=4)
                noticed = time.monotonic() - frozen_at
                time.sleep(max(0.0, 1.8 - (time.monotonic() - frozen_at)))
            finally:
                frozen_for = time.monotonic() - frozen_at
                os.kill(glove.pid, signal.SIGCONT)
            events += pump(client, writer, lambda ev: sum(isinstance(e, LinkResumed) for e in ev) == 1
                           and samples_in(ev) >= 3 * RATE, timeout=8)
            client.stop()
        stats = client.stats

    assert not any(isinstance(e, LinkDown) for e in events)
    assert noticed < 1.5, noticed
    stalled = [e for e in events if isinstance(e, GapDetected) and e.reason == "stalled"]
    assert len(stalled) == 1 and stalled[0].exact
    # The firmware skipped the slots it slept through: the gap is the freeze, less at most the
    # quarter second the simulated ADC catches up on after a late wake-up.
    gap_s = stalled[0].n_samples / RATE
    assert frozen_for - 0.3 <= gap_s <= frozen_for + 0.2, (frozen_for, gap_s)
    blocks = [e for e in events if isinstance(e, SamplesReceived)]
    index = np.concatenate([b.first_index + np.arange(len(b.raw)) for b in blocks])
    raw = np.concatenate([b.raw for b in blocks])
    # Every sample is the signal row of its slot: the gap is exactly where the slots went.
    assert np.array_equal(raw, expected_rows(rows, raw, index))
    assert stats.stalls == 1 and stats.duplicates == 0
    rec = open_recording(out)
    assert [(g.reason, g.exact) for g in rec.gaps if g.reason == "stalled"] == [("stalled", True)]
    print(f"\nstall noticed after {noticed:.2f} s; frozen {frozen_for:.3f} s, gap {stalled[0].n_samples} samples")


@pytest.mark.slow
def test_killed_firmware_on_an_open_pty_ends_record_at_the_planned_time(tmp_path):
    out = tmp_path / "killed.gcrec"
    log = io.StringIO()
    with VirtualGlove() as glove, GloveClient(glove.port) as client:
        hello = client.connect(timeout=5.0)
        client.start(rate_hz=RATE)
        with RecordingWriter(out, device_info=hello.info, rate_hz=RATE, channels=hello.channels) as writer:
            threading.Timer(1.5, os.kill, (glove.pid, signal.SIGKILL)).start()
            t0 = time.monotonic()
            state = record(client, writer, seconds=4.0, rate_hz=RATE, progress=Progress(log),
                           summary=ChannelSummary(hello.channels), log=log)
            took = time.monotonic() - t0
    assert took < 4.0 + 0.5, took
    assert state.unfinished == "stalled" and not state.complete and state.stalls == 1
    assert "glove stalled" in log.getvalue()
    rec = open_recording(out)
    assert rec.closed_cleanly and rec.n_total == 4 * RATE
    assert rec.gaps[-1].reason == "stalled" and not rec.gaps[-1].exact
    assert [n.payload["complete"] for n in rec.notes if n.kind == "record_end"] == [False]
