"""A station's tile: the state it shows, repainted only when it changes, and traces at pixel width."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.classroom.tile import TileModel, TileTrace
from glovecoach.engine.coaching import ActiveAlert
from glovecoach.pipeline.coaching import CoachingUpdate
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.station import StationLayout
from glovecoach.vocabulary.stream import LinkDown, LinkUp


def test_trace_keeps_min_and_max_per_pixel_column_whatever_the_block_sizes():
    rate, width = 200.0, 100
    trace = TileTrace(("a",), width, rate, seconds=10.0)     # 20 samples per column
    signal = np.sin(np.arange(4000) / 37.0).astype(np.float32)[:, None] * 5
    at = 0
    rng = np.random.default_rng(1)
    while at < len(signal):
        n = int(rng.integers(1, 90))
        trace.add(at, signal[at:at + n])
        at += n
    lo, hi = trace.columns()
    expect = signal[-2000:, 0].reshape(width, 20)
    np.testing.assert_allclose(lo[0], expect.min(axis=1))
    np.testing.assert_allclose(hi[0], expect.max(axis=1))


def test_a_gap_is_a_break_in_the_trace_not_a_flat_line():
    trace = TileTrace(("a",), 50, 100.0, seconds=5.0)       # 10 samples per column
    trace.add(0, np.ones((100, 1)))
    trace.add(300, np.ones((100, 1)))                        # 2 s missing
    lo, _ = trace.columns()      # the newest 50 columns: -10..39 (column c holds samples 10c..10c+9)
    seen = ~np.isnan(lo[0])
    assert seen[10:20].all() and seen[40:].all()
    assert not seen[:10].any() and not seen[20:40].any()


def test_trace_width_must_be_drawable():
    with pytest.raises(ValueError, match="pixel columns"):
        TileTrace(("a",), 1, 200.0)


def _update(layout, first, n, left_n, right_n, alerts=(), technique=None):
    hands = {}
    for hand, force in (("left", left_n), ("right", right_n)):
        ch = len(layout.hand_channels(hand))
        newtons = np.zeros((n, ch), np.float32)
        newtons[:, 0] = force
        newtons[:, -1] = 2.0                          # the strip's last segment
        block = ForceBlock(first, newtons, np.zeros_like(newtons, bool), np.zeros_like(newtons, bool))
        hands[hand] = CoachingUpdate(first, n, block, (), tuple(a for a in alerts if hand == "left"))
    return StationUpdate(first, n, hands, (), technique or {})


def test_tile_model_follows_the_station_and_repaints_only_on_change():
    layout = StationLayout.full()
    tile = TileModel("table 1", "Ana", layout, 200.0, width_px=100)
    assert tile.take_changed()
    tile.on_station_update(_update(layout, 0, 400, 10.0, 20.0,
                                   technique={"left": "kneading", "right": "kneading",
                                              "station": "kneading", "agree": True}))
    lo, hi = tile.trace.columns()
    assert np.nanmax(hi[0]) == pytest.approx(10.0) and np.nanmax(hi[1]) == pytest.approx(20.0)
    assert np.nanmax(hi[2]) == pytest.approx(2.0)
    assert tile.state.hands_differ is None
    tile.take_changed()
    tile.on_station_update(_update(layout, 400, 40, 10.0, 20.0,
                                   technique={"left": "kneading", "right": "kneading",
                                              "station": "kneading", "agree": True}))
    assert not tile.take_changed(), "same words on the tile: nothing to repaint"
    alert = ActiveAlert("overforce", "thumb_tip", 2.0, "Too much force on the thumb tip ...", 31.4)
    tile.on_station_update(_update(layout, 440, 40, 31.0, 20.0, alerts=(alert,),
                                   technique={"left": "kneading", "right": "stroking", "station": None,
                                              "agree": False}))
    assert tile.take_changed()
    assert tile.state.alert == "Too hard: left thumb 31 N" and tile.state.attention
    assert tile.state.hands_differ == "left kneading, right stroking"


def test_a_device_dropping_out_makes_the_tile_stand_out():
    tile = TileModel("table 2", "Ben", StationLayout.full(), 200.0)
    tile.on_device_message("spine_strip", LinkUp(hello=None, reconnected=False))
    assert not tile.state.attention
    tile.take_changed()
    tile.on_device_message("spine_strip", LinkDown("unplugged"))
    assert tile.take_changed() and tile.state.attention
    assert dict((d.role, d.link) for d in tile.state.devices)["spine_strip"] == "down"
