"""Hand and spine maps: every sensor drawn where it sits, filled by its current force.

The fill is a display scale (theme.force_colours). Whether a force is a problem is the
engine's decision: channels the engine has an active alert on get a thick red outline and a
word ("TOO HARD", "CONTACT"), so the state never rests on colour alone.

A left hand is drawn as the right one flipped left to right (x -> width - x: the sensor map's
"mirror"), so the same drawing serves both gloves of a station. A map whose device is gone
(`set_link_note`) is greyed under a line saying so, and keeps its last values beneath.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from glovecoach.app import theme
from glovecoach.vocabulary.sensors import HANDS, channels_in_region, map_label

# Right hand seen from the palm side (thumb on the viewer's right), unit square, y down.
HAND_POSITIONS: dict[str, tuple[float, float]] = {
    "thumb_tip": (0.905, 0.41),
    "index_tip": (0.69, 0.08),
    "middle_tip": (0.54, 0.05),
    "ring_tip": (0.39, 0.08),
    "little_tip": (0.24, 0.18),
    "thenar": (0.64, 0.68),
    "hypothenar": (0.33, 0.70),
    "palm_center": (0.49, 0.57),
    "palm_heel": (0.49, 0.86),
    "hand_edge": (0.15, 0.62),
    "knuckles_index_middle": (0.62, 0.40),
    "knuckles_ring_little": (0.36, 0.40),
}
DORSAL = set(channels_in_region("knuckles"))   # drawn on the back of the hand
MIN_TEXT_PT = 6.0     # smaller than this is not read: a shorter wording, or elided
_FINGERS = [  # (x centre, top y, bottom y, width) of the finger outlines
    (0.69, 0.02, 0.46, 0.12), (0.54, 0.00, 0.46, 0.12), (0.39, 0.02, 0.46, 0.12),
    (0.24, 0.12, 0.50, 0.11),
]

ALERT_WORDS = {
    "overforce": "TOO HARD", "underforce": "TOO LIGHT", "spine_contact": "CONTACT",
    "saturation": "MAXED", "open_sensor": "NO SIGNAL", "sensor_fault": "CHECK",
}


class _MapBase(QtWidgets.QWidget):
    def __init__(self, channels: Sequence[str], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.channels = list(channels)
        self.values = np.zeros(len(self.channels), dtype=float)
        self.alerts: dict[str, str] = {}
        self._shown: tuple = ()
        self.scale = 1.0
        self.link_note: str | None = None
        self.setMinimumSize(180, 200)

    def set_link_note(self, note: str | None) -> None:
        """Grey the map under ``note`` ("left glove: link lost 12 s"), or None to show it live."""
        if note != self.link_note:
            self.link_note = note
            self.update()

    def _draw_link_note(self, p: QtGui.QPainter, top: float) -> None:
        """The veil and the note over the map from ``top`` down (0: all of it, title too, as
        sensors near the top reach into the title's row)."""
        if not self.link_note:
            return
        veil = theme.qcolor(theme.PANEL)
        veil.setAlpha(205)
        p.fillRect(QtCore.QRectF(0, top, self.width(), self.height() - top), veil)
        box = QtCore.QRectF(8, top + (self.height() - top) / 2 - 30 * self.scale,
                            self.width() - 16, 60 * self.scale)
        p.setPen(QtGui.QPen(theme.qcolor(theme.ALERT_RED), 2))
        p.setBrush(theme.qcolor(theme.BACKGROUND))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(theme.qcolor(theme.TEXT))
        _fit_text(p, box.adjusted(6, 2, -6, -2), self.link_note, 12 * self.scale, bold=True)

    def set_type_scale(self, scale: float) -> None:
        self.scale = scale
        self._shown = ()
        self.update()

    def set_values(self, newtons: Mapping[str, float] | np.ndarray,
                   alerts: Mapping[str, str] | None = None) -> None:
        """Forces per channel (dict by id, or an array in `channels` order) and alert kinds."""
        if isinstance(newtons, Mapping):
            self.values = np.array([float(newtons.get(c, 0.0)) for c in self.channels])
        else:
            self.values = np.asarray(newtons, dtype=float)
        alerts = {c: k for c, k in (alerts or {}).items() if c in self.channels}
        # Repaint only when what is drawn changes (whole newtons, alert words).
        shown = (np.round(np.nan_to_num(self.values)).astype(int).tobytes(), tuple(sorted(alerts.items())))
        self.alerts = alerts
        if shown != self._shown:
            self._shown = shown
            self.update()

    def value_of(self, channel_id: str) -> float:
        return float(self.values[self.channels.index(channel_id)])


class HandMap(_MapBase):
    """A hand seen from the palm side; ``hand="left"`` draws the right hand's drawing mirrored
    (thumb on the viewer's left)."""

    def __init__(self, channels: Sequence[str], parent: QtWidgets.QWidget | None = None, *,
                 hand: str = "right", title: str | None = None) -> None:
        if hand not in HANDS:
            raise ValueError(f"hand must be one of {', '.join(HANDS)}, got {hand!r}")
        super().__init__(channels, parent)
        self.hand = hand
        self.title = title or f"Hand (palm side, {hand})"

    @property
    def mirrored(self) -> bool:
        return self.hand == "left"

    def position(self, channel_id: str) -> tuple[float, float]:
        """Where ``channel_id`` is drawn, in the unit square (y down), on this hand."""
        x, y = HAND_POSITIONS[channel_id]
        return (1.0 - x, y) if self.mirrored else (x, y)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(300, 340)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        title_h = 26 * self.scale
        # the knuckles note is drawn below the square (to 1.05 of its side): a map shorter
        # than it is wide (two hands side by side) keeps room for it
        below = 1.06 if any(c in DORSAL for c in self.channels) else 1.0
        side = min(self.width() - 16, (self.height() - title_h - 8) / below)
        ox = (self.width() - side) / 2
        oy = title_h + max(0.0, self.height() - title_h - side * below) / 2

        def pt(x: float, y: float) -> QtCore.QPointF:
            return QtCore.QPointF(ox + x * side, oy + y * side)

        # The title and outline are drawn once per size into a pixmap; a frame draws only
        # the sensors over it.
        key = (self.width(), self.height(), self.scale, self.devicePixelRatioF())
        if getattr(self, "_background_key", None) != key:
            ratio = self.devicePixelRatioF()
            pixmap = QtGui.QPixmap(int(self.width() * ratio), int(self.height() * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(theme.qcolor(theme.PANEL))
            bg = QtGui.QPainter(pixmap)
            bg.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            bg.setPen(theme.qcolor(theme.TEXT))
            bg.setFont(_fitting_font(self.title, self.width() - 16, int(title_h), round(11 * self.scale, 1), True)
                       or theme.font(MIN_TEXT_PT, bold=True))
            bg.drawText(QtCore.QRectF(8, 2, self.width() - 16, title_h),
                        QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                        self.title)
            bg.setPen(QtGui.QPen(theme.qcolor(theme.GRID), 2))
            bg.setBrush(theme.qcolor("#252c36"))
            bg.drawPath(self._outline(side, ox, oy, pt))
            bg.end()
            self._background_key, self._background = key, pixmap
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._background)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self._draw_sensors(p, side, pt)
        self._draw_link_note(p, 0.0)
        p.end()

    def _outline(self, side: float, ox: float, oy: float, pt) -> QtGui.QPainterPath:
        key = (side, ox, oy)
        if getattr(self, "_outline_key", None) == key:
            return self._outline_path  # type: ignore[has-type]
        outline = QtGui.QPainterPath()
        outline.addRoundedRect(QtCore.QRectF(pt(0.12, 0.40), pt(0.80, 0.97)), 0.08 * side,
                               0.08 * side)
        for cx, top, bottom, w in _FINGERS:
            outline.addRoundedRect(QtCore.QRectF(pt(cx - w / 2, top), pt(cx + w / 2, bottom)),
                                   w * side / 2, w * side / 2)
        thumb = QtGui.QPainterPath()
        thumb.addRoundedRect(QtCore.QRectF(-0.065 * side, -0.25 * side, 0.13 * side, 0.40 * side),
                             0.06 * side, 0.06 * side)
        transform = QtGui.QTransform()
        base = pt(0.80, 0.57)
        transform.translate(base.x(), base.y())
        transform.rotate(35)
        outline = outline.united(transform.map(thumb))
        if self.mirrored:   # x -> width - x about the drawing's square
            outline = QtGui.QTransform(-1, 0, 0, 1, 2 * ox + side, 0).map(outline)
        self._outline_key, self._outline_path = key, outline
        return outline

    def _draw_sensors(self, p: QtGui.QPainter, side: float, pt) -> None:
        colours = theme.force_colours(self.values)
        radius = 0.072 * side
        for k, ch in enumerate(self.channels):
            if ch not in HAND_POSITIONS:
                continue
            centre = pt(*self.position(ch))
            _draw_sensor(p, centre, radius, colours[k], self.values[k], self.alerts.get(ch),
                         dorsal=ch in DORSAL, label=map_label(ch), scale=self.scale)
        if any(c in DORSAL for c in self.channels):
            p.setPen(theme.qcolor(theme.TEXT_DIM))
            note = QtCore.QRectF(pt(0.0, 0.975), pt(1.0, 1.0 + 0.05))
            _fit_text(p, note, ("squares: knuckles, on the back of the hand", "squares: knuckles (back of hand)",
                                "\u25a1 knuckles"), 8 * self.scale)


class SpineMap(_MapBase):
    """The 8-segment strip laid along the partner's spine, neck (C7) at the top."""

    def _geometry(self) -> tuple[float, float, float, float, float]:
        title_h = 26 * self.scale
        top = title_h + 18 * self.scale
        bottom = self.height() - 18 * self.scale
        label_w = 58 * self.scale
        x0 = label_w + 6
        return top, bottom, label_w, x0, self.width() - x0 - 8

    def segment_rect(self, k: int) -> QtCore.QRectF:
        """Where segment `k` (0 = neck end) is drawn."""
        top, bottom, _, x0, w = self._geometry()
        seg_h = (bottom - top) / max(1, len(self.channels))
        return QtCore.QRectF(x0, top + k * seg_h + 2, w, seg_h - 4)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(200, 340)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.PANEL))
        title_h = 26 * self.scale
        p.setPen(theme.qcolor(theme.TEXT))
        p.setFont(theme.font(11 * self.scale, bold=True))
        p.drawText(QtCore.QRectF(8, 2, self.width() - 16, title_h),
                   QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   "Spine strip")
        n = len(self.channels)
        if n == 0:
            p.setPen(theme.qcolor(theme.TEXT_DIM))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "no spine strip")
            p.end()
            return
        top, bottom, label_w, x0, w = self._geometry()
        colours = theme.force_colours(self.values)
        p.setPen(theme.qcolor(theme.TEXT_DIM))
        # shrunk to the strip's width when it is narrow (instructor layout at 1366x768)
        _fit_text(p, QtCore.QRectF(x0, title_h, w, 18 * self.scale), "neck (C7)", 8 * self.scale)
        _fit_text(p, QtCore.QRectF(x0, bottom, w, 18 * self.scale), "sacrum", 8 * self.scale)
        for k, ch in enumerate(self.channels):
            rect = self.segment_rect(k)
            alert = self.alerts.get(ch)
            fill = theme.qcolor(theme.ALERT_RED) if alert else theme.qcolor(colours[k])
            p.setBrush(fill)
            p.setPen(QtGui.QPen(theme.qcolor("#ffffff" if alert else theme.GRID),
                                4 * self.scale if alert else 1))
            p.drawRoundedRect(rect, 6, 6)
            p.setPen(theme.qcolor(theme.TEXT))
            # shrunk to the row when the strip is short (1366x768, instructor layout)
            p.setFont(_fitting_font("seg 8", int(label_w - 4), int(rect.height()), round(10 * self.scale, 1),
                                    bool(alert)) or theme.font(MIN_TEXT_PT, bold=bool(alert)))
            p.drawText(QtCore.QRectF(2, rect.top(), label_w, rect.height()),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       map_label(ch))
            text = f"{self.values[k]:.0f} N"
            if alert:
                text = f"{ALERT_WORDS.get(alert, alert.upper())}  {self.values[k]:.0f} N"
            p.setPen(theme.qcolor("#ffffff" if alert else _text_on(colours[k])))
            _fit_text(p, rect.adjusted(4, 0, -4, 0), text, 10 * self.scale, bold=bool(alert))
        self._draw_link_note(p, 0.0)
        p.end()


