"""`glovecoach classroom --tls CERT KEY --ca CA`: the room's broker speaks TLS to the devices
(each checks it against the CA), the instructor's own process joins on the loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))
from tls_certs import make_room_tls  # noqa: E402

from glovecoach.recording import open_station_recording  # noqa: E402

pytestmark = pytest.mark.mosquitto


def classroom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", "classroom", *args],
                          capture_output=True, text=True, timeout=180)


def test_a_tls_room_records_its_stations(tmp_path):
    tls = make_room_tls(tmp_path / "tls")
    out = classroom("--virtual", "1", "--seconds", "6", "--record", str(tmp_path / "rec"),
                    "--tls", str(tls.certfile), str(tls.keyfile), "--ca", str(tls.cafile))
    assert out.returncode == 0, out.stderr + out.stdout
    assert "TLS, logins required" in out.stdout
    (path,) = sorted((tmp_path / "rec").glob("*.gcrec"))
    rec = open_station_recording(path)
    for role, dev in rec.devices.items():
        assert dev.samples > 2 * 200, f"{role}: the device did not stream through the TLS broker"
        assert dev.lost_samples == 0


@pytest.mark.parametrize("args, words", [
    (["--ca", "{ca}"], "--ca goes with --tls"),
    (["--tls", "{cert}", "{tmp}/nokey.pem", "--ca", "{ca}"], "the key"),
    (["--tls", "{key}", "{key}", "--ca", "{ca}"], "is not a PEM certificate"),
    (["--tls", "{cert}", "{key}"], "needs --ca"),
])
def test_bad_tls_settings_are_named(tmp_path, args, words):
    tls = make_room_tls(tmp_path / "tls")
    values = {"ca": tls.cafile, "cert": tls.certfile, "key": tls.keyfile, "tmp": tmp_path}
    out = classroom("--virtual", "1", "--seconds", "2", "--record", str(tmp_path / "rec"),
                    *[a.format(**values) for a in args])
    assert out.returncode != 0
    assert words in out.stderr, out.stderr
    assert not (tmp_path / "rec").exists() or not list((tmp_path / "rec").glob("*.gcrec"))
