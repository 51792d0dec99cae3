"""The session view: phase bar, alert banner, force plots, hand and spine maps, alert log.

`LiveView.redraw()` draws a `SessionModel` as it stands; the live controller and the
replay call it about 30 times a second. Feedback modes decide what the trainee sees, never
what is recorded:

- continuous: everything;
- alerts only: the alert banner and log (plots, maps and phase bar hidden);
- blind: nothing but a "recording" notice, for retention tests.

The instructor layout (full screen, read from about 3 m) sets the alert and the phase with
its clock at 54 pt, lays the plots out two by two, scales the other type and line widths, and
drops the log to give the plots and maps the room (docs/app.md has the measured sizes).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from glovecoach.app import theme
from glovecoach.app.session import SessionModel
from glovecoach.app.widgets.alerts import AlertBanner, AlertLog
from glovecoach.app.widgets.maps import HandMap, SpineMap
from glovecoach.app.widgets.phasebar import PhaseBar, plan_of
from glovecoach.app.widgets.plots import ForcePlots

MODES = ("continuous", "alerts_only", "blind")
MODE_LABELS = {"continuous": "Continuous feedback", "alerts_only": "Alerts only",
               "blind": "Blind (retention test)"}
INSTRUCTOR_SCALE = 1.9
# The alert banner is what must be read across the room: at 2.7x its text is 54 pt, capitals
# 14.7 mm high on a 24-inch 1080p screen, over 16 minutes of arc at 3 m (the usual ergonomic
# minimum for text that must be read, e.g. ANSI/HFES 100). Long alerts wrap; the banner grows.
INSTRUCTOR_BANNER_SCALE = 2.7
# The phase and its clock are read from as far: the same 54 pt as the alert (its capitals
# 14.7 mm on that screen). On a smaller screen the pixel sizes stay: a 1366x768 screen of 20
# inches or more has pixels at least as large (0.32 mm), so its capitals are larger still.
INSTRUCTOR_PHASE_PT = 54.0


class LiveView(QtWidgets.QWidget):
    def __init__(self, model: SessionModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.mode = "continuous"
        self.instructor = False
        self._bands_key: object = object()
        self._plotted_index = -1
        self._frame = 0
        self._map_alerts: dict[str, str] | None = None
        self.setAutoFillBackground(True)
        self.setStyleSheet(f"background: {theme.BACKGROUND}; color: {theme.TEXT};")

        protocol = model.protocol
        self.phase_bar = PhaseBar(plan_of(protocol), protocol.session_max_s,
                                  protocol.session_warn_at_s)
        self.banner = AlertBanner()
        self.plots = ForcePlots(model.channels, model.rate_hz, model.window_s)
        glove_ids = [c.id for c in model.channels if not c.is_spine]
        spine_ids = [c.id for c in model.channels if c.is_spine]
        self.hand_map = HandMap(glove_ids)
        self.spine_map = SpineMap(spine_ids)
        self.log = AlertLog()
        self._glove_cols = [model.channel_ids.index(c) for c in glove_ids]
        self._spine_cols = [model.channel_ids.index(c) for c in spine_ids]

        maps = QtWidgets.QWidget()
        maps_layout = QtWidgets.QHBoxLayout(maps)
        maps_layout.setContentsMargins(0, 0, 0, 0)
        maps_layout.addWidget(self.hand_map, 3)
        maps_layout.addWidget(self.spine_map, 2)
        self.maps = maps
        self.side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(self.side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(maps, 3)
        self.log_title = QtWidgets.QLabel("Alert log")
        side_layout.addWidget(self.log_title)
        side_layout.addWidget(self.log, 1)

        self.feedback = QtWidgets.QWidget()
        body = QtWidgets.QHBoxLayout(self.feedback)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.plots, 3)
        body.addWidget(self.side, 2)

        self.blind_notice = QtWidgets.QLabel()
        self.blind_notice.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.blind_notice.setWordWrap(True)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.phase_bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.feedback, 1)
        layout.addWidget(self.blind_notice, 1)
        self.set_mode("continuous")
        self.set_instructor(False)

    # -- presentation settings ---------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown feedback mode {mode!r} (one of {', '.join(MODES)})")
        self.mode = mode
        blind = mode == "blind"
        self.phase_bar.setVisible(mode == "continuous")
        self.banner.setVisible(not blind)
        self.plots.setVisible(mode == "continuous")
        self.maps.setVisible(mode == "continuous")
        self.feedback.setVisible(not blind)
        self.log.setVisible(not blind and not self.instructor or mode == "alerts_only")
        self.log_title.setVisible(self.log.isVisibleTo(self))
        self.blind_notice.setVisible(blind)
        self._update_blind_notice()

    def set_instructor(self, on: bool) -> None:
        self.instructor = on
        scale = INSTRUCTOR_SCALE if on else 1.0
        for widget in (self.plots, self.hand_map, self.spine_map, self.log):
            widget.set_type_scale(scale)
        self.phase_bar.set_type_scale(scale, INSTRUCTOR_PHASE_PT if on else None)
        self.plots.set_grid(on)
        self.banner.set_type_scale(INSTRUCTOR_BANNER_SCALE if on else 1.0)
        self.log_title.setFont(theme.font(10 * scale, bold=True))
        self.blind_notice.setFont(theme.font(22 * scale, bold=True))
        self.set_mode(self.mode)

    def _update_blind_notice(self) -> None:
        self.blind_notice.setText(
            "\u25CF Recording\n\nFeedback is hidden for this retention test.\n"
            f"Everything is recorded; the debrief shows it all.\n\n"
            f"{theme.format_clock(self.model.now_s)}")

    # -- drawing -----------------------------------------------------------------------
    def redraw(self) -> None:
        """Bring every visible part up to the model's current state."""
        model = self.model
        if self.mode == "blind":
            self._update_blind_notice()
            return
        now = model.now_s
        self.banner.show_alerts(model.alerts.current(now))
        self.log.sync(model.alerts.log)
        if self.mode != "continuous":
            return
        state = model.state
        self.phase_bar.set_state(state)
        limits = model.limits_in_force(state)
        key = tuple(sorted(limits.items()))
        if key != self._bands_key:
            self._bands_key = key
            self.plots.set_limits(lambda channel_id: limits.get(channel_id, (None, None)))
        if model.ring.next_index != self._plotted_index:   # nothing new: nothing to redraw
            self._plotted_index = model.ring.next_index
            self.plots.refresh(model.ring)
        alerts = model.alerts.channel_alerts()
        # The maps show each sensor's peak over the last 0.25 s, so refreshing them every
        # other frame (~15 fps) loses nothing; a new alert outline is drawn at once.
        self._frame += 1
        if self._frame % 2 == 0 or alerts != self._map_alerts:
            self._map_alerts = alerts
            forces = model.map_forces()
            self.hand_map.set_values(forces[self._glove_cols], alerts)
            self.spine_map.set_values(forces[self._spine_cols], alerts)
