"""A live session whose recording cannot go on (the disk fills up): the people are told once,
what was recorded stays readable, and the coaching goes on."""

from __future__ import annotations

import errno
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from glovecoach.app.controller import GuardedRecorder  # noqa: E402
from glovecoach.app.session import SessionModel  # noqa: E402
from glovecoach.calibration import Calibration  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.recording import RecordingWriter, open_recording  # noqa: E402
from glovecoach.simulate import simulate  # noqa: E402


class _FillingDisk:
    """The writer's file on a disk with `room` bytes left (ENOSPC after that, as os.write)."""

    def __init__(self, raw, room: int) -> None:
        self._raw, self.room = raw, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self._raw.write(memoryview(data)[: self.room])
        self.room -= n
        return n

    def __getattr__(self, name: str):
        return getattr(self._raw, name)


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
    writer._file = _FillingDisk(writer._file, room=3000)
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
