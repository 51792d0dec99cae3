"""The sensors: channel ids, regions, groups and names, read from `hardware/sensor_map.json`.

That file is the only place a channel id, its region or its label is written: the firmware
reads the same file (deployed to the glove), and the device announces its channel ids in
HELLO. The host takes from the map what the device does not send: region, plot group,
divider, and the words people read ("index fingertip" in a sentence, "index" on a plot).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from glovecoach.vocabulary.resources import sensor_map_path

SPINE_REGION = "spine"


@dataclass(frozen=True)
class Channel:
    id: str
    region: str        # fingertips, palm, hand_edge, knuckles, spine
    group: str         # plot group: fingers, palm, edge_knuckles, spine
    mux: str
    mux_input: int
    divider_ohm: int
    bias_ohm: int
    label: str         # in a sentence: "the index fingertip", "spine segment 3"
    short_label: str   # on a plot legend: "index", "palm heel", "3"
    map_label: str     # on the hand or spine map, where there is room for a word: "heel", "seg 3"

    @property
    def is_spine(self) -> bool:
        return self.region == SPINE_REGION


@dataclass(frozen=True)
class SensorMap:
    channels: tuple[Channel, ...]
    adc_max: int
    open_below: int
    saturated_at: int
    supply_v: float

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.channels)

    def index(self, channel_id: str) -> int:
        return self.ids.index(channel_id)

    def by_id(self, channel_id: str) -> Channel:
        return self.channels[self.index(channel_id)]

    def find(self, channel_id: str) -> Channel | None:
        for c in self.channels:
            if c.id == channel_id:
                return c
        return None

    @property
    def glove_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.channels if not c.is_spine)

    @property
    def spine_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.channels if c.is_spine)


def parse_sensor_map(data: dict, source: str = "<sensor map>") -> SensorMap:
    try:
        adc = data["adc"]
        channels = tuple(
            Channel(
                id=c["id"], region=c["region"], group=c["group"], mux=c["mux"],
                mux_input=int(c["mux_input"]), divider_ohm=int(c["divider_ohm"]),
                bias_ohm=int(c["bias_ohm"]), label=str(c["label"]), short_label=str(c["short_label"]),
                map_label=str(c["map_label"]),
            )
            for c in data["channels"]
        )
        result = SensorMap(
            channels=channels, adc_max=int(adc["max"]), open_below=int(adc["open_below"]),
            saturated_at=int(adc["saturated_at"]), supply_v=float(adc["supply_v"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: malformed sensor map ({exc!r})") from exc
    if len(set(result.ids)) != len(result.ids):
        raise ValueError(f"{source}: duplicate channel ids")
    return result


@cache
def load_sensor_map(path: Path | None = None) -> SensorMap:
    path = path or sensor_map_path()
    with open(path, encoding="utf-8") as fh:
        return parse_sensor_map(json.load(fh), str(path))


_MAP = load_sensor_map()
# The kit's channels in stream order (glove first, then the spine strip), as the map lists them.
GLOVE_CHANNELS = _MAP.glove_ids
SPINE_CHANNELS = _MAP.spine_ids
ALL_CHANNELS = _MAP.ids


def is_spine(channel_id: str) -> bool:
    """Whether a channel lies on the spinal line (the one question the spine rule asks)."""
    channel = _MAP.find(channel_id)
    return channel is not None and channel.is_spine


def region_of(channel_id: str) -> str:
    channel = _MAP.find(channel_id)
    return channel.region if channel is not None else "unknown"


def sensor_name(channel_id: str) -> str:
    """A sensor as a trainee would say it: 'thumb_tip' -> 'thumb tip', 'spine_3' -> 'spine segment 3'."""
    channel = _MAP.find(channel_id)
    return channel.label if channel is not None else channel_id.replace("_", " ")


def map_label(channel_id: str) -> str:
    """A sensor's name on the hand or spine map: 'palm_heel' -> 'heel', 'spine_3' -> 'seg 3'."""
    channel = _MAP.find(channel_id)
    return channel.map_label if channel is not None else channel_id.replace("_", " ")


def channels_in_region(region: str) -> tuple[str, ...]:
    """The kit's channel ids in one region of the map ("knuckles", "palm", ...), in stream order."""
    return tuple(c.id for c in _MAP.channels if c.region == region)
