"""The phase bar reads its clocks from the engine state: one session clock for people."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from glovecoach.app.widgets.phasebar import PhaseBar, plan_of  # noqa: E402
from glovecoach.engine.coaching import EngineState  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.vocabulary.techniques import Phase  # noqa: E402


def _state(time_s: float, first_phase_s: float | None, technique: str | None) -> EngineState:
    phases = () if first_phase_s is None else (Phase("stroking", first_phase_s, time_s),)
    return EngineState(time_s=time_s, technique=technique,
                       phase_elapsed_s=0.0 if first_phase_s is None else time_s - first_phase_s,
                       phase_window=(120.0, 180.0) if technique else None, cue=None,
                       session_elapsed_s=0.0 if first_phase_s is None else time_s - first_phase_s,
                       session_limit_s=900.0, active_alerts=(), phases=phases)


def test_session_clock_is_the_recording_clock_and_the_limit_is_a_time_on_it(qtbot):
    protocol = default_protocol()
    bar = PhaseBar(plan_of(protocol), protocol.session_max_s, protocol.session_warn_at_s)
    qtbot.addWidget(bar)
    bar.set_state(_state(1.2, None, None))
    assert bar.session_text() == "Session 0:01  \u00B7  the 15:00 limit starts with the first stroke"
    # the first stroke came 2.5 s into the recording: the 15 minutes end at 15:02 on the clock
    # the alert log and debrief use
    bar.set_state(_state(100.0, 2.5, "stroking"))
    assert bar.session_text() == "Session 1:40  \u00B7  finish by 15:02 (15:00 of massage)"
    assert bar.session_s == 97.5 and bar.clock_s == 100.0
    bar.resize(1200, 130)
    bar.show()
    image = bar.grab().toImage()       # it paints without error at this size
    assert image.width() == 1200
