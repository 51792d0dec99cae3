"""StationCoachingListener: station messages in, per-hand and station updates out, each
device through its own calibration; and `analyze_station` through the same listener."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_station_coach_data import REST_S, station  # noqa: E402

from glovecoach.calibration import Calibration, tare_newtons  # noqa: E402
from glovecoach.pipeline import Notifier  # noqa: E402
from glovecoach.pipeline.analysis import analyze_station, station_messages  # noqa: E402
from glovecoach.pipeline.coaching import CoachingUpdate  # noqa: E402
from glovecoach.pipeline.station_coaching import StationCoachingListener, StationUpdate  # noqa: E402
from glovecoach.protocols import default_protocol  # noqa: E402
from glovecoach.vocabulary.station import StationGap, StationSamples  # noqa: E402


class Collect:
    """The listener after the coaching: keeps what it derives."""

    def __init__(self):
        self.updates = []

    def on_message(self, message):
        if isinstance(message, StationUpdate):
            self.updates.append(message)


class Messages:
    """A source holding the messages, given at the first poll (as a recording's would be)."""

    def __init__(self, messages):
        self.messages = list(messages)

    def poll(self):
        out, self.messages = self.messages, []
        return out


def listen(d, messages, **kwargs):
    listener = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz, **kwargs)
    collect = Collect()
    Notifier(Messages(messages), [listener, collect], join_samples=False).pump()
    return listener, collect.updates


def test_updates_carry_each_hand_on_its_20_channels_and_the_station():
    d = station([("kneading", 40)], [("kneading", 40)], seed=31, presses=[(REST_S + 25, 3.0, "spine_3", 8.0)])
    present = (True, True, True)
    msgs = [StationSamples(a, d.raw[a:a + 20], present) for a in range(0, d.n, 20)]
    listener, updates = listen(d, msgs, with_state=True)
    assert len(updates) == len(msgs)
    u = updates[-1]
    assert set(u.hands) == {"left", "right"} and all(isinstance(h, CoachingUpdate) for h in u.hands.values())
    assert u.hands["left"].block.newtons.shape == (20, 20)
    # The hand's block is its glove's forces then the strip's, as the nominal curves give them.
    cals = d.calibrations()
    left_cols = d.layout.hand_columns("left")
    expect = np.concatenate([cals["left_glove"].convert(d.raw[u.first_index:, :12]).newtons,
                             cals["spine_strip"].convert(d.raw[u.first_index:, 24:]).newtons], axis=1)
    assert np.array_equal(u.hands["left"].block.newtons, expect)
    assert list(left_cols[:2]) == [0, 1] and list(left_cols[12:14]) == [24, 25]
    assert u.state is not None and u.hands["right"].state is not None
    spine = [e for x in updates for e in x.events if e.kind == "spine_contact" and e.state == "begin"]
    assert [(e.channel, e.hands) for e in spine] == [("spine_3", ("left", "right"))]
    while_on = [x for x in updates if any(a.kind == "spine_contact" for a in x.active_alerts)]
    assert while_on and all(not x.hands["left"].active_alerts or
                            all(a.kind != "spine_contact" for a in x.hands["left"].active_alerts) for x in while_on)
    report = listener.finish()
    assert [c.channel for c in report.spine_contacts] == ["spine_3"]


def test_an_absent_glove_gives_its_hand_a_gap_update_and_an_absent_strip_nan_columns():
    d = station([("kneading", 30)], [("kneading", 30)], seed=32)
    msgs = [StationSamples(0, d.raw[:1000], (True, True, True)),
            StationSamples(1000, d.raw[1000:1500], (False, True, True)),
            StationSamples(1500, d.raw[1500:2000], (True, True, False)),
            StationGap(2000, 300, "no device"),
            StationSamples(2300, d.raw[2300:], (True, True, True))]
    listener, updates = listen(d, msgs)
    absent_left = updates[1]
    assert absent_left.present == {"left_glove": False, "right_glove": True, "spine_strip": True}
    assert absent_left.hands["left"].block is None and absent_left.hands["left"].n_samples == 500
    assert absent_left.hands["right"].block.newtons.shape == (500, 20)
    absent_strip = updates[2]
    strip_part = absent_strip.hands["right"].block.newtons[:, 12:]
    assert np.isnan(strip_part).all()
    assert np.isfinite(absent_strip.hands["right"].block.newtons[:, :12]).all()
    gap = updates[3]
    assert all(h.block is None for h in gap.hands.values())
    report = listener.finish()
    assert report.hands["left"].gaps == [(10.0, 15.0), (20.0, 23.0)]
    assert report.hands["right"].gaps == [(20.0, 23.0)]
    assert report.gaps == [(20.0, 23.0)]
    assert report.device_gaps["spine_strip"] == [(15.0, 20.0)]


