"""Colours, type sizes and the force colour scale shared by every view.

Alerts never rely on colour alone: every coloured state also carries a word or symbol.
The palette avoids a red/green pair as the only distinction (red alerts are paired with text
and a thick outline; "fine" is a neutral blue-grey).
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui

BACKGROUND = "#14181f"
PANEL = "#1d232c"
TEXT = "#e8ecf1"
TEXT_DIM = "#9aa5b4"
GRID = "#3a4350"
ALERT_RED = "#e5383b"
ALERT_AMBER = "#f4a261"
ALERT_BLUE = "#4ea8de"
OK_TEAL = "#2a9d8f"

# One colour per technique, used in the phase bar, the debrief timeline and the replay.
TECHNIQUE_COLOURS = {
    "stroking": "#4ea8de",
    "deep_stroking": "#5e60ce",
    "rubbing": "#2a9d8f",
    "kneading": "#e9c46a",
    "vibration": "#b5838d",
    "percussion": "#f4a261",
    "none": "#555f6d",
}

# One colour per channel within a plot group (up to 8 curves in a group).
CURVE_COLOURS = ["#4ea8de", "#e9c46a", "#90be6d", "#f28482", "#c77dff", "#f4a261", "#43aa8b",
                 "#b8c0ff"]

GROUP_TITLES = {
    "fingers": "Fingers",
    "palm": "Palm",
    "edge_knuckles": "Hand edge + knuckles",
    "spine": "Spine strip",
}

# Radio buttons and checkboxes on the dark background. Qt's default indicator is a dark ring on
# a dark panel (unticked answers were near invisible); here an unticked one is a light outline
# (INDICATOR_EDGE on PANEL, about 9:1 against BACKGROUND) and a ticked one is filled, so
# ticked and unticked differ by shape, not by colour alone.
INDICATOR_EDGE = "#c8d0da"
INDICATOR_PX = 18


def indicator_stylesheet(scale: float = 1.0) -> str:
    size = int(round(INDICATOR_PX * scale))
    edge = max(2, int(round(2 * scale)))
    return (
        f"QRadioButton::indicator, QCheckBox::indicator {{ width: {size}px; height: {size}px;"
        f" border: {edge}px solid {INDICATOR_EDGE}; background: {PANEL}; }}"
        f"QRadioButton::indicator {{ border-radius: {size // 2 + edge}px; }}"
        f"QCheckBox::indicator {{ border-radius: 3px; }}"
        f"QRadioButton::indicator:checked, QCheckBox::indicator:checked {{"
        f" background: {ALERT_BLUE}; border-color: #ffffff; }}"
        f"QRadioButton::indicator:hover, QCheckBox::indicator:hover {{ border-color: #ffffff; }}"
        f"QRadioButton::indicator:disabled, QCheckBox::indicator:disabled {{"
        f" border-color: {GRID}; }}"
        f"QRadioButton, QCheckBox {{ spacing: 8px; }}")


SEVERITY_COLOURS = {"danger": ALERT_RED, "warning": ALERT_AMBER, "info": ALERT_BLUE}

# Force colour scale of the hand and spine maps: 0 N is the panel colour, the top of the
# scale is bright. This is a display scale only; whether a force is too high is the engine's
# call and is shown by an outline and a label, not by this colour.
FORCE_SCALE_MAX_N = 40.0
_SCALE_STOPS = np.array([0.0, 0.15, 0.4, 0.7, 1.0])
_SCALE_RGB = np.array([
    [0x2b, 0x33, 0x3e],
    [0x1f, 0x5f, 0x8b],
    [0x2a, 0x9d, 0x8f],
    [0xe9, 0xc4, 0x6a],
    [0xff, 0xf3, 0xb0],
], dtype=float)


def technique_label(technique: str | None) -> str:
    if not technique or technique == "none":
        return "—"
    return technique.replace("_", " ")


def technique_colour(technique: str | None) -> str:
    return TECHNIQUE_COLOURS.get(technique or "none", TECHNIQUE_COLOURS["none"])


def force_colours(newtons: np.ndarray, scale_max: float = FORCE_SCALE_MAX_N) -> np.ndarray:
    """Forces (any shape) to RGB uint8 (shape + (3,)) on the map colour scale; NaN -> scale 0."""
    x = np.clip(np.nan_to_num(np.asarray(newtons, dtype=float)) / scale_max, 0.0, 1.0)
    rgb = np.stack([np.interp(x, _SCALE_STOPS, _SCALE_RGB[:, k]) for k in range(3)], axis=-1)
    return rgb.astype(np.uint8)


def qcolor(rgb_or_hex) -> QtGui.QColor:
    if isinstance(rgb_or_hex, QtGui.QColor):
        return QtGui.QColor(rgb_or_hex)
    if isinstance(rgb_or_hex, str):
        return QtGui.QColor(rgb_or_hex)
    r, g, b = (int(v) for v in rgb_or_hex[:3])
    return QtGui.QColor(r, g, b)


def font(point_size: float, bold: bool = False) -> QtGui.QFont:
    f = QtGui.QFont("DejaVu Sans")
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f


def format_clock(seconds: float) -> str:
    """`m:ss` (negative values get a leading minus)."""
    sign = "-" if seconds < 0 else ""
    s = int(round(abs(seconds)))
    return f"{sign}{s // 60}:{s % 60:02d}"


def app_stylesheet() -> str:
    # No font in the style sheet: it would override the sizes the views set (instructor layout).
    return (f"QWidget {{ background: {BACKGROUND}; color: {TEXT}; }}"
            f"QPushButton {{ background: #2b333e; border: 1px solid {GRID}; "
            f"padding: 6px 14px; border-radius: 4px; }}"
            f"QPushButton:disabled {{ color: {TEXT_DIM}; }}"
            f"QGroupBox {{ border: 1px solid {GRID}; margin-top: 14px; padding: 8px; }}"
            f"QGroupBox::title {{ subcontrol-origin: margin; left: 8px; }}"
            f"QLineEdit, QComboBox, QListWidget {{ background: {PANEL}; "
            f"border: 1px solid {GRID}; padding: 4px; }}"
            + indicator_stylesheet())
