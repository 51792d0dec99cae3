"""The phase bar: the protocol's phases as a row, the current phase's clock against its
window, the session clock against the session limit, and the engine's move-on cue.

All times and windows come from the engine state and the protocol; the bar only draws them.

One clock for what people read: the session clock (time since recording began) is the one
the alert log, the debrief, the report and replay use. The protocol's limit counts massage
time, from the first stroke, so the bar shows it on the same clock, as the session time by
which to finish ("finish by 15:02"), and fills its limit bar with the massage time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme


@dataclass(frozen=True)
class PlannedPhase:
    technique: str
    optional: bool
    min_s: float
    max_s: float


def plan_of(protocol: Any) -> list[PlannedPhase]:
    return [PlannedPhase(p.technique, bool(getattr(p, "optional", False)), float(p.min_s),
                         float(p.max_s)) for p in protocol.phases]


def plan_progress(plan: Sequence[PlannedPhase], done_techniques: Sequence[str]) -> list[int]:
    """Plan positions of the phases done so far (in order; -1 where a phase fits nowhere)."""
    cursor = 0
    positions = []
    for technique in done_techniques:
        hit = next((k for k in range(cursor, len(plan)) if plan[k].technique == technique), -1)
        positions.append(hit)
        if hit >= 0:
            cursor = hit + 1
    return positions


class PhaseBar(QtWidgets.QWidget):
    def __init__(self, plan: Sequence[PlannedPhase], session_limit_s: float,
                 session_warn_s: float | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = list(plan)
        self.session_limit_s = session_limit_s
        self.session_warn_s = session_warn_s
        self.scale = 1.0
        self.technique: str | None = None
        self.phase_elapsed_s = 0.0
        self.phase_window: tuple[float, float] | None = None
        self.cue: str | None = None
        self.session_s = 0.0       # massage time: since the first phase began
        self.clock_s = 0.0         # session clock: since recording began
        self.done: list[str] = []
        self.pause_s: float | None = None
        self.paused_technique: str | None = None
        self.pause_max_s = 0.0
        self._shown: tuple = ()
        self.phase_pt: float | None = None
        self.setMinimumHeight(110)

    def set_type_scale(self, scale: float, phase_pt: float | None = None) -> None:
        """`phase_pt`: the phase name and clock's own size (the instructor layout reads them
        from across the room); it also switches to the compact layout: one big line for the
        phase and its clock, the plan and the session clock beside it in smaller type."""
        self.scale = scale
        self.phase_pt = phase_pt
        if phase_pt is None:
            self.setMaximumHeight(16777215)      # Qt's QWIDGETSIZE_MAX: no limit
            self.setMinimumHeight(int(110 * scale))
        else:
            line = QtGui.QFontMetrics(theme.font(phase_pt, bold=True)).height()
            # chip (the big line) + the phase's progress bar under it
            self.setFixedHeight(int(line * 1.04) + 2 * 8 + 18)
        self.update()

    def phase_font(self) -> QtGui.QFont:
        return theme.font(self.phase_pt if self.phase_pt else 17 * self.scale, bold=True)

    def set_state(self, state: Any) -> None:
        self.technique = state.technique if state.technique not in (None, "none") else None
        self.phase_elapsed_s = float(state.phase_elapsed_s or 0.0)
        self.phase_window = tuple(state.phase_window) if state.phase_window else None
        self.cue = state.cue
        self.session_s = float(state.session_elapsed_s or 0.0)
        self.clock_s = float(state.time_s or 0.0)
        if getattr(state, "session_limit_s", None):
            self.session_limit_s = float(state.session_limit_s)
        self.done = [p.technique for p in (state.phases or [])]
        self.pause_s = getattr(state, "pause_s", None)
        self.paused_technique = getattr(state, "paused_technique", None)
        self.pause_max_s = float(getattr(state, "pause_max_s", 0.0) or 0.0)
        # Repaint when something visible changes: the clocks tick once a second.
        shown = (self.technique, int(self.phase_elapsed_s), self.phase_window, self.cue,
                 int(self.session_s), int(self.clock_s), tuple(self.done),
                 None if self.pause_s is None else int(self.pause_s))
        if shown != self._shown:
            self._shown = shown
            self.update()

    # The texts are exposed so tests and the instructor view can read what is shown.
    def paused(self) -> bool:
        return self.pause_s is not None and not self.technique and bool(self.paused_technique)

    def phase_text(self) -> str:
        if self.paused():
            return (f"{theme.technique_label(self.paused_technique).capitalize()} paused  "
                    f"{theme.format_clock(self.pause_s)}")
        if not self.technique:
            return "Waiting for a technique"
        return f"{theme.technique_label(self.technique).capitalize()}  {theme.format_clock(self.phase_elapsed_s)}"

    def countdown_text(self) -> str:
        if self.paused():
            left = max(self.pause_max_s - self.pause_s, 0.0)
            return (f"Hand off the back: resume {theme.technique_label(self.paused_technique)} within "
                    f"{theme.format_clock(left)} to keep this phase (the pause does not count)")
        if not self.technique or not self.phase_window:
            return ""
        low, high = self.phase_window
        if self.cue == "move_on":
            return "MOVE ON to the next phase"
        if self.phase_elapsed_s < low:
            return (f"{theme.format_clock(low - self.phase_elapsed_s)} until the "
                    f"{theme.format_clock(low)} minimum")
        return f"{theme.format_clock(high - self.phase_elapsed_s)} left in this phase"

    def massage_started(self) -> bool:
        return bool(self.done or self.technique)

    def session_text(self) -> str:
        clock = f"Session {theme.format_clock(self.clock_s)}"
        limit = theme.format_clock(self.session_limit_s)
        if not self.massage_started():
            return f"{clock}  \u00B7  the {limit} limit starts with the first stroke"
        deadline = self.clock_s - self.session_s + self.session_limit_s
        return f"{clock}  \u00B7  finish by {theme.format_clock(deadline)} ({limit} of massage)"

    def chip_rect(self) -> QtCore.QRectF:
        """Where the phase name and clock are drawn."""
        s = self.scale
        pad = 10 * s
        w, h = self.width(), self.height()
        if self.phase_pt is None:
            return QtCore.QRectF(pad, pad, w * 0.42 - 2 * pad, h * 0.42)
        pad = 8.0
        # compact: as wide as the longest phase text needs (never cut), at least 45 %
        metrics = QtGui.QFontMetrics(self.phase_font())
        longest = max([metrics.horizontalAdvance(self.phase_text())]
                      + [metrics.horizontalAdvance(
                          f"{theme.technique_label(ph.technique).capitalize()}  10:00")
                         for ph in self.plan])
        width = min(max(w * 0.45, longest + 2 * 14 * s), w - 2 * pad)
        return QtCore.QRectF(pad, pad, width, h - 2 * pad - 18)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        if self.phase_pt is not None:
            self._paint_compact()
            return
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        s = self.scale
        w, h = self.width(), self.height()
        left_w = w * 0.42
        pad = 10 * s
        # -- current phase ------------------------------------------------------------
        chip = QtCore.QRectF(pad, pad, left_w - 2 * pad, h * 0.42)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        chip_colour = theme.qcolor(theme.technique_colour(self.technique or
                                                           (self.paused_technique if self.paused() else None)))
        if self.paused():
            chip_colour.setAlpha(120)      # the phase goes on, faded while the hand is off
        p.setBrush(chip_colour)
        p.drawRoundedRect(chip, 8, 8)
        p.setPen(QtGui.QColor("#0e1116"))
        p.setFont(theme.font(17 * s, bold=True))
        p.drawText(chip.adjusted(10, 0, -10, 0),
                   QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   self.phase_text())
        bar = QtCore.QRectF(pad, chip.bottom() + 8 * s, left_w - 2 * pad, h * 0.16)
        self._draw_phase_progress(p, bar)
        text_rect = QtCore.QRectF(pad, bar.bottom() + 2, left_w - 2 * pad, h - bar.bottom() - 4)
        cue = self.cue == "move_on"
        p.setPen(theme.qcolor(theme.ALERT_AMBER if cue else theme.TEXT))
        p.setFont(theme.font(12 * s, bold=cue))
        p.drawText(text_rect, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   ("\u25B6 " if cue else "") + self.countdown_text())
        # -- the plan -----------------------------------------------------------------
        x0 = left_w + pad
        plan_rect = QtCore.QRectF(x0, pad, w - x0 - pad, h * 0.42)
        self._draw_plan(p, plan_rect)
        sess = QtCore.QRectF(x0, plan_rect.bottom() + 8 * s, w - x0 - pad, h * 0.16)
        self._draw_session(p, sess)
        p.setPen(theme.qcolor(theme.TEXT))
        p.setFont(theme.font(12 * s, bold=True))
        over_warn = self.session_warn_s is not None and self.session_s >= self.session_warn_s
        if over_warn:
            p.setPen(theme.qcolor(theme.ALERT_AMBER))
        p.drawText(QtCore.QRectF(x0, sess.bottom() + 2, sess.width(), h - sess.bottom() - 4),
                   QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   self.session_text() + ("  \u2014 time to finish with stroking" if over_warn
                                          else ""))
        p.end()

    def _chip(self, p: QtGui.QPainter, chip: QtCore.QRectF) -> None:
        chip_colour = theme.qcolor(theme.technique_colour(
            self.technique or (self.paused_technique if self.paused() else None)))
        if self.paused():
            chip_colour.setAlpha(120)      # the phase goes on, faded while the hand is off
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(chip_colour)
        p.drawRoundedRect(chip, 8, 8)
        p.setPen(QtGui.QColor("#0e1116"))
        p.setFont(self.phase_font())
        p.drawText(chip.adjusted(14 * self.scale, 0, -10, 0),
                   QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   self.phase_text())

    def _paint_compact(self) -> None:
        """The instructor's phase bar: the phase and its clock in one big line (read from
        3 m), the progress in the phase under it; the plan, the countdown and the session
        clock to the right in smaller type, each shrunk to fit its width."""
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        s = self.scale
        pad = 8.0
        w, h = self.width(), self.height()
        chip = self.chip_rect()
        self._chip(p, chip)
        bar = QtCore.QRectF(chip.left(), chip.bottom() + 6, chip.width(), 10)
        self._draw_phase_progress(p, bar, labels=False)
        x0 = chip.right() + 2 * pad
        right = QtCore.QRectF(x0, pad, w - x0 - pad, h - 2 * pad)
        if right.width() < 100:
            p.end()
            return
        plan = QtCore.QRectF(right.left(), right.top(), right.width(), right.height() * 0.4)
        self._draw_plan(p, plan)
        rows = right.height() * 0.6 - 4 * s
        cue = self.cue == "move_on"
        countdown = ("\u25B6 " if cue else "") + self.countdown_text()
        over_warn = self.session_warn_s is not None and self.session_s >= self.session_warn_s
        texts = [(countdown, theme.ALERT_AMBER if cue else theme.TEXT, True),
                 (self.session_text(), theme.ALERT_AMBER if over_warn else theme.TEXT_DIM,
                  over_warn)]
        for k, (text, colour, bold) in enumerate(texts):
            r = QtCore.QRectF(right.left(), plan.bottom() + 4 * s + k * rows / 2,
                              right.width(), rows / 2)
            p.setPen(theme.qcolor(colour))
            p.setFont(_fitting(text, r, 12 * s, bold))
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       text)
        p.end()

    def _draw_phase_progress(self, p: QtGui.QPainter, r: QtCore.QRectF,
                             labels: bool = True) -> None:
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(theme.qcolor("#2b333e"))
        p.drawRoundedRect(r, 4, 4)
        if not self.phase_window:
            return
        low, high = self.phase_window
        span = high * 1.25
        def x(t: float) -> float:
            return r.left() + r.width() * min(max(t / span, 0.0), 1.0)
        p.setBrush(QtGui.QColor(42, 157, 143, 110))
        p.drawRect(QtCore.QRectF(x(low), r.top(), x(high) - x(low), r.height()))
        p.setBrush(theme.qcolor(theme.ALERT_AMBER if self.cue == "move_on" else theme.TEXT))
        p.drawRect(QtCore.QRectF(r.left(), r.top() + r.height() * 0.3,
                                 x(self.phase_elapsed_s) - r.left(), r.height() * 0.4))
        if not labels:
            return
        p.setPen(theme.qcolor(theme.TEXT_DIM))
        p.setFont(theme.font(8 * self.scale))
        for t in (low, high):
            p.drawText(QtCore.QRectF(x(t) - 30, r.top(), 60, r.height()),
                       QtCore.Qt.AlignmentFlag.AlignCenter, theme.format_clock(t))

    def _draw_plan(self, p: QtGui.QPainter, r: QtCore.QRectF) -> None:
        n = max(1, len(self.plan))
        gap = 4 * self.scale
        cw = (r.width() - gap * (n - 1)) / n
        positions = plan_progress(self.plan, self.done)
        done_pos = {k for k in positions[:-1] if k >= 0} if self.technique else \
            {k for k in positions if k >= 0}
        current_pos = positions[-1] if (positions and self.technique and
                                        self.done and self.done[-1] == self.technique) else -1
        if self.technique and current_pos < 0:
            # the current phase is not yet in state.phases: find where it would go
            cursor = max([k for k in done_pos] + [-1]) + 1
            current_pos = next((k for k in range(cursor, len(self.plan))
                                if self.plan[k].technique == self.technique), -1)
        # one size for every box, the largest at which every word of every label fits its
        # box's width and the longest label ("deep / stroking / (optional)") its height
        size = 9 * self.scale
        lines = 1
        for phase in self.plan:
            label = self._plan_label(phase, True)
            lines = max(lines, len(label.split()) - (1 if label.startswith("\u2713") else 0))
            for word in label.split():
                width = QtGui.QFontMetricsF(theme.font(size, bold=True)).horizontalAdvance(word)
                size = min(size, size * (cw - 6) / max(width, 1.0))
        size = max(min(size, r.height() * 0.75 / (min(lines, 3) + 0.4)), 5.0)
        for k, phase in enumerate(self.plan):
            box = QtCore.QRectF(r.left() + k * (cw + gap), r.top(), cw, r.height())
            colour = theme.qcolor(theme.technique_colour(phase.technique))
            if k == current_pos:
                p.setBrush(colour)
                p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 3 * self.scale))
            elif k in done_pos:
                c = QtGui.QColor(colour)
                c.setAlpha(110)
                p.setBrush(c)
                p.setPen(QtCore.Qt.PenStyle.NoPen)
            else:
                p.setBrush(theme.qcolor("#2b333e"))
                pen = QtGui.QPen(colour, 1.5)
                if phase.optional:
                    pen.setStyle(QtCore.Qt.PenStyle.DashLine)
                p.setPen(pen)
            p.drawRoundedRect(box, 6, 6)
            p.setPen(QtGui.QColor("#0e1116") if k == current_pos else theme.qcolor(theme.TEXT))
            p.setFont(theme.font(size, bold=k == current_pos))
            p.drawText(box.adjusted(2, 2, -2, -2), QtCore.Qt.AlignmentFlag.AlignCenter |
                       QtCore.Qt.TextFlag.TextWordWrap, self._plan_label(phase, k in done_pos))

    def _plan_label(self, phase: PlannedPhase, done: bool) -> str:
        # the compact bar has no room for a second line: its dashed outline says "optional"
        optional = phase.optional and self.phase_pt is None
        return ("\u2713 " if done else "") + \
            theme.technique_label(phase.technique) + ("\n(optional)" if optional else "")

    def _draw_session(self, p: QtGui.QPainter, r: QtCore.QRectF) -> None:
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(theme.qcolor("#2b333e"))
        p.drawRoundedRect(r, 4, 4)
        frac = min(self.session_s / self.session_limit_s, 1.0) if self.session_limit_s else 0
        warn = self.session_warn_s is not None and self.session_s >= self.session_warn_s
        p.setBrush(theme.qcolor(theme.ALERT_AMBER if warn else theme.ALERT_BLUE))
        p.drawRoundedRect(QtCore.QRectF(r.left(), r.top(), r.width() * frac, r.height()), 4, 4)
        if self.session_warn_s:
            xw = r.left() + r.width() * self.session_warn_s / self.session_limit_s
            p.setPen(QtGui.QPen(theme.qcolor(theme.ALERT_AMBER), 2))
            p.drawLine(QtCore.QPointF(xw, r.top() - 2), QtCore.QPointF(xw, r.bottom() + 2))


def _fitting(text: str, rect: QtCore.QRectF, point_size: float, bold: bool) -> QtGui.QFont:
    """The font of `point_size`, smaller if `text` would not fit `rect` on one line."""
    f = theme.font(point_size, bold=bold)
    metrics = QtGui.QFontMetricsF(f)
    fit = min(rect.width() / max(metrics.horizontalAdvance(text), 1.0),
              rect.height() / max(metrics.height(), 1.0), 1.0)
    if fit < 1.0:
        f = theme.font(max(point_size * fit * 0.98, 6.0), bold=bold)
    return f
