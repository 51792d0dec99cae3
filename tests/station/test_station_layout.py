"""The station's columns: one place names them, for the kit and for a full station."""

import numpy as np
import pytest

from glovecoach.vocabulary.sensors import ALL_CHANNELS
from glovecoach.vocabulary.station import StationDevice, StationLayout


def test_the_kit_keeps_todays_twenty_columns():
    kit = StationLayout.kit()
    assert kit.columns == ALL_CHANNELS
    assert kit.is_kit and kit.hands == ("right",)
    assert kit.hand_channels("right") == ALL_CHANNELS
    assert list(kit.hand_columns("right")) == list(range(len(ALL_CHANNELS)))


def test_a_full_station_names_gloves_by_hand_and_the_strip_bare():
    st = StationLayout.full()
    assert st.roles == ("left_glove", "right_glove", "spine_strip")
    assert st.columns[0] == "left.thumb_tip" and "right.thumb_tip" in st.columns
    assert "spine_1" in st.columns and "left.spine_1" not in st.columns
    assert st.hands == ("left", "right")
    # each hand's engine sees today's 20 channels in today's order
    assert st.hand_channels("left") == ALL_CHANNELS == st.hand_channels("right")
    raw = np.arange(len(st.columns))[None, :]
    left = raw[:, st.hand_columns("left")][0]
    assert [st.columns[i] for i in left] == [f"left.{c}" for c in ALL_CHANNELS[:12]] + list(ALL_CHANNELS[12:])
    assert st.slice_of("spine_strip") == slice(24, 32)


def test_roles_come_in_column_order_whatever_order_they_are_given():
    st = StationLayout.for_roles(["spine_strip", "right_glove", "left_glove"])
    assert st == StationLayout.full()
    assert StationLayout.from_description(st.describe()) == st


def test_a_station_without_a_strip_coaches_hands_without_spine_channels():
    st = StationLayout.for_roles(["right_glove"])
    assert st.spine_role() is None
    assert len(st.hand_channels("right")) == 12


@pytest.mark.parametrize("roles, words", [
    (["kit", "left_glove"], "kit is a station on its own"),
    (["left_glove", "left_glove"], "each role at most once"),
    (["left_hand"], "unknown device role"),
])
def test_impossible_stations_are_refused_with_a_reason(roles, words):
    with pytest.raises(ValueError, match=words):
        StationLayout.for_roles(roles)


def test_two_gloves_on_one_hand_are_refused():
    a = StationDevice("left_glove", "left", ("thumb_tip",))
    b = StationDevice("right_glove", "left", ("thumb_tip",))
    with pytest.raises(ValueError, match="one glove per hand"):
        StationLayout((a, b))
