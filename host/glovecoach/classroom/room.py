"""A room: its stations, who trains at each, and which devices each station has.

The instructor assigns devices to stations and trainees to stations, on the screen or with a
roster file, and the room remembers it: the next class in the same room starts with the same
stations and devices (trainees change, the gloves stay on their tables).

Roster files are CSV, the format a class list already comes in; one row per station::

    station,trainee,left_glove,right_glove,spine_strip
    table 1,Ana Lima,GC-0101,GC-0102,GC-0103
    table 2,Ben Okafor,,,

The cells may be separated by semicolons or tabs instead (as a spreadsheet saves or copies a
list where the comma is the decimal mark). Only ``station`` is required; empty device cells
leave what the room remembers. The room is
stored as JSON (`Room.save` / `Room.load`), written atomically.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from glovecoach.link.room_broker import check_name
from glovecoach.vocabulary.station import STATION_ROLES

ROOM_FORMAT = "glovecoach-room"
ROLES = STATION_ROLES + ("kit",)
MAX_STATIONS = 64


class RoomError(ValueError):
    """A roster or room file that cannot be used; the message names the file and line."""


@dataclass
class StationSeat:
    """One station of the room: its name, the trainee now at it, its devices by role."""

    name: str
    trainee: str = ""
    devices: dict[str, str] = field(default_factory=dict)   # role -> device id

    def describe(self) -> dict:
        return {"name": self.name, "trainee": self.trainee, "devices": dict(self.devices)}


@dataclass
class Room:
    name: str
    stations: list[StationSeat] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            check_name(self.name, "room name")   # it is a topic level on the room's broker
        except ValueError as exc:
            raise RoomError(str(exc)) from None

    # ------------------------------------------------------------------ asking
    def station(self, name: str) -> StationSeat:
        for seat in self.stations:
            if seat.name == name:
                return seat
        raise KeyError(f"room {self.name} has no station {name!r}")

    def seat_of(self, device_id: str) -> tuple[StationSeat, str] | None:
        """The station and role a device is assigned to, or None."""
        for seat in self.stations:
            for role, dev in seat.devices.items():
                if dev == device_id:
                    return seat, role
        return None

    # ------------------------------------------------------------------ changing
    def add_station(self, name: str, trainee: str = "") -> StationSeat:
        name = name.strip()
        if not name:
            raise RoomError("a station needs a name")
        if any(s.name == name for s in self.stations):
            raise RoomError(f"room {self.name} already has a station {name!r}")
        if len(self.stations) >= MAX_STATIONS:
            raise RoomError(f"a room holds at most {MAX_STATIONS} stations")
        seat = StationSeat(name, trainee.strip())
        self.stations.append(seat)
        return seat

    def assign_device(self, device_id: str, station: str, role: str) -> None:
        """Put a device in a station's role, taking it from wherever it was; a role already
        held by another device is refused (unassign that one first)."""
        if role not in ROLES:
            raise RoomError(f"{role!r} is not a device role ({', '.join(ROLES)})")
        try:
            check_name(device_id, "device id")
        except ValueError as exc:
            raise RoomError(str(exc)) from None
        seat = self.station(station)
        holder = seat.devices.get(role)
        if holder is not None and holder != device_id:
            raise RoomError(f"{station} already has {holder} as its {role.replace('_', ' ')}")
        if role == "kit" and any(r != "kit" for r in seat.devices):
            raise RoomError(f"{station}: the one-board kit is a station on its own")
        if role != "kit" and "kit" in seat.devices:
            raise RoomError(f"{station} has a one-board kit; it takes no other device")
        self.unassign_device(device_id)
        seat.devices[role] = device_id

    def unassign_device(self, device_id: str) -> None:
        for seat in self.stations:
            for role in [r for r, d in seat.devices.items() if d == device_id]:
                del seat.devices[role]

    def assign_trainee(self, station: str, trainee: str) -> None:
        self.station(station).trainee = trainee.strip()

    # ------------------------------------------------------------------ roster
    def apply_roster(self, path: str | os.PathLike[str]) -> None:
        """Stations, trainees and devices from a roster CSV (see the module's docstring).
        Checked whole before anything changes: a bad row leaves the room as it was."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise RoomError(f"{path}: cannot read the roster: {exc}") from None
        lines = text.splitlines()
        rows = list(csv.reader(lines, delimiter=roster_delimiter(lines[0] if lines else "")))
        if not rows:
            raise RoomError(f"{path}: the roster is empty (expected a header: station,trainee,...)")
        header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
        if "station" not in header:
            raise RoomError(f"{path}: line 1: no 'station' column (got {', '.join(header)})")
        unknown = [h for h in header if h not in ("station", "trainee", *ROLES)]
        if unknown:
            raise RoomError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}; "
                            f"known: station, trainee, {', '.join(ROLES)}")
        trial = Room.from_description(self.describe())
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                raise RoomError(f"{path}: line {number}: {len(row)} cells for {len(header)} columns")
            cells = dict(zip(header, (c.strip() for c in row), strict=False))
            name = cells.get("station", "")
            if not name:
                raise RoomError(f"{path}: line {number}: no station name")
            try:
                seat = trial.station(name) if any(s.name == name for s in trial.stations) else trial.add_station(name)
                if "trainee" in cells:
                    seat.trainee = cells["trainee"]
                for role in ROLES:
                    if cells.get(role):
                        holder = seat.devices.get(role)
                        if holder and holder != cells[role]:
                            del seat.devices[role]   # the roster's word replaces the remembered one
                        trial.assign_device(cells[role], name, role)
            except RoomError as exc:
                raise RoomError(f"{path}: line {number}: {exc}") from None
        self.stations = trial.stations

    def apply_table(self, rows: list[dict[str, str]], known_devices: set[str] | None = None) -> None:
        """Stations, trainees and devices as the instructor's screen edits them: each row a
        station (``station``, ``trainee`` and a cell per role: a device id, or empty for none),
        exactly as given; stations not in ``rows`` stay as they are. With ``known_devices``
        (the devices with a login on the room's broker), any other device is refused: it could
        not log in. Checked whole first: a bad row leaves the room as it was."""
        trial = Room.from_description(self.describe())
        names: set[str] = set()
        seen: dict[str, int] = {}
        for number, cells in enumerate(rows, start=1):
            for role in ROLES:
                device = (cells.get(role) or "").strip()
                if device and seen.setdefault(device, number) != number:
                    raise RoomError(f"row {number}: {device} is in row {seen[device]} too; a device is at one "
                                    "station")
        for number, cells in enumerate(rows, start=1):
            name = (cells.get("station") or "").strip()
            where = f"row {number}" + (f" ({name})" if name else "")
            try:
                if not name:
                    raise RoomError("no station name")
                if name in names:
                    raise RoomError(f"station {name!r} is in the table twice")
                names.add(name)
                seat = trial.station(name) if any(s.name == name for s in trial.stations) else trial.add_station(name)
                seat.trainee = (cells.get("trainee") or "").strip()
                wanted = {role: (cells.get(role) or "").strip() for role in ROLES if (cells.get(role) or "").strip()}
                unknown = sorted(set(wanted.values()) - known_devices) if known_devices is not None else []
                if unknown:
                    raise RoomError(f"{', '.join(unknown)} {'has' if len(unknown) == 1 else 'have'} no login on this "
                                    f"room's broker: give the glove its login (glovecoach provision --port PORT "
                                    f"--room {self.name} --broker HOST), then try again")
                for role, device in list(seat.devices.items()):
                    if wanted.get(role) != device:
                        del seat.devices[role]
                for role, device in wanted.items():
                    trial.assign_device(device, name, role)
            except RoomError as exc:
                raise RoomError(f"{where}: {exc}") from None
        self.stations = trial.stations

    # ------------------------------------------------------------------ files
    def describe(self) -> dict:
        return {"format": ROOM_FORMAT, "version": 1, "name": self.name,
                "stations": [s.describe() for s in self.stations]}

    @classmethod
    def from_description(cls, data: dict, source: str = "<room>") -> Room:
        if not isinstance(data, dict) or data.get("format") != ROOM_FORMAT:
            raise RoomError(f"{source}: not a room file (no \"format\": \"{ROOM_FORMAT}\")")
        room = cls(str(data.get("name", "")))
        stations = data.get("stations", [])
        if not isinstance(stations, list):
            raise RoomError(f"{source}: stations must be a list")
        try:
            for entry in stations:
                seat = room.add_station(str(entry["name"]), str(entry.get("trainee", "")))
                for role, device in dict(entry.get("devices", {})).items():
                    room.assign_device(str(device), seat.name, str(role))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RoomError(f"{source}: {exc}") from None
        return room

    def save(self, path: str | os.PathLike[str]) -> Path:
        return save_json_atomically(path, self.describe())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Room:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RoomError(f"{path}: cannot read the room: {exc}") from None
        return cls.from_description(data, str(path))


def save_json_atomically(path: str | os.PathLike[str], data: dict) -> Path:
    """``data`` as JSON in ``path``, whole or not at all (a crash mid-write leaves the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def roster_delimiter(header: str) -> str:
    """The roster's cell separator, read off its header line: a comma, or the semicolon a
    spreadsheet writes where the comma is the decimal mark, or a tab (a list pasted from a
    spreadsheet); "station" is one header cell either way."""
    for sep in (",", ";", "\t"):
        if sep in header:
            return sep
    return ","


def rooms_dir() -> Path:
    """Where rooms are remembered: $GLOVECOACH_ROOMS_DIR, else the user's config folder."""
    explicit = os.environ.get("GLOVECOACH_ROOMS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "glovecoach" / "rooms"


def load_or_new(name: str) -> Room:
    path = rooms_dir() / f"{name}.json"
    return Room.load(path) if path.exists() else Room(name)
