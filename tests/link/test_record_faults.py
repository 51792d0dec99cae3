"""`glovecoach record` against a glove that misbehaves (the fake glove on a real pty), and the
checks on its command-line values that run before anything else."""

from __future__ import annotations

import threading
import time

import pytest

from fake_glove import FakeGlove, slots_of
from glovecoach.cli import main as cli_main
from glovecoach.recording import open_recording


def notes_of(rec, kind: str) -> list[dict]:
    return [n.payload for n in rec.notes if n.kind == kind]


@pytest.mark.parametrize("argv, message", [
    (["--rate", "100000"], "argument --rate: must be 50..1000 samples per second"),
    (["--rate", "-1"], "argument --rate: must be 50..1000"),
    (["--rate", "2.5"], "argument --rate: '2.5' is not a whole number"),
    (["--seconds", "nan"], "argument --seconds: must be a finite number of seconds > 0, got 'nan'"),
    (["--seconds", "inf"], "argument --seconds: must be a finite number of seconds > 0, got 'inf'"),
    (["--seconds", "-1"], "argument --seconds: must be a finite number of seconds > 0, got '-1'"),
    (["--seconds", "0"], "argument --seconds: must be a finite number"),
    (["--seconds", "1e9"], "argument --seconds: must be at most 86400 s"),
    (["--connect-timeout", "-1"], "argument --connect-timeout: must be a finite number"),
])
def test_bad_values_are_argparse_errors_before_anything_runs(tmp_path, capsys, argv, message):
    out = tmp_path / "never.gcrec"
    args = ["record", "--port", str(tmp_path / "ttyNONE"), "--seconds", "2", "-o", str(out), *argv]
    with pytest.raises(SystemExit) as caught:
        cli_main(args)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage: glovecoach record" in err and message in err, err
    assert not out.exists()


def test_calibrate_read_seconds_is_checked_too(capsys):
    with pytest.raises(SystemExit):
        cli_main(["calibrate", "--virtual", "--read-seconds", "-1"])
    assert "argument --read-seconds: must be a finite number of seconds > 0" in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_a_glove_that_hangs_for_good_ends_record_at_its_planned_time(tmp_path, capsys):
    out = tmp_path / "hung.gcrec"
    with FakeGlove() as fake:
        # The glove hangs 1 s into the recording and never comes back; the pty stays open.
        threading.Timer(1.0, fake.hang, (3600,)).start()
        t0 = time.monotonic()
        code = cli_main(["record", "--port", fake.port, "--seconds", "3", "-o", str(out)])
        took = time.monotonic() - t0
    captured = capsys.readouterr()
    assert code == 1
    assert took < 3 + 1.5, took  # connect and start, then the planned 3 s: not forever
    assert "glove stalled: no samples for 1." in captured.err
    assert "INCOMPLETE (stalled)" in captured.out and "1 stall(s)" in captured.out
    rec = open_recording(out)
    assert rec.closed_cleanly  # closed properly ...
    assert notes_of(rec, "record_end")[0]["complete"] is False  # ... and not called complete
    assert rec.n_total == 600 and 0 < rec.samples <= 200  # up to the hang, 1 s after connecting
    tail = rec.gaps[-1]
    assert (tail.reason, tail.exact, tail.first_index + tail.n_samples) == ("stalled", False, 600)
    assert tail.first_index == rec.samples  # the gap starts right after the last sample
    assert notes_of(rec, "link_stalled")
    # `glovecoach info` says so too
    assert cli_main(["info", str(out)]) == 0
    info_text = capsys.readouterr().out
    assert "INCOMPLETE" in info_text and "of 600 planned samples (stalled)" in info_text
    assert "complete, closed cleanly" not in info_text


@pytest.mark.timeout(30)
def test_a_stall_that_ends_is_an_exact_gap_and_the_recording_is_complete(tmp_path, capsys):
    out = tmp_path / "stall.gcrec"
    with FakeGlove() as fake:
        threading.Timer(0.8, fake.duplicate, (3,)).start()
        threading.Timer(1.2, fake.hang, (1.5,)).start()
        threading.Timer(3.2, fake.wrong_samples, (5, 4)).start()
        code = cli_main(["record", "--port", fake.port, "--seconds", "4", "-o", str(out)])
        skipped = fake.skipped
    captured = capsys.readouterr()
    assert code == 0, captured
    assert "glove stalled" in captured.err and "glove resumed after 1." in captured.err
    assert "device problem: glove GC-FAKE-0001 on" in captured.err and "n_channels" in captured.err
    assert "link: 3 duplicate and 0 out-of-order frame(s) dropped" in captured.out
    assert "4 refused" in captured.out and "1 stall(s)" in captured.out
    rec = open_recording(out)
    assert rec.closed_cleanly and notes_of(rec, "record_end")[0]["complete"] is True
    assert rec.n_total == 800
    stalled = [g for g in rec.gaps if g.reason == "stalled"]
    assert [(g.n_samples, g.exact) for g in stalled] == [(n, True) for _, n in skipped if n > 200]
    assert [(g.n_samples, g.exact) for g in rec.gaps if g.reason == "rejected_frames"] == [(16, True)]
    # Every recorded row is the slot it claims to be: nothing shifted by the duplicates or the stall.
    slots = slots_of(rec.raw)
    assert (rec.sample_index == slots - slots[0]).all()
    assert [n["field"] for n in notes_of(rec, "device_problem")] == ["n_channels"]
