"""Replay a recording: play, pause, scrub, through the same model and view as live.

The view at position t is what the live window showed at t: the engine is run over the
recording from the start up to t (in large blocks, which the engine accepts at any size), so
alerts, phase state and plots match the live session. Scrubbing backwards restarts the run
from the start; forwards continues it.

A station recording (.gcrec format 2) replays the same way through the station's own path:
its devices aligned again (`station.replay.align_station_recording`, the slots the live
session had), played by `StationRecordingSource` into the `StationCoachingListener` and the
`StationModel`, and shown in the `StationView`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.live_view import MODE_LABELS, MODES, LiveView
from glovecoach.app.session import SessionModel
from glovecoach.calibration import calibration_for
from glovecoach.pipeline import Notifier
from glovecoach.pipeline.recording_source import RecordingSource
from glovecoach.protocols import default_protocol
from glovecoach.recording import StationRecording, open_any_recording

CATCH_UP_BLOCK = 4096      # samples per engine call when jumping ahead
SLIDER_STEPS_PER_S = 10


class RecordingPlayer:
    """Feeds a recording's rows into a SessionModel up to a chosen session index (no Qt)."""

    def __init__(self, recording: Any, protocol: Any, calibration_dir: Any = None,
                 window_s: float = 10.0) -> None:
        self.recording = recording
        self.protocol = protocol
        self.calibration = calibration_for(recording.glove_id, recording.channels, calibration_dir)
        self.window_s = window_s
        self.total = int(recording.n_total)
        self.model = self._new_model()

    def _new_model(self) -> SessionModel:
        model = SessionModel(protocol=self.protocol, calibration=self.calibration,
                             channels=self.recording.channels, rate_hz=self.recording.rate_hz,
                             window_s=self.window_s, device_info=dict(self.recording.device_info))
        self.source = RecordingSource(self.recording, CATCH_UP_BLOCK)
        self.notifier = Notifier(self.source, model.listeners(), join_samples=False)
        return model

    @property
    def rate_hz(self) -> float:
        return float(self.recording.rate_hz)

    @property
    def position(self) -> int:
        return self.model.end_index

    def seek(self, index: int) -> None:
        """Make the model show the session as it stood just before sample `index`."""
        index = int(min(max(index, 0), self.total))
        if index < self.position:
            self.model = self._new_model()
        self.source.advance_to(index)
        self.notifier.pump()


class StationRecordingPlayer(RecordingPlayer):
    """A station recording's slots through the station's coaching into a `StationModel`, up
    to a chosen station index (no Qt). The devices are aligned once, as the live session
    aligned them (the stored origin and clock fits)."""

    def __init__(self, station: StationRecording, protocol: Any, calibration_dir: Any = None,
                 window_s: float = 10.0) -> None:
        from glovecoach.station.replay import align_station_recording

        self.recording = station
        self.protocol = protocol
        self.calibration_dir = calibration_dir
        self.window_s = window_s
        self.aligned = align_station_recording(station)
        self.total = int(self.aligned.n_total)
        self.device_info = {role: dict(rec.device_info or {}) for role, rec in station.devices.items()}
        self.model = self._new_model()

    @property
    def rate_hz(self) -> float:
        return float(self.aligned.rate_hz)

    @property
    def position(self) -> int:
        return self.source.end_index

    def _new_model(self) -> Any:
        from glovecoach.app.station_controller import transport_of_url
        from glovecoach.app.station_view import StationModel
        from glovecoach.pipeline.station_coaching import StationCoachingListener
        from glovecoach.pipeline.station_source import StationRecordingSource

        layout = self.aligned.layout
        # how each device was reached, from the URLs the session was started with
        urls = self.recording.metadata.get("device_urls") or {}
        model = StationModel(layout, self.rate_hz, window_s=self.window_s,
                             transports={r: transport_of_url(u) for r, u in urls.items()},
                             device_ids={r: i.get("glove_id") for r, i in self.device_info.items()
                                         if i.get("glove_id")})
        coaching = StationCoachingListener(protocol=self.protocol, layout=layout, rate_hz=self.rate_hz,
                                           device_info=self.device_info,
                                           calibration_dir=self.calibration_dir, with_state=True)
        self.source = StationRecordingSource(self.aligned, CATCH_UP_BLOCK)
        self.notifier = Notifier(self.source, [coaching, model], join_samples=False)
        return model


