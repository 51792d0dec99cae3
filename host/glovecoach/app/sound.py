"""The alert sound: a short two-note chime, played without blocking the window.

`QApplication.beep()` is silent on most Linux desktops (it rings the X bell, which is
usually off), and QtMultimedia is not part of PySide6-Essentials. So the chime is written
once as a WAV file (numpy) and handed to the first player this machine has: QtMultimedia's
QSoundEffect when it is installed, else the platform's own command-line player, else the
Qt beep. Playing never waits for the sound to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44_100
# two falling notes (A5, E5): distinct from a phone's ring, audible over a room's murmur
NOTES_HZ = (880.0, 659.25)
NOTE_S = 0.16
LEVEL = 0.5                       # of full scale: loud enough, without clipping
# command-line players, in order of preference; the WAV file's path is appended
PLAYERS = (("paplay",), ("pw-play",), ("aplay", "-q"), ("afplay",))


def chime(rate: int = SAMPLE_RATE) -> np.ndarray:
    """The chime as int16 mono samples: each note with a 10 ms fade in and a decay, so it
    does not click."""
    n = int(NOTE_S * rate)
    t = np.arange(n) / rate
    envelope = np.minimum(t / 0.010, 1.0) * np.exp(-t / (NOTE_S / 2.5))
    notes = [np.sin(2 * np.pi * f * t) * envelope for f in NOTES_HZ]
    tone = np.concatenate(notes) * LEVEL
    return np.round(tone * 32767).astype(np.int16)


def write_chime(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(chime().tobytes())
    return path


class AlertSound:
    """`play()` sounds the chime through the first backend that exists here.

    `backend` says which: "qt-multimedia", a player command's name, or "beep"."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        folder = Path(directory) if directory else Path(tempfile.gettempdir())
        self.wav = write_chime(folder / f"glovecoach-chime-{os.getpid()}.wav")
        self._effect = None
        self._command: tuple[str, ...] | None = None
        self._children: list[subprocess.Popen] = []
        self.backend = self._choose()

    def _choose(self) -> str:
        try:
            from PySide6 import QtCore, QtMultimedia  # type: ignore[attr-defined]

            effect = QtMultimedia.QSoundEffect()
            effect.setSource(QtCore.QUrl.fromLocalFile(str(self.wav)))
            self._effect = effect
            return "qt-multimedia"
        except ImportError:
            pass
        if sys.platform.startswith("win"):
            return "winsound"
        for command in PLAYERS:
            found = shutil.which(command[0])
            if found:
                self._command = (found, *command[1:])
                return command[0]
        return "beep"

    def play(self) -> None:
        self._children = [c for c in self._children if c.poll() is None]   # reap the finished
        if self._effect is not None:
            self._effect.play()
        elif self.backend == "winsound":
            import winsound  # type: ignore[import-not-found]

            winsound.PlaySound(str(self.wav), winsound.SND_FILENAME | winsound.SND_ASYNC)
        elif self._command is not None:
            if len(self._children) < 2:       # chimes do not pile up behind each other
                try:
                    self._children.append(subprocess.Popen(
                        [*self._command, str(self.wav)], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                except OSError:
                    self._beep()
        else:
            self._beep()

    @staticmethod
    def _beep() -> None:
        from PySide6 import QtWidgets

        QtWidgets.QApplication.beep()

    def close(self) -> None:
        for child in self._children:
            try:
                child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                child.kill()
        self._children = []
        self.wav.unlink(missing_ok=True)
