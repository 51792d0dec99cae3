"""`StationPipeline`: one station's session, live, from its devices' clients to its listeners.

The one place a live station is put together, used unchanged by `record --station`, the app's
station mode, the demo and every station of a classroom:

    clients (one per device) -> StationSource -> [recorder] -> [coaching] -> the caller's listeners

* The recorder (`StationRecorderListener`) takes each device's own messages, losslessly, on
  the device's own index; the station origin the aligner chose is stored as soon as it is
  known, and each device's clock fit and counters at the end, so replaying the file gives
  the slots the live session gave.
* The coaching (`StationCoachingListener`) takes the aligned station blocks and answers with
  `StationUpdate`s, which reach the listeners after it (a display, a tile). With
  ``coach_hold_s`` (a classroom, many stations in one process) blocks that cannot raise a
  safety alert are coached together up to that long; the decisions are the same.
  ``coach_hold_phase`` (0-1) staggers where those stretches end, station by station.
  ``defer_coaching``: `pump()` only takes in (and records) what came; the held stretch that
  fell due is coached by `coach_due()`, so a room can coach its stations' alerts first.
  ``origin_delay_s``: station slot 0 that long after the first sample (`StationAligner`).
* ``resume`` (`ResumedSession`): the session began in an earlier run (a classroom app that
  stopped mid-class and was started again): its slots so far go through the coaching (and
  the listeners after it) first, then the live ones go on from the next slot on the same
  origin. So the phases, the protocol's clock and the report are the whole session's; the
  recording holds only what this run receives (the earlier run's file holds the rest).
  The earlier slots are coached in slices (`resume_some`: a classroom gives it 5 s blocks, about
  14 ms each), so a room picking up twelve sessions does not hold its window for half a minute;
  until they are all coached, `pump()` records the live messages as they come and holds them
  for the coaching (`finish()` coaches whatever is left first).
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.notifier import Notifier, join_sample_runs
from glovecoach.pipeline.recorder import StationRecorderListener
from glovecoach.pipeline.station_coaching import NOT_DUE, StationCoachingListener
from glovecoach.pipeline.station_source import StationSource
from glovecoach.vocabulary.station import StationGap, StationLayout, StationSamples


@dataclasses.dataclass
class ResumedSession:
    """A session so far: its station origin (host seconds of slot 0), the slot the live
    session goes on from, and the station blocks of the slots before it, in order."""

    origin_host_s: float
    start_slot: int
    blocks: Sequence[StationSamples | StationGap]


class StationPipeline:
    def __init__(self, clients: Mapping[str, Any], layout: StationLayout, rate_hz: float, *,
                 writer: Any = None, protocol: Any = None, device_info: Mapping[str, dict] | None = None,
                 calibration_dir: Any = None, listeners: Sequence[Listener] = (), with_state: bool = False,
                 limit_samples: int | None = None, hold_s: float = 0.25, coach_hold_s: float = 0.0,
                 coach_hold_phase: float = 0.0, defer_coaching: bool = False,
                 origin_delay_s: float = 0.0, resume: ResumedSession | None = None) -> None:
        self.layout = layout
        self.rate_hz = float(rate_hz)
        resumed = {} if resume is None else {"origin_host_s": resume.origin_host_s,
                                             "start_slot": resume.start_slot}
        self.source = StationSource(clients, layout, rate_hz, hold_s, origin_delay_s=origin_delay_s, **resumed)
        self.writer = writer
        self.recorder = (StationRecorderListener(writer, rate_hz, limit_samples=limit_samples)
                         if writer is not None else None)
        self.coaching = (StationCoachingListener(protocol=protocol, layout=layout, rate_hz=rate_hz,
                                                 device_info=device_info, calibration_dir=calibration_dir,
                                                 with_state=with_state, hold_s=coach_hold_s,
                                                 hold_phase=coach_hold_phase, defer=defer_coaching)
                         if protocol is not None else None)
        chain: list[Listener] = [x for x in (self.recorder, self.coaching) if x is not None]
        self.notifier = Notifier(self.source, [*chain, *listeners])
        self._origin_written = False
        self.finished = False
        # The earlier run's blocks still to coach (never recorded: the earlier file holds them),
        # and the live messages recorded meanwhile, held for the coaching until then.
        self._earlier: collections.deque | None = None
        self._earlier_total = 0
        self._held_live: list[Any] = []
        self._defer_live = defer_coaching
        if resume is not None and self.coaching is not None:
            self._earlier = collections.deque(resume.blocks)
            self._earlier_total = len(self._earlier)
            self.coaching.defer = False    # the earlier blocks are coached as they are handed in

    @property
    def resuming(self) -> bool:
        """The earlier run's slots are not all coached yet (`resume_some`)."""
        return self._earlier is not None

    @property
    def resumed_fraction(self) -> float:
        """How much of the earlier run's session is coached, 0-1 (1 when there is none)."""
        if self._earlier is None or not self._earlier_total:
            return 1.0
        return 1.0 - len(self._earlier) / self._earlier_total

    def resume_some(self, budget_s: float | None = None) -> bool:
        """Coach the earlier run's next blocks for about ``budget_s`` (None: all that is left);
        True once they are all coached, and then the live messages held meanwhile go on to the
        coaching, in their order, before anything newer."""
        if self._earlier is None:
            return True
        assert self.coaching is not None
        at = self.notifier.listeners.index(self.coaching)
        start = time.monotonic()
        earlier = self._earlier
        while earlier:
            self.notifier.deliver(earlier.popleft(), at)
            if budget_s is not None and earlier and time.monotonic() - start >= budget_s:
                return False
        self._deliver_coached(self.coaching.flush())
        self.coaching.defer = self._defer_live
        self._earlier = None
        held, self._held_live = self._held_live, []
        for message in held:
            self.notifier.deliver(message, at)
        return True

    @property
    def station_end_index(self) -> int:
        """One past the last station slot coached or recorded."""
        if self.recorder is not None:
            return self.recorder.station_end_index
        return self.source.aligner.emitted_to

    def pump(self) -> int:
        """Deliver what the devices sent since the last call; returns how many messages.
        While the earlier run's session is being coached (`resuming`), they are recorded now
        and held for the coaching."""
        if self._earlier is not None:
            messages = self.source.poll()
            for message in join_sample_runs(messages):
                if self.recorder is not None:
                    self.recorder.on_message(message)   # it derives nothing: the file is the end
                self._held_live.append(message)
            self._store_origin()
            return len(messages)
        n = self.notifier.pump()
        self._store_origin()
        return n

    @property
    def coaching_due(self) -> int:
        """What the coaching's held stretch waits for (`station_coaching.NOT_DUE`,
        `STRETCH_DUE` or `ALERT_DUE`); always NOT_DUE unless ``defer_coaching``."""
        return self.coaching.due if self.coaching is not None else NOT_DUE

    def coach_due(self) -> int:
        """Coach the held stretch if it is due and hand its updates to the listeners after the
        coaching; returns how many updates."""
        if self.coaching is None or not self.coaching.due:
            return 0
        return self._deliver_coached(self.coaching.flush())

    def _deliver_coached(self, updates: list) -> int:
        after = self.notifier.listeners.index(self.coaching) + 1
        for update in updates:
            self.notifier.deliver(update, after)
        return len(updates)

    def _store_origin(self) -> None:
        if not self._origin_written and self.writer is not None and self.source.origin_host_s is not None:
            self.writer.set_station_origin(self.source.origin_host_s)
            self._origin_written = True

    def alignment(self) -> dict[str, dict]:
        """Per device: its clock against the host's and what happened to its samples."""
        return {role: dataclasses.asdict(stats) for role, stats in self.source.stats().items()}

    def finish(self) -> Any:
        """The session is over: every held slot out, the recording closed with each device's
        alignment, the coaching finished. Returns the station report (None without coaching)."""
        if self.finished:
            return None
        self.resume_some(None)     # the whole session is reported, however soon it ends
        self.finished = True
        for message in self.source.finish():
            self.notifier.deliver(message)
        if self.coaching is not None:
            self._deliver_coached(self.coaching.flush())
        self._store_origin()
        report = self.coaching.finish() if self.coaching is not None else None
        if self.writer is not None:
            self.writer.close(alignment=self.alignment(),
                              station_samples=self.recorder.station_end_index if self.recorder else None)
        self.notifier.stop()
        return report
