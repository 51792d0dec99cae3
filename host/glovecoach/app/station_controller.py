"""`StationController`: one live station session, from its devices' connected clients to a
saved station recording and the station report.

The station's counterpart of `LiveController`, sharing what matters with it
(`controller.FrameDriven`: the ~30 fps timer, the views, the alert sound; `GuardedRecorder`: a
recording that cannot go on is said once and the coaching goes on). The work itself is
`pipeline.station_session.StationPipeline` (clients -> aligner -> recorder -> station coach
-> the `StationModel`), pumped on the GUI thread: each device's link runs its own reader
thread, so a slow or vanished device never freezes the window.

A device dropping out stops nothing: its client reports `LinkDown` (and reconnects when it
can); the station model greys that device's hand or strip, the aligner stops waiting for it,
and the other devices are coached on.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6 import QtCore

from glovecoach.app.controller import FRAME_INTERVAL_MS, FrameDriven, alert_entry
from glovecoach.app.session import Alert
from glovecoach.app.station_view import ROLE_TITLES, StationModel
from glovecoach.calibration import calibration_for
from glovecoach.link.transport import url_scheme
from glovecoach.pipeline.guarded_recorder import GuardedRecorder
from glovecoach.pipeline.station_session import StationPipeline
from glovecoach.recording import RecordingError, StationRecordingWriter, open_station_recording
from glovecoach.vocabulary.station import StationLayout

STOP_WAIT_S = 2.0     # a STOP's ACK comes within the client's 1 s command timeout


class _StationRecorder(GuardedRecorder):
    """The guarded station writer, closed by the controller rather than by the pipeline.

    `StationPipeline.finish()` closes its writer as its last step (with each device's
    alignment); the app still has the debrief's notes to store after the coaching finished
    (the alert log, the link counters, the report), so the close is taken here with its
    arguments and done by `close_now()` after them."""

    def __init__(self, writer: StationRecordingWriter, on_failure) -> None:
        super().__init__(writer, on_failure)
        self.close_args: dict | None = None

    def close(self, **kwargs) -> None:
        self.close_args = kwargs

    def close_now(self) -> None:
        GuardedRecorder.close(self, **(self.close_args or {}))


def transport_of_url(url: str) -> str:
    """"wifi" for a device reached through the broker (mqtt:, mqtts:), else "usb" (a serial
    port, or the virtual device on its pseudo-terminal)."""
    return "wifi" if url_scheme(str(url)).startswith("mqtt") else "usb"


def station_layout_of(hellos: Mapping[str, Any]) -> StationLayout:
    """The layout of the devices that answered, each in the role it is given; a device whose
    HELLO channel map is not its role's (firmware and host sensor maps disagree) is refused
    here, where it can be named, rather than coached on the wrong columns."""
    layout = StationLayout.for_roles(tuple(hellos))
    for role, hello in hellos.items():
        expected = layout.device(role).channels
        got = tuple(hello.channels)
        if got != expected:
            raise ValueError(f"the {ROLE_TITLES.get(role, role).lower()} ({hello.glove_id}) announces "
                             f"channels {', '.join(got)}; the {role} role has {', '.join(expected)} "
                             f"(update its firmware or the host)")
    return layout


PUMP_MS = 10


class StationController(FrameDriven):
    """Drives one station session: pump -> record -> coach -> model -> views, until `finish()`.

    ``clients``: role -> a connected `GloveClient`. ``transports`` (role -> "usb"/"wifi")
    labels the device strip."""

    updated = QtCore.Signal()
    links_changed = QtCore.Signal(dict)       # role -> "waiting", "up", "down" or "stalled"
    recording_failed = QtCore.Signal(str)
    finished = QtCore.Signal(object)          # the StationReport

    def __init__(self, clients: Mapping[str, Any], *, protocol: Any, recording_path: str | os.PathLike,
                 session_info: dict, rate_hz: int = 200, window_s: float = 10.0,
                 transports: Mapping[str, str] | None = None,
                 calibration_dir: str | os.PathLike | None = None,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        # pumped every PUMP_MS, drawn at ~30 fps (see tick)
        self.timer.setInterval(PUMP_MS)
        self._last_draw = 0.0
        if not clients:
            raise ValueError("a station session needs at least one device")
        missing = [role for role, c in clients.items() if c.hello is None]
        if missing:
            raise RuntimeError(f"StationController needs connected clients (call connect() first): "
                               f"{', '.join(missing)} not connected")
        self.clients = dict(clients)
        self.hellos = {role: c.hello for role, c in self.clients.items()}
        self.layout = station_layout_of(self.hellos)
        self.rate_hz = int(rate_hz)
        self.protocol = protocol
        self.session_info = dict(session_info)
        self.recording_path = Path(recording_path)
        device_info = {role: dict(h.info) for role, h in self.hellos.items()}
        # which devices have a calibration of their own, for the recording's metadata and the
        # debrief (the coaching looks the same ones up)
        self.calibrations = {role: calibration_for(h.glove_id, self.layout.device(role).channels,
                                                   calibration_dir)
                             for role, h in self.hellos.items()}
        self.model = StationModel(self.layout, self.rate_hz, window_s=window_s, transports=transports,
                                  device_ids={role: h.glove_id for role, h in self.hellos.items()})
        writer = StationRecordingWriter(
            self.recording_path, self.layout, self.rate_hz,
            metadata={**self.session_info, "protocol": protocol.name,
                      "calibration": {role: {"nominal": bool(c.nominal), "glove_id": c.glove_id}
                                      for role, c in self.calibrations.items()}})
        self.recorder = _StationRecorder(writer, self.recording_stopped)
        self.recorder.note("session_start", self.session_info)
        self.pipeline = StationPipeline(self.clients, self.layout, self.rate_hz, writer=self.recorder,
                                        protocol=protocol, device_info=device_info,
                                        calibration_dir=calibration_dir, listeners=[self.model],
                                        with_state=True)
        self.report: Any = None
        self._links: dict[str, str] = {}

    # -- state -----------------------------------------------------------------------------
    @property
    def uncalibrated(self) -> list[str]:
        """The roles whose forces come from the typical sensor curve."""
        return [role for role, c in self.calibrations.items() if c.nominal]

    def links(self) -> dict[str, str]:
        return {role: device.link for role, device in self.model.devices.items()}

    def recorder_metadata(self) -> dict:
        return {**self.session_info, "recording": str(self.recording_path), "rate_hz": self.rate_hz,
                "devices": {role: h.glove_id for role, h in self.hellos.items()}}

    def instructor_notes(self) -> dict[str, list[dict]]:
        """The classroom instructor's marks and messages for the debrief, read back from the
        closed recording (what the debrief shows is what the recording holds); none if it
        cannot be read (its failure was said when it stopped)."""
        try:
            return open_station_recording(self.recording_path).instructor_notes()
        except (OSError, RecordingError):
            return {}

    def link_stats(self) -> dict:
        """Each device's link counters (`LinkStats`), for the recording and the debrief."""
        return {role: dataclasses.asdict(c.stats) for role, c in self.clients.items()}

    def recording_stopped(self, reason: str) -> None:
        """The recording could not go on (a full disk): said on the banner; coaching goes on."""
        self.model.station_board.begin(Alert(
            "recording_stopped", f"Recording stopped: {reason}. Coaching goes on, but this session "
            "is no longer being saved.", self.model.now_s, severity="danger"))
        self.recording_failed.emit(reason)

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        for client in self.clients.values():
            client.start(rate_hz=self.rate_hz)
        self.timer.start()

    def drain(self) -> None:
        """Deliver what the devices sent: the recorder first (nothing received is lost if
        anything after it fails), then the coaching and the model."""
        self.pipeline.pump()
        links = self.links()
        if links != self._links:
            self._links = links
            self.links_changed.emit(dict(links))

    def tick(self) -> None:
        """Every PUMP_MS: take what the devices sent; draw at ~30 fps, and at once when an
        alert begins (an alert does not wait for the next frame: benchmarks/bench_station_latency.py)."""
        self.drain()
        model = self.model
        dangers = sum(b.take_new_dangers() for b in (*model.boards.values(), model.station_board))
        now = time.monotonic()
        if dangers or now - self._last_draw >= FRAME_INTERVAL_MS / 1000:
            self._last_draw = now
            self.redraw_views(dangers)
            self.updated.emit()

    def alert_log(self) -> list[dict]:
        """Every alert of the session, each hand's named by its hand, the station's own."""
        out = [{**alert_entry(a), "hand": hand} for hand, board in self.model.boards.items() for a in board.log]
        out += [alert_entry(a) for a in self.model.station_board.log]
        return sorted(out, key=lambda a: a["at_s"])

    def _stop_devices(self) -> None:
        """STOP to every device whose link is up, all at once: one after the other, each
        waiting for its ACK, the session's last slots would lack the devices stopped first."""
        def stop(client: Any) -> None:
            try:
                client.stop()
            except Exception:  # noqa: BLE001 - a device that vanished at the end loses nothing
                pass

        threads = [threading.Thread(target=stop, args=(c,), name="station-stop", daemon=True)
                   for c in self.clients.values() if c.link_up]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(STOP_WAIT_S)

    def finish(self) -> Any:
        """Stop the devices, take what is still queued, build the report, close the recording."""
        if self.report is not None:
            return self.report
        self.timer.stop()
        self._stop_devices()
        self.report = self.pipeline.finish()
        self.recorder.note("alert_log", {"alerts": self.alert_log()})
        self.recorder.note("link_stats", self.link_stats())
        self.recorder.note("report", self.report.to_dict())
        self.recorder.close_now()
        for client in self.clients.values():
            client.close()
        self.close_sound()
        self.finished.emit(self.report)
        return self.report