def test_a_jump_in_the_station_index_is_coached_as_a_gap():
    d = station([("kneading", 20)], [("kneading", 20)], seed=33)
    listener, updates = listen(d, [StationSamples(0, d.raw[:500], (True,) * 3),
                                   StationSamples(800, d.raw[800:1300], (True,) * 3)])
    assert [(u.first_index, u.n_samples, u.hands["left"].block is None) for u in updates] == [
        (0, 500, False), (500, 300, True), (800, 500, False)]


def test_each_glove_its_own_calibration_and_tare():
    d = station([("kneading", 20)], [("kneading", 20)], seed=34)
    left_channels = d.layout.device("left_glove").channels
    tare = [200] * len(left_channels)
    info = {"left_glove": {"glove_id": "L-7", "tare": tare}, "right_glove": {"glove_id": "R-2"}}
    listener, _ = listen(d, [StationSamples(0, d.raw, (True,) * 3)], device_info=info)
    report = listener.finish()
    assert report.hands["left"].calibration["glove_id"] == "L-7"
    assert report.hands["right"].calibration["glove_id"] == "R-2"
    cal = listener.calibrations["left_glove"]
    seeded = tare_newtons(info["left_glove"], cal, left_channels)
    fresh = StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz,
                                    device_info=info)
    assert np.allclose(fresh.coach.engines["left"].conditioner.baseline, seeded)
    assert np.isnan(fresh.coach.engines["right"].conditioner.baseline).all()   # no TARE: learned from rest


def test_a_calibration_that_does_not_fit_its_device_is_refused():
    d = station([("kneading", 5)], [("kneading", 5)], seed=35)
    wrong = Calibration.nominal_for(d.layout.device("spine_strip").channels)
    with pytest.raises(ValueError, match="left_glove"):
        StationCoachingListener(protocol=default_protocol(), layout=d.layout, rate_hz=d.rate_hz,
                                calibrations={"left_glove": wrong})


def test_analyze_station_goes_through_the_listener_and_says_the_same():
    d = station([("kneading", 40), ("stroking", 30)], [("kneading", 40), ("stroking", 30)], seed=36,
                presses=[(REST_S + 20, 3.0, "spine_4", 6.0)])
    present = np.ones((d.n, 3), dtype=bool)
    present[3000:4000, 1] = False            # the right glove away for 10 s
    raw = d.raw.copy()
    raw[3000:4000, 12:24] = 0
    report = analyze_station(raw, present, d.layout, d.rate_hz, default_protocol(), d.calibrations(),
                             gaps=[(6000, 200)])
    listener, _ = listen(d, station_messages(raw, present, [(6000, 200)], block_rows=50))
    live = listener.finish()
    a, b = report.to_dict(), live.to_dict()
    a["station"].pop("live_alerts")
    b["station"].pop("live_alerts")
    assert a == b
    assert report.device_gaps["right_glove"] == [(30.0, 40.0)]
    assert report.gaps == [(60.0, 62.0)]
    assert [c.channel for c in report.spine_contacts] == ["spine_4"]
    as_json = report.to_dict()
    assert set(as_json) == {"duration_s", "station", "hands"}
    assert set(as_json["hands"]) == {"left", "right"}
    assert as_json["hands"]["left"]["spine_check"] is True
    text = report.summary()
    assert "=== Left hand ===" in text and "=== Right hand ===" in text and "Station phases:" in text


def test_analyze_station_refuses_data_that_does_not_fit_the_station():
    d = station([("kneading", 5)], [("kneading", 5)], seed=37)
    with pytest.raises(ValueError, match="32 columns"):
        analyze_station(d.raw[:, :20], (True, True, True), d.layout, d.rate_hz, default_protocol())
    with pytest.raises(ValueError, match="one flag per row and device"):
        analyze_station(d.raw, np.ones((d.n, 2), bool), d.layout, d.rate_hz, default_protocol())
