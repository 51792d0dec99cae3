"""Station data for the station tests, made with the simulator (no mocks): each hand's glove
forces from `simulate_technique` (its own seed), the partner's resting load on the strip as
the simulator draws it, presses on the spine put where a test wants them, and every device's
ADC counts from the simulator's sensor model (`forces_to_raw`).

(Also imported by tests/pipeline/test_station_coaching_*.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glovecoach.calibration import Calibration
from glovecoach.protocols import default_protocol
from glovecoach.simulate import simulate_technique
from glovecoach.simulate.sensors import forces_to_raw
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS, SPINE_CHANNELS
from glovecoach.vocabulary.station import StationLayout

RATE = 100          # a station's rate in these tests (the engine's rules are in seconds)
REST_S = 3.0        # each hand off the back at the start and the end


@dataclass
class StationData:
    layout: StationLayout
    rate_hz: int
    raw: np.ndarray                     # (n, columns) uint16
    newtons: np.ndarray                 # (n, columns) true forces
    on_back: dict[str, np.ndarray]      # hand -> (n,) bool: the glove touches the back (truth)
    notes: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.raw)

    def calibrations(self) -> dict[str, Calibration]:
        return {d.role: Calibration.nominal_for(d.channels) for d in self.layout.devices}


def hand_forces(plan: list[tuple[str | None, float]], seed: int, rate: int = RATE) -> np.ndarray:
    """True glove forces (n, 12) of a plan [(technique or None for off the back, seconds)]."""
    parts = []
    for k, (technique, seconds) in enumerate(plan):
        if technique is None:
            parts.append(np.zeros((int(round(seconds * rate)), len(GLOVE_CHANNELS))))
        else:
            f, _ = simulate_technique(technique, seconds, seed * 100 + k, rate)
            parts.append(f)
    return np.concatenate(parts)


def limit(technique: str, channel: str) -> float:
    return float(default_protocol().force_limit(technique, channel, "live")[1])


def station(left: list[tuple[str | None, float]] | None, right: list[tuple[str | None, float]] | None,
            seed: int = 1, *, presses: tuple = (), squeezes: tuple = (), rate: int = RATE,
            strip: bool = True) -> StationData:
    """A station whose hands follow their plans (None: no glove on that hand), each framed by
    REST_S off the back. `presses`: (start_s, seconds, segment, newtons over the partner's
    load) on the strip; `squeezes`: (hand, start_s, seconds, channel, newtons) held on a glove
    sensor (an over-force)."""
    roles = [r for r, plan in (("left_glove", left), ("right_glove", right)) if plan is not None]
    if strip:
        roles.append("spine_strip")
    layout = StationLayout.for_roles(roles)
    hands = {}
    for k, (hand, plan) in enumerate((("left", left), ("right", right))):
        if plan is not None:
            hands[hand] = hand_forces([(None, REST_S), *plan, (None, REST_S)], seed * 10 + k, rate)
    n = min(len(f) for f in hands.values())
    hands = {h: f[:n].copy() for h, f in hands.items()}
    for hand, start_s, seconds, channel, level in squeezes:
        a, b = int(start_s * rate), int((start_s + seconds) * rate)
        c = GLOVE_CHANNELS.index(channel)
        hands[hand][a:b, c] = np.maximum(hands[hand][a:b, c], level)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    base = rng.uniform(0.1, 0.6, len(SPINE_CHANNELS))
    spine = base[None, :] * (1.0 + 0.04 * np.sin(2 * np.pi * 0.25 * t)[:, None])
    for start_s, seconds, segment, level in presses:
        a, b = int(start_s * rate), int((start_s + seconds) * rate)
        ramp = int(0.3 * rate)
        press = np.ones(b - a)
        press[:ramp] = np.linspace(0, 1, ramp, endpoint=False)
        press[-ramp:] = np.linspace(1, 0, ramp)
        spine[a:b, SPINE_CHANNELS.index(segment)] += level * press
    newtons, raw = [], []
    for device in layout.devices:
        f = hands[device.hand] if device.role != "spine_strip" else spine
        newtons.append(f)
        raw.append(forces_to_raw(f, device.channels, rate, np.random.default_rng([seed, len(raw)])))
    on_back = {h: f.sum(axis=1) > 1.0 for h, f in hands.items()}
    return StationData(layout, rate, np.concatenate(raw, axis=1), np.concatenate(newtons, axis=1), on_back)


def blocks(n: int, size: int):
    """[first, end) of consecutive blocks of `size` samples."""
    for a in range(0, n, size):
        yield a, min(n, a + size)
