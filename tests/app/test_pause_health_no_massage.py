"""What people see of issue 9's engine changes: a pause on the phase bar, sensors to check in
the report and on the hand map, and "no massage found" instead of a grade."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from glovecoach.app.report_html import build_html  # noqa: E402
from glovecoach.app.widgets.phasebar import PhaseBar, plan_of  # noqa: E402
from glovecoach.engine.coaching import CoachingEngine, EngineState  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.simulate.session import simulate_technique  # noqa: E402
from glovecoach.vocabulary.blocks import ForceBlock  # noqa: E402
from glovecoach.vocabulary.sensors import ALL_CHANNELS  # noqa: E402
from glovecoach.vocabulary.techniques import Phase  # noqa: E402

P = default_protocol()


def test_the_phase_bar_shows_a_pause_and_how_long_is_left(qtbot) -> None:
    bar = PhaseBar(plan_of(P), P.session_max_s, P.session_warn_at_s)
    qtbot.addWidget(bar)
    state = EngineState(time_s=200.0, technique=None, phase_elapsed_s=0.0, phase_window=None, cue=None,
                        session_elapsed_s=190.0, session_limit_s=900.0, active_alerts=(),
                        phases=(Phase("kneading", 100.0, 188.0),), pause_s=12.0,
                        paused_technique="kneading", pause_max_s=40.0)
    bar.set_state(state)
    assert bar.phase_text().startswith("Kneading paused") and "0:12" in bar.phase_text()
    assert "within 0:28" in bar.countdown_text() and "does not count" in bar.countdown_text()
    bar.resize(1200, 130)
    bar.show()
    assert bar.grab().toImage().width() == 1200
    # back on the back: the pause is gone
    bar.set_state(EngineState(time_s=210.0, technique="kneading", phase_elapsed_s=90.0,
                              phase_window=(120.0, 180.0), cue=None, session_elapsed_s=200.0,
                              session_limit_s=900.0, active_alerts=(), phases=(Phase("kneading", 100.0, 210.0),)))
    assert not bar.paused() and bar.phase_text().startswith("Kneading")


def _session_with_a_dead_thumb() -> dict:
    rate = 100
    forces, _ = simulate_technique("kneading", 150, 4, rate_hz=rate, variant="grasp")
    x = np.zeros((len(forces) + 6 * rate, len(ALL_CHANNELS)), np.float32)
    x[3 * rate:3 * rate + len(forces), :12] = forces
    x += np.random.default_rng(1).normal(0.3, 0.05, x.shape).astype(np.float32)
    x[:, ALL_CHANNELS.index("thumb_tip")] = 0.0          # the thumb sensor reads nothing at all
    engine = CoachingEngine(P, ALL_CHANNELS, rate)
    z = np.zeros((rate, len(ALL_CHANNELS)), bool)
    events = []
    for a in range(0, len(x), rate):
        events += engine.process(ForceBlock(a, x[a:a + rate], z[:len(x[a:a + rate])], z[:len(x[a:a + rate])]))
    faults = [e for e in events if e.kind == "sensor_fault" and e.state == "begin"]
    assert faults and faults[0].channel == "thumb_tip" and "thumb tip" in faults[0].message
    return engine.finish().to_dict()


def test_the_report_lists_the_sensor_to_check() -> None:
    report = _session_with_a_dead_thumb()
    assert report["sensor_health"]["thumb_tip"]["state"] == "dead"
    assert [p["technique"] for p in report["phases"]] == ["kneading"]      # recognised without the thumb
    page = build_html(report, {"protocol": P.name}, {})
    assert "Sensors to check" in page and "thumb tip" in page and "check its lead" in page


def test_no_massage_is_not_graded_in_the_report() -> None:
    engine = CoachingEngine(P, ALL_CHANNELS, 200)
    report = engine.finish().to_dict()
    page = build_html(report, {"protocol": P.name}, {})
    assert "No massage found" in page and "Score" not in page.split("<h2>")[0].split("</h1>")[1]


def test_a_broken_sensor_is_named_live_and_marked_on_the_hand_map() -> None:
    from glovecoach.app.session import SessionModel
    from glovecoach.app.widgets.maps import ALERT_WORDS
    from glovecoach.calibration import Calibration
    from glovecoach.simulate import simulate

    s = simulate("good_session", 12, 200).cut(20.0, 40.0)
    raw = s.raw.copy()
    raw[10 * 200:, ALL_CHANNELS.index("index_tip")] = 0       # its lead comes off 10 s in: reads open
    model = SessionModel(protocol=P, calibration=Calibration.nominal_for(s.channels), channels=s.channels,
                         rate_hz=s.rate_hz)
    for a in range(0, len(raw), 40):                          # 0.2 s blocks, as live
        model.process_raw(a, raw[a:a + 40])
    active = [a for a in model.alerts.active.values() if a.kind == "sensor_fault"]
    assert [a.channel for a in active] == ["index_tip"] and "index fingertip" in active[0].message
    assert 10.0 < active[0].at_s < 16.0                      # told within seconds
    assert model.alerts.channel_alerts()["index_tip"] == "sensor_fault" and ALERT_WORDS["sensor_fault"] == "CHECK"


def test_the_toolbar_tells_a_stalled_glove_from_an_unplugged_one(qtbot) -> None:
    from glovecoach.app.main_window import SessionToolbar

    bar = SessionToolbar()
    qtbot.addWidget(bar)
    bar.set_link_state("stalled")
    assert "STALLED" in bar.link.text()
    bar.set_link_state("down")
    assert "UNPLUGGED" in bar.link.text()
    bar.set_link_state("up")
    assert "connected" in bar.link.text()


def test_the_live_session_starts_from_the_gloves_tare() -> None:
    from glovecoach.app.session import SessionModel
    from glovecoach.calibration import Calibration
    from glovecoach.calibration.fsr_model import force_to_raw

    cal = Calibration.nominal_for(ALL_CHANNELS)
    tare = [int(round(float(force_to_raw(0.45, cal.params[c])))) for c in ALL_CHANNELS]
    model = SessionModel(protocol=P, calibration=cal, channels=ALL_CHANNELS, rate_hz=200,
                         device_info={"tare": tare})
    assert np.allclose(model.coaching.engine.conditioner.current_baseline(), 0.45, atol=0.05)
    plain = SessionModel(protocol=P, calibration=cal, channels=ALL_CHANNELS, rate_hz=200)
    assert np.allclose(plain.coaching.engine.conditioner.current_baseline(), 0.0)
