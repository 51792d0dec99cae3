"""What the rooms folder remembers of a class while it runs: `RunningClass`.

A class's devices stream to the room's broker whether or not the instructor's app is there to
record them. If that app stops mid-class (killed, a crash, the laptop's power) and is started
again, it should pick the class up: record on into the same folder, each station in a new file
that names the files it continues (`glovecoach.recording.parts`), and at the end give every
station's debrief and the class summary for the whole session, not for what came after the
restart. So while a class runs, ``<room>.class.json`` beside the room's file says where it
records and which files each station has written; the class's end removes it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from glovecoach.classroom.room import RoomError, save_json_atomically

RUNNING_CLASS_FORMAT = "glovecoach-running-class"
# A class whose files were last written longer ago than this is not picked up: no session of
# the protocol lasts longer (15 minutes), so its sessions are over, and a class started after
# it is another class. `glovecoach classroom --new-class` never picks one up.
MAX_PICK_UP_GAP_S = 15 * 60.0


@dataclass
class RunningClass:
    room: str
    record_dir: Path
    started: _dt.datetime
    parts: dict[str, list[str]] = field(default_factory=dict)   # station -> its files, oldest first

    def last_written(self) -> float | None:
        """When the class's newest file was last written (Unix seconds; a recording is written
        every half second while it runs), or None if none of them is there."""
        times = [p.stat().st_mtime for station in self.parts for p in self.earlier_parts(station)]
        return max(times, default=None)

    def can_be_picked_up(self, now: float) -> bool:
        """Its app stopped short of ending it, and not so long ago that its sessions are over."""
        last = self.last_written()
        return last is not None and now - last <= MAX_PICK_UP_GAP_S and self.record_dir.is_dir()

    def earlier_parts(self, station: str) -> list[Path]:
        """The files this class already recorded for ``station`` that are still there."""
        return [self.record_dir / name for name in self.parts.get(station, [])
                if (self.record_dir / name).is_file()]

    def describe(self) -> dict:
        return {"format": RUNNING_CLASS_FORMAT, "version": 1, "room": self.room,
                "record_dir": str(self.record_dir), "started": self.started.isoformat(),
                "parts": {name: list(files) for name, files in self.parts.items()}}

    def save(self, path: str | os.PathLike[str]) -> Path:
        return save_json_atomically(path, self.describe())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunningClass | None:
        """The class remembered in ``path``; None if there is none. RoomError if the file is
        not one (the message names it)."""
        path = Path(path)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != RUNNING_CLASS_FORMAT:
                raise ValueError(f'no "format": "{RUNNING_CLASS_FORMAT}"')
            parts = data.get("parts") or {}
            if not isinstance(parts, dict) or not all(
                    isinstance(files, list) and all(isinstance(f, str) for f in files) for files in parts.values()):
                raise ValueError("parts must map each station to a list of file names")
            return cls(str(data["room"]), Path(str(data["record_dir"])),
                       _dt.datetime.fromisoformat(str(data["started"])),
                       {str(name): [Path(f).name for f in files] for name, files in parts.items()})
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise RoomError(f"{path}: not a running class's file ({exc}); remove it, or start with "
                            "--new-class") from None


def running_class_path(rooms_folder: Path, room: str) -> Path:
    return Path(rooms_folder) / f"{room}.class.json"
