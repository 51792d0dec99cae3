"""The link's stall, resume and device-problem events reach the app: a glove on a real pty
(tests/link/fake_glove.py) that hangs and sends an out-of-range value, read by a real
GloveClient, driven by the LiveController on its Qt timer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))

from fake_glove import FakeGlove  # noqa: E402
from glovecoach.app.controller import LiveController  # noqa: E402
from glovecoach.link.client import GloveClient  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.recording import open_recording  # noqa: E402

CHANNELS = ["thumb_tip", "index_tip", "palm_center", "spine_1"]


@pytest.mark.timeout(60)
def test_a_stalled_glove_is_shown_like_an_unplugged_one_and_cleared_on_resume(qtbot, tmp_path):
    with FakeGlove(glove_id="GC-PTY-0003", channels=CHANNELS) as fake:
        client = GloveClient(fake.port)
        client.connect(timeout=5)
        controller = LiveController(client, protocol=default_protocol(),
                                    recording_path=tmp_path / "s.gcrec",
                                    session_info={"trainee": "T"}, calibration_dir=tmp_path)
        states: list[str] = []
        up: list[bool] = []
        controller.link_state_changed.connect(states.append)
        controller.link_changed.connect(up.append)
        try:
            controller.start()
            qtbot.waitUntil(lambda: controller.model.samples_seen > 200, timeout=5000)
            board = controller.model.alerts
            assert ("link_stalled", None) not in board.active

            fake.hang(1.8)   # firmware hung: no samples, no STATUS, the pty stays open
            qtbot.waitUntil(lambda: controller.link_state == "stalled", timeout=4000)
            stalled = board.active[("link_stalled", None)]
            assert stalled.severity == "danger"
            assert "the glove stopped sending samples" in stalled.message.lower()
            # the banner puts it first, like an unplugged glove
            assert board.current(controller.model.now_s)[0].kind == "link_stalled"
            assert client.link_state == "stalled"

            qtbot.waitUntil(lambda: controller.link_state == "up", timeout=4000)
            assert ("link_stalled", None) not in board.active
            assert stalled.ended_s is not None
            resumed = [a for a in board.log if a.kind == "link_resumed"]
            assert len(resumed) == 1 and resumed[0].severity == "info"
            assert states == ["stalled", "up"] and up == [False, True]

            fake.bad_value()   # a SAMPLES frame with a value over adc_max: dropped, reported
            qtbot.waitUntil(lambda: any(a.kind == "device_problem" for a in board.log),
                            timeout=4000)
            problem = next(a for a in board.log if a.kind == "device_problem")
            assert problem.severity == "warning"
            assert "GC-PTY-0003" in problem.message and fake.port in problem.message
            assert "raw:" in problem.message and "adc_max" in problem.message
            assert problem in board.current(controller.model.now_s)
            stats = controller.link_stats()
            assert stats["stalls"] == 1 and stats["rejected_frames"] == 1
        finally:
            controller.finish()

    recording = open_recording(tmp_path / "s.gcrec")
    assert [n.payload["silent_s"] > 1.0 for n in recording.notes_of("link_stalled")] == [True]
    assert len(recording.notes_of("link_resumed")) == 1
    assert recording.notes_of("device_problem")[0].payload["field"] == "raw"
    assert recording.notes_of("link_stats")[0].payload["stalls"] == 1
    # the silent stretch is a gap in the recording, not samples moved earlier
    assert any(g.reason == "stalled" for g in recording.gaps)
    logged = {a["kind"] for a in recording.notes_of("alert_log")[0].payload["alerts"]}
    assert {"link_stalled", "link_resumed", "device_problem"} <= logged
