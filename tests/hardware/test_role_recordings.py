"""Recordings from before device roles (their HELLO has no role or hand) open and analyse
exactly as a recording of the same samples from today's kit firmware, whose HELLO says
role "kit", hand "right"."""

from __future__ import annotations

import json
from pathlib import Path

from glovecoach.cli import main
from glovecoach.recording import RecordingWriter, open_recording
from glovecoach.simulate import simulate
from glovecoach.simulate.files import device_info, write_recording
from glovecoach.wire.messages import Hello


def run(capsys, *args: str) -> dict:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_recording_without_role_analyses_as_the_kit_does(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("GLOVECOACH_CALIBRATIONS", str(tmp_path / "none-here"))
    session = simulate("excessive_force_kneading", 31)
    old = write_recording(session, tmp_path / "old.gcrec")   # today's HELLO: no role
    new_info = {**device_info(session), "role": "kit", "hand": "right"}
    new = tmp_path / "new.gcrec"
    with RecordingWriter(new, device_info=new_info, rate_hz=session.rate_hz,
                         channels=session.channels, metadata={}) as writer:
        writer.write_samples(0, session.raw)

    old_rec, new_rec = open_recording(old), open_recording(new)
    assert "role" not in old_rec.device_info and new_rec.device_info["role"] == "kit"
    assert Hello(1, old_rec.device_info).role == Hello(1, new_rec.device_info).role == "kit"
    assert Hello(1, old_rec.device_info).hand == "right"
    assert old_rec.channels == new_rec.channels and len(old_rec.channels) == 20
    assert (old_rec.raw == new_rec.raw).all()

    old_analysis = run(capsys, "analyze", str(old), "--json")
    new_analysis = run(capsys, "analyze", str(new), "--json")
    assert old_analysis.pop("file").endswith("old.gcrec") and new_analysis.pop("file").endswith("new.gcrec")
    assert old_analysis == new_analysis
    assert old_analysis["overforce_events"] and old_analysis["spine_check"] is True

    old_info, new_info_json = run(capsys, "info", str(old), "--json"), run(capsys, "info", str(new), "--json")
    differ = {k for k in old_info.keys() | new_info_json.keys() if old_info.get(k) != new_info_json.get(k)}
    # Only the file's name, when it was written, and the simulator's metadata and ground-truth
    # note (which the second file does not carry) differ; samples, channels, timing do not.
    assert differ <= {"file", "started_at", "ended_at", "metadata", "notes", "note_kinds"}, differ
    assert old_info["channels"] == list(session.channels) and old_info["samples"] == session.n_samples
