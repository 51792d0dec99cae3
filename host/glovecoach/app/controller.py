"""`LiveController`: one live session, from a connected `GloveClient` to a saved recording.

The device link runs its own reader thread; the GUI thread only pumps the session's pipeline
(`glovecoach.pipeline.Notifier`) on a QTimer (about 30 times a second), so a slow or
unplugged glove can never freeze the window. Every block goes to the recording first (nothing
received is lost if the app then fails), then through the coaching to the `SessionModel`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from PySide6 import QtCore

from glovecoach.app.session import SessionModel
from glovecoach.calibration import calibration_for
from glovecoach.link.client import GloveClient
from glovecoach.pipeline import Notifier
from glovecoach.pipeline.guarded_recorder import GuardedRecorder
from glovecoach.pipeline.link_monitor import LinkMonitor
from glovecoach.pipeline.recorder import RecorderListener
from glovecoach.recording import RecordingWriter

FRAME_INTERVAL_MS = 33   # ~30 fps (a precise timer, so ticks do not drift late)
DEFAULT_SESSIONS_DIR = Path("~/glovecoach-sessions")


def sessions_dir(override: str | os.PathLike | None = None) -> Path:
    """Where recordings go: the override, else $GLOVECOACH_SESSIONS, else ~/glovecoach-sessions."""
    chosen = override or os.environ.get("GLOVECOACH_SESSIONS") or DEFAULT_SESSIONS_DIR
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_recording_path(directory: Path, trainee: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in trainee.strip()) or "trainee"
    path = directory / f"{stamp}-{safe}.gcrec"
    k = 1
    while path.exists():
        k += 1
        path = directory / f"{stamp}-{safe}-{k}.gcrec"
    return path


def alert_entry(alert: Any) -> dict:
    """One alert of a session's log as the recording's "alert_log" note stores it."""
    return {"kind": alert.kind, "severity": alert.severity, "message": alert.message,
            "at_s": round(alert.at_s, 3), "channel": alert.channel,
            "ended_s": None if alert.ended_s is None else round(alert.ended_s, 3)}


def alert_log_payload(model: SessionModel) -> dict:
    return {"alerts": [alert_entry(a) for a in model.alerts.log]}


class FrameDriven(QtCore.QObject):
    """What a live controller (one glove or a station) does on the GUI thread: a precise
    ~30 fps timer that pumps its pipeline, the views it redraws, and the alert sound."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.views: list[Any] = []
        self._sound = False
        self.sound: Any = None       # the AlertSound, made when sound is first switched on
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        raise NotImplementedError

    def set_sound(self, on: bool) -> None:
        self._sound = on
        if on and self.sound is None:
            from glovecoach.app.sound import AlertSound

            self.sound = AlertSound()

    def redraw_views(self, new_dangers: int) -> None:
        """Redraw every view; beep for `new_dangers` if sound is on (a beep is feedback too:
        none in blind mode)."""
        for view in self.views:
            view.redraw()
        if new_dangers and self._sound and \
                any(getattr(v, "mode", "") != "blind" for v in self.views):
            self.sound.play()

    def close_sound(self) -> None:
        if self.sound is not None:
            self.sound.close()


class LiveController(FrameDriven):
    """Drives one session: poll -> record -> model -> view, until `finish()`."""

    updated = QtCore.Signal()
    # True while samples flow; False while the glove is unplugged *or* stalled (both leave the
    # trainee without feedback, so the toolbar shows them alike)
    link_changed = QtCore.Signal(bool)
    link_state_changed = QtCore.Signal(str)   # "up", "stalled" or "down", to tell them apart
    finished = QtCore.Signal(object)   # the SessionReport

    def __init__(self, client: GloveClient, *, protocol: Any, recording_path: Path,
                 session_info: dict, rate_hz: int = 200, window_s: float = 10.0,
                 calibration_dir: str | os.PathLike | None = None,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        hello = client.hello
        if hello is None:
            raise RuntimeError("LiveController needs a connected client (call connect() first)")
        self.hello = hello
        self.rate_hz = int(rate_hz)
        channels = tuple(hello.channels)
        self.calibration = calibration_for(hello.glove_id, channels, calibration_dir)
        self.model = SessionModel(protocol=protocol, calibration=self.calibration,
                                  channels=channels, rate_hz=self.rate_hz, window_s=window_s,
                                  device_info=dict(hello.info))
        self.recording_path = Path(recording_path)
        self.recorder = GuardedRecorder(RecordingWriter(
            self.recording_path, device_info=dict(hello.info), rate_hz=self.rate_hz,
            channels=channels,
            metadata={**session_info, "protocol": protocol.name,
                      "calibration": {"nominal": bool(self.calibration.nominal),
                                      "glove_id": self.calibration.glove_id}}), self.model.recording_stopped)
        self.session_info = dict(session_info)
        self.recorder.write_note("session_start", session_info)
        self.monitor = LinkMonitor()
        self.notifier = Notifier(client, [RecorderListener(self.recorder, self.rate_hz), self.monitor,
                                          *self.model.listeners()])
        self.link_state = "up"       # what the trainee gets: "up", "stalled" or "down"
        self.report: Any = None

    def recorder_metadata(self) -> dict:
        return {**self.session_info, "recording": str(self.recording_path),
                "glove_id": self.hello.glove_id, "rate_hz": self.rate_hz}

    def start(self) -> None:
        self.client.start(rate_hz=self.rate_hz)
        self.timer.start()

    def tick(self) -> None:
        """Drain the link, record, feed the model, redraw the views."""
        self.drain()
        self.redraw_views(self.model.alerts.take_new_dangers())
        self.updated.emit()

    def drain(self) -> None:
        """Deliver what the link holds: recorder first (nothing received is lost if anything
        after it fails), then the coaching and the display."""
        self.notifier.pump()
        self._set_link_state(self.monitor.state)

    @property
    def link_is_up(self) -> bool:
        """The link itself is up (STOP can be sent), stalled or not."""
        return self.monitor.link_is_up

    def _set_link_state(self, state: str) -> None:
        if state == self.link_state:
            return
        self.link_state = state
        self.link_state_changed.emit(state)
        self.link_changed.emit(state == "up")

    def link_stats(self) -> dict:
        """The link's session counters (duplicates, lost and refused frames, stalls, device
        errors, reconnects: `LinkStats`), for the recording and the debrief."""
        return dataclasses.asdict(self.client.stats)

    def finish(self) -> Any:
        """Stop streaming, take what is still queued, build the report, close the recording."""
        if self.report is not None:
            return self.report
        self.timer.stop()
        try:
            if self.link_is_up:
                self.client.stop()
        except Exception:  # noqa: BLE001 - a glove that vanished at the end loses nothing
            pass
        self.drain()
        self.report = self.model.finish()
        self.recorder.write_note("alert_log", alert_log_payload(self.model))
        self.recorder.write_note("link_stats", self.link_stats())
        self.recorder.write_note("report", self.report.to_dict())
        self.recorder.close()
        self.client.close()
        self.close_sound()
        self.finished.emit(self.report)
        return self.report
