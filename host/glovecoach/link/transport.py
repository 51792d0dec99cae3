"""Byte transports between the host and a glove, chosen by URL.

A transport moves bytes; it knows nothing of frames. Every backend (a USB serial port, a
virtual glove running the real firmware on a pseudo-terminal, the playback of a recording)
presents the same small interface, so the client and everything above it run one code path.

URLs understood by :func:`open_transport` / :func:`make_transport`:

* ``/dev/ttyUSB0`` or ``serial:///dev/ttyUSB0?baud=115200`` — a serial port (pyserial);
* ``virtual://?signal=PATH&glove_id=GC-SIM-0001`` — start a virtual glove (the real firmware
  in MicroPython's unix port) playing the signal file PATH (``.gcsig``, made by the caller,
  e.g. with `glovecoach.simulate`) and talk to it over its pseudo-terminal;
* ``replay://PATH?speed=1.0`` — an in-process device playing back a ``.gcrec`` recording
  (:mod:`glovecoach.link.recording_transport`);
* ``mqtt://host:port/ROOM/DEVICE_ID`` — a glove on WiFi through an MQTT broker
  (:mod:`glovecoach.link.mqtt_transport`); ``mqtts://...?ca=room-ca.crt`` the same over TLS.

Each scheme's backend module provides ``transport_from_url(url)``; see :func:`make_transport`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit


class LinkLost(ConnectionError):
    """The device went away (unplugged, port closed, process gone)."""


class Transport(abc.ABC):
    """One link to one device. Not thread-safe beyond one reader and one writer thread."""

    name: str
    # Where a transport hands what comes beside the byte stream (an instructor's message on a
    # glove's topics through a broker): ``on_note(kind, payload)``; the client sets it.
    on_note: Callable[[str, dict], None] | None = None
    # Where a transport says it refused what a device sent before it reached the byte stream (a
    # device over its message budget): ``on_problem(field, message)``; the client sets it.
    on_problem: Callable[[str, str], None] | None = None

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


def url_parts(url: str) -> tuple[str, dict[str, str]]:
    """(the path after ``scheme://``, the query parameters, last value of each)."""
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return unquote(parts.netloc + parts.path), params


def url_number(params: dict[str, str], key: str, kind: type, default, url: str):
    """Query parameter ``key`` as ``kind``; ValueError naming the URL and the key if invalid."""
    if key not in params:
        return default
    try:
        return kind(params[key])
    except ValueError:
        raise ValueError(f"{url}: {key}={params[key]!r} is not a valid {kind.__name__}") from None


# URL scheme -> module that builds its transport with ``transport_from_url(url)``. Imported
# only when a URL names the scheme (as pyserial's ``serial_for_url`` imports
# ``protocol_<scheme>``): this module never imports a backend, so the backends can import
# Transport and LinkLost from here without a cycle, and opening a serial port never loads the
# virtual glove or the recording reader.
_BACKENDS: dict[str, str] = {
    "": "glovecoach.link.serial_link",         # a bare path: /dev/ttyUSB0, COM3
    "serial": "glovecoach.link.serial_link",
    "virtual": "glovecoach.link.virtual_glove",
    "replay": "glovecoach.link.recording_transport",
    "mqtt": "glovecoach.link.mqtt_transport",
    "mqtts": "glovecoach.link.mqtt_transport",
}
_FACTORIES: dict[str, Callable[[str], Transport]] = {}


def register_scheme(scheme: str, factory: Callable[[str], Transport]) -> None:
    """Make ``scheme://`` URLs build transports with ``factory(url)`` (for another device kind,
    or a test double at the physical edge)."""
    _FACTORIES[scheme] = factory


def url_scheme(url: str) -> str:
    return urlsplit(url).scheme if "://" in url else ""


def make_transport(url: str) -> Transport:
    """Build (without opening) the transport a URL names; ValueError names what is wrong."""
    if not url:
        raise ValueError("empty transport URL")
    scheme = url_scheme(url)
    factory = _FACTORIES.get(scheme)
    if factory is None:
        module = _BACKENDS.get(scheme)
        if module is None:
            known = ", ".join(f"{s}://" for s in sorted({*_BACKENDS, *_FACTORIES} - {""}))
            raise ValueError(f"{url}: unknown transport scheme {scheme!r} "
                             f"(expected a serial port path or one of {known})")
        factory = importlib.import_module(module).transport_from_url
    return factory(url)


def open_transport(url: str) -> Transport:
    """:func:`make_transport` and open it."""
    transport = make_transport(url)
    transport.open()
    return transport
