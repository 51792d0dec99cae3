"""The alert chime: a real WAV file, played through the first player the machine has."""

from __future__ import annotations

import sys
import time
import wave

import numpy as np
import pytest

from glovecoach.app.sound import NOTES_HZ, SAMPLE_RATE, AlertSound, chime


@pytest.fixture
def no_qt_multimedia(monkeypatch):
    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)   # import fails, as here


def test_the_chime_is_two_clean_notes(tmp_path):
    sound = AlertSound(tmp_path)
    with wave.open(str(sound.wav)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        data = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    assert np.array_equal(data, chime())
    assert 0.25 < len(data) / SAMPLE_RATE < 0.5
    assert np.abs(data).max() < 32767 * 0.6           # no clipping
    assert abs(int(data[0])) < 100 and abs(int(data[-1])) < 3000   # fades: no click
    for half, note in zip(np.array_split(data.astype(float), 2), NOTES_HZ):
        spectrum = np.abs(np.fft.rfft(half))
        peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(half)
        assert abs(peak_hz - note) < 10
    sound.close()
    assert not sound.wav.exists()


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX players")
def test_the_first_player_on_the_path_plays_the_chime(tmp_path, monkeypatch, no_qt_multimedia,
                                                      fake_player):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_player(bin_dir, "aplay")
    monkeypatch.setenv("PATH", str(bin_dir))
    sound = AlertSound(tmp_path)
    assert sound.backend == "aplay"
    sound.play()
    deadline = time.monotonic() + 5
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.read_text().split() == ["-q", str(sound.wav)]
    # a player earlier in the list wins when both exist
    pa_log = fake_player(bin_dir, "paplay")
    assert AlertSound(tmp_path).backend == "paplay"
    assert not pa_log.exists()
    sound.close()


def test_without_any_player_it_falls_back_to_the_qt_beep(tmp_path, monkeypatch, no_qt_multimedia,
                                                          qapp):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    beeps = []
    monkeypatch.setattr(AlertSound, "_beep", staticmethod(lambda: beeps.append(1)))
    sound = AlertSound(tmp_path)
    if not sys.platform.startswith("win"):
        assert sound.backend == "beep"
        sound.play()
        assert beeps == [1]
    sound.close()

