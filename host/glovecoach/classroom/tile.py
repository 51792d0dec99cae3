"""What a station's tile on the instructor's screen shows, decided without Qt.

Twelve copies of the full station view would need about 240 % of a 2-core machine (measured:
20-22 % of a core per live view, most of it plots redrawn at full resolution). A tile is
cheap by construction:

* `TileState` is the few words and numbers the tile shows (trainee, phase and its clock
  against the protocol's window, the alert, link and battery). It is a frozen value: the
  widget repaints its text only when a new state differs from the last one.
* `TileTrace` keeps the force traces at the tile's pixel width: one min/max pair per pixel
  column per hand (and the spine strip), filled with numpy per block. Drawing it is one
  polyline of at most 2 x width points, whatever the rate or the number of channels.

`TileModel` turns the station's `StationUpdate`s and its devices' link messages into both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from glovecoach.vocabulary.sensors import SPINE_CHANNELS, load_sensor_map, map_label
from glovecoach.vocabulary.station import StationLayout
from glovecoach.vocabulary.stream import LinkDown, LinkStalled, LinkUp, StatusReceived
from glovecoach.vocabulary.techniques import technique_name

_BADGE_MESSAGES = (LinkUp, LinkDown, LinkStalled, StatusReceived)

TRACE_SECONDS = 20.0   # a tile shows the last 20 s: a few strokes, enough to see a rhythm


@dataclass(frozen=True)
class DeviceBadge:
    role: str
    link: str = "waiting"          # waiting, up, stalled, down
    battery_v: float | None = None
    rssi_dbm: int | None = None


@dataclass(frozen=True)
class TileState:
    station: str
    trainee: str = ""
    technique: str | None = None        # the station's technique now (None: none recognised)
    phase_elapsed_s: float = 0.0
    phase_window: tuple[float, float] | None = None
    session_elapsed_s: float = 0.0
    session_limit_s: float = 0.0
    alert: str | None = None            # the most urgent standing alert, in words
    alert_kind: str | None = None
    hands_differ: str | None = None     # "left kneading, right stroking"
    devices: tuple[DeviceBadge, ...] = ()
    paused: bool = False
    recording: bool = True              # False once the station's recording could not go on
    picking_up: float | None = None     # a picked-up session's earlier part being coached: done, 0-1

    @property
    def phase_clock(self) -> str:
        """``1:42 / 2:00-3:00``: time in the phase against the protocol's window."""
        if self.technique is None:
            return ""
        clock = _mmss(self.phase_elapsed_s)
        if self.phase_window is None:
            return clock
        lo, hi = self.phase_window
        return f"{clock} / {_mmss(lo)}-{_mmss(hi)}"

    @property
    def phase_status(self) -> str:
        """"short" (under the window), "ok", "long" (past it) or "" when no phase runs."""
        if self.technique is None or self.phase_window is None:
            return ""
        lo, hi = self.phase_window
        return "short" if self.phase_elapsed_s < lo else "long" if self.phase_elapsed_s > hi else "ok"

    @property
    def attention(self) -> bool:
        """The tile should stand out from across the room."""
        return (self.alert is not None or not self.recording
                or any(d.link in ("down", "stalled") for d in self.devices))


def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


# Alert kinds, most urgent first: what the tile names when several stand at once.
_URGENCY = ("spine", "overforce", "saturation", "sensor", "underforce")


def _urgency(kind: str) -> int:
    for i, word in enumerate(_URGENCY):
        if word in kind:
            return i
    return len(_URGENCY)


_ALERT_WORDS = {"overforce": "Too hard", "underforce": "Too light", "spine_contact": "On the spine",
                "sensor_fault": "Check sensor", "saturation": "Sensor at its limit", "open_sensor": "Sensor lead open"}


def alert_words(hand: str, alert: Any) -> str:
    """An alert in the few words a tile has room for, read from across the room:
    "Too hard: right thumb 42 N", "On the spine: seg 3". The full sentence is in the
    station's own view."""
    words = _ALERT_WORDS.get(alert.kind, alert.kind.replace("_", " ").capitalize())
    channel = str(getattr(alert, "channel", "") or "")
    if channel in SPINE_CHANNELS:
        where = map_label(channel)
    elif channel:
        found = load_sensor_map().find(channel)
        where = f"{hand} {found.short_label if found else channel.replace('_', ' ')}"
    else:
        where = hand
    peak = getattr(alert, "peak_n", None)
    force = f" {peak:.0f} N" if peak is not None and alert.kind == "overforce" else ""
    return f"{words}: {where}{force}"


