"""What a session window shows, computed from raw blocks; no Qt here.

`SessionModel` is the screen's side of the pipeline, used alike by the live window and by
replay: the pipeline's `CoachingListener` turns raw blocks into newtons and engine events, and
the model puts them in a ring buffer (plots, maps) and an `AlertBoard` (banner, log). The app adds no rules of its
own: the alerts are the engine's events, the force bands are the protocol's windows.
The only alerts the app raises itself are about the device link (unplugged, reconnected,
stalled, resumed, invalid data from the device) and the device's own STATUS flags, which are
facts reported by the link, not judgements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.app.ring import ForceRing
from glovecoach.calibration import Calibration
from glovecoach.pipeline import Listener
from glovecoach.pipeline.coaching import CoachingListener, CoachingUpdate
from glovecoach.vocabulary.sensors import Channel, load_sensor_map

# How an engine event kind is presented (severity decides banner colour and order).
SEVERITY = {
    "spine_contact": "danger",
    "overforce": "danger",
    "link_down": "danger",
    "recording_stopped": "danger",
    "link_stalled": "danger",     # no samples: as blind as an unplugged glove
    "saturation": "warning",
    "open_sensor": "warning",
    "sensor_fault": "warning",
    "underforce": "warning",
    "violation": "warning",
    "cue": "warning",
    "device_flag": "warning",
    "device_problem": "warning",
    "link_up": "info",
    "instructor_message": "info",
    "instructor_mark": "info",
    "link_resumed": "info",
    "phase_change": "info",
}
_SEVERITY_RANK = {"danger": 0, "warning": 1, "info": 2}
# An instant event stays in the banner this long (session seconds); an instructor's message
# longer, since the trainee's eyes are on the partner's back, not on the screen.
INSTANT_SHOW_S = 5.0
SHOW_S = {"instructor_message": 30.0}


@dataclass
class Alert:
    kind: str
    message: str
    at_s: float
    channel: str | None = None
    severity: str = "warning"
    ended_s: float | None = None
    instant: bool = False
    # while a force alert lasts, the engine's sentence with the episode's peak so far (the
    # banner shows it); `message` stays as the alert began, as the log lists it
    live_message: str | None = None

    @property
    def shown_message(self) -> str:
        return self.live_message or self.message

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.channel)


@dataclass
class AlertBoard:
    """Active alerts (begin..end), recent instant ones, and the log of everything with times."""

    active: dict[tuple[str, str | None], Alert] = field(default_factory=dict)
    log: list[Alert] = field(default_factory=list)
    _recent: list[Alert] = field(default_factory=list)
    new_dangers: int = 0     # danger alerts begun since the last `take_new_dangers()` (sound)

    def begin(self, alert: Alert) -> None:
        if alert.key in self.active and not alert.instant:
            self.active[alert.key].message = alert.message
            return
        self.log.append(alert)
        if alert.instant:
            self._recent.append(alert)
        else:
            self.active[alert.key] = alert
        if alert.severity == "danger":
            self.new_dangers += 1

    def end(self, kind: str, channel: str | None, at_s: float) -> None:
        alert = self.active.pop((kind, channel), None)
        if alert is not None:
            alert.ended_s = at_s

    def apply_engine_events(self, events: Iterable[Any]) -> None:
        for ev in events:
            kind = ev.kind
            if ev.state == "end":
                self.end(kind, ev.channel, ev.at_s)
                continue
            self.begin(Alert(kind=kind, message=ev.message or kind.replace("_", " "),
                             at_s=ev.at_s, channel=ev.channel,
                             severity=SEVERITY.get(kind, "warning"),
                             instant=ev.state == "instant"))

    def update_live(self, engine_alerts: Iterable[Any]) -> None:
        """Bring the active alerts' live sentences up to the engine's (ActiveAlert)."""
        for a in engine_alerts:
            alert = self.active.get((a.kind, a.channel))
            if alert is not None:
                alert.live_message = a.message

    def current(self, now_s: float) -> list[Alert]:
        """What the banner shows now: worst first; within a severity, ongoing alerts before
        instant ones and the oldest first, so the banner does not flicker between alerts."""
        self._recent = [a for a in self._recent if now_s - a.at_s <= SHOW_S.get(a.kind, INSTANT_SHOW_S)]
        shown = list(self.active.values()) + [a for a in self._recent if a.kind != "phase_change"]
        return sorted(shown, key=lambda a: (_SEVERITY_RANK[a.severity], a.instant, a.at_s))

    def channel_alerts(self) -> dict[str, str]:
        """channel id -> alert kind, for the maps' outlines (worst alert per channel)."""
        out: dict[str, str] = {}
        for alert in sorted(self.active.values(), key=lambda a: _SEVERITY_RANK[a.severity],
                            reverse=True):
            if alert.channel:
                out[alert.channel] = alert.kind
        return out

    def take_new_dangers(self) -> int:
        n, self.new_dangers = self.new_dangers, 0
        return n


