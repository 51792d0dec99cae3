"""Starting Qt: one QApplication, offscreen when there is no display (headless screenshots).

Before a window is opened the commands check what Qt would otherwise only find out by
aborting the process (a core dump and a line about "xcb" that names no package): whether there
is a display at all, whether the system libraries Qt's platform plugin needs are installed,
and whether the X server named by DISPLAY answers. Each check fails with one line that says
what to do (`QtPlatformError`). PySide6 is imported only once those checks passed, since
importing it already loads libEGL, libGL, libfontconfig and friends.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from PySide6 import QtCore, QtWidgets


class QtPlatformError(RuntimeError):
    """Qt cannot open a window here; the message is one line saying why and what to do."""


# Platform plugins that need no desktop: they render into memory (offscreen, minimal), serve
# the window themselves (vnc) or draw straight to the screen hardware (linuxfb, eglfs).
SCREENLESS_PLATFORMS = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs",
                        "vkkhrdisplay")

# The shared libraries PySide6's Qt loads on Linux, as the dynamic loader names them, with the
# Debian/Ubuntu package that provides each (README "System packages" has the Fedora names).
# Taken from `ldd` on libQt6Gui.so.6 and plugins/platforms/libqxcb.so of PySide6 6.11.
QT_GUI_LIBRARIES = (
    ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libdbus-1.so.3", "libdbus-1-3"),
)
XCB_LIBRARIES = (
    ("libxcb.so.1", "libxcb1"),
    ("libX11.so.6", "libx11-6"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"),
    ("libxcb-sync.so.1", "libxcb-sync1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
)


def library_loads(soname: str) -> bool:
    """Whether the dynamic loader can load `soname` (with everything it depends on), exactly as
    it will when Qt loads its plugin. This is the physical edge the tests replace."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def requested_platform() -> str:
    """The first platform plugin named by QT_QPA_PLATFORM ("" when unset), without options:
    "xcb:foo=1;wayland" -> "xcb"."""
    value = os.environ.get("QT_QPA_PLATFORM", "").strip()
    return value.split(";")[0].split(":")[0].strip().lower()


def has_display() -> bool:
    """Whether a window can be shown (on Linux: an X11 or Wayland display is set)."""
    if requested_platform() == "offscreen":
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def display_problem() -> str | None:
    """Why a window cannot be opened here, in one line, or None if it can.

    A platform that needs no desktop (QT_QPA_PLATFORM=offscreen, vnc, ...) is the user's
    explicit choice and always passes; on Linux otherwise an X11 or Wayland display must be set.
    """
    if not sys.platform.startswith("linux"):
        return None
    platform = requested_platform()
    if platform in SCREENLESS_PLATFORMS:
        return None
    display, wayland = os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY")
    if platform == "xcb" and not display:
        return "QT_QPA_PLATFORM=xcb but DISPLAY is not set: no X server to open the window on"
    if platform == "wayland" and not wayland:
        return "QT_QPA_PLATFORM=wayland but WAYLAND_DISPLAY is not set: no Wayland compositor " \
               "to open the window on"
    if not (display or wayland):
        return ("no display found (DISPLAY and WAYLAND_DISPLAY are unset): the app needs a "
                "desktop session; on a server, `glovecoach demo --seconds 30 --screenshot "
                "F.png` runs headless, or set QT_QPA_PLATFORM=offscreen or vnc")
    return None


def uses_xcb() -> bool:
    """Whether Qt will open its windows through X11 (the xcb plugin) on this machine."""
    if not sys.platform.startswith("linux"):
        return False
    platform = requested_platform()
    if platform:
        return platform == "xcb"
    # Unset: Qt 6 tries Wayland first in a Wayland session, else X11.
    wayland_session = (os.environ.get("XDG_SESSION_TYPE") == "wayland"
                       and bool(os.environ.get("WAYLAND_DISPLAY")))
    return bool(os.environ.get("DISPLAY")) and not wayland_session


