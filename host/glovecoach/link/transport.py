"""Byte transports between the host and a glove, chosen by URL.

A transport moves bytes; it knows nothing of frames. Every backend (a USB serial port, a
virtual glove running the real firmware on a pseudo-terminal, the playback of a recording)
presents the same small interface, so the client and everything above it run one code path.

URLs understood by :func:`open_transport` / :func:`make_transport`:

* ``/dev/ttyUSB0`` or ``serial:///dev/ttyUSB0?baud=115200`` — a serial port (pyserial);
* ``virtual://?signal=PATH&glove_id=GC-SIM-0001`` — start a virtual glove (the real firmware
  in MicroPython's unix port) and talk to it over its pseudo-terminal; ``scenario=NAME&seed=N``
  once `glovecoach.simulate` provides signal files;
* ``replay://PATH?speed=1.0`` — an in-process device playing back a ``.gcrec`` recording.
"""

from __future__ import annotations

import abc
from urllib.parse import parse_qs, unquote, urlsplit


class LinkLost(ConnectionError):
    """The device went away (unplugged, port closed, process gone)."""


class Transport(abc.ABC):
    """One link to one device. Not thread-safe beyond one reader and one writer thread."""

    name: str

    @abc.abstractmethod
    def open(self) -> None:
        """Open (or reopen after :class:`LinkLost`) the link; raises LinkLost if impossible."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the link; safe to call twice."""

    @abc.abstractmethod
    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` bytes, as soon as any are available; ``b""`` after ``timeout``."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return unquote(parts.netloc + parts.path), params


def _number(params: dict[str, str], key: str, kind: type, default, url: str):
    if key not in params:
        return default
    try:
        return kind(params[key])
    except ValueError:
        raise ValueError(f"{url}: {key}={params[key]!r} is not a valid {kind.__name__}") from None


def make_transport(url: str) -> Transport:
    """Build (without opening) the transport a URL names; ValueError names what is wrong."""
    if not url:
        raise ValueError("empty transport URL")
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme in ("", "serial"):
        from glovecoach.link.serial_link import SerialTransport

        path, params = _query(url) if scheme else (url, {})
        if not path:
            raise ValueError(f"{url}: no serial port path")
        baud = _number(params, "baud", int, 115200, url)
        return SerialTransport(path, baudrate=baud)
    if scheme == "virtual":
        from glovecoach.link.virtual_glove import VirtualGloveTransport

        _, params = _query(url)
        unknown = set(params) - {"signal", "glove_id", "scenario", "seed"}
        if unknown:
            raise ValueError(f"{url}: unknown virtual glove option(s) {sorted(unknown)}")
        return VirtualGloveTransport(
            signal=params.get("signal") or None,
            glove_id=params.get("glove_id") or None,
            scenario=params.get("scenario") or None,
            seed=_number(params, "seed", int, 0, url),
        )
    if scheme == "replay":
        from glovecoach.link.replay import ReplayTransport

        path, params = _query(url)
        if not path:
            raise ValueError(f"{url}: no recording path")
        speed = _number(params, "speed", float, 1.0, url)
        if not speed > 0:
            raise ValueError(f"{url}: speed must be > 0, got {speed}")
        return ReplayTransport(path, speed=speed)
    raise ValueError(f"{url}: unknown transport scheme {scheme!r} "
                     "(expected a serial port path, serial://, virtual:// or replay://)")


def open_transport(url: str) -> Transport:
    """:func:`make_transport` and open it."""
    transport = make_transport(url)
    transport.open()
    return transport
