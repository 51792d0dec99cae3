"""The glove's channel layout, loaded from `hardware/sensor_map.json`.

The same file is deployed to the glove, so firmware and host cannot disagree on which
column is which sensor. The device also announces its channel ids in HELLO; the host
uses this map for what the device does not send (region, group, divider).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from glovecoach.resources import sensor_map_path

GLOVE_CHANNELS = (
    "thumb_tip", "index_tip", "middle_tip", "ring_tip", "little_tip",
    "thenar", "hypothenar", "palm_center", "palm_heel",
    "hand_edge", "knuckles_index_middle", "knuckles_ring_little",
)
SPINE_CHANNELS = tuple(f"spine_{k}" for k in range(1, 9))
ALL_CHANNELS = GLOVE_CHANNELS + SPINE_CHANNELS


@dataclass(frozen=True)
class Channel:
    id: str
    region: str        # fingertips, palm, hand_edge, knuckles, spine
    group: str         # plot group: fingers, palm, edge_knuckles, spine
    mux: str
    mux_input: int
    divider_ohm: int
    bias_ohm: int

    @property
    def is_spine(self) -> bool:
        return self.region == "spine"


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


def parse_sensor_map(data: dict, source: str = "<sensor map>") -> SensorMap:
    try:
        adc = data["adc"]
        channels = tuple(
            Channel(
                id=c["id"], region=c["region"], group=c["group"], mux=c["mux"],
                mux_input=int(c["mux_input"]), divider_ohm=int(c["divider_ohm"]),
                bias_ohm=int(c["bias_ohm"]),
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


@lru_cache(maxsize=None)
def load_sensor_map(path: Path | None = None) -> SensorMap:
    path = path or sensor_map_path()
    with open(path, encoding="utf-8") as fh:
        return parse_sensor_map(json.load(fh), str(path))
