"""Starting Qt: one QApplication, offscreen when there is no display (headless screenshots)."""

from __future__ import annotations

import os
import sys

from PySide6 import QtCore, QtWidgets


def has_display() -> bool:
    """Whether a window can be shown (on Linux: an X11 or Wayland display is set)."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _quiet_offscreen_messages(mode: QtCore.QtMsgType, context: QtCore.QMessageLogContext,
                              message: str) -> None:
    # The offscreen platform warns about window-manager hints it cannot honour on every
    # window; that is noise for a headless run, not a problem. Everything else is shown.
    if "propagateSizeHints" in message:
        return
    sys.stderr.write(message + "\n")


def ensure_app(headless: bool = False) -> QtWidgets.QApplication:
    """The QApplication (created once), with the app's font and pyqtgraph settings."""
    if headless or not has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        QtCore.qInstallMessageHandler(_quiet_offscreen_messages)
    existing = QtWidgets.QApplication.instance()
    if isinstance(existing, QtWidgets.QApplication):
        app = existing
    else:
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("glovecoach")
    from glovecoach.app import theme

    app.setFont(theme.font(11))
    import pyqtgraph as pg

    pg.setConfigOptions(foreground="#9aa5b4")
    return app


# A 24-inch 16:9 monitor at 1920x1080, the instructor's screen the type sizes are checked on
MONITOR_1080P_24IN_MM_PER_PX = 24 * 25.4 * 16 / (16 ** 2 + 9 ** 2) ** 0.5 / 1920


def offscreen_screen(width: int, height: int, directory: str | os.PathLike[str]) -> str:
    """A QT_QPA_PLATFORM value for an offscreen screen of `width` x `height` pixels at 96 dpi,
    so a full-screen window can be rendered headless at a real monitor's size (the default
    offscreen screen is 800x600). Writes the screen description into `directory`."""
    import json
    from pathlib import Path

    config = Path(directory) / f"screen-{width}x{height}.json"
    config.write_text(json.dumps({"screens": [{
        "name": f"offscreen-{width}x{height}", "x": 0, "y": 0, "width": width, "height": height,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={config}"


def save_window(widget: QtWidgets.QWidget, path: str) -> None:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write the screenshot {path}")
