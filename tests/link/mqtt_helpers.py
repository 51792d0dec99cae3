"""Real MQTT pieces for the tests: a Mosquitto broker and a WiFi virtual glove.

`Mosquitto` runs the distribution's /usr/sbin/mosquitto on a free loopback port with its own
temporary configuration (anonymous, or with a password file). `MqttGlove` runs the real
firmware in MicroPython's unix port with a network configuration file, so it publishes its
frames over real sockets to the broker, as a glove on WiFi does.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
MICROPYTHON = Path(sys.executable).with_name("micropython")
MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Mosquitto:
    """``with Mosquitto() as broker: broker.port``; ``users={"u": "pw"}`` requires a password.

    ``restart()`` kills the broker (SIGKILL: no goodbye to the clients, as a crash or a power
    cut) and starts it again on the same port after ``down_s`` seconds."""

    def __init__(self, users: dict[str, str] | None = None, port: int | None = None) -> None:
        if not MOSQUITTO.exists():
            raise FileNotFoundError(f"{MOSQUITTO} not installed (apt-get install mosquitto)")
        self.port = port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="glovecoach-mosquitto-"))
        # Started as root, mosquitto drops to the "mosquitto" user, which cannot read a
        # password file in our private temp dir: make it stay who we are.
        lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}", f"listener {self.port} 127.0.0.1"]
        if users:
            pw = self._dir / "passwd"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run([str(MOSQUITTO_PASSWD), "-b", str(pw), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        self.config = self._dir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self._proc: subprocess.Popen | None = None
        self._starts = 0

    def start(self) -> None:
        self._starts += 1
        log = open(self._dir / f"mosquitto-{self._starts}.log", "wb")
        self._proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)], stdout=log,
                                      stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_listening(self.port)
        except TimeoutError as exc:
            self.kill()
            raise TimeoutError(f"{exc}; mosquitto said:\n{self.log()}") from None

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def restart(self, down_s: float = 0.5) -> None:
        self.kill()
        time.sleep(down_s)
        self.start()

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self._dir.glob("mosquitto-*.log")))

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


class MqttGlove:
    """The real firmware on the unix port, connected to an MQTT broker instead of a pty."""

    def __init__(self, port: int, *, glove_id: str = "GC-WIFI-0001", room: str = "test",
                 user: str | None = None, password: str | None = None, batch_frames: int = 1,
                 signal_path: str | os.PathLike | None = None, host: str = "127.0.0.1") -> None:
        self.glove_id, self.room, self.port = glove_id, room, port
        self._dir = Path(tempfile.mkdtemp(prefix="glovecoach-wglove-"))
        mqtt: dict = {"host": host, "port": port, "room": room, "batch_frames": batch_frames}
        if user is not None:
            mqtt["user"] = user
        if password is not None:
            mqtt["password"] = password
        self.config = self._dir / "net.json"
        self.config.write_text(json.dumps({"mqtt": mqtt}))
        self.signal_path = signal_path
        self._log = self._dir / "firmware.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}/{self.room}/{self.glove_id}"

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("GLOVECOACH_SIM_SIGNAL", None)
        env.update(GLOVECOACH_GLOVE_ID=self.glove_id, GLOVECOACH_NET_CONFIG=str(self.config),
                   GLOVECOACH_SENSOR_MAP=str(REPO / "hardware" / "sensor_map.json"))
        if self.signal_path is not None:
            env["GLOVECOACH_SIM_SIGNAL"] = str(self.signal_path)
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen([str(MICROPYTHON), "main.py"], cwd=FIRMWARE, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def output(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def wait_output(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if text in out:
                return out
            time.sleep(0.05)
        raise TimeoutError(f"firmware did not print {text!r} within {timeout} s; it printed:\n{self.output()}")

    def __enter__(self) -> MqttGlove:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class TcpRelay:
    """A TCP relay on the loopback standing in for the glove's WiFi: ``cut(down_s)`` resets
    every connection through it and refuses new ones for ``down_s`` seconds, as a glove that
    walks out of range and back sees it (the host's own connection to the broker stays up)."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._down_until = 0.0
        self._closed = False
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", self.port))
        self._srv.listen(8)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.cuts = 0

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                self._reset(conn)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                self._reset(conn)
                continue
            with self._lock:
                self._conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _reset(conn: socket.socket) -> None:
        # SO_LINGER 0: close with RST, as a link that vanished rather than said goodbye.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, down_s: float) -> None:
        self._down_until = time.monotonic() + down_s
        self.cuts += 1
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                self._reset(c)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._srv.close()
        self.cut(0)
