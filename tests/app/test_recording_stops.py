"""A live session whose recording cannot go on (the disk fills up): the people are told once,
what was recorded stays readable, and the coaching goes on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from glovecoach.app.session import SessionModel  # noqa: E402
from glovecoach.calibration import Calibration  # noqa: E402
from glovecoach.pipeline.guarded_recorder import GuardedRecorder  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.recording import RecordingWriter, open_recording  # noqa: E402
from glovecoach.simulate import simulate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recording"))
from recording_helpers import FillingDisk  # noqa: E402


def test_a_full_disk_stops_the_recording_not_the_coaching(tmp_path) -> None:
    s = simulate("good_session", 3, 200).cut(10.0, 30.0)
    model = SessionModel(protocol=default_protocol(), calibration=Calibration.nominal_for(s.channels),
                         channels=s.channels, rate_hz=s.rate_hz)
    path = tmp_path / "live.gcrec"
    writer = RecordingWriter(path, device_info={"glove_id": "g1"}, rate_hz=200, channels=s.channels,
                             flush_interval_s=0.05)
    recorder = GuardedRecorder(writer, model.recording_stopped)
    for a in range(0, 2000, 100):
        recorder.write_samples(a, s.raw[a:a + 100])
        model.process_raw(a, s.raw[a:a + 100])
    recorder.flush()
    writer._file = FillingDisk(writer._file, room=3000)
    for a in range(2000, len(s.raw), 100):               # the disk fills up part way
        recorder.write_samples(a, s.raw[a:a + 100])
        recorder.flush()
        model.process_raw(a, s.raw[a:a + 100])           # coaching goes on regardless
    recorder.write_note("report", {"x": 1})
    recorder.close()
    stopped = [a for a in model.alerts.log if a.kind == "recording_stopped"]
    assert len(stopped) == 1 and "disk is full" in stopped[0].message and stopped[0].severity == "danger"
    assert model.end_index == len(s.raw)
    rec = open_recording(path)
    assert rec.samples >= 2000
    np.testing.assert_array_equal(rec.raw, s.raw[:rec.samples])
