"""`glovecoach app --station`: what it refuses before any window opens, and the virtual
station it starts (each device's own part of a simulated session, in its own channels)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

# the real-window test's ways of looking at the X screen
from test_real_window import GRAB_ROOT, assert_looks_like_the_app, pixels

from glovecoach.app.sources import simulated_session
from glovecoach.cli import main as cli_main
from glovecoach.commands import CommandError
from glovecoach.commands.app import parse_broker, virtual_station_urls
from glovecoach.simulate.files import read_signal_file
from glovecoach.vocabulary.sensors import device_map
from glovecoach.vocabulary.station import STATION_ROLES


@pytest.mark.parametrize("argv, words", [
    (["app", "--station", "--port", "/dev/ttyUSB0"], "does not take --port or --replay"),
    (["app", "--station", "--replay", "x.gcrec"], "does not take --port or --replay"),
    (["app", "--broker", "localhost"], "--station-name and --broker are for --station"),
    (["app", "--station", "--broker", "host:port"], "the port must be a number"),
])
def test_station_options_that_cannot_go_together_are_refused(capsys, argv, words):
    assert cli_main(argv) == 2
    assert words in capsys.readouterr().err


def test_broker_is_host_or_host_and_port():
    assert parse_broker("localhost") == ("localhost", 1883)
    assert parse_broker("10.0.0.2:11883") == ("10.0.0.2", 11883)
    with pytest.raises(CommandError, match="HOST or HOST:PORT"):
        parse_broker(":1883")


def test_the_virtual_station_plays_each_devices_own_channels(tmp_path):
    urls = virtual_station_urls("good_session", 4, start_s=100.0, directory=tmp_path)
    assert tuple(urls) == STATION_ROLES
    right = simulated_session("good_session", 4, 100.0)
    left = simulated_session("good_session", 5, 100.0)
    ids = set()
    for role, url in urls.items():
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.scheme == "virtual" and query["role"] == role
        ids.add(query["glove_id"])
        rate, raw = read_signal_file(query["signal"])
        channels = device_map(role).ids
        source = left if role == "left_glove" else right
        assert rate == source.rate_hz and raw.shape == (len(source.raw), len(channels))
        np.testing.assert_array_equal(raw, source.raw[:, [source.channels.index(c) for c in channels]])
    assert len(ids) == 3          # three devices, told apart by id
    with pytest.raises(ValueError, match="unknown scenario"):
        virtual_station_urls("no_such_scenario", directory=tmp_path)


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """A private Xvfb on a free display number (Xvfb picks it: -displayfd)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    with os.fdopen(read_end, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                pytest.fail(f"Xvfb exited before it was ready (status {server.wait(5)})")
            number += chunk
    return server, f":{int(number)}"


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("Xvfb") is None,
                    reason="needs Xvfb (apt-get install xvfb; .ci/run does)")
def test_app_station_virtual_opens_its_window_on_a_real_x_server(tmp_path):
    # the command as a person runs it, on Qt's xcb platform: the station's screening page
    # comes up (its devices are started when the session is). On this shared machine another
    # job's Xvfb going away can take a fresh server's socket with it; the app then says it
    # cannot reach the X server, and the test starts another server (at most three).
    root = tmp_path / "root.png"
    for _attempt in range(3):
        server, display = start_xvfb()
        env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        app = subprocess.Popen([sys.executable, "-m", "glovecoach", "app", "--station", "--virtual",
                                "--trainee", "Ada", "--sessions", str(tmp_path / "sessions")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while app.poll() is None:
                grab = subprocess.run([sys.executable, "-c", GRAB_ROOT, str(root)], env=env,
                                      capture_output=True, text=True, timeout=60)
                if grab.returncode == 0 and len(np.unique(pixels(root))) > 50:
                    break
                assert time.monotonic() < deadline, "no window on the X screen within 60 s"
                time.sleep(1.0)
            if app.poll() is None:
                assert_looks_like_the_app(pixels(root), "the X screen")
        finally:
            if app.poll() is None:
                app.terminate()
            _, err = app.communicate(timeout=30)
            server.terminate()
            server.wait(10)
        if "cannot connect to the X server" not in err:
            break
    assert "Traceback" not in err, err
    assert app.returncode == -15, f"the app ended by itself ({app.returncode}): {err}"
