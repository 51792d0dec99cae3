"""The classroom's broker: Mosquitto, with a login for every device and screen and an ACL.

A classroom carries every station of the room through one broker on the instructor's machine,
so unlike a single station's embedded broker (glovecoach.link.broker, loopback only) it
listens on the network. What that means, and what this module does about it:

* **Nobody anonymous.** Every device and every screen has its own user name and password
  (`RoomAccounts`); Mosquitto refuses any other CONNECT. Passwords are random (128 bits),
  made here, stored in the room's accounts file (mode 0600) and in Mosquitto's password file
  only as salted PBKDF2-SHA512 hashes (Mosquitto's own ``$7$`` format, computed here so no
  `mosquitto_passwd` run is needed).
* **A device may only speak for itself.** The ACL lets a device (user name = its device id)
  publish to its own ``glovecoach/<room>/<id>/{frames,hello,online}`` and read only its own
  ``.../cmd``. A screen reads the whole room and may send commands; the instructor also
  writes the room's ``.../marks`` and ``.../messages`` topics. Mosquitto drops a publish the
  ACL refuses without telling the client (MQTT 3.1.1 has no way to), so a stolen glove login
  cannot inject another station's frames.
* **TLS when asked.** Given a certificate and key, the room listens with TLS only (port 8883
  by convention); `docs/classroom.md` says how to make and install them.
* **Bridges for rooms larger than one broker.** Given a `Bridge`, this broker (a group's, on
  an assistant's laptop or beside an access point) forwards its devices' ``frames``, ``hello``
  and ``online`` to the room's central broker and brings ``cmd``, ``marks`` and ``messages``
  back, logged in there with a bridge account (`RoomAccounts.add_bridge`: it may write any
  device's stream topics of the room and read their commands, nothing else), over TLS when the
  central broker has it. docs/classroom.md has the arithmetic and the measured latency.
* **Nothing listens unless a classroom runs.** `RoomBroker` is a context manager: the
  Mosquitto process lives for the ``with`` block and its configuration lives in a private
  temporary folder removed afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from glovecoach.link.mqtt_room_client import MAX_PACKET_BYTES

MOSQUITTO_ENV = "GLOVECOACH_MOSQUITTO"
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
PASSWORD_ITERATIONS = 10_000   # ~2 ms per login on a laptop; logins happen once per connect
START_TIMEOUT_S = 5.0

# A device id or screen name becomes one MQTT topic level and a user name: no wildcards,
# separators or spaces, and short enough to read on a tile.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")


class RoomBrokerError(RuntimeError):
    """The room's broker cannot be set up or started; the message says what to do."""


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{what} {name!r} cannot be used: 1-48 letters, digits, '_', '.' or '-', "
                         f"starting with a letter or digit (it becomes an MQTT topic level)")
    return name