def player_for(recording: Any, protocol: Any, calibration_dir: Any = None) -> RecordingPlayer:
    """The player of a one-device recording or of a station's."""
    if isinstance(recording, StationRecording):
        return StationRecordingPlayer(recording, protocol, calibration_dir)
    return RecordingPlayer(recording, protocol, calibration_dir)


class ReplayWindow(QtWidgets.QMainWindow):
    def __init__(self, path: str | Path, *, protocol: Any | None = None, speed: float = 1.0,
                 calibration_dir: Any = None) -> None:
        super().__init__()
        self.setStyleSheet(theme.app_stylesheet())
        self.path = Path(path)
        self.recording = open_any_recording(self.path)
        self.is_station = isinstance(self.recording, StationRecording)
        self.setWindowTitle(f"glovecoach replay \u2014 {self.path.name}")
        self.protocol = protocol or default_protocol()
        self.player = player_for(self.recording, self.protocol, calibration_dir)
        self.speed = speed
        self.duration_s = self.player.total / self.player.rate_hz
        self.view = self._make_view(self.player.model)

        self.play_button = QtWidgets.QPushButton("\u25B6 Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, int(self.duration_s * SLIDER_STEPS_PER_S))
        self.slider.sliderMoved.connect(lambda v: self.seek_s(v / SLIDER_STEPS_PER_S))
        self.slider.sliderReleased.connect(
            lambda: self.seek_s(self.slider.value() / SLIDER_STEPS_PER_S))
        self.clock = QtWidgets.QLabel()
        self.clock.setFont(theme.font(12, bold=True))
        self.speed_box = QtWidgets.QComboBox()
        for s in (0.5, 1, 2, 5, 10, 30):
            self.speed_box.addItem(f"{s:g}\u00d7", float(s))
        self.speed_box.setCurrentIndex(self.speed_box.findData(float(speed)))
        self.speed_box.currentIndexChanged.connect(
            lambda _i: setattr(self, "speed", self.speed_box.currentData()))
        self.mode = QtWidgets.QComboBox()
        for mode in MODES[:2]:
            self.mode.addItem(MODE_LABELS[mode], mode)
        self.mode.currentIndexChanged.connect(lambda _i: self.view.set_mode(self.mode.currentData()))
        self.mode.setVisible(not self.is_station)    # the station view has no feedback modes
        controls = QtWidgets.QHBoxLayout()
        controls.setContentsMargins(8, 4, 8, 0)
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.clock)
        controls.addWidget(QtWidgets.QLabel("Speed"))
        controls.addWidget(self.speed_box)
        controls.addWidget(self.mode)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        self.central_layout = layout
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._advance)
        self._elapsed = QtCore.QElapsedTimer()
        self.resize(1400, 900)
        self._render()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if self.player.position >= self.player.total:
            self.seek_s(0.0)
        self._elapsed.start()
        self.timer.start()
        self.play_button.setText("\u275A\u275A Pause")

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setText("\u25B6 Play")

    def seek_s(self, t: float) -> None:
        self.seek_index(int(round(t * self.player.rate_hz)))

    def seek_index(self, index: int) -> None:
        before = self.player.model
        self.player.seek(index)
        if self.player.model is not before:
            self._swap_model()
        self._render()
        # the views draw their maps every other frame (plenty at 30 fps); a seek while paused
        # is a single frame, which may be the one without them
        self.view.redraw()

    def _make_view(self, model: Any) -> QtWidgets.QWidget:
        if self.is_station:
            from glovecoach.app.station_view import StationView

            return StationView(model)
        return LiveView(model)

    def _swap_model(self) -> None:
        old = self.view
        self.view = self._make_view(self.player.model)
        if not self.is_station:
            self.view.set_instructor(old.instructor)
            self.view.set_mode(old.mode)
        self.central_layout.replaceWidget(old, self.view)
        old.deleteLater()

    def _advance(self) -> None:
        dt = self._elapsed.restart() / 1000.0
        step = max(1, int(round(dt * self.speed * self.player.rate_hz)))
        self.player.seek(self.player.position + step)
        if self.player.position >= self.player.total:
            self.pause()
        self._render()

    def _render(self) -> None:
        self.view.redraw()
        t = self.player.position / self.player.rate_hz
        self.clock.setText(f"{theme.format_clock(t)} / {theme.format_clock(self.duration_s)}")
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(int(t * SLIDER_STEPS_PER_S))
            self.slider.blockSignals(False)
