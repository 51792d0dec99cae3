"""The station view fed what a station pipeline gives it: StationUpdates made by the real
coaching (one CoachingListener per hand on simulated sessions) and DeviceMessages (link events
and STATUS of each device). A device dropping out greys its hand; the other hand goes on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from app_station_feed import StationFeed

from glovecoach.app.pairing import Sighting, StationChoice, merge_sightings
from glovecoach.app.station_view import (
    StationModel,
    StationView,
    battery_percent,
    battery_text,
    signal_text,
    station_view_for,
)
from glovecoach.pipeline import Notifier
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.vocabulary.station import DeviceMessage, StationLayout
from glovecoach.vocabulary.stream import LinkDown, LinkResumed, LinkStalled, LinkUp, StatusReceived
from glovecoach.wire import Hello, Status


@dataclass(frozen=True)
class BatteryStatus(Status):
    """STATUS as the station firmware of issue 12 sends it, with the cell's voltage and the
    WiFi signal. (The wire's Status gains these two fields with that firmware; the view reads
    them with getattr, so STATUS from older firmware, without them, shows "—".)"""

    battery_v: float | None = None
    rssi_dbm: float | None = None


def status(battery_v=None, rssi_dbm=None) -> Status:
    fields = dict(flags=1, rate_hz=200, t_us=0, boot_id=1, seq=0, dropped_samples=0,
                  saturated_mask=0, open_mask=0, loop_max_us=900)
    if battery_v is None and rssi_dbm is None:
        return Status(**fields)                       # firmware from before the battery field
    return BatteryStatus(**fields, battery_v=battery_v, rssi_dbm=rssi_dbm)


class Clock:
    """The view's clock, moved by the test (a drop is timed "link lost 12 s")."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def up(role: str, device_id: str) -> DeviceMessage:
    return DeviceMessage(role, LinkUp(Hello(0, {"glove_id": device_id, "role": role}), False))


@pytest.fixture
def station(qtbot):
    layout = StationLayout.full()
    feed = StationFeed(layout, 40.0)
    clock = Clock()
    model = StationModel(layout, feed.rate_hz, clock=clock,
                         transports={"left_glove": "wifi", "right_glove": "usb", "spine_strip": "wifi"})
    view = StationView(model)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    for role, device_id in (("left_glove", "L-01"), ("right_glove", "R-02"), ("spine_strip", "S-03")):
        view.take(DeviceMessage(role, LinkUp(Hello(0, {"glove_id": device_id}), False)))

    def run(seconds: float, gone: tuple[str, ...] = ()) -> None:
        for update in feed.updates(seconds, gone=gone):
            view.take(update)
            clock.now += feed.block_s
        view.redraw()

    return view, model, clock, run


def _newest(plots, group: str, k: int) -> np.ndarray:
    _, y = plots.plots[group].traces.data(k)
    return y


def test_both_hands_are_shown_from_real_coaching(station):
    view, model, clock, run = station
    run(15.0)
    assert set(view.panels) == {"left", "right"}
    for hand in ("left", "right"):
        panel = view.panels[hand]
        fingers = _newest(panel.plots, "fingers", 0)         # the thumb's curve
        assert len(fingers) > 100 and np.isfinite(fingers).mean() > 0.95
        assert panel.hand_map.values.max() > 1.0               # something is pressed
        assert panel.hand_map.hand == hand
        assert panel.plots.plots["fingers"].band_windows      # the protocol's force window
    # two hands, different scenes: their curves are their own
    assert not np.allclose(view.panels["left"].hand_map.values, view.panels["right"].hand_map.values)
    # the right thumb pressed too hard (excessive_force_kneading): its map and the banner say so
    assert any(a.kind == "overforce" for a in model.boards["right"].log)
    assert not any(a.kind == "overforce" for a in model.boards["left"].log)
    messages = [a.shown_message for a in model.boards["right"].log if a.kind == "overforce"]
    assert messages and "thumb" in messages[0].lower()
    # technique per hand, and the station's line
    assert model.technique["right"] == "kneading"
    assert view.panels["right"].header.text() == "Right hand \u00b7 kneading"
    text, differ = model.technique_line()
    assert view.technique.text() == text
    if model.technique.get("agree") is False:
        assert differ and text.startswith("The hands differ:")


def test_each_device_shows_link_transport_battery_and_signal(station):
    view, model, clock, run = station
    view.take([DeviceMessage("left_glove", StatusReceived(status(3.86, -58.0), 0.0)),
               DeviceMessage("spine_strip", StatusReceived(status(3.58, -72.0), 0.0)),
               DeviceMessage("right_glove", StatusReceived(status(), 0.0))])
    run(1.0)
    left, right, strip = (view.cards[r].text() for r in ("left_glove", "right_glove", "spine_strip"))
    assert left.startswith("Left glove  L-01") and "link up" in left
    assert "WiFi" in left and "battery 3.86 V 59 %" in left and "signal -58 dBm (good)" in left
    assert "battery 3.58 V 9 % LOW" in strip and "signal -72 dBm (weak)" in strip
    # old firmware: no battery in its STATUS; on USB there is no radio
    assert "USB" in right and "battery \u2014" in right and "signal cable" in right
    assert battery_text(None) == "\u2014" and signal_text(None, "wifi") == "\u2014"
    assert [battery_percent(v) for v in (4.25, 4.2, 3.8, 3.3, 3.0)] == [100, 100, 50, 0, 0]