def password_hash(password: str, salt: bytes | None = None, iterations: int = PASSWORD_ITERATIONS) -> str:
    """A Mosquitto 2 password-file hash (``$7$``: PBKDF2-HMAC-SHA512, 12-byte salt)."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass
class RoomAccounts:
    """The logins of one room: ``devices`` and ``screens`` map a name to its password; the
    instructor's screen is the screen named ``instructor``."""

    room: str
    devices: dict[str, str] = field(default_factory=dict)
    screens: dict[str, str] = field(default_factory=dict)
    # Logins of other brokers bridged into this one (a group's broker: `Bridge`).
    bridges: dict[str, str] = field(default_factory=dict)

    INSTRUCTOR = "instructor"

    def __post_init__(self) -> None:
        check_name(self.room, "room name")
        for kind, names in (("device id", self.devices), ("screen name", self.screens),
                            ("bridge name", self.bridges)):
            for name in names:
                check_name(name, kind)
        kinds = (set(self.devices), set(self.screens), set(self.bridges))
        both = (kinds[0] & kinds[1]) | (kinds[0] & kinds[2]) | (kinds[1] & kinds[2])
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: a name is a device, a screen or a bridge, "
                             "not both (each login has one name)")

    @classmethod
    def create(cls, room: str, devices: Iterable[str] = (), screens: Iterable[str] = ()) -> RoomAccounts:
        """New random passwords for these devices and screens (and the instructor)."""
        accounts = cls(room)
        for name in devices:
            accounts.add_device(name)
        for name in (cls.INSTRUCTOR, *screens):
            accounts.add_screen(name)
        return accounts

    def add_device(self, device_id: str) -> str:
        check_name(device_id, "device id")
        if device_id in self.screens:
            raise ValueError(f"{device_id} is already a screen's name")
        return self.devices.setdefault(device_id, secrets.token_urlsafe(16))

    def add_screen(self, name: str) -> str:
        check_name(name, "screen name")
        if name in self.devices or name in self.bridges:
            raise ValueError(f"{name} is already a device's id or a bridge's name")
        return self.screens.setdefault(name, secrets.token_urlsafe(16))

    def add_bridge(self, name: str) -> str:
        """A login for a group's broker bridged into this (central) one; its password."""
        check_name(name, "bridge name")
        if name in self.devices or name in self.screens:
            raise ValueError(f"{name} is already a device's id or a screen's name")
        return self.bridges.setdefault(name, secrets.token_urlsafe(16))

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the accounts (passwords in clear: the file is the room's key ring) readable by
        the owner only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            data = {"format": "glovecoach-room-accounts", "version": 1, "room": self.room,
                    "devices": self.devices, "screens": self.screens}
            if self.bridges:
                data["bridges"] = self.bridges
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoomAccounts:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: no such room accounts file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a room accounts file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != "glovecoach-room-accounts":
            raise ValueError(f"{path}: not a room accounts file (no \"format\": \"glovecoach-room-accounts\")")
        for key in ("devices", "screens", "bridges"):
            entries = data.get(key, {})
            if not isinstance(entries, dict) or not all(isinstance(v, str) and v for v in entries.values()):
                raise ValueError(f"{path}: {key} must map names to non-empty passwords")
        try:
            return cls(str(data.get("room")), dict(data.get("devices", {})), dict(data.get("screens", {})),
                       dict(data.get("bridges", {})))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    # ------------------------------------------------------------------ Mosquitto's files
    def password_file(self, salt_source=secrets.token_bytes) -> str:
        lines = [f"{name}:{password_hash(pw, salt_source(12))}"
                 for name, pw in {**self.devices, **self.screens, **self.bridges}.items()]
        return "\n".join(lines) + "\n"

    def acl_file(self) -> str:
        room = f"glovecoach/{self.room}"
        lines = ["# written by glovecoach: who may publish and subscribe where (docs/classroom.md)", ""]
        for name in sorted(self.screens):
            lines += [f"user {name}", f"topic read {room}/#", f"topic write {room}/+/cmd"]
            if name == self.INSTRUCTOR:
                lines += [f"topic write {room}/+/marks", f"topic write {room}/+/messages"]
            lines.append("")
        for name in sorted(self.bridges):
            # A group's broker speaks for the devices of its group: their stream topics in,
            # their commands and the instructor's marks and messages out. Which device ids a
            # group holds is the group broker's own ACL's business.
            lines += [f"user {name}", *(f"topic write {room}/+/{t}" for t in BRIDGE_OUT),
                      *(f"topic read {room}/+/{t}" for t in BRIDGE_IN), ""]
        # Patterns apply to every user; %u is the login name, so a device reaches only its
        # own topics and a screen's name (never a device id) matches no device's topics.
        lines += ["# every device: its own topics only",
                  f"pattern write {room}/%u/frames", f"pattern write {room}/%u/hello",
                  f"pattern write {room}/%u/online", f"pattern read {room}/%u/cmd",
                  f"pattern read {room}/%u/messages", ""]
        return "\n".join(lines)


# The topics (last level) a group's broker forwards to the room's central broker, and those it
# brings back. Named one by one rather than `#` both ways, so nothing can loop between them.
BRIDGE_OUT = ("frames", "hello", "online")
BRIDGE_IN = ("cmd", "marks", "messages")


@dataclass(frozen=True)
class Bridge:
    """This broker's connection to the room's central broker (Mosquitto's bridge).

    ``host``/``port``: the central broker; ``username``/``password``: a bridge login there
    (`RoomAccounts.add_bridge` on the central room's accounts); ``cafile``: the CA of the
    central broker's TLS certificate (TLS is used when given, and the certificate must name
    ``host``). ``room``: the room whose topics cross."""

    host: str
    port: int
    room: str
    username: str | None = None
    password: str | None = None
    cafile: Path | None = None
    name: str = "to-room"

    def config_lines(self) -> list[str]:
        """The ``connection`` section of mosquitto.conf for this bridge."""
        check_name(self.room, "room name")
        check_name(self.name, "bridge name")
        if self.password is not None and self.username is None:
            raise ValueError("a bridge password needs its user name")
        if any(c.isspace() for c in f"{self.host}{self.username or ''}{self.password or ''}"):
            raise ValueError("a bridge's host, user name and password may not hold spaces (mosquitto.conf)")
        host = f"[{self.host}]" if ":" in self.host else self.host
        room = f"glovecoach/{self.room}"
        lines = [f"connection {self.name}", f"address {host}:{self.port}",
                 "bridge_protocol_version mqttv311",
                 # The central broker is Mosquitto: it marks the bridge's client as a bridge
                 # and does not send its own messages back to it.
                 "try_private true",
                 "cleansession true",
                 "notifications false",
                 # Back within a second after the central broker restarts (default 5-30 s).
                 "restart_timeout 1 2",
                 "keepalive_interval 30"]
        if self.username is not None:
            lines.append(f"remote_username {self.username}")
        if self.password is not None:
            lines.append(f"remote_password {self.password}")
        if self.cafile is not None:
            lines += [f"bridge_cafile {self.cafile}", "bridge_insecure false", "bridge_tls_version tlsv1.2"]
        lines += [f"topic {room}/+/{t} out 0" for t in BRIDGE_OUT]
        lines += [f"topic {room}/+/{t} in 0" for t in BRIDGE_IN]
        return lines


@dataclass(frozen=True)
class TlsFiles:
    """A server certificate and its key (PEM), and the CA that signed it (given to clients)."""

    certfile: Path
    keyfile: Path
    cafile: Path | None = None


def find_mosquitto() -> str:
    explicit = os.environ.get(MOSQUITTO_ENV)
    candidates = [explicit] if explicit else [shutil.which("mosquitto"), *MOSQUITTO_PATHS]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise RoomBrokerError("a classroom needs Mosquitto: install it (Debian/Ubuntu: sudo apt-get install "
                          f"mosquitto; macOS: brew install mosquitto) or set {MOSQUITTO_ENV} to its path")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class RoomBroker:
    """Mosquitto for one room, for the life of the ``with`` block.

    ``host`` is the address to listen on: "0.0.0.0" for a real room (devices come over WiFi),
    "127.0.0.1" for tests and demos. ``port`` 0 picks a free one. ``persistence=False``:
    nothing the broker holds outlives it except what the devices republish (their retained
    HELLO), which they do on every connect.
    """

    def __init__(self, accounts: RoomAccounts | None, *, host: str = "0.0.0.0", port: int = 0,
                 tls: TlsFiles | None = None, mosquitto: str | None = None,
                 bridge: Bridge | None = None, loopback_port: int | None = None) -> None:
        # Without accounts the broker takes anyone: allowed on the loopback only (one station's
        # own broker, glovecoach.link.broker), never on a network.
        if accounts is None and host not in ("127.0.0.1", "::1", "localhost"):
            raise RoomBrokerError("a broker without accounts listens on the loopback only")
        self.accounts = accounts
        self.host = host
        self.port = port or _free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
        self.tls = tls
        self.bridge = bridge
        # A second listener on the loopback, plain, the same logins: the instructor's own
        # process reaches a TLS room broker there without a certificate naming 127.0.0.1.
        # 0 picks a free port; None: no second listener.
        self.loopback_port = (loopback_port or _free_port("127.0.0.1")) if loopback_port is not None else None
        if bridge is not None:
            bridge.config_lines()   # a bad bridge fails here, not in Mosquitto's log
        self._mosquitto = mosquitto
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._starts = 0

    @property
    def config_dir(self) -> Path | None:
        return self._dir

    def _write_config(self) -> Path:
        assert self._dir is not None
        lines = ["# written by glovecoach for one classroom session; removed when it ends",
                 "per_listener_settings false"]
        if self.accounts is None:
            lines.append("allow_anonymous true")
        else:
            pw, acl = self._write_accounts()
            lines += ["allow_anonymous false", f"password_file {pw}", f"acl_file {acl}"]
        lines += [
            "persistence false",
            # Mosquitto started as root drops to the "mosquitto" user, which could not read
            # this private folder: stay the user who started the classroom.
            f"user {_user_name()}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} {self.host}",
            # a room of 12 stations x 3 devices plus screens; well above, to see a leak
            "max_connections 500",
            # A client that sends a longer packet is disconnected, and the packet goes no
            # further: one device publishing megabytes costs its own connection, not the
            # instructor's stream of every station.
            f"max_packet_size {MAX_PACKET_BYTES}",
        ]
        if self.tls is not None:
            lines += [f"certfile {self.tls.certfile}", f"keyfile {self.tls.keyfile}", "tls_version tlsv1.2"]
            if self.tls.cafile is not None:
                lines.append(f"cafile {self.tls.cafile}")
        if self.loopback_port is not None:
            # After the TLS lines: they belong to the listener above.
            lines.append(f"listener {self.loopback_port} 127.0.0.1")
        if self.bridge is not None:
            # After the listener's lines: a `connection` section runs to the end of the file.
            lines += ["", *self.bridge.config_lines()]
        conf = self._dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf

    def _write_accounts(self) -> tuple[Path, Path]:
        """The logins (hashed) and the ACL, private, where mosquitto.conf points."""
        assert self._dir is not None and self.accounts is not None
        pw = self._dir / "passwd"
        acl = self._dir / "acl"
        for path, text in ((pw, self.accounts.password_file()), (acl, self.accounts.acl_file())):
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)    # Mosquitto never reads half a file
        return pw, acl

    def reload_accounts(self, accounts: RoomAccounts) -> None:
        """The room's logins as ``accounts`` has them now (a glove provisioned mid-class),
        taken by the running broker without a restart: its password and ACL files are
        rewritten and Mosquitto rereads them on SIGHUP; nobody connected is dropped."""
        if self.accounts is None:
            raise RoomBrokerError("a broker without accounts takes anyone; it has no logins to reload")
        self.accounts = accounts
        if self._dir is None or self._proc is None or self._proc.poll() is not None:
            return                   # not running: start() writes them
        self._write_accounts()
        self._proc.send_signal(signal.SIGHUP)

    def _check_port_free(self) -> None:
        # Probing by connecting cannot tell our Mosquitto from whatever already holds the port.
        try:
            with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as s:
                # SO_REUSEADDR as Mosquitto sets it: a port left in TIME_WAIT by a broker we
                # killed is free; one with a listener on it is not (on Linux).
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((self.host, self.port))
        except OSError as exc:
            raise RoomBrokerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc} "
                                  "(another broker or classroom running? choose another port)") from None

    def start(self) -> RoomBroker:
        exe = self._mosquitto or find_mosquitto()
        self._check_port_free()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="glovecoach-room-"))
        conf = self._write_config()
        self._starts += 1
        log = open(self._dir / f"mosquitto-{self._starts}.log", "wb")
        try:
            self._proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        probe = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        while True:
            if self._proc.poll() is not None:
                text = self.log()
                self._proc = None
                raise RoomBrokerError(f"Mosquitto stopped at once (port {self.port} in use?):\n{text.strip()}")
            try:
                with socket.create_connection((probe, self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RoomBrokerError(f"Mosquitto did not listen on {probe}:{self.port} "
                                          f"within {START_TIMEOUT_S} s") from None
                time.sleep(0.02)
        return self

    def kill(self) -> None:
        """Stop the broker at once (SIGKILL), as a crash would; `start()` brings it back."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def log(self) -> str:
        if self._dir is None:
            return ""
        return "".join(p.read_text(errors="replace") for p in sorted(self._dir.glob("mosquitto-*.log")))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> RoomBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _die_with_parent() -> None:
    """In the broker's process, before it runs Mosquitto: on Linux, ask the kernel for SIGTERM
    when the process (thread) that started it ends, so a killed classroom or station leaves no
    broker listening behind it. Elsewhere nothing (the ``with`` block still stops it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name

