"""The MQTT broker a station uses: a configured one, or one glovecoach starts itself.

A single station needs no server set up by hand. :func:`station_broker` returns the broker
named by ``GLOVECOACH_MQTT_BROKER`` (``host:port``, e.g. a Mosquitto on the classroom's
server) when it is set, else starts :class:`EmbeddedBroker` (amqtt) on a free loopback port
for the life of the ``with`` block.

The embedded broker runs amqtt on its own asyncio loop in a daemon thread of this process:
it needs no executable, no configuration file and no cleanup after a crash, and it binds
port 0, so two stations on one machine never collide. Measured in tests/link/test_mqtt_broker.py
and docs/wifi-mqtt.md: it carries a 200 Hz glove (50 messages/s) without loss; Mosquitto
(a C program) is the choice for a classroom with many devices.

The embedded broker listens on the loopback only: a glove on WiFi cannot reach it. Set
``host="0.0.0.0"`` (and give it credentials: it is then open to the network) for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

BROKER_ENV = "GLOVECOACH_MQTT_BROKER"
DEFAULT_PORT = 1883
START_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(text: str, source: str = BROKER_ENV) -> BrokerAddress:
    """``host``, ``host:port`` or ``[v6]:port`` -> BrokerAddress; ValueError naming ``source``."""
    text = text.strip()
    if not text:
        raise ValueError(f"{source} is empty: expected host:port of an MQTT broker")
    host, sep, port_text = text.rpartition(":")
    if not sep or "]" in port_text:
        host, port_text = text, str(DEFAULT_PORT)
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{source}={text!r}: port {port_text!r} is not a number") from None
    if not host or not 0 < port < 65536:
        raise ValueError(f"{source}={text!r}: expected host:port with a port in 1..65535")
    return BrokerAddress(host, port)


def configured_broker() -> BrokerAddress | None:
    """The broker named by GLOVECOACH_MQTT_BROKER, or None when it is not set."""
    text = os.environ.get(BROKER_ENV)
    return parse_address(text) if text else None


class EmbeddedBroker:
    """amqtt on a free port, in a background thread: ``with EmbeddedBroker() as b: b.address``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.address: BrokerAddress | None = None

    def start(self) -> BrokerAddress:
        if self._thread is not None:
            assert self.address is not None
            return self.address
        self._thread = threading.Thread(target=self._run, name="glovecoach-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError(f"the embedded MQTT broker did not start within {START_TIMEOUT_S} s")
        if self._error is not None:
            self._thread.join(1.0)
            self._thread = None
            raise RuntimeError(f"the embedded MQTT broker (amqtt) failed to start: {self._error}") from self._error
        assert self.address is not None
        return self.address

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopped.set)
        thread.join(START_TIMEOUT_S)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); a stop after start is just logged
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("embedded MQTT broker stopped with an error")
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        from amqtt.broker import Broker  # imported here: loading amqtt costs ~0.3 s

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self._port}"}},
            # No $SYS publishing, no packet logging: this broker carries 50 messages/s per
            # glove, and its logging plugins would format every packet.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._stopped = asyncio.Event()
        # amqtt logs every connection at INFO; a station's log should say "broker on port N".
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        broker = Broker(config)
        await broker.start()
        server = broker._servers["default"].instance   # amqtt keeps the asyncio server here
        port = server.sockets[0].getsockname()[1]
        self.address = BrokerAddress(self.host, port)
        log.info("embedded MQTT broker (amqtt) on %s", self.address)
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await broker.shutdown()


@contextlib.contextmanager
def station_broker() -> Iterator[BrokerAddress]:
    """The configured broker if there is one; else Mosquitto on the loopback when it is
    installed; else the embedded amqtt; for the block's duration.

    Mosquitto comes first when it is there: amqtt 0.11 can fail a client that connects while
    another subscribes ("dictionary changed size during iteration" in its session handler,
    seen with a station's three devices and three host clients starting at once); Mosquitto,
    a C program, also costs a tenth of the CPU. Both listen on the loopback only."""
    configured = configured_broker()
    if configured is not None:
        yield configured
        return
    from glovecoach.link.room_broker import RoomBroker, RoomBrokerError, find_mosquitto

    try:
        find_mosquitto()
    except RoomBrokerError:
        with EmbeddedBroker() as embedded:
            assert embedded.address is not None
            yield embedded.address
        return
    with RoomBroker(None, host="127.0.0.1") as mosquitto:
        yield BrokerAddress("127.0.0.1", mosquitto.port)