def channels_of(ids: Sequence[str]) -> list[Channel]:
    """Sensor-map channels for the ids a device (or recording) announces, in that order."""
    smap = load_sensor_map()
    known = set(smap.ids)
    unknown = [c for c in ids if c not in known]
    if unknown:
        raise ValueError(f"channels not in hardware/sensor_map.json: {', '.join(unknown)}")
    return [smap.by_id(c) for c in ids]


class SessionModel(Listener):
    """What the window shows, from the pipeline's messages: forces for the plots and maps,
    engine state, alerts and the report.

    It owns the session's `CoachingListener` (raw -> newtons -> engine) and displays the
    `CoachingUpdate`s it answers with; in a `Notifier` it goes right after that listener
    (`listeners()`), and `process_raw`/`gap` feed the same path by hand (tests, tools).
    """

    MAP_PEAK_S = 0.25   # the maps show each sensor's peak over this last stretch

    def __init__(self, *, protocol: Any, calibration: Calibration, channels: Sequence[str],
                 rate_hz: float, window_s: float = 10.0, device_info: dict | None = None) -> None:
        self.protocol = protocol
        self.calibration = calibration
        self.channel_ids = tuple(channels)
        self.channels = channels_of(self.channel_ids)
        self.rate_hz = float(rate_hz)
        self.window_s = window_s
        self.ring = ForceRing(int(round(window_s * rate_hz)), len(self.channel_ids))
        self.coaching = CoachingListener(protocol=protocol, calibration=calibration,
                                         channels=self.channel_ids, rate_hz=rate_hz,
                                         device_info=device_info, with_state=True)
        self._state = self.coaching.engine.state   # until the first update brings one
        self.alerts = AlertBoard()
        self.events: list[Any] = []          # every engine event, in order
        self.end_index = 0                   # one past the last sample (or gap) seen
        self.samples_seen = 0

    def listeners(self) -> list[Listener]:
        """This model's place in a pipeline: the coaching, then the display."""
        return [self.coaching, self]

    # -- input ---------------------------------------------------------------------------
    def process_raw(self, first_index: int, raw: np.ndarray) -> list[Any]:
        return self._show(self.coaching.process_raw(first_index, raw))

    def gap(self, first_index: int, n_samples: int) -> list[Any]:
        return self._show(self.coaching.gap(first_index, n_samples))

    def _show(self, updates: list[CoachingUpdate]) -> list[Any]:
        events: list[Any] = []
        for update in updates:
            self.on_coaching(update)
            events.extend(update.events)
        return events

    def on_other(self, message: Any) -> None:
        if isinstance(message, CoachingUpdate):
            self.on_coaching(message)

    def on_coaching(self, update: CoachingUpdate) -> None:
        if update.block is not None:
            self.ring.append(update.first_index, update.block.newtons)
            self.samples_seen += update.n_samples
        else:
            self.ring.append(update.first_index + update.n_samples,
                             np.empty((0, len(self.channel_ids)), dtype=np.float32))
        self._take(list(update.events))
        if update.state is not None:
            self._state = update.state
        if update.block is not None:
            self.alerts.update_live(update.active_alerts)
        self.end_index = max(self.end_index, update.first_index + update.n_samples)

    def _take(self, events: list[Any]) -> None:
        self.events.extend(events)
        self.alerts.apply_engine_events(events)

    # -- the link's messages (facts reported by the link, shown as alerts) ------------------
    def on_link_down(self, message: Any) -> None:
        self.link_lost()
        self.link_down(message.reason)

    def on_link_up(self, message: Any) -> None:
        self.link_up()

    def on_link_stalled(self, message: Any) -> None:
        self.link_stalled(message.silent_s, message.reason)

    def on_link_resumed(self, message: Any) -> None:
        self.link_resumed(message.silent_s)

    def on_device_problem(self, message: Any) -> None:
        self.device_problem(message.device, message.field, message.message, message.count)

    # -- app-level facts -----------------------------------------------------------------
    def link_down(self, reason: str) -> None:
        self.alerts.begin(Alert("link_down", f"Glove disconnected ({reason}). Plug it back in "
                                "to carry on; the session keeps recording.", self.now_s,
                                severity="danger"))

    def link_up(self) -> None:
        if ("link_down", None) in self.alerts.active:
            self.alerts.end("link_down", None, self.now_s)
            self.alerts.begin(Alert("link_up", "Glove reconnected: session resumed.",
                                    self.now_s, severity="info", instant=True))

    def link_stalled(self, silent_s: float, reason: str = "") -> None:
        """The link is up but no samples come: to the trainee the glove is as good as
        unplugged, so it is shown the same way (a STOP alert until samples come back)."""
        why = f" ({reason})" if reason else ""
        self.alerts.begin(Alert("link_stalled", f"The glove stopped sending samples{why}. "
                                "Check that it is switched on; the session keeps recording "
                                "and the missing stretch is marked.", self.now_s,
                                severity="danger"))

    def link_resumed(self, silent_s: float) -> None:
        if ("link_stalled", None) in self.alerts.active:
            self.alerts.end("link_stalled", None, self.now_s)
            self.alerts.begin(Alert("link_resumed", f"The glove is sending samples again "
                                    f"(silent for {silent_s:.1f} s): session resumed.",
                                    self.now_s, severity="info", instant=True))

    def recording_stopped(self, reason: str) -> None:
        """The recording could not go on (a full disk): say so; coaching goes on."""
        self.alerts.begin(Alert("recording_stopped", f"Recording stopped: {reason}. Coaching goes on, "
                                "but this session is no longer being saved.", self.end_index / self.rate_hz,
                                severity="danger"))

    def link_lost(self) -> None:
        """The link went down: the unplugged alert replaces a stall alert (the client does
        not send a resume for a stall that ended in an unplug)."""
        self.alerts.end("link_stalled", None, self.now_s)

    def device_problem(self, device: str, field: str, message: str, count: int = 1) -> None:
        """The device sent something invalid (dropped by the link): a warning naming the
        device and the field. The link reports a field at most every 5 s, so a problem that
        persists stays in the banner (each report is shown INSTANT_SHOW_S)."""
        times = f" ({count} times)" if count > 1 else ""
        self.alerts.begin(Alert("device_problem", f"Invalid data from {device}: {field}: "
                                f"{message}{times}.", self.now_s, severity="warning",
                                instant=True))

    # -- output --------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.end_index / self.rate_hz

    @property
    def state(self) -> Any:
        return self._state

    def map_forces(self) -> np.ndarray:
        """Each channel's peak force over the last MAP_PEAK_S (0 where nothing is held)."""
        _, rows = self.ring.latest(max(1, int(self.MAP_PEAK_S * self.rate_hz)))
        if rows.shape[0] == 0 or not np.isfinite(rows).any():
            return np.zeros(len(self.channel_ids))
        return np.nan_to_num(np.nanmax(np.where(np.isfinite(rows), rows, -np.inf), axis=0),
                             neginf=0.0)

    @staticmethod
    def limits_in_force(state: Any) -> dict[str, tuple[float | None, float | None]]:
        """The live force window per glove channel that the engine applies right now."""
        return dict(getattr(state, "limits", None) or {})

    def finish(self) -> Any:
        return self.coaching.finish()