class TileTrace:
    """Per-pixel-column min and max of a few signals over the last ``seconds``.

    Column ``c`` holds station samples ``[c0 + c*k, c0 + (c+1)*k)`` with ``k = rate*seconds/width``
    samples per column; the ring scrolls by whole columns. Samples not yet seen are NaN, so a
    gap shows as a break in the line rather than a flat zero.
    """

    def __init__(self, names: tuple[str, ...], width_px: int, rate_hz: float, seconds: float = TRACE_SECONDS) -> None:
        if width_px < 2:
            raise ValueError(f"a trace needs at least 2 pixel columns, got {width_px}")
        self.names = names
        self.width = int(width_px)
        self.per_column = max(1, math.ceil(rate_hz * seconds / self.width))
        self.lo = np.full((len(names), self.width), np.nan, dtype=np.float32)
        self.hi = np.full((len(names), self.width), np.nan, dtype=np.float32)
        self.end_column: int | None = None     # absolute column index one past the newest

    def add(self, first_index: int, values: np.ndarray) -> None:
        """``values``: (n samples, len(names)) forces from station index ``first_index``."""
        values = np.asarray(values, dtype=np.float32)
        n = values.shape[0]
        if n == 0:
            return
        k = self.per_column
        first_col = first_index // k
        last_col = (first_index + n - 1) // k
        if self.end_column is None:
            self.end_column = first_col
        self._scroll_to(last_col + 1)
        # Column boundaries inside the block, then one reduceat per statistic.
        starts = np.arange(first_col, last_col + 1) * k - first_index
        starts[0] = 0
        mins = np.minimum.reduceat(values, starts, axis=0).T
        maxs = np.maximum.reduceat(values, starts, axis=0).T
        cols = np.arange(first_col, last_col + 1)
        keep = cols >= self.end_column - self.width
        slots = cols[keep] % self.width
        # A column the previous block began is merged, not overwritten.
        self.lo[:, slots] = np.fmin(self.lo[:, slots], mins[:, keep])
        self.hi[:, slots] = np.fmax(self.hi[:, slots], maxs[:, keep])

    def _scroll_to(self, end_column: int) -> None:
        assert self.end_column is not None
        if end_column <= self.end_column:
            return
        fresh = np.arange(self.end_column, end_column)[-self.width:] % self.width
        self.lo[:, fresh] = np.nan
        self.hi[:, fresh] = np.nan
        self.end_column = end_column

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi), each (len(names), width), oldest column first."""
        if self.end_column is None:
            return self.lo.copy(), self.hi.copy()
        order = (np.arange(self.end_column - self.width, self.end_column)) % self.width
        return self.lo[:, order], self.hi[:, order]


class TileModel:
    """One station's tile: feed it the station's updates and link messages, read `state` and
    `trace`; `take_changed()` says whether the text needs repainting."""

    def __init__(self, station: str, trainee: str, layout: StationLayout, rate_hz: float,
                 width_px: int = 240) -> None:
        self.rate_hz = float(rate_hz)
        self.layout = layout
        self.state = TileState(station, trainee, devices=tuple(DeviceBadge(r) for r in layout.roles))
        # Per hand, which of its engine's channels are the glove's and which the strip's.
        self._glove_idx: dict[str, np.ndarray] = {}
        self._spine_idx: dict[str, np.ndarray] = {}
        for hand in layout.hands:
            spine = np.array([c in SPINE_CHANNELS for c in layout.hand_channels(hand)])
            self._glove_idx[hand] = np.flatnonzero(~spine)
            self._spine_idx[hand] = np.flatnonzero(spine)
        self.trace = TileTrace((*layout.hands, "spine"), width_px, self.rate_hz)
        self._changed = True

    def _set(self, **changes: Any) -> None:
        new = replace(self.state, **changes)
        if new != self.state:
            self.state = new
            self._changed = True

    def take_changed(self) -> bool:
        changed, self._changed = self._changed, False
        return changed

    def set_trainee(self, trainee: str) -> None:
        self._set(trainee=trainee)

    def recording_stopped(self) -> None:
        """The station's recording could not go on (a full disk): the tile says so until the end."""
        self._set(recording=False)

    def show_links(self, states: dict[str, str]) -> None:
        """Each device's link as its client has it now (``GloveClient.link_state``), for the
        while its link news waits with its frames (a picked-up session catching up)."""
        words = {"up": "up", "stalled": "stalled", "down": "down", "connecting": "waiting"}
        self._set(devices=tuple(replace(b, link=words.get(states.get(b.role, ""), b.link)) for b in self.state.devices))

    def picking_up(self, done: float | None) -> None:
        """A picked-up session's earlier part is being coached (``done``: how much, 0-1), or
        None once it all is: the tile's clocks are the session's from then on."""
        self._set(picking_up=None if done is None else round(done, 2))

    # ------------------------------------------------------------------ coaching
    def on_station_update(self, update: Any) -> None:
        """A `StationUpdate` (glovecoach.pipeline.station_coaching)."""
        hands = dict(update.hands)
        columns: list[np.ndarray | None] = []
        spine: np.ndarray | None = None
        for hand in self.layout.hands:
            block = getattr(hands.get(hand), "block", None)
            if block is None:
                columns.append(None)
                continue
            # whole-hand force: the sum over the glove's sensors; the strip: its most loaded segment
            columns.append(block.newtons[:, self._glove_idx[hand]].sum(axis=1, dtype=np.float32))
            if spine is None and len(self._spine_idx[hand]):
                spine = block.newtons[:, self._spine_idx[hand]].max(axis=1).astype(np.float32)
        columns.append(spine)
        n = next((len(c) for c in columns if c is not None), 0)
        if n:
            values = np.column_stack([c if c is not None else np.full(n, np.nan, np.float32) for c in columns])
            self.trace.add(update.first_index, values)
        states = [h.state for h in hands.values() if getattr(h, "state", None) is not None]
        alerts = [(hand, a) for hand, h in hands.items() for a in (h.active_alerts or ())]
        # the station's own alerts: a spine contact (told once, whichever hands were on the back)
        alerts += [("", a) for a in (getattr(update, "active_alerts", None) or ()) if a.kind != "hands_differ"]
        chosen = min(alerts, key=lambda ha: (_urgency(ha[1].kind), -ha[1].start_s)) if alerts else None
        technique = (update.technique or {}).get("station")
        differ = None
        tech = update.technique or {}
        if tech and tech.get("agree") is False and tech.get("left") and tech.get("right"):
            differ = f"left {technique_name(tech['left'])}, right {technique_name(tech['right'])}"
        changes: dict[str, Any] = {"alert": alert_words(*chosen) if chosen else None,
                                   "alert_kind": chosen[1].kind if chosen else None, "hands_differ": differ}
        station_state = getattr(update, "state", None)
        status = getattr(station_state, "status", None)
        if status is not None:
            # the station's phase, as its coach judges it against the protocol
            changes.update(technique=status.technique, phase_elapsed_s=round(status.phase_elapsed_s),
                           phase_window=status.phase_window, session_elapsed_s=round(status.session_elapsed_s),
                           session_limit_s=states[0].session_limit_s if states else 0.0,
                           paused=any(s.pause_s is not None for s in states))
        elif states:
            lead = max(states, key=lambda s: s.phase_elapsed_s)
            # The station's technique when the hands agree; else the phase the engines are in.
            changes.update(technique=technique or lead.technique,
                           phase_elapsed_s=round(lead.phase_elapsed_s),   # the tile shows whole seconds
                           phase_window=lead.phase_window, session_elapsed_s=round(lead.session_elapsed_s),
                           session_limit_s=lead.session_limit_s, paused=lead.pause_s is not None)
        self._set(**changes)

    # ------------------------------------------------------------------ devices
    def on_device_message(self, role: str, message: Any) -> None:
        """A `DeviceMessage`'s parts: link state and STATUS for the device's badge."""
        if not isinstance(message, _BADGE_MESSAGES):
            return      # every frame passes here (50 a second a device): nothing on the badge
        badges = list(self.state.devices)
        for i, badge in enumerate(badges):
            if badge.role != role:
                continue
            if isinstance(message, LinkUp):
                badges[i] = replace(badge, link="up")
            elif isinstance(message, LinkDown):
                badges[i] = replace(badge, link="down")
            elif isinstance(message, LinkStalled):
                badges[i] = replace(badge, link="stalled")
            elif isinstance(message, StatusReceived):
                status = message.status
                badges[i] = replace(badge, link="up" if badge.link == "stalled" else badge.link,
                                    battery_v=getattr(status, "battery_v", None),
                                    rssi_dbm=getattr(status, "rssi_dbm", None))
        self._set(devices=tuple(badges))

