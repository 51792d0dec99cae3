"""Pairing a station: which devices are there (USB and WiFi), which role each plays, and
remembering it for next time. No Qt here; `app.pairing_dialog.PairingDialog` is a thin
screen on it.

The parts, each usable on its own:

* `Sighting`: one device seen on one transport (a serial port that answered INFO with a
  HELLO, or a retained HELLO on the broker), with what it announced: id, role, hand, firmware.
* `UsbScanner` / `WifiScanner`: where sightings come from. The USB scanner probes each new
  serial port once (opening a port can reboot a board, so a port already known is not asked
  again while it stays present); the WiFi scanner keeps a subscription to the retained HELLOs
  and the presence topics of docs/wifi-mqtt.md, so it costs the broker nothing to ask again.
* `merge_sightings`: one `FoundDevice` per device id, whatever transports it was seen on.
* `PairingModel`: the assignment of found devices to the station's roles, with its rules
  (one device per role, a device only in a role its board samples, the kit on its own), the
  remembered assignment restored and the devices remembered but not found now kept, marked
  missing.
* `StationMemory`: the remembered assignment per station, one JSON file in the user's
  configuration folder ($GLOVECOACH_STATIONS overrides the file, for tests and kiosks).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glovecoach.vocabulary.sensors import KIT_ROLE
from glovecoach.vocabulary.station import STATION_ROLES, StationLayout

ROLES = (*STATION_ROLES, KIT_ROLE)
ROLE_LABELS = {"left_glove": "left glove", "right_glove": "right glove",
               "spine_strip": "spine strip", KIT_ROLE: "kit (right glove + strip on one board)"}
# What a board samples follows from its role (the firmware reads only its own muxes), so a
# device can only play a role of the same kind: a glove either hand, the strip the strip.
_KIND = {"left_glove": "glove", "right_glove": "glove", "spine_strip": "spine_strip",
         KIT_ROLE: KIT_ROLE}
TRANSPORT_LABELS = {"usb": "USB", "wifi": "WiFi"}
STATIONS_ENV = "GLOVECOACH_STATIONS"
FORMAT_NAME = "glovecoach-stations"
FORMAT_VERSION = 1
DEFAULT_STATION = "station"


class PairingError(ValueError):
    """An assignment the station cannot have; the message says why and what to do."""


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "", role or "not used")


# ----------------------------------------------------------------------------- what was found


@dataclass(frozen=True)
class Sighting:
    """One device seen on one transport.

    ``address`` is what a `GloveClient` opens: the serial port's path, or
    ``mqtt://host:port/<room>/<id>``. ``online`` is the broker's presence word for a WiFi
    device (None when it has said nothing, and for USB, where answering is being there)."""

    device_id: str
    transport: str            # "usb" or "wifi"
    address: str
    role: str
    hand: str | None
    firmware: str | None = None
    online: bool | None = None

    @classmethod
    def from_hello(cls, info: dict[str, Any], transport: str, address: str,
                   online: bool | None = None) -> Sighting:
        """From a HELLO's info dict (firmware from before roles is the kit, a right hand)."""
        from glovecoach.wire.messages import Hello

        hello = Hello(0, dict(info))
        return cls(hello.glove_id, transport, address, hello.role, hello.hand,
                   info.get("firmware"), online)


@dataclass
class FoundDevice:
    """One device, by id, with every transport it was seen on (USB first: a cable does not
    drop out, so a device on both is used over USB). ``missing``: remembered for this
    station but not found now."""

    device_id: str
    role: str                      # the role the device announces
    hand: str | None
    firmware: str | None = None
    sightings: dict[str, Sighting] = field(default_factory=dict)
    missing: bool = False
    last_transport: str | None = None   # for a missing device: how it was reached last time

    @property
    def transports(self) -> tuple[str, ...]:
        return tuple(t for t in ("usb", "wifi") if t in self.sightings)

    @property
    def transport(self) -> str | None:
        """The transport the station would use: USB if the device is on a cable, else WiFi."""
        return self.transports[0] if self.transports else None

    @property
    def address(self) -> str | None:
        t = self.transport
        return self.sightings[t].address if t else None

    @property
    def online(self) -> bool | None:
        """False only when the device is on WiFi alone and the broker says it is gone."""
        if "usb" in self.sightings:
            return True
        if "wifi" in self.sightings:
            return self.sightings["wifi"].online
        return None

    def state(self) -> str:
        """A few words for the list: where it is and whether it is there."""
        if self.missing:
            last = f" (last on {TRANSPORT_LABELS[self.last_transport]})" \
                if self.last_transport in TRANSPORT_LABELS else ""
            return f"missing: not found now{last}"
        parts = []
        for t in self.transports:
            s = self.sightings[t]
            where = f"{TRANSPORT_LABELS[t]} {s.address}" if t == "usb" else TRANSPORT_LABELS[t]
            if t == "wifi":
                where += {True: " (online)", False: " (offline)", None: ""}[s.online]
            parts.append(where)
        return ", ".join(parts)


