"""The station view: both hands (left mirrored) with their plots, the spine strip, and a strip
of the station's devices with each one's link, transport, battery and signal.

`StationModel` (no Qt) takes what a station pipeline gives its listeners: `StationUpdate`s
(each hand's `CoachingUpdate`, the station's events and technique) and `DeviceMessage`s (one
device's link events and STATUS). `StationView` draws it; like `LiveView`, `redraw()` brings
it up to date and is called about 30 times a second.

A device dropping out stops nothing: its hand is greyed under "left glove: link lost 12 s",
its plot shows the gap, and the other hand goes on as before. The app adds no rules: alerts
are the engines' events, bands the protocol's windows; what it adds are facts from the links.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.ring import ForceRing
from glovecoach.app.session import SEVERITY, Alert, AlertBoard, channels_of
from glovecoach.app.widgets.alerts import AlertBanner
from glovecoach.app.widgets.maps import HandMap, SpineMap
from glovecoach.app.widgets.plots import ForcePlots
from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.vocabulary.sensors import KIT_ROLE, SPINE_CHANNELS
from glovecoach.vocabulary.station import DeviceMessage, StationLayout
from glovecoach.vocabulary.stream import (
    InstructorNote,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
    SamplesReceived,
    StatusReceived,
)

ROLE_TITLES = {"left_glove": "Left glove", "right_glove": "Right glove",
               "spine_strip": "Spine strip", KIT_ROLE: "Kit (glove + strip)"}
TRANSPORT_LABELS = {"usb": "USB", "wifi": "WiFi"}
MAP_PEAK_S = 0.25       # the maps show each sensor's peak over this last stretch (as LiveView)

# One LiPo cell under the light load of sampling and WiFi: volts -> percent left. A cell's
# voltage is flat between ~3.7 and 3.9 V, so the figure is a guide (±10 %), shown beside the
# volts it comes from; 3.3 V is where the board's regulator drops out.
_LIPO_V = np.array([3.30, 3.50, 3.60, 3.65, 3.70, 3.75, 3.80, 3.90, 4.00, 4.10, 4.20])
_LIPO_PCT = np.array([0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 65.0, 80.0, 90.0, 100.0])
BATTERY_LOW_PCT = 20

# Received signal strength, dBm: at -70 and below a 2.4 GHz link starts to lose packets.
SIGNAL_WORDS = ((-60, "good"), (-70, "fair"), (-200, "weak"))


def battery_percent(volts: float) -> int:
    """Charge left in one LiPo cell at ``volts`` (0..100)."""
    return int(round(float(np.interp(volts, _LIPO_V, _LIPO_PCT))))


def battery_text(volts: float | None) -> str:
    """"3.92 V 74 %", or "—" when the device does not report it (firmware from before STATUS
    carried the battery)."""
    if volts is None:
        return "\u2014"
    return f"{volts:.2f} V {battery_percent(volts)} %"


def signal_text(rssi_dbm: float | None, transport: str | None) -> str:
    if transport == "usb":
        return "cable"
    if rssi_dbm is None:
        return "\u2014"
    word = next(w for floor, w in SIGNAL_WORDS if rssi_dbm >= floor)
    return f"{rssi_dbm:.0f} dBm ({word})"


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


# ----------------------------------------------------------------------------- the devices


@dataclass
class DeviceState:
    """What the station knows of one device's link, from its `DeviceMessage`s.

    ``link``: "waiting" (nothing heard yet), "up", "down" (unplugged, out of WiFi, switched
    off) or "stalled" (connected, but no samples come); ``since`` the clock time it became
    so. ``battery_v`` and ``rssi_dbm`` are the last STATUS's (None if the firmware does not
    say: old firmware has no battery field, and a device on USB no signal)."""

    role: str
    transport: str | None = None
    device_id: str | None = None
    link: str = "waiting"
    since: float = 0.0
    reason: str = ""
    battery_v: float | None = None
    rssi_dbm: float | None = None
    drops: int = 0

    @property
    def title(self) -> str:
        return ROLE_TITLES.get(self.role, self.role)

    @property
    def is_out(self) -> bool:
        """The device gives no samples now (its hand or strip is shown greyed)."""
        return self.link in ("down", "stalled")

    def take(self, message: Any, now: float) -> bool:
        """Apply one of the device's link messages; True if what is shown changed."""
        if isinstance(message, LinkDown):
            if self.link != "down":
                self.drops += 1
                self._set("down", now, message.reason)
            return True
        if isinstance(message, LinkStalled):
            # the stall began silent_s before it was reported
            self._set("stalled", now - message.silent_s, message.reason)
            return True
        if isinstance(message, (LinkUp, LinkResumed)):
            if isinstance(message, LinkUp):
                self.device_id = message.hello.info.get("glove_id", self.device_id)
            self._set("up", now, "")
            return True
        if isinstance(message, SamplesReceived):
            return self.heard(now)
        if isinstance(message, StatusReceived):
            status = message.status
            # getattr: STATUS from firmware before the battery and signal fields has neither
            self.battery_v = getattr(status, "battery_v", None)
            self.rssi_dbm = getattr(status, "rssi_dbm", None)
            return True
        return False

    def heard(self, now: float) -> bool:
        """Samples came from the device: before any link event, that is the proof of a link
        (a replay, or a pipeline that does not pass link events on)."""
        if self.link != "waiting":
            return False
        self._set("up", now, "")
        return True

    def _set(self, link: str, now: float, reason: str) -> None:
        self.link, self.since, self.reason = link, now, reason

    def link_text(self, now: float) -> str:
        """"link up", "link lost 12 s", "no samples 3 s", "waiting"."""
        if self.link == "down":
            return f"link lost {_ago(now - self.since)}"
        if self.link == "stalled":
            return f"no samples {_ago(now - self.since)}"
        return "link up" if self.link == "up" else "waiting"

    def out_note(self, now: float) -> str | None:
        """The line over a greyed hand or strip: "left glove: link lost 12 s"."""
        if not self.is_out:
            return None
        return f"{self.title.lower()}: {self.link_text(now)}"


