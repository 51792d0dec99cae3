"""The real window, on a real X server: `glovecoach demo` on Qt's xcb platform under Xvfb.

The other app tests render offscreen, which never loads the xcb plugin, its system libraries,
or talks to an X server; this one does all of that, as a desktop does. It is skipped only
where Xvfb is not installed (.ci/run installs it with the xcb libraries).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from glovecoach.app import theme

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is the Linux desktop"),
    pytest.mark.skipif(shutil.which("Xvfb") is None,
                       reason="Xvfb is not installed (apt-get install xvfb; .ci/run does)"),
]

# Grabs the X screen's root window: what the X server really shows, not what a widget renders.
GRAB_ROOT = """
import sys
from PySide6 import QtGui
app = QtGui.QGuiApplication(sys.argv[:1])
sys.exit(0 if app.primaryScreen().grabWindow(0).toImage().save(sys.argv[1]) else 1)
"""


@pytest.fixture
def xvfb_display():
    """A private Xvfb on a free display number (Xvfb picks it: -displayfd), stopped after."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                               "1920x1080x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = b""
        while not number.endswith(b"\n"):   # Xvfb writes the number once it accepts clients
            chunk = os.read(read_end, 16)
            if not chunk:
                pytest.fail(f"Xvfb exited before it was ready (status {server.wait(5)})")
            number += chunk
        yield f":{int(number)}"
    finally:
        os.close(read_end)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def pixels(path: Path) -> np.ndarray:
    """The image's pixels as 0xRRGGBB integers, shape (height, width)."""
    image = QtGui.QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), dtype=np.uint32,
                          count=image.height() * image.bytesPerLine() // 4)
    return words.reshape(image.height(), -1)[:, :image.width()] & 0xFFFFFF


def assert_looks_like_the_app(rgb: np.ndarray, what: str) -> None:
    background = int(theme.BACKGROUND.lstrip("#"), 16)
    colours = np.unique(rgb)
    assert len(colours) > 50, f"{what}: only {len(colours)} colours, nearly blank"
    share = float(np.mean(rgb == background))
    assert share > 0.05, f"{what}: the theme background {theme.BACKGROUND} covers {share:.1%}"


def test_the_demo_opens_a_real_window_under_xvfb(xvfb_display, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    shot, root = tmp_path / "live.png", tmp_path / "root.png"
    sessions = tmp_path / "sessions"
    demo = subprocess.Popen(
        [sys.executable, "-m", "glovecoach", "demo", "--seconds", "10", "--screenshot",
         str(shot), "--sessions", str(sessions)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The live page is up once the session's recording exists; give it a moment to paint,
        # then photograph the X screen itself while the window is on it.
        deadline = time.monotonic() + 60
        while not list(sessions.glob("*.gcrec")) and demo.poll() is None:
            assert time.monotonic() < deadline, "the demo's session never started"
            time.sleep(0.2)
        time.sleep(2.0)
        grab = subprocess.run([sys.executable, "-c", GRAB_ROOT, str(root)], env=env,
                              capture_output=True, text=True, timeout=60)
        out, err = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    assert demo.returncode == 0, err
    assert f"saved {shot}" in out
    assert grab.returncode == 0, grab.stderr

    window = pixels(shot)
    height, width = window.shape
    assert width >= 1600 and height >= 1000, (width, height)  # demo.py sizes it 1600x1000
    assert_looks_like_the_app(window, "the demo's screenshot")

    screen = pixels(root)
    assert screen.shape == (1080, 1920)
    # The window sits at the screen's top left (no window manager); the rest is X's black.
    on_screen = screen[:min(height, 1080), :min(width, 1920)]
    assert_looks_like_the_app(on_screen, "the X screen")
    if width + 10 < 1920:
        assert float(np.mean(screen[:, width + 10:] == 0)) > 0.95