@lru_cache(maxsize=4096)
def _fitting_font(text: str, width: int, height: int, point_size: float,
                  bold: bool) -> QtGui.QFont | None:
    """The largest font from `point_size` down to MIN_TEXT_PT that fits `text`; None if none."""
    size = point_size
    while size >= MIN_TEXT_PT:
        f = theme.font(size, bold=bold)
        metrics = QtGui.QFontMetricsF(f)
        if metrics.horizontalAdvance(text) <= width and metrics.height() <= height + 2:
            return f
        size *= 0.9
    return None


def fitted_text(rect: QtCore.QRectF, text: str | tuple[str, ...], point_size: float,
                bold: bool = False) -> tuple[QtGui.QFont, str]:
    """The font and words `_fit_text` draws in `rect`: the first wording (longest first) that
    fits at some size from `point_size` down to MIN_TEXT_PT; if none does, the last, elided."""
    wordings = (text,) if isinstance(text, str) else text
    for wording in wordings:
        font = _fitting_font(wording, int(rect.width()), int(rect.height()), round(point_size, 1), bold)
        if font is not None:
            return font, wording
    font = theme.font(MIN_TEXT_PT, bold=bold)
    return font, QtGui.QFontMetricsF(font).elidedText(wordings[-1], QtCore.Qt.TextElideMode.ElideRight, rect.width())


