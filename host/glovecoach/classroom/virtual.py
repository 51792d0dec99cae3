"""A virtual room: stations of real firmware processes (MicroPython unix port) on a room's broker.

Each station is two gloves and a spine strip, each its own process logged in to the broker
with its own device account, playing a simulated station session (glovecoach.simulate.station).
For demos, the classroom's tests and `glovecoach classroom --virtual N`.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from glovecoach.classroom.room import Room
from glovecoach.simulate.station import virtual_station

TRAINEES = ("Ana Lima", "Ben Okafor", "Chen Wei", "Dara Nolan", "Eli Sato", "Fatima Rahman",
            "Gus Meyer", "Hana Kim", "Ivo Petrov", "Jae Park", "Kofi Mensah", "Lea Dubois")
SCENARIOS = ("good_session", "excessive_force_kneading", "spine_contact_stroking")


def virtual_room(room: Room, n: int) -> Room:
    """Add ``n`` stations "table k" with a trainee each and devices GC-Vkk{L,R,S}."""
    for k in range(1, n + 1):
        seat = room.add_station(f"table {k}", TRAINEES[(k - 1) % len(TRAINEES)])
        for role, letter in (("left_glove", "L"), ("right_glove", "R"), ("spine_strip", "S")):
            room.assign_device(f"GC-V{k:02d}{letter}", seat.name, role)
    return room


class VirtualStations:
    """``with VirtualStations(room, accounts, broker_port): ...``: every station of the room
    with devices, as firmware processes publishing to the broker on the loopback.

    `station_ports` gives a station's devices another port to reach the broker on (station
    name -> port), e.g. a relay standing in for that station's WiFi, which a test can cut."""

    def __init__(self, room: Room, accounts: Any, broker_port: int, rate_hz: int = 200, seed: int = 1,
                 scenarios: tuple[str, ...] = SCENARIOS, duration_s: float | None = None,
                 tls_ca: str | Path | None = None, station_ports: dict[str, int] | None = None) -> None:
        stray = set(station_ports or {}) - {s.name for s in room.stations}
        if stray:
            raise ValueError(f"station_ports names station(s) {sorted(stray)} the room {room.name!r} does not have")
        self.room, self.accounts, self.port = room, accounts, broker_port
        self.tls_ca = tls_ca    # the room broker speaks TLS: its CA, given to every device
        self.station_ports = dict(station_ports or {})
        self.rate_hz, self.seed, self.scenarios, self.duration_s = rate_hz, seed, scenarios, duration_s
        self.stack = ExitStack()
        self.stations: dict[str, Any] = {}

    def __enter__(self) -> VirtualStations:
        try:
            for k, seat in enumerate(s for s in self.room.stations if s.devices):
                self.stations[seat.name] = self.stack.enter_context(virtual_station(
                    self.seed + k, self.duration_s, self.rate_hz, scenario=self.scenarios[k % len(self.scenarios)],
                    transport="mqtt", room=self.room.name,
                    broker_url=f"{'mqtts://' if self.tls_ca else ''}127.0.0.1:"
                               f"{self.station_ports.get(seat.name, self.port)}",
                    **({"tls_ca": self.tls_ca} if self.tls_ca else {}),
                    glove_ids=dict(seat.devices),
                    device_passwords={r: self.accounts.devices[d] for r, d in seat.devices.items()}))
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()