# ----------------------------------------------------------------------------- the model


class StationModel(Listener):
    """What the station view shows, from the station pipeline's messages; no Qt.

    In a `Notifier` it goes after the station's coaching listener (it takes `StationUpdate`
    and `DeviceMessage` through ``on_other``); `take()` feeds it by hand. ``transports`` (role
    -> "usb"/"wifi", e.g. `StationChoice.transports()`) and ``device_ids`` label the devices;
    ``clock`` times the drops ("link lost 12 s")."""

    def __init__(self, layout: StationLayout, rate_hz: float, *, window_s: float = 10.0,
                 transports: Mapping[str, str] | None = None,
                 device_ids: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.rate_hz = float(rate_hz)
        self.window_s = window_s
        self.clock = clock
        self.hands = layout.hands
        capacity = int(round(window_s * rate_hz))
        self.glove_ids: dict[str, tuple[str, ...]] = {}
        self._glove_cols: dict[str, np.ndarray] = {}
        self._spine_cols: dict[str, np.ndarray] = {}
        self.rings: dict[str, ForceRing] = {}
        self.boards: dict[str, AlertBoard] = {}
        self.limits: dict[str, dict] = {}
        for hand in self.hands:
            ids = layout.hand_channels(hand)
            glove = tuple(c for c in ids if c not in SPINE_CHANNELS)
            self.glove_ids[hand] = glove
            self._glove_cols[hand] = np.array([ids.index(c) for c in glove], dtype=np.intp)
            self._spine_cols[hand] = np.array([k for k, c in enumerate(ids) if c in SPINE_CHANNELS],
                                              dtype=np.intp)
            self.rings[hand] = ForceRing(capacity, len(glove))
            self.boards[hand] = AlertBoard()
            self.limits[hand] = {}
        spine_role = layout.spine_role()
        self.spine_ids: tuple[str, ...] = tuple(
            c for c in layout.device(spine_role).channels if c in SPINE_CHANNELS) if spine_role else ()
        self.spine_ring = ForceRing(capacity, len(self.spine_ids)) if self.spine_ids else None
        self.station_board = AlertBoard()
        self.devices: dict[str, DeviceState] = {
            role: DeviceState(role, (transports or {}).get(role), (device_ids or {}).get(role))
            for role in layout.roles}
        self.technique: dict = {}
        # role -> whether the newest StationUpdate had its samples (the station listener's
        # `present`): a device can be absent with no link event to say so (a recording)
        self.present: dict[str, bool] = {}
        self.end_index = 0
        self.updates_seen = 0
        self._notes_seen: set[tuple[str, object, str]] = set()

    # -- input -------------------------------------------------------------------------------
    def take(self, messages: Any) -> None:
        """A `StationUpdate`, a `DeviceMessage`, or an iterable of them."""
        if isinstance(messages, (StationUpdate, DeviceMessage)):
            messages = [messages]
        for message in messages:
            self.on_other(message)

    def on_other(self, message: Any) -> None:
        if isinstance(message, StationUpdate):
            self.on_station_update(message)
        elif isinstance(message, DeviceMessage):
            self.on_device_message(message)

    def on_station_update(self, update: StationUpdate) -> None:
        for hand, cu in update.hands.items():
            if hand not in self.rings:
                raise ValueError(f"a {hand} hand update for a station whose hands are "
                                 f"{', '.join(self.hands) or 'none'}")
            ring = self.rings[hand]
            if cu.block is not None:
                newtons = cu.block.newtons
                ring.append(cu.first_index, newtons[:, self._glove_cols[hand]])
                if self.spine_ring is not None and len(self._spine_cols[hand]):
                    # both hands carry the strip's columns; the ring keeps the first and
                    # skips the overlap
                    self.spine_ring.append(cu.first_index, newtons[:, self._spine_cols[hand]])
            else:   # a gap: the plot breaks there
                ring.append(cu.first_index + cu.n_samples, np.empty((0, ring.n_channels), np.float32))
            board = self.boards[hand]
            board.apply_engine_events(cu.events)
            if cu.block is not None:
                board.update_live(cu.active_alerts)
            if cu.state is not None:
                self.limits[hand] = dict(getattr(cu.state, "limits", None) or {})
        self.station_board.apply_engine_events(
            e for e in update.events if hasattr(e, "state") and hasattr(e, "kind"))
        if update.technique:
            self.technique = dict(update.technique)
        present = getattr(update, "present", None)
        if isinstance(present, Mapping):
            self.present.update({role: bool(here) for role, here in present.items()})
            for role, here in present.items():
                device = self.devices.get(role)
                if here and device is not None:
                    device.heard(self.clock())
        self.end_index = max(self.end_index, update.first_index + update.n_samples)
        self.updates_seen += 1

    def on_device_message(self, message: DeviceMessage) -> None:
        device = self.devices.get(message.role)
        if device is None:
            return      # a device this station does not use (another station's, on the broker)
        if isinstance(message.message, InstructorNote):
            self.on_instructor_note(message.message)
            return
        device.take(message.message, self.clock())

    def on_instructor_note(self, note: InstructorNote) -> None:
        """The classroom instructor's message (or mark) for this station, in the banner: it
        comes once on each of the station's devices, and is shown once."""
        text = note.text
        if note.identity in self._notes_seen:
            return
        self._notes_seen.add(note.identity)
        if note.kind == "message" and text:
            words = f"From the instructor: {text}"
        elif note.kind == "mark":
            words = "The instructor marked this moment" + (f": {text}" if text else "")
        else:
            return
        kind = f"instructor_{note.kind}"
        self.station_board.begin(Alert(kind, words, self.now_s, severity=SEVERITY[kind], instant=True))

    # -- output ------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.end_index / self.rate_hz

    def glove_role(self, hand: str) -> str:
        return self.layout.glove_role(hand)

    def out_note(self, role: str | None) -> str | None:
        """Why device ``role`` gives no samples now ("left glove: link lost 12 s"), or None
        while it does. A link event says how long; a device the station update marks absent
        without one (a replay) is "no samples"."""
        if role is None or role not in self.devices:
            return None
        device = self.devices[role]
        if device.is_out:
            return device.out_note(self.clock())
        if self.present.get(role) is False:
            return f"{device.title.lower()}: no samples"
        return None

    def hand_note(self, hand: str) -> str | None:
        """The note over ``hand`` while its glove (or the kit) gives no samples."""
        return self.out_note(self.glove_role(hand))

    def spine_note(self) -> str | None:
        return self.out_note(self.layout.spine_role())

    def map_forces(self, hand: str) -> np.ndarray:
        return _peak(self.rings[hand], int(MAP_PEAK_S * self.rate_hz))

    def spine_forces(self) -> np.ndarray:
        if self.spine_ring is None:
            return np.zeros(0)
        return _peak(self.spine_ring, int(MAP_PEAK_S * self.rate_hz))

    def channel_alerts(self, hand: str) -> dict[str, str]:
        return self.boards[hand].channel_alerts()

    def spine_alerts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for board in (*self.boards.values(), self.station_board):
            out.update({c: k for c, k in board.channel_alerts().items() if c in self.spine_ids})
        return out

    def current_alerts(self) -> list[Alert]:
        """What the banner shows, worst first (as `AlertBoard.current`): the devices that
        dropped out (danger: that part of the station is blind), each hand's alerts named by
        hand, and the station's own; a spine alert both hands' engines raised is shown once."""
        now_s = self.now_s
        shown: list[Alert] = []
        for role, device in self.devices.items():
            note = self.out_note(role)
            if note:
                shown.append(Alert(f"link_{device.link}" if device.is_out else "device_absent",
                                   f"{note[0].upper()}{note[1:]}; the rest of the station goes on.",
                                   now_s, severity=SEVERITY["link_down"]))
        seen: set[tuple[str, str | None]] = set()
        for alert in self.station_board.current(now_s):
            seen.add(alert.key)
            shown.append(alert)
        for hand in self.hands:
            for alert in self.boards[hand].current(now_s):
                if alert.channel in self.spine_ids or alert.channel is None and \
                        alert.kind == "spine_contact":
                    if alert.key in seen:
                        continue
                    seen.add(alert.key)
                    shown.append(alert)
                    continue
                shown.append(dataclasses.replace(
                    alert, message=f"{hand.capitalize()} hand: {alert.message}",
                    live_message=(f"{hand.capitalize()} hand: {alert.live_message}"
                                  if alert.live_message else None)))
        rank = {"danger": 0, "warning": 1, "info": 2}
        return sorted(shown, key=lambda a: (rank[a.severity], a.instant, a.at_s))

    def technique_of(self, hand: str) -> str | None:
        return self.technique.get(hand)

    def technique_line(self) -> tuple[str, bool]:
        """The station's technique in words, and whether the hands disagree."""
        t = self.technique
        if not t:
            return "Technique: \u2014", False
        hands = [h for h in self.hands if h in t]
        if len(hands) == 2 and t.get("agree") is False:
            per = ", ".join(f"{h} {theme.technique_label(t.get(h))}" for h in hands)
            return f"The hands differ: {per}", True
        station = t.get("station") or (t.get(hands[0]) if hands else None)
        return f"Technique: {theme.technique_label(station)}", False


def _peak(ring: ForceRing, n: int) -> np.ndarray:
    _, rows = ring.latest(max(1, n))
    if rows.shape[0] == 0 or not np.isfinite(rows).any():
        return np.zeros(ring.n_channels)
    return np.nan_to_num(np.nanmax(np.where(np.isfinite(rows), rows, -np.inf), axis=0), neginf=0.0)


# ----------------------------------------------------------------------------- the widgets


class DeviceCard(QtWidgets.QFrame):
    """One device in the strip: role and id, transport, link, battery, signal."""

    def __init__(self, role: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName("deviceCard")
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setHorizontalSpacing(14)
        layout.setVerticalSpacing(0)
        self.name = QtWidgets.QLabel()
        self.name.setFont(theme.font(11, bold=True))
        self.link = QtWidgets.QLabel()
        self.link.setFont(theme.font(11, bold=True))
        self.details = QtWidgets.QLabel()
        self.details.setFont(theme.font(10))
        self.details.setStyleSheet(f"color: {theme.TEXT_DIM};")
        layout.addWidget(self.name, 0, 0)
        layout.addWidget(self.link, 0, 1, QtCore.Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.details, 1, 0, 1, 2)
        self._shown: tuple = ()

    def show_state(self, device: DeviceState, now: float) -> None:
        transport = TRANSPORT_LABELS.get(device.transport or "", "\u2014")
        name = device.title + (f"  {device.device_id}" if device.device_id else "")
        link = device.link_text(now)
        symbol = {"up": "\u25CF", "down": "\u2716", "stalled": "\u25B2"}.get(device.link, "\u25CB")
        battery = battery_text(device.battery_v)
        low = device.battery_v is not None and battery_percent(device.battery_v) <= BATTERY_LOW_PCT
        details = (f"{transport}   \u00B7   battery {battery}{' LOW' if low else ''}   \u00B7   "
                   f"signal {signal_text(device.rssi_dbm, device.transport)}")
        shown = (name, link, details, device.link, low)
        if shown == self._shown:
            return
        self._shown = shown
        self.name.setText(name)
        self.link.setText(f"{symbol} {link}")
        colour = {"up": theme.OK_TEAL, "down": theme.ALERT_RED,
                  "stalled": theme.ALERT_RED}.get(device.link, theme.TEXT_DIM)
        self.link.setStyleSheet(f"color: {colour};")
        self.details.setText(details)
        self.details.setStyleSheet(f"color: {theme.ALERT_AMBER if low else theme.TEXT_DIM};")
        edge = theme.ALERT_RED if device.is_out else theme.GRID
        self.setStyleSheet(f"#deviceCard {{ background: {theme.PANEL}; border: "
                           f"{2 if device.is_out else 1}px solid {edge}; border-radius: 4px; }}"
                           "#deviceCard QLabel { background: transparent; }")

    def text(self) -> str:
        return f"{self.name.text()} | {self.link.text()} | {self.details.text()}"


class HandPanel(QtWidgets.QWidget):
    """One hand: its technique line, its map (left mirrored) and its force plots."""

    def __init__(self, model: StationModel, hand: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.hand = hand
        self.header = QtWidgets.QLabel()
        self.header.setFont(theme.font(13, bold=True))
        self.hand_map = HandMap(model.glove_ids[hand], hand=hand,
                                title=f"{hand.capitalize()} hand (palm side)")
        self.plots = ForcePlots(channels_of(model.glove_ids[hand]), model.rate_hz, model.window_s)
        self.plots.setMinimumHeight(180)
        self.hand_map.setMinimumHeight(150)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.header)
        layout.addWidget(self.hand_map, 2)
        layout.addWidget(self.plots, 3)
        self._bands_key: object = object()
        self._plotted = -1
        self.out = False


class StationView(QtWidgets.QWidget):
    """The station on one screen: device strip, technique, alert banner, and per hand its
    map and plots; the spine strip between the hands."""

    def __init__(self, model: StationModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setAutoFillBackground(True)
        self.setStyleSheet(f"background: {theme.BACKGROUND}; color: {theme.TEXT};")

        self.cards: dict[str, DeviceCard] = {role: DeviceCard(role) for role in model.layout.roles}
        strip = QtWidgets.QHBoxLayout()
        strip.setSpacing(8)
        for card in self.cards.values():
            strip.addWidget(card, 1)
        self.technique = QtWidgets.QLabel()
        self.technique.setFont(theme.font(15, bold=True))
        self.banner = AlertBanner()
        # The banner keeps one height, the one a two-line alert needs, whether there is an
        # alert or not: when one begins nothing else moves. A banner that grew would resize
        # every plot below it in the very frame that shows the alert (measured: 45-70 ms to
        # relayout and repaint them, against 8 ms for a frame without it).
        self.banner.hold_height(self._alert_banner_height())
        self.panels: dict[str, HandPanel] = {hand: HandPanel(model, hand) for hand in model.hands}
        self.spine_map = SpineMap(model.spine_ids)
        self.spine_map.setMinimumWidth(150)
        self.spine_map.setMaximumWidth(260)

        body = QtWidgets.QHBoxLayout()
        body.setSpacing(10)
        # the left hand on the left, as the trainee stands; the strip between the hands
        if "left" in self.panels:
            body.addWidget(self.panels["left"], 5)
        body.addWidget(self.spine_map, 2)
        if "right" in self.panels:
            body.addWidget(self.panels["right"], 5)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(strip)
        layout.addWidget(self.technique)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)
        self._frame = 0
        self._plot_scale = 1.0
        self.redraw()

    def _alert_banner_height(self) -> int:
        shown = self.banner.shown
        self.banner.show_alerts([Alert("overforce", "W" * 60, 0.0, severity="danger")], force=True)
        self.banner.text.setWordWrap(False)
        line = self.banner.sizeHint().height()
        self.banner.text.setWordWrap(True)
        self.banner.show_alerts(shown, force=True)
        return int(line + self.banner.text.fontMetrics().lineSpacing())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        # Two hands share the width one hand had in the live view: below ~640 px a plot's
        # title row (the group and its sensors' names) no longer fits at full size.
        width = min((p.width() for p in self.panels.values()), default=1000)
        scale = 1.0 if width >= 640 else 0.85
        if scale != self._plot_scale:
            self._plot_scale = scale
            for panel in self.panels.values():
                panel.plots.set_type_scale(scale)

    def take(self, messages: Any) -> None:
        """Feed the model (a `StationUpdate`, a `DeviceMessage` or several); `redraw` shows it."""
        self.model.take(messages)

    def redraw(self) -> None:
        model = self.model
        now = model.clock()
        for role, card in self.cards.items():
            card.show_state(model.devices[role], now)
        text, differ = model.technique_line()
        self.technique.setText(text)
        self.technique.setStyleSheet(f"color: {theme.ALERT_AMBER if differ else theme.TEXT};")
        self.banner.show_alerts(model.current_alerts())
        self._frame += 1
        for hand, panel in self.panels.items():
            self._draw_hand(panel, hand)
        self.spine_map.set_link_note(model.spine_note())
        spine_alerts = model.spine_alerts()
        if model.spine_ids and (self._frame % 2 == 0 or spine_alerts != self.spine_map.alerts):
            self.spine_map.set_values(model.spine_forces(), spine_alerts)

    def _draw_hand(self, panel: HandPanel, hand: str) -> None:
        model = self.model
        technique = theme.technique_label(model.technique_of(hand))
        note = model.hand_note(hand)
        panel.header.setText(f"{hand.capitalize()} hand \u00B7 {technique}" if not note
                             else f"{hand.capitalize()} hand \u00B7 {note}")
        panel.header.setStyleSheet(f"color: {theme.ALERT_RED if note else theme.TEXT};")
        panel.hand_map.set_link_note(note)
        if panel.out != bool(note):
            panel.out = bool(note)
            # the plots of a hand that is gone are dimmed (its gap shows as a break)
            effect = QtWidgets.QGraphicsOpacityEffect(panel.plots) if note else None
            if effect is not None:
                effect.setOpacity(0.35)
            panel.plots.setGraphicsEffect(effect)
        limits = model.limits[hand]
        key = tuple(sorted(limits.items()))
        if key != panel._bands_key:
            panel._bands_key = key
            panel.plots.set_limits(lambda channel_id: limits.get(channel_id, (None, None)))
        ring = model.rings[hand]
        if len(ring) and model.end_index != panel._plotted:
            panel._plotted = model.end_index
            # "now" is the station's newest sample, so a hand whose glove is gone scrolls
            # on with the other one and shows its gap growing
            panel.plots.refresh(ring, now_index=model.end_index)
        # as in LiveView: the maps show a 0.25 s peak, so every other frame (~15 fps) loses
        # nothing; a change of alert outlines is drawn at once
        alerts = model.channel_alerts(hand)
        if self._frame % 2 == 0 or alerts != panel.hand_map.alerts:
            panel.hand_map.set_values(model.map_forces(hand), alerts)


def station_view_for(choice: Any, rate_hz: float, **kwargs: Any) -> StationView:
    """A `StationView` for a paired station (`app.pairing.StationChoice`): its layout, each
    device's transport and id on the strip."""
    model = StationModel(choice.layout, rate_hz, transports=choice.transports(),
                         device_ids={r: d.device_id for r, d in choice.devices.items()}, **kwargs)
    return StationView(model)


__all__ = ["DeviceCard", "DeviceState", "HandPanel", "StationModel", "StationView",
           "battery_percent", "battery_text", "signal_text", "station_view_for"]