def merge_sightings(sightings: Iterable[Sighting]) -> list[FoundDevice]:
    """One `FoundDevice` per device id, sorted by id. A device seen on USB and on WiFi is one
    device; its role, hand and firmware are taken from the USB sighting, which is a live
    answer, where the retained HELLO on the broker may be from an earlier boot."""
    found: dict[str, FoundDevice] = {}
    for s in sorted(sightings, key=lambda s: (s.device_id, s.transport != "usb")):
        device = found.get(s.device_id)
        if device is None:
            device = found[s.device_id] = FoundDevice(s.device_id, s.role, s.hand, s.firmware)
        device.sightings.setdefault(s.transport, s)
    return [found[k] for k in sorted(found)]


# ----------------------------------------------------------------------------- finding them


def probe_usb(path: str, timeout: float = 1.5) -> Sighting | None:
    """Ask the device on serial port ``path`` for its HELLO; None if nothing answers as a
    glovecoach device. (Like `link.discovery.probe_port`, which keeps only id and firmware;
    a station needs the role and hand too.)"""
    from glovecoach.link import GloveClient, LinkLost

    try:
        client = GloveClient(path, reconnect=False, hello_retry_s=min(0.3, timeout))
    except ValueError:
        return None
    try:
        hello = client.connect(timeout=timeout)
        return Sighting.from_hello(hello.info, "usb", path)
    except (TimeoutError, LinkLost, OSError, KeyError, ValueError):
        return None
    finally:
        client.close()


class UsbScanner:
    """The devices answering on the serial ports; each new port is probed once, ports that
    vanish are dropped. ``list_ports`` and ``probe`` default to pyserial's USB ports and
    `probe_usb`."""

    def __init__(self, list_ports: Callable[[], Sequence[str]] | None = None,
                 probe: Callable[[str], Sighting | None] = probe_usb) -> None:
        self._list_ports = list_ports or self._serial_ports
        self._probe = probe
        self._known: dict[str, Sighting | None] = {}

    @staticmethod
    def _serial_ports() -> list[str]:
        from glovecoach.link.discovery import candidate_ports

        return candidate_ports()

    def __call__(self) -> list[Sighting]:
        present = list(self._list_ports())
        self._known = {p: s for p, s in self._known.items() if p in present}
        for path in present:
            if path not in self._known:
                self._known[path] = self._probe(path)
        return [s for s in self._known.values() if s is not None]


