"""A virtual station: one real firmware process per device, each with its role and its crystal.

:class:`VirtualStation` runs the real firmware in MicroPython's unix port once per role (left
glove, right glove, spine strip; or any roles of the sensor map), each playing its own
``.gcsig``, announcing its own role, hand and channels, and keeping time on its own crystal:
a clock offset and a skew in ppm (firmware/glove/hal_sim.py), as separate boards do. The
signals are one true timeline: every device plays its file against real time from the
station's start (``signal_epoch_us``), sampling it at the instants its own crystal gives, so
a spine press and the glove force that caused it happen at the same real instant whatever
each device's clock says. The host reaches each device as it would reach hardware:

* ``transport="serial"``: each device on its own pseudo-terminal (``urls[role]`` is the port
  path, opened through pyserial as a USB glove is);
* ``transport="mqtt"``: each device a WiFi glove publishing over real sockets to an MQTT
  broker (``urls[role]`` is its ``mqtt://`` URL): the one at ``broker_url``, else the one
  ``GLOVECOACH_MQTT_BROKER`` names, else a broker started for the station (Mosquitto on the
  loopback when installed, else the embedded amqtt: glovecoach.link.broker). With ``tls_ca``
  (the CA of a TLS broker at ``broker_url``) each device is provisioned with that CA and
  connects with TLS, verifying the broker, and ``urls[role]`` is ``mqtts://...?ca=...``.

The link does not render sessions (that is glovecoach.simulate, a layer above): give the
signal files, or ``make_signals(folder)`` that writes them into the station's own folder
(removed with the station). ``glovecoach.simulate.station.virtual_station(seed, ...)`` does
that with a simulated station.

    with VirtualStation(make_signals=..., clock_ppm={"left_glove": 100}) as station:
        clients = station.clients()        # role -> GloveClient, not yet connected
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from glovecoach.link.broker import BrokerAddress, parse_address, station_broker
from glovecoach.link.client import GloveClient
from glovecoach.link.virtual_glove import VirtualGlove, check_clock_ppm, virtual_url
from glovecoach.vocabulary.station import STATION_ROLES, StationLayout

TRANSPORTS = ("serial", "mqtt")
# Each device's crystal, unless told otherwise: all different, within the +-100 ppm of common
# crystals, and clocks that did not start together (boards are switched on one by one).
DEFAULT_CLOCK_PPM: dict[str, float] = {"left_glove": 60.0, "right_glove": -45.0, "spine_strip": 20.0, "kit": 0.0}
DEFAULT_CLOCK_OFFSET_US: dict[str, int] = {"left_glove": 3_100_000, "right_glove": 417_250_000,
                                           "spine_strip": 58_900_000, "kit": 0}
DEFAULT_GLOVE_IDS: dict[str, str] = {"left_glove": "GC-SIM-L001", "right_glove": "GC-SIM-R001",
                                     "spine_strip": "GC-SIM-S001", "kit": "GC-SIM-0001"}
DEFAULT_ROOM = "station"
_SIGNAL_HEADER = struct.Struct("<8sHHI")    # glovecoach.simulate.files.SIGNAL_HEADER


def _signal_rate(path: Path) -> int:
    """The rate a .gcsig was made at (its header; the firmware checks the rest)."""
    with open(path, "rb") as fh:
        head = fh.read(_SIGNAL_HEADER.size)
    if len(head) < _SIGNAL_HEADER.size or head[:8] != b"GCSIG1\n\0":
        raise ValueError(f"{path} is not a .gcsig signal file")
    return _SIGNAL_HEADER.unpack(head)[2]


class VirtualStation:
    """Context manager: one firmware process per role; ``urls``, ``client(role)``, ``glove(role)``."""

    def __init__(self, signals: Mapping[str, str | os.PathLike] | None = None, *,
                 make_signals: Callable[[Path], Mapping[str, str | os.PathLike]] | None = None,
                 rate_hz: int = 200, roles: Sequence[str] = STATION_ROLES,
                 clock_ppm: Mapping[str, float] | None = None,
                 clock_offset_us: Mapping[str, int] | None = None,
                 transport: str = "serial", broker_url: str | None = None,
                 glove_ids: Mapping[str, str] | None = None, room: str = DEFAULT_ROOM,
                 batch_frames: int = 1, micropython: str | None = None,
                 firmware: str | os.PathLike | None = None,
                 sensor_map: str | os.PathLike | None = None,
                 device_passwords: Mapping[str, str] | None = None,
                 tls_ca: str | os.PathLike | None = None) -> None:
        """`signals`: role -> .gcsig, or `make_signals(folder)` returning that mapping.
        `device_passwords`: role -> the password of that device's login on the broker (its
        user name is its glove id, as a classroom's broker wants: glovecoach.link.room_broker).
        `rate_hz`: the rate the station streams at (the signals must be made at it).
        `clock_ppm` / `clock_offset_us`: per role; a role left out gets 0 (a mapping given
        replaces the defaults DEFAULT_CLOCK_PPM / DEFAULT_CLOCK_OFFSET_US as a whole).
        `broker_url`: ``host:port`` or ``mqtt://host:port`` of the broker (MQTT only).
        `batch_frames`: SAMPLES frames per MQTT message (glove/mqtt_link.py).
        `tls_ca`: the certificate (PEM or DER file) of the CA that signed the certificate of the
        TLS broker at `broker_url` (required with it: the station starts no TLS broker itself)."""
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        if broker_url is not None and transport != "mqtt":
            raise ValueError("broker_url is for transport='mqtt'; a serial station has no broker")
        if tls_ca is not None and broker_url is None:
            raise ValueError("tls_ca is the CA of a TLS broker: give that broker's broker_url too")
        self.tls_ca = Path(tls_ca) if tls_ca is not None else None
        self._ca_pem = _read_ca_pem(self.tls_ca) if self.tls_ca is not None else None
        if (signals is None) == (make_signals is None):
            raise ValueError("give the signal files (signals={role: path}) or a function that "
                             "makes them (make_signals=...), exactly one of them")
        if int(rate_hz) != rate_hz or not 50 <= int(rate_hz) <= 1000:
            raise ValueError(f"rate_hz must be a whole number in 50..1000 (the firmware's range), got {rate_hz!r}")
        self.layout = StationLayout.for_roles(tuple(roles), sensor_map)   # checks the roles
        self.roles = tuple(roles)
        self.rate_hz = int(rate_hz)
        ppm = DEFAULT_CLOCK_PPM if clock_ppm is None else clock_ppm
        offsets = DEFAULT_CLOCK_OFFSET_US if clock_offset_us is None else clock_offset_us
        for what, given in (("clock_ppm", clock_ppm), ("clock_offset_us", clock_offset_us),
                            ("glove_ids", glove_ids)):
            stray = set(given or {}) - set(self.roles)
            if stray:
                raise ValueError(f"{what} names role(s) {sorted(stray)} this station does not have "
                                 f"(it has {', '.join(self.roles)})")
        self.clock_ppm = {r: check_clock_ppm(ppm.get(r, 0.0)) for r in self.roles}
        self.clock_offset_us = {r: int(offsets.get(r, 0)) for r in self.roles}
        ids = {**DEFAULT_GLOVE_IDS, **(glove_ids or {})}
        self.glove_ids = {r: ids.get(r, f"GC-SIM-{r.upper()}") for r in self.roles}
        if len(set(self.glove_ids.values())) != len(self.roles):
            raise ValueError(f"each device needs its own id, got {self.glove_ids}")
        for what, name in (("room", room), *((f"glove id of {r}", i) for r, i in self.glove_ids.items())):
            # Each is one level of an MQTT topic (glovecoach/<room>/<id>/...).
            if not name or any(c in name for c in "/+#"):
                raise ValueError(f"{what} {name!r} must be a non-empty name without '/', '+' or '#'")
        self.transport = transport
        self.room = room
        self.batch_frames = int(batch_frames)
        self._broker_url = broker_url
        self.device_passwords = dict(device_passwords or {})
        self._signals = dict(signals) if signals is not None else None
        self._make_signals = make_signals
        self._glove_options = {"micropython": micropython, "firmware": firmware, "sensor_map": sensor_map}
        self._stack: contextlib.ExitStack | None = None
        self._gloves: dict[str, VirtualGlove] = {}
        self.signals: dict[str, Path] = {}
        self.folder: Path | None = None
        self.broker: BrokerAddress | None = None
        self.urls: dict[str, str] = {}
        self.signal_epoch_us: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> VirtualStation:
        if self._stack is not None:
            return self
        stack = contextlib.ExitStack()
        self._stack = stack
        try:
            folder = Path(tempfile.mkdtemp(prefix="glovecoach-vstation-"))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            self.folder = folder
            signals = self._signals if self._make_signals is None else self._make_signals(folder)
            self.signals = self._check_signals(signals)
            if self.transport == "mqtt":
                self.broker = self._start_broker(stack)
            # Row 0 of every signal happens now (the machine's monotonic clock, which the
            # unix port's ticks read too), for every device alike.
            self.signal_epoch_us = time.monotonic_ns() // 1000
            for role in self.roles:
                net_config = self._write_net_config(role) if self.transport == "mqtt" else None
                glove = VirtualGlove(signal_path=self.signals[role], glove_id=self.glove_ids[role], role=role,
                                     clock_ppm=self.clock_ppm[role], clock_offset_us=self.clock_offset_us[role],
                                     signal_epoch_us=self.signal_epoch_us, net_config=net_config,
                                     **self._glove_options)
                stack.callback(glove.close)
                self._gloves[role] = glove
                port = glove.plug()
                self.urls[role] = port if self.transport == "serial" else self._mqtt_url(role)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        stack, self._stack = self._stack, None
        self._gloves = {}
        self.urls = {}
        if stack is not None:
            stack.close()

    def __enter__(self) -> VirtualStation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the host uses ----------------------------------------------------------------
    def glove(self, role: str) -> VirtualGlove:
        """The device of ``role`` (``unplug()`` / ``plug()`` it to pull its cable or power)."""
        if role not in self._gloves:
            raise KeyError(f"no running device for {role!r}: the station has {', '.join(self.roles)}"
                           + ("" if self._stack is not None else " and is not started"))
        return self._gloves[role]

    def client(self, role: str, **options) -> GloveClient:
        """A GloveClient (not yet connected) for the device of ``role``."""
        if role not in self.urls:
            self.glove(role)   # raises, naming what is wrong
        return GloveClient(self.urls[role], **options)

    def clients(self, **options) -> dict[str, GloveClient]:
        return {role: self.client(role, **options) for role in self.roles}

    def virtual_urls(self) -> dict[str, str]:
        """Self-contained ``virtual://`` URLs of the same devices (role, crystal, signal and its
        epoch, id): a client opening one starts a device of its own (not this station's
        process), playing this station's signal file on the station's timeline, so they serve
        while the station is open."""
        if not self.signals:
            raise RuntimeError("the station is not started: its signal files do not exist yet")
        return {role: virtual_url(signal=self.signals[role], glove_id=self.glove_ids[role], role=role,
                                  clock_ppm=self.clock_ppm[role], clock_offset_us=self.clock_offset_us[role],
                                  signal_epoch_us=self.signal_epoch_us)
                for role in self.roles}

    # -- internals -------------------------------------------------------------------------
    def _check_signals(self, signals: Mapping[str, str | os.PathLike]) -> dict[str, Path]:
        missing = [r for r in self.roles if r not in signals]
        if missing:
            raise ValueError(f"no signal file for role(s) {missing} (given: {sorted(signals)})")
        out = {}
        for role in self.roles:
            path = Path(signals[role])
            if not path.is_file():
                raise FileNotFoundError(f"signal file {path} for {role} not found")
            rate = _signal_rate(path)
            if rate != self.rate_hz:
                raise ValueError(f"{path} was made at {rate} Hz; this station streams at {self.rate_hz} Hz")
            out[role] = path.resolve()
        return out

    def _start_broker(self, stack: contextlib.ExitStack) -> BrokerAddress:
        if self._broker_url is not None:
            text = self._broker_url.removeprefix("mqtts://").removeprefix("mqtt://").rstrip("/")
            return parse_address(text, source="broker_url")
        # the configured broker, else one for this station (glovecoach.link.broker)
        return stack.enter_context(station_broker())

    def _write_net_config(self, role: str) -> Path:
        assert self.folder is not None and self.broker is not None
        path = self.folder / f"{role}.net.json"
        mqtt: dict = {"host": self.broker.host, "port": self.broker.port, "room": self.room,
                      "batch_frames": self.batch_frames}
        if role in self.device_passwords:
            mqtt.update(user=self.glove_ids[role], password=self.device_passwords[role])
        if self._ca_pem is not None:
            mqtt["ca"] = self._ca_pem    # as `glovecoach provision --ca` gives it
        # the simulated flash of a provisioned device: readable by this user only
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"mqtt": mqtt}, fh)
        return path

    def _mqtt_url(self, role: str) -> str:
        assert self.broker is not None
        host = f"[{self.broker.host}]" if ":" in self.broker.host else self.broker.host
        if self.tls_ca is not None:
            return f"mqtts://{host}:{self.broker.port}/{self.room}/{self.glove_ids[role]}?ca={self.tls_ca}"
        return f"mqtt://{host}:{self.broker.port}/{self.room}/{self.glove_ids[role]}"


def _read_ca_pem(path: Path) -> str:
    """The CA certificate in `path` (PEM or DER) as PEM text, what a provisioned glove keeps."""
    import ssl

    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(data.decode("ascii")))
    return ssl.DER_cert_to_PEM_cert(data)