def test_a_glove_dropping_out_greys_its_hand_and_the_other_goes_on(station):
    view, model, clock, run = station
    run(5.0)
    right_before = model.rings["right"].next_index
    view.take(DeviceMessage("left_glove", LinkDown("unplugged")))
    # 12 s later, the left glove still gone, the right one still coaching
    run(12.0, gone=("left",))
    note = "left glove: link lost 12 s"
    left = view.panels["left"]
    assert left.hand_map.link_note == note
    assert left.header.text() == f"Left hand \u00b7 {note}"
    assert "\u2716 link lost 12 s" in view.cards["left_glove"].text()
    assert view.banner.shown[0].message.startswith("Left glove: link lost 12 s")
    assert left.plots.graphicsEffect() is not None           # its plots dimmed
    # the left curves end in the gap; the right ones run on to now
    assert np.isnan(_newest(left.plots, "fingers", 0)[-50:]).all()
    right = view.panels["right"]
    assert right.hand_map.link_note is None and right.header.text().startswith("Right hand \u00b7 ")
    assert model.rings["right"].next_index == right_before + 12 * 200
    assert np.isfinite(_newest(right.plots, "fingers", 0)[-50:]).all()
    assert "link up" in view.cards["right_glove"].text()

    # back: the hand is live again, the drop counted
    view.take(up("left_glove", "L-01"))
    run(1.0)
    assert left.hand_map.link_note is None and left.plots.graphicsEffect() is None
    assert model.devices["left_glove"].drops == 1
    assert np.isfinite(_newest(left.plots, "fingers", 0)[-20:]).all()    # the newest 0.4 s
    assert not any(a.kind == "link_down" for a in view.banner.shown)


def test_a_stalled_strip_greys_the_spine_map(station):
    view, model, clock, run = station
    run(2.0)
    view.take(DeviceMessage("spine_strip", LinkStalled(first_index=400, silent_s=1.0, reason="no samples")))
    clock.now += 2.0
    view.redraw()
    assert view.spine_map.link_note == "spine strip: no samples 3 s"
    assert all(p.hand_map.link_note is None for p in view.panels.values())
    view.take(DeviceMessage("spine_strip", LinkResumed(3.0)))
    view.redraw()
    assert view.spine_map.link_note is None


def test_the_kit_is_one_hand_and_the_strip(qtbot):
    layout = StationLayout.kit()
    feed = StationFeed(layout, 5.0)
    clock = Clock()
    choice = StationChoice("bench 1", {"kit": merge_sightings([Sighting("K-05", "usb", "/dev/ttyACM0",
                                                                         "kit", "right", "1.2")])[0]})
    view = station_view_for(choice, feed.rate_hz, clock=clock)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    assert list(view.panels) == ["right"] and list(view.cards) == ["kit"]
    view.take(feed.updates(3.0))
    view.redraw()
    assert view.spine_map.channels == list(layout.device("kit").channels[12:])
    assert "K-05" in view.cards["kit"].text() and "USB" in view.cards["kit"].text()
    view.take(DeviceMessage("kit", LinkDown("unplugged")))
    clock.now += 4.0
    view.redraw()
    # one board: the hand and the strip are gone together
    assert view.panels["right"].hand_map.link_note == "kit (glove + strip): link lost 4 s"
    assert view.spine_map.link_note == "kit (glove + strip): link lost 4 s"


def test_the_model_listens_in_a_pipeline_and_refuses_a_hand_it_does_not_have():
    layout = StationLayout.kit()
    model = StationModel(layout, 200.0)
    left_feed = StationFeed(StationLayout.full(), 2.0)
    pending = [DeviceMessage("kit", LinkUp(Hello(0, {"glove_id": "K-05"}), False)),
               DeviceMessage("left_glove", LinkDown("x"))]   # not this station's device: ignored

    class Messages:
        def poll(self):
            out = list(pending)
            pending.clear()
            return out

    assert Notifier(Messages(), [model]).pump() == 2
    assert model.devices["kit"].link == "up" and model.devices["kit"].device_id == "K-05"
    assert set(model.devices) == {"kit"}
    with pytest.raises(ValueError, match="a left hand update for a station whose hands are right"):
        model.take(left_feed.updates(0.1))


@dataclass(frozen=True)
class PresentUpdate(StationUpdate):
    """A StationUpdate with the station listener's `present` (role -> had its samples), as
    the station coaching listener of issue 12 adds it."""

    present: dict = None


def test_a_device_absent_without_a_link_event_is_greyed_too(station):
    """A replay has no link events: the station update's `present` says a glove is gone."""
    view, model, clock, run = station
    run(2.0)
    feed_updates = StationFeed(StationLayout.full(), 4.0)
    feed_updates.updates(2.0)
    for update in feed_updates.updates(1.0, gone=("right",)):
        view.take(PresentUpdate(update.first_index, update.n_samples, update.hands, update.events,
                                update.technique, present={"left_glove": True, "right_glove": False,
                                                           "spine_strip": True}))
    view.redraw()
    assert view.panels["right"].hand_map.link_note == "right glove: no samples"
    assert view.panels["left"].hand_map.link_note is None
    assert view.banner.shown[0].message == "Right glove: no samples; the rest of the station goes on."