class WifiScanner:
    """The devices that announced themselves on a broker: each one's retained HELLO on
    ``glovecoach/<room>/<id>/hello`` and its presence on ``.../online`` (docs/wifi-mqtt.md).

    ``room`` None listens to every room. `start()` connects and subscribes (the broker sends
    the retained messages at once); calling the scanner returns what has come so far."""

    def __init__(self, host: str, port: int, room: str | None = None, *,
                 connect_timeout: float = 3.0) -> None:
        self.host, self.port, self.room = host, port, room
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._hello: dict[tuple[str, str], dict[str, Any]] = {}
        self._online: dict[tuple[str, str], bool] = {}
        self._client: Any = None
        self._subscribed = threading.Event()
        self.problem: str | None = None     # why the broker cannot be asked (shown to the user)
        self.bad_hellos = 0                 # retained HELLOs that did not decode (counted, skipped)

    def start(self) -> None:
        import paho.mqtt.client as paho

        from glovecoach.link.mqtt_transport import TOPIC_ROOT

        if self._client is not None:
            return
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311,
                             clean_session=True)
        client.connect_timeout = self.connect_timeout
        user, password = os.environ.get("GLOVECOACH_MQTT_USER"), os.environ.get("GLOVECOACH_MQTT_PASSWORD")
        if user:
            client.username_pw_set(user, password)
        room = self.room or "+"
        topics = [(f"{TOPIC_ROOT}/{room}/+/hello", 0), (f"{TOPIC_ROOT}/{room}/+/online", 0)]

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                self.problem = f"the broker {self.host}:{self.port} refused the connection: {reason_code}"
                return
            self.problem = None
            client.subscribe(topics)

        def on_disconnect(client, userdata, flags, reason_code, properties) -> None:
            if self._client is not None:     # not our own stop(): paho reconnects by itself
                self.problem = f"lost the MQTT broker {self.host}:{self.port} ({reason_code}); retrying"

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_subscribe = lambda *args: self._subscribed.set()
        client.on_message = self._on_message
        try:
            client.connect(self.host, self.port, keepalive=30)
        except (OSError, ValueError) as exc:
            self.problem = f"cannot reach the MQTT broker {self.host}:{self.port}: {exc}"
            return
        client.loop_start()
        self._client = client

    def wait_subscribed(self, timeout: float = 3.0) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _on_message(self, client, userdata, message) -> None:
        parts = message.topic.split("/")
        if len(parts) != 4:
            return
        key = (parts[1], parts[2])
        if parts[3] == "online":
            with self._lock:
                self._online[key] = message.payload == b"1"
            return
        if not message.payload:        # a cleared retained HELLO: the device was retired
            with self._lock:
                self._hello.pop(key, None)
            return
        try:
            info = _hello_info(bytes(message.payload))
        except ValueError:
            self.bad_hellos += 1
            return
        with self._lock:
            self._hello[key] = info

    def __call__(self) -> list[Sighting]:
        with self._lock:
            hellos, online = dict(self._hello), dict(self._online)
        out = []
        for (room, device_id), info in hellos.items():
            address = f"mqtt://{self.host}:{self.port}/{room}/{device_id}"
            try:
                out.append(Sighting.from_hello(info, "wifi", address, online.get((room, device_id))))
            except (KeyError, ValueError):
                self.bad_hellos += 1
        return out


def _hello_info(payload: bytes) -> dict[str, Any]:
    """The info dict of the one HELLO frame a retained message holds; ValueError if it is not."""
    from glovecoach.wire import FrameError, Hello, decode_frame, decode_message

    try:
        message = decode_message(decode_frame(payload))
    except FrameError as exc:
        raise ValueError(f"not a HELLO frame: {exc}") from None
    if not isinstance(message, Hello) or "glove_id" not in message.info:
        raise ValueError("not a HELLO with a device id")
    return message.info


class StationDiscovery:
    """Every source of sightings, asked together: ``discovery()`` -> found devices, merged.
    A source that fails is reported in ``problems`` and the others still count."""

    def __init__(self, sources: Sequence[Callable[[], Sequence[Sighting]]]) -> None:
        self.sources = list(sources)
        self.problems: list[str] = []

    def __call__(self) -> list[FoundDevice]:
        sightings: list[Sighting] = []
        problems = []
        for source in self.sources:
            try:
                sightings.extend(source())
            except Exception as exc:  # noqa: BLE001 - one source down must not hide the others
                problems.append(f"{type(source).__name__}: {exc}")
            problem = getattr(source, "problem", None)
            if problem:
                problems.append(problem)
        self.problems = problems
        return merge_sightings(sightings)


# ----------------------------------------------------------------------------- remembering


def default_stations_path() -> Path:
    """$GLOVECOACH_STATIONS, else stations.json in the user's configuration folder
    (~/.config/glovecoach on Linux, as the calibrations; the platform's own elsewhere)."""
    override = os.environ.get(STATIONS_ENV)
    if override:
        return Path(override)
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "glovecoach" / "stations.json"


@dataclass(frozen=True)
class RememberedDevice:
    """What is kept of a device in a role: enough to find it again and to show it while it
    is not found (id, the transport and address it was used on, what it announced)."""

    device_id: str
    transport: str | None
    address: str | None
    role: str
    hand: str | None
    firmware: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.device_id, "transport": self.transport, "address": self.address,
                "announced_role": self.role, "hand": self.hand, "firmware": self.firmware}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RememberedDevice:
        return cls(str(data["id"]), data.get("transport"), data.get("address"),
                   str(data.get("announced_role", KIT_ROLE)), data.get("hand"), data.get("firmware"))


