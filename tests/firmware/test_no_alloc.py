"""The sampling loop allocates nothing: run it under micropython.heap_lock()."""

from __future__ import annotations

import os

import pytest

from fwharness import N_CHANNELS, check_stream, decode_chunk, run_micropython, write_gcsig

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "mp_no_alloc.py")


@pytest.mark.parametrize("mode", ["skip", "catchup"])
@pytest.mark.parametrize("rate_hz,slots", [(200, 300), (1000, 1500)])
@pytest.mark.parametrize("source", ["builtin_pattern", "signal_file"])
def test_sampling_loop_runs_with_heap_locked(tmp_path, rate_hz, slots, source, mode):
    env = {}
    if source == "signal_file":
        # Short file so playback loops (seek back to the first row) inside the locked run.
        rows = [[(37 * r + 11 * c) % 4096 for c in range(N_CHANNELS)] for r in range(50)]
        env["GLOVECOACH_SIM_SIGNAL"] = str(write_gcsig(tmp_path / "s.gcsig", rows))
    proc = run_micropython(SCRIPT, str(rate_hz), str(slots), mode, env=env, timeout=30)
    result = proc.stdout.rsplit(b"\nRESULT ", 1)[1].split()
    errors, frames_sent, dropped, slot_index = map(int, result)
    assert errors == 0, "an exception (MemoryError: allocation) was caught in the sampling loop"
    spf = max(1, min(32, rate_hz // 50))
    if mode == "skip":
        # The forced stall skipped slots; everything else produced full frames.
        assert dropped >= 2
        assert frames_sent >= (slots - dropped) // spf
    else:
        # The stall (4 periods) is within the sim's catch-up budget: no slot is lost.
        assert dropped == 0
        assert frames_sent == slots // spf
    # More than one second of slots ran, so a STATUS frame was built under the lock too.
    assert slots > rate_hz


def test_falling_behind_skips_slots_and_sends_the_partial_frame_early():
    proc = run_micropython(os.path.join(os.path.dirname(__file__), "mp", "mp_skip.py"), "skip")
    items = [decode_chunk(bytes.fromhex(line)[:-1]) for line in proc.stdout.decode().split()]
    samples = [x for x in items if x["type"] == "SAMPLES"]
    status = [x for x in items if x["type"] == "STATUS"][-1]
    # The stall skipped at least 2 slots; the frame being filled went out early (short), and
    # the next one starts after the gap. check_stream verifies that short frames occur only
    # before gaps and that STATUS dropped_samples counts every gapped slot.
    gaps = [(a["n_samples"], b["sample_index"] - a["sample_index"] - a["n_samples"])
            for a, b in zip(samples, samples[1:])]
    assert any(n < 4 and gap >= 2 for n, gap in gaps)
    received = check_stream(samples, [status], 200)
    last = samples[-1]
    assert received == last["sample_index"] + last["n_samples"] - status["dropped_samples"]


def test_sim_catches_up_a_short_stall_on_the_grid(tmp_path):
    """The sim's ADC is a signal indexed by slot, so a short stall costs no samples: the late
    slots are taken back to back, stamped with their grid times, holding the rows the file
    has for those slots."""
    rows = [[(7 * r + c) % 4096 for c in range(N_CHANNELS)] for r in range(40)]
    env = {"GLOVECOACH_SIM_SIGNAL": str(write_gcsig(tmp_path / "s.gcsig", rows))}
    proc = run_micropython(os.path.join(os.path.dirname(__file__), "mp", "mp_skip.py"), "catchup", env=env)
    items = [decode_chunk(bytes.fromhex(line)[:-1]) for line in proc.stdout.decode().split()]
    samples = [x for x in items if x["type"] == "SAMPLES"]
    status = [x for x in items if x["type"] == "STATUS"][-1]
    assert status["dropped_samples"] == 0
    expected_index = 0
    t0 = samples[0]["t_us"]
    for frame in samples:
        assert frame["sample_index"] == expected_index
        # Full frames; only the last is short (STOP sends the partly filled frame).
        assert frame["n_samples"] == 4 or frame is samples[-1]
        # Every frame, caught-up ones included, is stamped within a period of its grid time.
        grid = (t0 + frame["sample_index"] * 5000) & 0x3FFFFFFF
        assert abs(((frame["t_us"] - grid + 2**29) % 2**30) - 2**29) < 5000
        for k, row in enumerate(frame["raw"]):
            assert list(row) == rows[(frame["sample_index"] + k) % len(rows)]
        expected_index += frame["n_samples"]
    assert expected_index == 30   # all 30 slots the script ran, none lost