def _fit_text(p: QtGui.QPainter, rect: QtCore.QRectF, text: str | tuple[str, ...], point_size: float,
              bold: bool = False) -> None:
    """Draw `text` centred in `rect` (`fitted_text`): shrunk, reworded or elided, never clipped."""
    font, words = fitted_text(rect, text, point_size, bold)
    p.setFont(font)
    p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, words)


def _text_on(rgb: np.ndarray) -> QtGui.QColor:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return QtGui.QColor("#101318" if lum > 140 else theme.TEXT)


def _draw_sensor(p: QtGui.QPainter, centre: QtCore.QPointF, radius: float, rgb: np.ndarray,
                 value: float, alert: str | None, *, dorsal: bool, label: str,
                 scale: float) -> None:
    rect = QtCore.QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
    p.setBrush(theme.qcolor(rgb))
    if alert:
        pen = QtGui.QPen(theme.qcolor(theme.ALERT_RED), max(4.0, radius * 0.28))
    else:
        pen = QtGui.QPen(theme.qcolor("#c9d1db"), 1.5)
    if dorsal and not alert:
        pen.setStyle(QtCore.Qt.PenStyle.DashLine)
    p.setPen(pen)
    if dorsal:
        p.drawRoundedRect(rect, radius * 0.3, radius * 0.3)
    else:
        p.drawEllipse(rect)
    p.setPen(_text_on(rgb))
    p.setFont(theme.font(max(7.0, radius * 0.42), bold=True))
    p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, f"{value:.0f}")
    below = QtCore.QRectF(centre.x() - radius * 1.8, centre.y() + radius, radius * 3.6,
                          radius * 0.75)
    size = max(7.0, radius * 0.36)
    if alert:
        p.setPen(theme.qcolor(theme.ALERT_RED))
        _fit_text(p, below, ALERT_WORDS.get(alert, alert.upper()), size, bold=True)
    else:
        p.setPen(theme.qcolor(theme.TEXT_DIM))
        _fit_text(p, below, label, size)