class StationMemory:
    """Assignments per station name in one JSON file, written atomically (a crash while
    saving leaves the previous file, never half of one)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_stations_path()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "stations": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PairingError(f"cannot read the remembered stations in {self.path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME or \
                not isinstance(data.get("stations"), dict):
            raise PairingError(f"{self.path} is not a glovecoach stations file")
        if data.get("version") != FORMAT_VERSION:
            raise PairingError(f"{self.path} is stations format version {data.get('version')}; "
                               f"this glovecoach reads version {FORMAT_VERSION}")
        return data

    def stations(self) -> list[str]:
        return sorted(self._read()["stations"])

    def load(self, station: str) -> dict[str, RememberedDevice]:
        """role -> the device remembered in it ({} for a station never paired)."""
        entry = self._read()["stations"].get(station)
        if entry is None:
            return {}
        try:
            return {role: RememberedDevice.from_json(d) for role, d in entry["devices"].items()
                    if role in ROLES}
        except (KeyError, TypeError, AttributeError) as exc:
            raise PairingError(f"{self.path}: station {station!r} is not readable ({exc})") from None

    def save(self, station: str, devices: dict[str, RememberedDevice]) -> None:
        try:
            data = self._read()
        except PairingError:
            # An unreadable file is replaced rather than blocking pairing for good; the
            # user was shown why it could not be read when the screen opened.
            data = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "stations": {}}
        data["stations"][station] = {
            "devices": {role: d.to_json() for role, d in devices.items()},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


# ----------------------------------------------------------------------------- assigning


@dataclass(frozen=True)
class StationChoice:
    """A paired station: per role, the device and how to reach it, and the layout."""

    station: str
    devices: dict[str, FoundDevice]

    @property
    def layout(self) -> StationLayout:
        return StationLayout.for_roles(tuple(self.devices))

    def urls(self) -> dict[str, str]:
        """role -> what `GloveClient` opens for it."""
        return {role: d.address for role, d in self.devices.items() if d.address}

    def transports(self) -> dict[str, str]:
        """role -> "usb" / "wifi" (for the station view's device strip)."""
        return {role: d.transport for role, d in self.devices.items() if d.transport}


class PairingModel:
    """Found devices and which role each plays in station ``station``.

    `update(found)` takes a discovery's answer: devices remembered for this station and not
    found now stay listed, marked missing, and keep their role; a new device takes the role it
    announces when that role is free and the rules allow it. `assign` and `unassign` change
    roles and refuse what a station cannot have (`PairingError`, with the reason)."""

    def __init__(self, station: str = DEFAULT_STATION, memory: StationMemory | None = None) -> None:
        self.station = station
        self.memory = memory or StationMemory()
        self.problem: str | None = None      # why the remembered stations could not be read
        try:
            self.remembered = self.memory.load(station)
        except PairingError as exc:
            self.remembered, self.problem = {}, str(exc)
        self.devices: dict[str, FoundDevice] = {}
        self.assignment: dict[str, str] = {r: d.device_id for r, d in self.remembered.items()}
        self._offered: set[str] = set()      # ids whose announced role was offered once
        self._place_remembered()

    def _place_remembered(self) -> None:
        for r in self.remembered.values():
            if r.device_id not in self.devices:
                self.devices[r.device_id] = FoundDevice(r.device_id, r.role, r.hand, r.firmware,
                                                        missing=True, last_transport=r.transport)
            self._offered.add(r.device_id)

    # -- found devices ---------------------------------------------------------------------
    def update(self, found: Iterable[FoundDevice]) -> None:
        found = list(found)
        now = {d.device_id: d for d in found}
        assigned = set(self.assignment.values())
        # Kept: what is found now, and what is assigned but not found (shown missing).
        devices: dict[str, FoundDevice] = {}
        for device_id, device in now.items():
            devices[device_id] = device
        for device_id in assigned - set(now):
            old = self.devices.get(device_id)
            if old is not None:
                devices[device_id] = FoundDevice(old.device_id, old.role, old.hand, old.firmware,
                                                 missing=True,
                                                 last_transport=old.transport or old.last_transport)
        self.devices = dict(sorted(devices.items()))
        for device in found:
            if device.device_id in self._offered or device.device_id in assigned:
                continue
            self._offered.add(device.device_id)
            if device.role in ROLES and self._refusal(device, device.role) is None:
                self.assignment[device.role] = device.device_id

    def found(self) -> list[FoundDevice]:
        """Every device listed: found now, and remembered ones not found (missing)."""
        return list(self.devices.values())

    def role_of(self, device_id: str) -> str | None:
        for role, d in self.assignment.items():
            if d == device_id:
                return role
        return None

    def device_in(self, role: str) -> FoundDevice | None:
        device_id = self.assignment.get(role)
        return self.devices.get(device_id) if device_id else None

    # -- assigning -------------------------------------------------------------------------
    def _refusal(self, device: FoundDevice, role: str) -> str | None:
        """Why ``device`` cannot take ``role`` now, or None if it can."""
        if role not in ROLES:
            return f"unknown role {role!r}; a station's roles are {', '.join(ROLES)}"
        if _KIND.get(device.role) != _KIND[role]:
            return (f"{device.device_id} is a {role_label(device.role)}: its board samples only "
                    f"that part's sensors, so it cannot be the {role_label(role)}. Give it "
                    f"another role with `glovecoach deploy --role`, or pick a matching role.")
        holder = self.assignment.get(role)
        if holder is not None and holder != device.device_id:
            return (f"The {role_label(role)} is already {holder}. A station has one device per "
                    f"role: set {holder} to another role or to \"not used\" first.")
        others = {r for r, d in self.assignment.items() if d != device.device_id}
        if role == KIT_ROLE and others:
            return ("The kit is a station on its own (a right glove and the strip on one "
                    f"board): set the {', '.join(role_label(r) for r in sorted(others))} "
                    "to \"not used\" first.")
        if role != KIT_ROLE and KIT_ROLE in others:
            return (f"The kit ({self.assignment[KIT_ROLE]}) is a station on its own: set it to "
                    f"\"not used\" to pair separate gloves and strip.")
        return None

    def assign(self, device_id: str, role: str | None) -> None:
        """Give ``device_id`` the ``role`` (None: not used in this station)."""
        device = self.devices.get(device_id)
        if device is None:
            raise PairingError(f"no device {device_id!r} is listed (found: "
                               f"{', '.join(self.devices) or 'none'})")
        if role is None:
            self.unassign(device_id)
            return
        why = self._refusal(device, role)
        if why is not None:
            raise PairingError(why)
        # moved, not unassigned: a missing device moved to another role stays listed
        self.assignment = {r: d for r, d in self.assignment.items() if d != device_id}
        self.assignment[role] = device_id

    def unassign(self, device_id: str) -> None:
        self.assignment = {r: d for r, d in self.assignment.items() if d != device_id}
        # a missing device no longer in any role is no longer this station's business
        device = self.devices.get(device_id)
        if device is not None and device.missing:
            del self.devices[device_id]

    def notes(self, device_id: str) -> list[str]:
        """What the user should know about a device's place (not refusals: those raise)."""
        device = self.devices[device_id]
        role = self.role_of(device_id)
        out = []
        if device.missing and role:
            out.append(f"remembered as the {role_label(role)}, not found now: plug it in or "
                       "switch it on")
        if role and device.role != role and _KIND[role] == "glove":
            out.append(f"announces the {device.hand} hand; worn as the {role_label(role)} here")
        if role is None and not device.missing:
            holder = self.assignment.get(device.role)
            if holder is not None:
                out.append(f"not used: the {role_label(device.role)} is {holder}")
            elif KIT_ROLE in self.assignment or (device.role == KIT_ROLE and self.assignment):
                out.append("not used: the kit is a station on its own")
            else:
                out.append("not used")
        if device.online is False:
            out.append("the broker says it is offline")
        return out

    # -- the result ------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Why the station cannot start as assigned ([] when it can)."""
        if not self.assignment:
            return ["No device is assigned: give at least one device a role."]
        out = []
        for role, device_id in sorted(self.assignment.items(), key=lambda kv: ROLES.index(kv[0])):
            if self.devices[device_id].missing:
                out.append(f"The {role_label(role)} ({device_id}) is not found: plug it in or "
                           "switch it on, or set it to \"not used\".")
        if not any(r != "spine_strip" for r in self.assignment):
            out.append("A station needs a glove: assign a left or right glove (or the kit).")
        return out

    def choice(self) -> StationChoice:
        problems = self.problems()
        if problems:
            raise PairingError(" ".join(problems))
        ordered = sorted(self.assignment.items(), key=lambda kv: ROLES.index(kv[0]))
        return StationChoice(self.station, {r: self.devices[d] for r, d in ordered})

    def remember(self) -> Path:
        """Save this assignment for the station (missing devices as last remembered)."""
        keep = {}
        before = {r.device_id: r for r in self.remembered.values()}
        for role, device_id in self.assignment.items():
            d = self.devices[device_id]
            if d.missing and device_id in before:     # how it was reached when last found
                keep[role] = before[device_id]
            else:
                keep[role] = RememberedDevice(d.device_id, d.transport, d.address, d.role, d.hand,
                                              d.firmware)
        self.memory.save(self.station, keep)
        self.remembered = keep
        return self.memory.path