def missing_libraries(xcb: bool, loads: Callable[[str], bool] | None = None
                      ) -> list[tuple[str, str]]:
    """(library, apt package) of every library Qt needs here that cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return []
    loads = loads or library_loads
    wanted = QT_GUI_LIBRARIES + (XCB_LIBRARIES if xcb else ())
    return [(soname, package) for soname, package in wanted if not loads(soname)]


def missing_libraries_message(missing: list[tuple[str, str]]) -> str:
    names = ", ".join(f"{soname} (package {package})" for soname, package in missing)
    packages = " ".join(dict.fromkeys(package for _, package in missing))
    return (f"Qt cannot open a window: missing system librar{'y' if len(missing) == 1 else 'ies'} "
            f"{names}; on Debian/Ubuntu: sudo apt-get install {packages} "
            f"(README.md, 'System packages', lists them for every platform)")


def x_server_problem(display: str) -> str | None:
    """None if the X server `display` accepts a connection, else why not (one line). Asked
    through libxcb, as Qt's xcb plugin will, so that a stale DISPLAY (an SSH session without X
    forwarding, a stopped Xvfb) is an error message rather than Qt aborting the process."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None  # reported as a missing library
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
    xcb.xcb_connection_has_error.argtypes = (ctypes.c_void_p,)
    xcb.xcb_disconnect.argtypes = (ctypes.c_void_p,)
    connection = xcb.xcb_connect(display.encode() if display else None, None)
    try:
        failed = xcb.xcb_connection_has_error(connection)
    finally:
        xcb.xcb_disconnect(connection)
    if failed:
        return (f"cannot connect to the X server DISPLAY={display or '(unset)'} (not running, or this user "
                f"is not allowed on it): no window can open there")
    return None


def platform_problem(window: bool, loads: Callable[[str], bool] | None = None) -> str | None:
    """Everything that would stop Qt from starting here, checked before it starts: with
    `window`, that there is a display; the libraries of the platform plugin Qt will use; and
    that the X server answers. One line, or None when Qt can start."""
    if window:
        problem = display_problem()
        if problem:
            return problem
    if window and has_display():
        xcb = uses_xcb()
    else:  # headless: offscreen unless a platform was asked for (ensure_app)
        xcb = sys.platform.startswith("linux") and requested_platform() == "xcb"
    missing = missing_libraries(xcb, loads)
    if missing:
        return missing_libraries_message(missing)
    if xcb:
        return x_server_problem(os.environ.get("DISPLAY", ""))
    return None


def check_platform(window: bool = True) -> None:
    """Raise `QtPlatformError` if Qt cannot start here (see `platform_problem`); call it
    before the first PySide6 import of a command."""
    problem = platform_problem(window)
    if problem:
        raise QtPlatformError(problem)


def check_screenshot_path(path: str | os.PathLike[str], option: str = "--screenshot") -> Path:
    """`path` if a PNG can be written there, else `ValueError` saying why, so a run is not
    wasted on a picture that cannot be saved at its end."""
    target = Path(path).expanduser()
    if target.suffix.lower() != ".png":
        raise ValueError(f"{option} {path}: the file name must end in .png")
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: the folder {folder} is not writable")
    if target.is_dir():
        raise ValueError(f"{option} {path}: is a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"{option} {path}: the file exists and is not writable")
    return target


def _quiet_offscreen_messages(mode: QtCore.QtMsgType, context: QtCore.QMessageLogContext,
                              message: str) -> None:
    # The offscreen platform warns about window-manager hints it cannot honour on every
    # window; that is noise for a headless run, not a problem. Everything else is shown.
    if "propagateSizeHints" in message:
        return
    sys.stderr.write(message + "\n")


def ensure_app(headless: bool = False) -> QtWidgets.QApplication:
    """The QApplication (created once), with the app's font and pyqtgraph settings.

    Raises `QtPlatformError` instead of letting Qt abort when the platform plugin's libraries
    are missing or the X server does not answer."""
    if headless or not has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    loaded = sys.modules.get("PySide6.QtWidgets")
    if loaded is None or loaded.QApplication.instance() is None:
        # Checked before PySide6 is imported: importing it already loads libEGL and libGL.
        problem = platform_problem(window=False)
        if problem:
            raise QtPlatformError(problem)
    from PySide6 import QtCore, QtWidgets

    existing = QtWidgets.QApplication.instance()
    if isinstance(existing, QtWidgets.QApplication):
        app = existing
    else:
        if requested_platform() == "offscreen":
            QtCore.qInstallMessageHandler(_quiet_offscreen_messages)
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
