"""The sensors: channel ids, regions, groups and names, read from `hardware/sensor_map.json`.

That file is the only place a channel id, its region or its label is written: the firmware
reads the same file (deployed to the glove), and the device announces its channel ids in
HELLO. The host takes from the map what the device does not send: region, plot group,
divider, and the words people read ("index fingertip" in a sentence, "index" on a plot).

Devices: the map's "kinds" say which channels a board of each kind samples (those on its
multiplexers, in map order: a glove has the 12 hand channels, a spine strip the 8 segments,
the one-board kit both, glove first), and its "roles" give each role a kind and a hand
(left_glove, right_glove, spine_strip, and kit, a right hand). A left glove uses the same
channel ids as the right one; drawings mirror it. `load_sensor_map()` is the kit, today's
20 channels; `device_map(role)` is what one device of a station samples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType

from glovecoach.vocabulary.resources import sensor_map_path

SPINE_REGION = "spine"
KIT_ROLE = "kit"
HANDS = ("left", "right")


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
class Role:
    """A device's role in a station, as the map's "roles" define it."""
    name: str                   # kit, right_glove, left_glove, spine_strip
    kind: str                   # the map's kind: glove, spine_strip, kit
    hand: str | None            # "left", "right", or None for a device worn by no hand

    @property
    def mirrored(self) -> bool:
        """Drawn as the mirror image of the right hand (the map's "mirror" says how)."""
        return self.hand == "left"


@dataclass(frozen=True)
class DeviceKind:
    name: str
    multiplexers: tuple[str, ...]   # the board samples the map's channels on these muxes
    placement: str                  # hand, spine, hand+spine
    description: str


@dataclass(frozen=True)
class SensorMap:
    channels: tuple[Channel, ...]
    adc_max: int
    open_below: int
    saturated_at: int
    supply_v: float
    # The device this map is for. load_sensor_map() gives the kit (a right hand).
    role: str = KIT_ROLE
    kind: str = KIT_ROLE
    hand: str | None = "right"

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


def parse_sensor_map(data: dict, source: str = "<sensor map>", role: str | None = None) -> SensorMap:
    """The map's channels: all of them (role None: the kit as the file lists it), or those
    a device in `role` samples."""
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
            hand=data.get("hand", "right"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: malformed sensor map ({exc!r})") from exc
    if len(set(result.ids)) != len(result.ids):
        raise ValueError(f"{source}: duplicate channel ids")
    if role is None:
        return result
    roles = parse_roles(data, source)
    if role not in roles:
        raise ValueError(f"{source}: unknown role {role!r} (the map has {', '.join(sorted(roles))})")
    chosen = roles[role]
    kind = parse_kinds(data, source)[chosen.kind]
    picked = tuple(c for c in channels if c.mux in kind.multiplexers)
    if not picked:
        raise ValueError(f"{source}: role {role!r} (kind {kind.name}) has no channels")
    return replace(result, channels=picked, role=chosen.name, kind=chosen.kind, hand=chosen.hand)


def parse_kinds(data: dict, source: str = "<sensor map>") -> dict[str, DeviceKind]:
    """The map's device kinds; a map without "kinds" (older file) has only the kit."""
    muxes = data.get("multiplexers", {})
    raw = data.get("kinds")
    if raw is None:
        return {KIT_ROLE: DeviceKind(KIT_ROLE, tuple(muxes), "hand+spine", "the one-board kit")}
    kinds = {}
    for name, k in raw.items():
        try:
            used = tuple(str(m) for m in k["multiplexers"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{source}: kinds.{name} has no list of multiplexers ({exc!r})") from exc
        unknown = [m for m in used if m not in muxes]
        if unknown:
            raise ValueError(f"{source}: kinds.{name} uses {', '.join(unknown)}, not in multiplexers")
        kinds[name] = DeviceKind(name, used, str(k.get("placement", "")), str(k.get("description", "")))
    return kinds


def parse_roles(data: dict, source: str = "<sensor map>") -> dict[str, Role]:
    """The map's roles; a map without "roles" (older file) has only the kit, a right hand."""
    kinds = parse_kinds(data, source)
    raw = data.get("roles")
    if raw is None:
        return {KIT_ROLE: Role(KIT_ROLE, KIT_ROLE, data.get("hand", "right"))}
    roles = {}
    for name, r in raw.items():
        if not isinstance(r, dict) or "kind" not in r:
            raise ValueError(f"{source}: roles.{name} has no kind")
        if r["kind"] not in kinds:
            raise ValueError(f"{source}: roles.{name}.kind {r['kind']!r} is not in kinds "
                             f"({', '.join(kinds)})")
        hand = r.get("hand")
        if hand is not None and hand not in HANDS:
            raise ValueError(f"{source}: roles.{name}.hand must be \"left\", \"right\" or null, "
                             f"got {hand!r}")
        roles[name] = Role(name, r["kind"], hand)
    return roles


def _read_map(path: Path | None) -> tuple[dict, str]:
    path = path or sensor_map_path()
    with open(path, encoding="utf-8") as fh:
        return json.load(fh), str(path)


@cache
def load_sensor_map(path: Path | None = None) -> SensorMap:
    """The one-board kit: all of the map's channels, today's 20 columns."""
    return parse_sensor_map(*_read_map(path))


@cache
def device_map(role: str, path: Path | None = None) -> SensorMap:
    """The channels a device in `role` samples, in the order of its SAMPLES columns."""
    return parse_sensor_map(*_read_map(path), role=role)


@cache
def load_roles(path: Path | None = None) -> Mapping[str, Role]:
    # Read-only: the result is cached and shared by every caller.
    return MappingProxyType(parse_roles(*_read_map(path)))


@cache
def load_kinds(path: Path | None = None) -> Mapping[str, DeviceKind]:
    return MappingProxyType(parse_kinds(*_read_map(path)))


_MAP = load_sensor_map()
# The kit's channels in stream order (glove first, then the spine strip), as the map lists them.
GLOVE_CHANNELS = _MAP.glove_ids
SPINE_CHANNELS = _MAP.spine_ids
ALL_CHANNELS = _MAP.ids


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
