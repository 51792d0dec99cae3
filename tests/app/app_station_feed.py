"""StationUpdates made by the real coaching: one `CoachingListener` per hand on simulated
sessions (the strip's columns shared, as one strip is), cut into blocks as a station pipeline
would hand them on. Used by the station view tests and to render its screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glovecoach.app.sources import simulated_session
from glovecoach.calibration import Calibration
from glovecoach.pipeline.coaching import CoachingListener
from glovecoach.pipeline.station_coaching import StationUpdate
from glovecoach.protocols import default_protocol
from glovecoach.vocabulary.station import StationLayout

# hand -> (scenario, seed, start s): the right hand presses too hard with the thumb at ~405 s
SCENES = {"left": ("good_session", 2, 400.0), "right": ("excessive_force_kneading", 1, 395.0)}


@dataclass
class StationFeed:
    layout: StationLayout
    seconds: float
    block_s: float = 0.1
    scenes: dict = field(default_factory=lambda: dict(SCENES))

    def __post_init__(self) -> None:
        protocol = default_protocol()
        self.listeners: dict[str, CoachingListener] = {}
        self.raw: dict[str, np.ndarray] = {}
        spine = None
        for hand in reversed(self.layout.hands):      # the right hand's session gives the strip
            scenario, seed, start = self.scenes[hand]
            session = simulated_session(scenario, seed, start, self.seconds)
            self.rate_hz = session.rate_hz
            ids = self.layout.hand_channels(hand)
            raw = session.raw[:, [session.channels.index(c) for c in ids]].copy()
            strip = [k for k, c in enumerate(ids) if c.startswith("spine_")]
            if spine is None:
                spine = raw[:, strip]
            raw[:, strip] = spine[:len(raw)]
            self.raw[hand] = raw
            self.listeners[hand] = CoachingListener(
                protocol=protocol, calibration=Calibration.nominal_for(ids), channels=ids,
                rate_hz=session.rate_hz, with_state=True)
        self.n = min(len(r) for r in self.raw.values())
        self.block = int(round(self.block_s * self.rate_hz))
        self.next_index = 0

    def updates(self, seconds: float, *, gone: tuple[str, ...] = ()) -> list[StationUpdate]:
        """The next ``seconds`` as StationUpdates; the hands in ``gone`` have no samples
        (their glove dropped out): their engines are given the gap."""
        out = []
        end = min(self.n, self.next_index + int(round(seconds * self.rate_hz)))
        while self.next_index < end:
            first = self.next_index
            n = min(self.block, end - first)
            hands = {}
            for hand, listener in self.listeners.items():
                if hand in gone:
                    updates = listener.gap(first, n)
                else:
                    updates = listener.process_raw(first, self.raw[hand][first:first + n])
                hands[hand] = updates[-1]
                assert len(updates) == 1, "a contiguous feed has no gaps of its own"
            technique = {h: getattr(u.state, "technique", None) for h, u in hands.items()}
            known = [t for t in technique.values() if t]
            technique["agree"] = len(set(known)) <= 1
            technique["station"] = known[0] if len(set(known)) == 1 else None
            out.append(StationUpdate(first, n, hands, technique=technique))
            self.next_index = first + n
        return out
