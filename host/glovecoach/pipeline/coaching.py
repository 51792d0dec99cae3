"""`CoachingListener`: raw counts -> newtons -> the coaching engine, once for every user.

The live app, replay and `analyze` all coach through this, so a recording analysed afterwards
goes through exactly the steps it went through live: the glove's calibration (its TARE, from
HELLO, seeding the resting baselines), then `CoachingEngine`. Its answer to each block is a
`CoachingUpdate` for the listeners after it (the app's display, a report writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glovecoach.calibration import Calibration, tare_newtons
from glovecoach.engine.coaching import CoachingEngine
from glovecoach.pipeline.listener import Listener
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived


@dataclass(frozen=True)
class CoachingUpdate:
    """What the engine made of one stretch of the timeline.

    `block` holds the forces (None for a gap of `n_samples`); `events` what the engine decided;
    `active_alerts` the alerts standing after it and `state` the engine's state (phase, limits,
    timing: what a live display shows now; None unless the listener was asked for it).
    """

    first_index: int
    n_samples: int
    block: ForceBlock | None
    events: tuple[Any, ...]
    active_alerts: tuple[Any, ...]
    state: Any = None


class CoachingListener(Listener):
    def __init__(self, *, protocol: Any, calibration: Calibration, channels: Sequence[str],
                 rate_hz: float, device_info: dict | None = None, with_state: bool = False) -> None:
        self.calibration = calibration
        # A display needs the engine's state with every update; analysis does not (it costs
        # a pass over the phases so far), so it is only computed when asked for.
        self.with_state = with_state
        self.channels = tuple(channels)
        self.rate_hz = float(rate_hz)
        self.engine = CoachingEngine(
            protocol, self.channels, rate_hz, calibration=calibration.describe(),
            initial_baseline=tare_newtons(device_info or {}, calibration, self.channels))
        self.end_index = 0        # one past the last sample or gap given to the engine
        self.samples_seen = 0

    def process_raw(self, first_index: int, raw: np.ndarray) -> list[CoachingUpdate]:
        """Coach one raw block; a jump past what came before is coached as a gap first."""
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != len(self.channels):
            raise ValueError(f"raw block of shape {raw.shape} does not match {len(self.channels)} channels")
        if len(raw) == 0:
            return []
        updates = []
        if first_index > self.end_index and self.samples_seen:
            updates += self.gap(self.end_index, first_index - self.end_index)
        block = self.calibration.convert(raw, first_index)
        events = tuple(self.engine.process(block))
        self.end_index = first_index + len(raw)
        self.samples_seen += len(raw)
        updates.append(CoachingUpdate(first_index, len(raw), block, events, self.engine.active_alerts(),
                                      self.state()))
        return updates

    def gap(self, first_index: int, n_samples: int) -> list[CoachingUpdate]:
        if n_samples <= 0:
            return []
        events = tuple(self.engine.gap(first_index, n_samples))
        self.end_index = max(self.end_index, first_index + n_samples)
        return [CoachingUpdate(first_index, n_samples, None, events, self.engine.active_alerts(),
                               self.state())]

    def state(self) -> Any:
        return self.engine.state if self.with_state else None

    def on_samples(self, message: SamplesReceived) -> list[CoachingUpdate]:
        return self.process_raw(message.first_index, message.raw)

    def on_gap(self, message: GapDetected) -> list[CoachingUpdate]:
        return self.gap(message.first_index, message.n_samples)

    def finish(self) -> Any:
        """The session report (the engine's `finish`)."""
        return self.engine.finish()
