"""Serial-port transport (pyserial): a USB glove, or a virtual glove's pseudo-terminal."""

from __future__ import annotations

import os
import select

import serial  # type: ignore[import-untyped]  # pyserial ships no stubs

from glovecoach.link.transport import LinkLost, Transport, url_number, url_parts, url_scheme


class SerialTransport(Transport):
    def __init__(self, path: str, *, baudrate: int = 115200) -> None:
        self.path = path
        self.baudrate = baudrate
        self.name = path
        self._serial: serial.Serial | None = None
        self._timeout: float | None = None
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        if self._serial is not None:
            return
        try:
            # exclusive: a second program opening the glove would steal half the bytes.
            self._serial = serial.Serial(self.path, self.baudrate, timeout=0.05,
                                         write_timeout=2.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkLost(f"cannot open {self.path}: {exc}") from exc
        self._timeout = 0.05
        # On POSIX the read is one select() and one read() of everything waiting, straight on
        # the descriptor pyserial opened and configured: pyserial's own read(n) costs two or
        # three more system calls per frame (in_waiting, its abort pipe), which at 50 frames/s
        # is a good part of a reader's CPU (benchmarks/bench_link.py).
        self._fd = self._serial.fileno() if os.name == "posix" else None

    def close(self) -> None:
        self._fd = None
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass  # the device is already gone; nothing left to release

    def _port(self) -> serial.Serial:
        if self._serial is None:
            raise LinkLost(f"{self.path} is not open")
        return self._serial

    def read(self, max_bytes: int, timeout: float) -> bytes:
        port = self._port()
        fd = self._fd
        if fd is not None:
            try:
                if not select.select([fd], [], [], timeout)[0]:
                    return b""
                data = os.read(fd, max_bytes)
            except (OSError, ValueError, TypeError) as exc:
                # EIO: the device went away; EBADF/ValueError: the port was closed meanwhile.
                raise LinkLost(f"{self.path}: {exc}") from exc
            if not data:  # readable yet empty: hung up (pyserial reports it the same way)
                raise LinkLost(f"{self.path}: device reports readiness to read but returned no data "
                               "(device disconnected?)")
            return data
        try:
            waiting = port.in_waiting
            if not waiting:
                # Changing the timeout reconfigures the tty: only do it when it changes.
                if timeout != self._timeout:
                    port.timeout = timeout
                    self._timeout = timeout
                first = port.read(1)  # returns as soon as one byte is there
                if not first:
                    return b""
                waiting = port.in_waiting
                rest = port.read(min(waiting, max_bytes - 1)) if waiting and max_bytes > 1 else b""
                return first + rest
            return port.read(min(waiting, max_bytes))
        except (serial.SerialException, OSError, ValueError, TypeError) as exc:
            # ValueError/TypeError: the port was closed under a blocked read (fd -1 / None).
            raise LinkLost(f"{self.path}: {exc}") from exc

    def write(self, data: bytes) -> None:
        port = self._port()
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.path}: {exc}") from exc


def transport_from_url(url: str) -> SerialTransport:
    """``/dev/ttyUSB0``, ``COM3`` or ``serial:///dev/ttyUSB0?baud=115200``."""
    path, params = url_parts(url) if url_scheme(url) else (url, {})
    if not path:
        raise ValueError(f"{url}: no serial port path")
    return SerialTransport(path, baudrate=url_number(params, "baud", int, 115200, url))
