"""engine.messages: every sentence for people names what it is about, and the engine uses them."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine import CoachingEngine, messages
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary import sensors as vocabulary_sensors
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import ALL_CHANNELS, GLOVE_CHANNELS, SPINE_CHANNELS

RATE = 200


def test_sensor_names_come_from_the_sensor_map() -> None:
    # One source: the messages use the vocabulary's names, which are the sensor map's labels.
    assert messages.sensor_name is vocabulary_sensors.sensor_name
    smap = vocabulary_sensors.load_sensor_map()
    assert [messages.sensor_name(c.id) for c in smap.channels] == [c.label for c in smap.channels]
    names = [messages.sensor_name(c) for c in GLOVE_CHANNELS]
    assert len(set(names)) == len(names) and all("_" not in n for n in names)
    assert messages.sensor_name("thumb_tip") == "thumb tip"
    assert messages.sensor_name("spine_3") == "spine segment 3"
    assert messages.sensor_name("wrist_back") == "wrist back"    # unknown: readable, not an error
    assert messages.technique_name("deep_stroking") == "deep stroking"
    assert messages.technique_name(None) == "no technique"


@pytest.mark.parametrize("channel", GLOVE_CHANNELS)
def test_every_glove_sensor_message_names_the_sensor(channel: str) -> None:
    name = messages.sensor_name(channel)
    sentences = [
        messages.overforce_begin(channel, 31.4, 25, False), messages.overforce_begin(channel, 0.0, 25, True),
        messages.overforce_end(channel), messages.overforce_end(channel, gap=True),
        messages.underforce_begin(channel, 2.2, 5), messages.underforce_end(channel),
        messages.sensor_condition_begin("saturation", channel), messages.sensor_condition_begin("open_sensor", channel),
        messages.sensor_normal_again(channel), messages.excessive_force(channel, 31.4, 30),
        messages.excessive_force(channel, None, 30), messages.too_light(channel, 2.2, 4),
    ]
    for s in sentences:
        assert name in s and s.endswith(".") and s[0].isupper()


@pytest.mark.parametrize("segment", SPINE_CHANNELS)
def test_every_spine_message_names_the_segment(segment: str) -> None:
    name = messages.sensor_name(segment)
    for s in (messages.spine_begin(segment, 4.25), messages.spine_begin(segment, None),
              messages.spine_end(segment), messages.spine_violation(segment)):
        assert name in s


def test_the_words_are_the_ones_people_have_been_shown() -> None:
    # Pinned: a change of wording is a change people see (and the docs quote some of these).
    assert messages.overforce_begin("index_tip", 31.4, 25, False) == \
        "Too much force on the index fingertip: 31 N (limit 25 N)."
    assert messages.overforce_begin("index_tip", 99, 25, True) == \
        "Too much force on the index fingertip: at the top of its range (over 25 N)."
    assert messages.overforce_end("palm_heel", gap=True) == \
        "Force on the heel of the palm back within limits (data gap)."
    assert messages.underforce_begin("knuckles_index_middle", 2.4, 5) == \
        "Press harder with the index and middle knuckles: 2 N (at least 5 N)."
    assert messages.spine_begin("spine_4", 7.04) == "Off the spine! Pressure on spine segment 4: 7.0 N."
    assert messages.session_warning(120) == "2 minutes left: finish with stroking."
    assert messages.move_on("deep_stroking") == "Time to move on from deep stroking."
    assert messages.phase_too_long("rubbing", 245, 180) == "Rubbing went on for 4 min 05 s; move on after 3 min 00 s."
    assert messages.session_too_long(1000, 900, final=False) == "Past the 15 min 00 s limit: finish the session now."
    assert messages.duration_words(44.6) == "45 s" and messages.duration_words(-3) == "0 s"


def test_an_unknown_sensor_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="saturation"):
        messages.sensor_condition_begin("hot", "thumb_tip")


def test_the_engine_says_its_events_in_these_words() -> None:
    """Over-force, saturation and open-lead events from the engine carry the messages above."""
    n = 3 * RATE
    x = np.zeros((n, len(ALL_CHANNELS)), np.float32)
    x[:, ALL_CHANNELS.index("palm_center")] = 3.0
    x[100:300, ALL_CHANNELS.index("middle_tip")] = 60.0           # over every limit
    sat = np.zeros(x.shape, bool)
    sat[350:400, ALL_CHANNELS.index("hand_edge")] = True
    opened = np.zeros(x.shape, bool)
    opened[100:400, ALL_CHANNELS.index("ring_tip")] = True
    engine = CoachingEngine(default_protocol(), ALL_CHANNELS, RATE)
    events = engine.process(ForceBlock(0, x, sat, opened))
    said = {(e.kind, e.state, e.channel): e.message for e in events}
    assert said[("overforce", "begin", "middle_tip")] == messages.overforce_begin("middle_tip", 60, 25, False)
    assert said[("overforce", "end", "middle_tip")] == messages.overforce_end("middle_tip")
    # A saturated reading counts as over any limit, and is said as such.
    assert said[("overforce", "begin", "hand_edge")] == messages.overforce_begin("hand_edge", 0, 40, True)
    assert said[("saturation", "begin", "hand_edge")] == messages.sensor_condition_begin("saturation", "hand_edge")
    assert said[("open_sensor", "begin", "ring_tip")] == messages.sensor_condition_begin("open_sensor", "ring_tip")
    assert said[("open_sensor", "end", "ring_tip")] == messages.sensor_normal_again("ring_tip")
    for e in events:
        if e.channel is not None:
            assert messages.sensor_name(e.channel) in e.message
