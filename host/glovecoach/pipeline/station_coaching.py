"""Coaching a station: one engine per hand, and what the station as a whole did.

`StationCoachingListener` takes the station's messages (`StationSamples`, `StationGap` on the
station index), turns each device's raw counts into newtons with that device's own
calibration (each glove its own; its TARE, from its HELLO, seeding that hand's resting
baselines: the same `Calibration.convert` and `tare_newtons` the one-glove
`CoachingListener` uses), and coaches them with `glovecoach.engine.station.StationCoach`.
Its answer to each message is a `StationUpdate`. Live, replay and `analyze_station` all coach
a station through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glovecoach.calibration import Calibration, calibration_for, tare_newtons
from glovecoach.engine.detectors import run_lengths
from glovecoach.engine.report import StationReport
from glovecoach.engine.station import StationCoach, StationStep
from glovecoach.pipeline.coaching import CoachingUpdate
from glovecoach.pipeline.listener import Listener
from glovecoach.vocabulary.blocks import ForceBlock
from glovecoach.vocabulary.sensors import SPINE_CHANNELS
from glovecoach.vocabulary.station import StationGap, StationLayout, StationSamples

# Held blocks are tested against counts made from floors up to FLOOR_RISE_N below today's
# and FLOOR_DROP_N above (a fifth of the lowest threshold, the spine's 1.5 N, is 0.3 N).
FLOOR_RISE_N = 0.5
FLOOR_DROP_N = 0.1

# What a deferring listener's held stretch waits for (`StationCoachingListener.due`).
NOT_DUE, STRETCH_DUE, ALERT_DUE = 0, 1, 2


@dataclass(frozen=True)
class StationUpdate:
    """What the station's engines made of one stretch of the station index.

    ``hands`` maps "left"/"right" to that hand's `CoachingUpdate` (forces on the hand's 20
    channels: its glove, then the strip), for each hand coached in this stretch; ``events``
    are the station's own decisions (the hands doing different techniques, one spine contact
    however many hands were on the back); ``technique`` is the technique per hand and for
    the station, e.g. {"left": "kneading", "right": "kneading", "station": "kneading",
    "agree": True}.

    Added with the listener: ``present`` (device role -> whether it was there in this
    stretch; an absent glove's hand has a gap update, block None; an absent strip's columns
    in a hand's block are NaN, not readings), ``active_alerts`` (the station's own standing
    alerts: spine contacts, hands differing; each hand's are in its update) and ``state``
    (the station's `StationState`, when the listener was asked for it).
    """

    first_index: int
    n_samples: int
    hands: dict[str, CoachingUpdate]
    events: tuple[Any, ...] = ()
    technique: dict = field(default_factory=dict)
    present: dict = field(default_factory=dict)
    active_alerts: tuple[Any, ...] = ()
    state: Any = None


def _device_id(info: Mapping | None) -> str | None:
    info = info or {}
    value = info.get("glove_id") or info.get("device_id")
    return str(value) if value else None


class StationCoachingListener(Listener):
    """Station messages in, `StationUpdate`s out; `finish()` gives the `StationReport`.

    ``calibrations``: per device role, its `Calibration` (over that device's channels, in its
    order); a role without one gets `calibration_for` its id in ``device_info[role]`` (its
    HELLO: "glove_id" or "device_id"), nominal if there is none stored.
    """

    def __init__(self, *, protocol: Any, layout: StationLayout, rate_hz: float,
                 calibrations: Mapping[str, Calibration] | None = None,
                 device_info: Mapping[str, dict] | None = None,
                 calibration_dir: Any = None, with_state: bool = False, hold_s: float = 0.0,
                 hold_phase: float = 0.0, defer: bool = False) -> None:
        self.layout = layout
        self.rate_hz = float(rate_hz)
        self.with_state = with_state
        # Coaching costs mostly per call (about 1 ms however short the block), so a room of
        # stations coaches in blocks of up to `hold_s`, except that a block which could raise a
        # safety alert is coached at once with what was held (`_may_alert`).
        self.hold_rows = int(round(max(0.0, hold_s) * self.rate_hz))
        # Held stretches end at station slots k * hold_rows - hold_offset: a room gives each of
        # its stations its own `hold_phase` (0-1), so their coaching calls take turns instead of
        # all falling in the same pump (and an alert's burst does not line them up again).
        self.hold_offset = int(round(hold_phase * self.hold_rows)) % max(1, self.hold_rows)
        self._held: list[np.ndarray] = []       # raw blocks, one after another
        self._held_first = 0
        self._held_present: tuple[bool, ...] = ()
        self._held_rows = 0
        # With `defer`, a held stretch that is due is not coached inside `process_raw`: `due`
        # says so (ALERT_DUE before STRETCH_DUE) and whoever runs many stations calls `flush()`
        # in that order, so one station's alert is not coached after the other stations'
        # quiet stretches that fell due in the same instant. The blocks coached are the same.
        self.defer = defer
        self.due = NOT_DUE
        self._floor_counts = np.zeros(0, dtype=np.int64)    # a held sample at or above may alert
        self._standing: np.ndarray | None = None            # columns with a standing over-force
        self._standing_low: np.ndarray | None = None        # a held sample below may end one
        self._alert_floors: np.ndarray | None = None
        self._floors_stale = True
        calibrations = dict(calibrations or {})
        device_info = dict(device_info or {})
        self.calibrations: dict[str, Calibration] = {}
        for device in layout.devices:
            cal = calibrations.get(device.role)
            if cal is None:
                cal = calibration_for(_device_id(device_info.get(device.role)), device.channels, calibration_dir)
            if tuple(cal.channels) != tuple(device.channels):
                raise ValueError(f"the calibration for the {device.role} covers {', '.join(cal.channels)}; "
                                 f"the device has {', '.join(device.channels)}")
            self.calibrations[device.role] = cal
        self._slices = [layout.slice_of(d.role) for d in layout.devices]
        baselines = {}
        for hand in layout.hands:
            role = layout.glove_role(hand)
            device = layout.device(role)
            tare = tare_newtons(device_info.get(role) or {}, self.calibrations[role], device.channels)
            if tare is not None:
                baselines[hand] = tare[[i for i, c in enumerate(device.channels) if c not in SPINE_CHANNELS]]
        self.coach = StationCoach(protocol, layout, rate_hz,
                                  calibration={r: c.describe() for r, c in self.calibrations.items()},
                                  initial_baseline=baselines)
        self._hand_cols = {hand: layout.hand_columns(hand) for hand in layout.hands}
        self._debounce = self.coach.alert_debounce_samples()
        self._above_run = np.zeros(len(layout.columns), dtype=np.int64)   # samples over the floor in a row
        self.end_index = 0
        self.samples_seen = 0

    # ------------------------------------------------------------------ messages
    def on_other(self, message: Any) -> list[StationUpdate] | None:
        if isinstance(message, StationSamples):
            return self.process_raw(message.first_index, message.raw, message.present)
        if isinstance(message, StationGap):
            return self.gap(message.first_index, message.n_samples)
        return None

    def process_raw(self, first_index: int, raw: np.ndarray, present: Sequence[bool]) -> list[StationUpdate]:
        """Coach one raw station block; a jump past what came before is coached as a gap first.
        With ``hold_s``, a block that cannot raise a safety alert may be held and coached with
        the next ones (the answer is then empty)."""
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != len(self.layout.columns):
            raise ValueError(f"raw station block of shape {raw.shape} does not match the station's "
                             f"{len(self.layout.columns)} columns ({', '.join(self.layout.roles)})")
        if len(present) != len(self.layout.devices):
            raise ValueError(f"present has {len(present)} flags for {len(self.layout.devices)} devices")
        if len(raw) == 0:
            return []
        updates = []
        if first_index > self.end_index and self.samples_seen:
            updates += self.gap(self.end_index, first_index - self.end_index)
        self.end_index = first_index + len(raw)
        self.samples_seen += len(raw)
        present = tuple(bool(p) for p in present)
        if self.hold_rows <= 1:
            updates.append(self._coach(first_index, raw, present))
            return updates
        if self._held and present != self._held_present:
            updates += self.flush()
        if not self._held:
            self._held_first = first_index
        self._held.append(raw)
        self._held_present = present
        self._held_rows += len(raw)
        may_alert = self._may_alert(raw, present)     # (always: it follows each column's run)
        offset, rows = self.hold_offset, self.hold_rows
        turn = (self.end_index + offset) // rows > (self._held_first + offset) // rows
        if may_alert or turn or self._held_rows >= rows:
            if self.defer:
                self.due = max(self.due, ALERT_DUE if may_alert else STRETCH_DUE)
            else:
                updates += self.flush()
        return updates

    def flush(self) -> list[StationUpdate]:
        """Coach the blocks held back (``hold_s``), if any, as one."""
        if not self._held:
            return []
        blocks, present = self._held, self._held_present
        self._held, self._held_rows, self.due = [], 0, NOT_DUE
        raw = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return [self._coach(self._held_first, raw, present)]

    @property
    def held_samples(self) -> int:
        return self._held_rows

    def gap(self, first_index: int, n_samples: int) -> list[StationUpdate]:
        if n_samples <= 0:
            return []
        updates = self.flush()
        self._above_run[:] = 0
        step = self.coach.gap(first_index, n_samples)
        self.end_index = max(self.end_index, first_index + n_samples)
        updates.append(self._update(step, None))
        return updates

    def finish(self) -> StationReport:
        """The station's report (`StationCoach.finish`), after coaching anything held (call
        `flush()` first to deliver its update)."""
        self.flush()
        return self.coach.finish()

    # ------------------------------------------------------------------ holding
    def _coach(self, first_index: int, raw: np.ndarray, present: Sequence[bool]) -> StationUpdate:
        block = self._convert(first_index, raw, present)
        step = self.coach.process(block, present)
        self._floors_stale = True     # the limits and baselines may have moved
        return self._update(step, block)

    def _may_alert(self, raw: np.ndarray, present: Sequence[bool]) -> bool:
        """Whether a sample of the raw block could begin a safety alert: then everything held
        is coached at once, so holding never delays one. Decided on the raw counts, so a held
        block is converted only once:
        - a sample at or above the count that reaches its column's `StationCoach.alert_floors`
          (or saturated) may be over a threshold; an alert begins only once such samples have
          run for the column's `alert_debounce_samples`, so a shorter run is held;
        - a column whose over-force already stands is held while it stays at or above the
          level where that alert could end (`StationCoach.standing_overforce_levels`): a
          sensor pressed too hard for seconds is coached in held blocks like the rest."""
        if self._floors_stale:
            self._floors_stale = False
            self._refresh_alert_counts()
        above = raw >= self._floor_counts
        low = None if self._standing_low is None else raw < self._standing_low
        if not all(present):
            here = np.concatenate([np.full(s.stop - s.start, p) for s, p in zip(self._slices, present)])
            above &= here
            if low is not None:
                low &= here
        if not above.any():
            self._above_run[:] = 0
        else:
            run = run_lengths(above, self._above_run)
            self._above_run = run[-1].copy()
            due = run[-1] >= self._debounce if len(run) == 1 else (run >= self._debounce).any(axis=0)
            if self._standing is not None:
                due &= ~self._standing
            if due.any():
                return True
        return low is not None and bool(low.any())

    def _refresh_alert_counts(self) -> None:
        floors = self.coach.alert_floors()
        old = self._alert_floors
        # Counts made for floors at or below today's stay a safe test (and the floors keep a
        # fifth of each threshold in hand, so a floor lower by FLOOR_DROP_N does too): new
        # counts only when a floor fell more, or rose enough to matter (limits move with the
        # technique, baselines slowly). Making counts costs more than a coaching call.
        if old is None or np.any(floors < old - FLOOR_DROP_N) or np.any(floors > old + FLOOR_RISE_N):
            self._alert_floors = floors
            counts = np.empty(len(self.layout.columns), dtype=np.int64)
            for device, cols in zip(self.layout.devices, self._slices):
                cal = self.calibrations[device.role]
                reach = cal.counts_reaching(floors[cols])
                # a saturated reading's force is unknown: it may be an alert
                counts[cols] = np.where(np.isfinite(floors[cols]),
                                        np.minimum(reach, cal.sensor_map.saturated_at), reach)
            self._floor_counts = counts
        levels = self.coach.standing_overforce_levels()
        standing = ~np.isnan(levels)
        if not standing.any():
            self._standing = self._standing_low = None
            return
        # Standing columns: never "above the floor"; a reading below the count that reaches
        # their level (the alert may end there, and then begin again) is coached at once.
        low = np.full(len(self.layout.columns), -1, dtype=np.int64)
        for device, cols in zip(self.layout.devices, self._slices):
            mine = standing[cols]
            if mine.any():
                reach = self.calibrations[device.role].counts_reaching(np.where(mine, levels[cols], np.inf))
                low[cols] = np.where(mine, reach, -1)
        self._standing, self._standing_low = standing, low

    # ------------------------------------------------------------------ helpers
    def _convert(self, first_index: int, raw: np.ndarray, present: Sequence[bool]) -> ForceBlock:
        """Each present device's columns through its own calibration; an absent one's are NaN."""
        n, c = raw.shape
        newtons = np.full((n, c), np.nan, dtype=np.float32)
        saturated = np.zeros((n, c), dtype=bool)
        open_ = np.zeros((n, c), dtype=bool)
        for device, cols, here in zip(self.layout.devices, self._slices, present):
            if not here:
                continue
            part = self.calibrations[device.role].convert(raw[:, cols], first_index)
            newtons[:, cols] = part.newtons
            saturated[:, cols] = part.saturated
            open_[:, cols] = part.open
        return ForceBlock(first_index, newtons, saturated, open_)

    def _update(self, step: StationStep, block: ForceBlock | None) -> StationUpdate:
        hands = {}
        for hand in self.layout.hands:
            engine = self.coach.engines[hand]
            cols = self._hand_cols[hand]
            hand_block = None
            if block is not None and step.present[self.layout.glove_role(hand)]:
                hand_block = ForceBlock(step.first_index, block.newtons[:, cols], block.saturated[:, cols],
                                        block.open[:, cols])
            hands[hand] = CoachingUpdate(step.first_index, step.n_samples, hand_block, step.hands[hand],
                                         engine.active_alerts(), engine.state if self.with_state else None)
        return StationUpdate(step.first_index, step.n_samples, hands, step.events, step.technique,
                             present=dict(step.present), active_alerts=self.coach.active_alerts(),
                             state=self.coach.state if self.with_state else None)


__all__ = ["ALERT_DUE", "NOT_DUE", "STRETCH_DUE", "StationCoachingListener", "StationUpdate"]
