"""A station's devices and columns, and the messages a station pipeline carries.

A station is one trainee and one partner: a left glove, a right glove and a spine strip, each
its own device with its own sample counter and clock (or today's one-board kit, a station of
one device). Everything that has to agree on "which column is the left thumb" asks the
`StationLayout` here, the one place the station's column names are made:

* a glove's channels are named ``<hand>.<channel id>`` (``left.thumb_tip``), the strip's keep
  their ids (``spine_1``): there is one strip per station, so a prefix would say nothing;
* a station of one kit keeps today's 20 unprefixed names, so today's recordings and CSV files
  read exactly as before.

The coaching engine coaches one hand at a time on today's 20 channels (that hand's glove plus
the strip); `StationLayout.hand_columns` gives the station columns in that order.

Messages: a device's own stream travels as `DeviceMessage` (a link event tagged with the
device's role, on that device's own session index: what the recorder writes losslessly), and
the devices put on one station index travel as `StationSamples` / `StationGap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.vocabulary.sensors import HANDS, KIT_ROLE, SPINE_CHANNELS, device_map, load_roles

STATION_ROLES = ("left_glove", "right_glove", "spine_strip")
"""The roles of a full station, in column order."""


def _is_spine(channel_id: str) -> bool:
    return channel_id in SPINE_CHANNELS


@dataclass(frozen=True)
class StationDevice:
    """One device of a station: its role, the hand it is worn on (None for the strip) and its
    channel ids in the device's own order (its HELLO channel map)."""

    role: str
    hand: str | None
    channels: tuple[str, ...]

    def column_name(self, channel_id: str) -> str:
        # The kit and the strip keep bare ids (one of each per station); a glove of a
        # two-glove station says which hand.
        if self.role in (KIT_ROLE, "spine_strip") or self.hand is None:
            return channel_id
        return f"{self.hand}.{channel_id}"


@dataclass(frozen=True)
class StationLayout:
    """The devices of a station and the station's columns (devices in order, each device's
    channels in its own order)."""

    devices: tuple[StationDevice, ...]
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        roles = [d.role for d in self.devices]
        if len(set(roles)) != len(roles):
            raise ValueError(f"a station has each role at most once, got {roles}")
        if KIT_ROLE in roles and len(roles) > 1:
            raise ValueError("the one-board kit is a station on its own; it cannot share one with other devices")
        hands = [d.hand for d in self.devices if d.hand is not None and d.role != "spine_strip"]
        if len(set(hands)) != len(hands):
            raise ValueError(f"a station has one glove per hand, got hands {hands}")
        columns = tuple(d.column_name(c) for d in self.devices for c in d.channels)
        if len(set(columns)) != len(columns):
            raise ValueError("station columns are not unique")
        object.__setattr__(self, "columns", columns)

    # ------------------------------------------------------------------ making one
    @classmethod
    def for_roles(cls, roles: Sequence[str], path: Any = None) -> StationLayout:
        """The layout of devices with these roles, each with its kind's channels from the
        sensor map (``path``: another sensor map file, for tests)."""
        known = load_roles(path)
        devices = []
        for role in roles:
            if role not in known:
                raise ValueError(f"unknown device role {role!r}; the sensor map knows {sorted(known)}")
            devices.append(StationDevice(role, known[role].hand if role != "spine_strip" else None,
                                         device_map(role, path).ids))
        order = {r: i for i, r in enumerate((KIT_ROLE, *STATION_ROLES))}
        devices.sort(key=lambda d: order.get(d.role, len(order)))
        return cls(tuple(devices))

    @classmethod
    def full(cls) -> StationLayout:
        """Left glove, right glove and spine strip."""
        return cls.for_roles(STATION_ROLES)

    @classmethod
    def kit(cls) -> StationLayout:
        """Today's one-board kit: a station of one device with today's 20 columns."""
        return cls.for_roles((KIT_ROLE,))

    # ------------------------------------------------------------------ asking it
    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(d.role for d in self.devices)

    @property
    def is_kit(self) -> bool:
        return self.roles == (KIT_ROLE,)

    def device(self, role: str) -> StationDevice:
        for d in self.devices:
            if d.role == role:
                return d
        raise KeyError(f"this station has no {role} (it has {', '.join(self.roles)})")

    def slice_of(self, role: str) -> slice:
        """The columns that hold device ``role``'s channels."""
        start = 0
        for d in self.devices:
            if d.role == role:
                return slice(start, start + len(d.channels))
            start += len(d.channels)
        raise KeyError(f"this station has no {role} (it has {', '.join(self.roles)})")

    @property
    def hands(self) -> tuple[str, ...]:
        """The hands this station measures, left first."""
        worn = {d.hand for d in self.devices if d.hand is not None and d.role != "spine_strip"}
        return tuple(h for h in HANDS if h in worn)

    def glove_role(self, hand: str) -> str:
        for d in self.devices:
            if d.hand == hand and d.role != "spine_strip":
                return d.role
        raise KeyError(f"this station has no {hand} glove")

    def spine_role(self) -> str | None:
        """The device that carries the spine strip: the strip, or the kit; None if neither."""
        for d in self.devices:
            if any(_is_spine(c) for c in d.channels) and d.role in (KIT_ROLE, "spine_strip"):
                return d.role
        return None

    def hand_channels(self, hand: str) -> tuple[str, ...]:
        """The channel ids the engine coaching ``hand`` sees: that glove's, then the strip's."""
        glove = self.device(self.glove_role(hand))
        ids = [c for c in glove.channels if not _is_spine(c)]
        spine = self.spine_role()
        if spine is not None:
            ids += [c for c in self.device(spine).channels if _is_spine(c)]
        return tuple(ids)

    def hand_columns(self, hand: str) -> np.ndarray:
        """Station column indices, in `hand_channels(hand)` order."""
        glove = self.device(self.glove_role(hand))
        cols = [self.columns.index(glove.column_name(c)) for c in glove.channels if not _is_spine(c)]
        spine = self.spine_role()
        if spine is not None:
            strip = self.device(spine)
            cols += [self.columns.index(strip.column_name(c)) for c in strip.channels if _is_spine(c)]
        return np.asarray(cols, dtype=np.intp)

    def describe(self) -> dict:
        """JSON-able form (a recording stores it)."""
        return {"devices": [{"role": d.role, "hand": d.hand, "channels": list(d.channels)} for d in self.devices]}

    @classmethod
    def from_description(cls, data: dict) -> StationLayout:
        try:
            return cls(tuple(StationDevice(str(d["role"]), d.get("hand"), tuple(str(c) for c in d["channels"]))
                             for d in data["devices"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a station layout: {exc}") from None


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class DeviceMessage:
    """A message from one device of a station, as its link produced it: ``message`` is a
    `glovecoach.vocabulary.stream` event on that device's own session index."""

    role: str
    message: Any


@dataclass(frozen=True)
class StationSamples:
    """Station slots ``first_index .. first_index + len(raw) - 1`` on the station index.

    ``raw`` has one column per `StationLayout.columns`; ``present`` says, per device in layout
    order, whether that device's columns hold its readings in this block (a block never spans
    a change in which devices are present; an absent device's columns are 0)."""

    first_index: int
    raw: np.ndarray        # (n, len(layout.columns)) uint16
    present: tuple[bool, ...]

    @property
    def n_samples(self) -> int:
        return int(self.raw.shape[0])


@dataclass(frozen=True)
class StationGap:
    """Station slots [first_index, first_index + n_samples) that no device filled."""

    first_index: int
    n_samples: int
    reason: str

    @property
    def end_index(self) -> int:
        return self.first_index + self.n_samples
