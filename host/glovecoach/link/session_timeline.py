"""The session timeline: where each sample a glove sends belongs in the session.

A glove counts its samples on its own grid (``sample_index``, restarting at every START and
every boot) and stamps frames with a 30-bit microsecond clock. A session needs one index that
runs on across restarts, reboots and reconnects: the **session sample index** (sample ``i`` was
taken ``i / rate_hz`` seconds into the session). :class:`SessionTimeline` maps one to the other.

It is pure: it takes decoded :class:`~glovecoach.wire.messages.SampleBatch` es with the host
time they were received and returns :class:`SamplesReceived` and :class:`GapDetected` events.
No threads, no I/O, no clock reads, so it is tested with hand-made sequences
(tests/link/test_session_timeline.py). The coordinator (:class:`GloveClient`) tells it what
it learns elsewhere: a new boot (HELLO/STATUS), a reconnect, a stall, a refused frame.

How it places samples:

* consecutive frames of one stream (the :class:`~glovecoach.wire.continuity.ContinuityTracker`
  decides what "consecutive" means) keep a fixed offset between device and session index; a
  hole in the device's slots is an **exact** gap of that many samples;
* a frame received twice or overtaken by later ones is dropped (placing it would shift every
  later sample) and counted;
* a new stream (START flag, counters going backwards, a reboot) is placed by the host clock:
  the gap is the host time between the last sample placed and the first new one, times the
  rate (**not exact**);
* once this session has stopped the stream, a new stream is not its own (another screen of the
  same device started it again): it is refused, not placed, until this session starts again.

The device→host clock (:mod:`glovecoach.link.device_clock`) is fitted here, from every frame,
and STATUS stamps the coordinator passes on.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from glovecoach.link.device_clock import ClockMapper, DeviceClockUnwrapper
from glovecoach.link.events import GapDetected, SamplesReceived
from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.wire.continuity import ContinuityTracker, MissingSlots, StaleFrame, StreamRestart
from glovecoach.wire.messages import SAMPLES_FIRST_AFTER_START, SampleBatch

Placed = SamplesReceived | GapDetected


class SessionTimeline:
    """Device sample counters and stamps → session sample index, gaps and dropped frames.

    ``wall_minus_mono`` turns the monotonic receive times it is given into the Unix times the
    ``frames`` table of each :class:`SamplesReceived` carries.
    """

    def __init__(self, wall_minus_mono: float = 0.0) -> None:
        self.wall_minus_mono = wall_minus_mono
        self.tracker = ContinuityTracker()
        self.clock = ClockMapper()
        self._unwrapper = DeviceClockUnwrapper()
        self.next_index = 0               # session index after the last sample placed
        self._offset: int | None = None   # session index = device sample_index + offset
        # Device time (s) of the last sample placed and the clock that maps it: its host time is
        # only needed when a new stream must be placed by the host clock, so the fit (the costly
        # part) is not computed per frame. The clock object is kept because a reboot replaces it.
        self._last_sample: tuple[ClockMapper, float] | None = None
        self._grid_origin_us: float | None = None  # device time of slot 0 of the current stream
        self._restart_reason: str | None = None
        self._gap_reason = "lost_frames"
        self._rejected_since_taken = False
        # Session index where the last stall began, until the gap it caused is placed: a glove
        # that wakes up may first flush the frame it was filling, then skip the slots it slept
        # through, so the gap can come a frame after samples resumed.
        self._stall_from: int | None = None
        # This session sent STOP; a new stream seen since then belongs to another screen.
        self._stopped = False
        self._refusing = False
        self.samples = 0        # samples placed
        self.refused_after_stop = 0  # samples of a stream another screen started after our STOP
        self.lost_frames = 0    # frames missing in seq
        self.duplicates = 0     # frames received twice: dropped
        self.out_of_order = 0   # frames overtaken by later ones: dropped

    # -- what the coordinator learns elsewhere -------------------------------------------------
    def new_boot(self) -> None:
        """The device rebooted: its counters and clock restarted. The next samples begin a new
        stream, placed by the host clock, and their gap says ``device_reset``."""
        self.tracker = ContinuityTracker()
        self._unwrapper = DeviceClockUnwrapper()
        self.clock = ClockMapper()
        self._restart_reason = "device_reset"

    def stream_restarting(self, reason: str = "stream_restart") -> None:
        """The next stream's gap gets ``reason`` unless a reboot already gave one."""
        self._restart_reason = self._restart_reason or reason

    def stream_stopped(self) -> None:
        """This session is stopping the stream (call before the STOP is sent). Frames of the
        stream still on their way are placed; a new stream after it (another screen of the same
        device starting it again) is refused: it would be recorded in a session already ended,
        after a gap that session never had."""
        self._stopped = True

    def stream_wanted(self) -> None:
        """This session starts or joins the stream (call before the START is sent)."""
        self._stopped = False
        self._refusing = False

    def resuming_after_link_loss(self) -> None:
        """The link came back to the same boot, still streaming: the next gap (exact, from the
        device's counters) is what the link lost."""
        self._gap_reason = "link_lost"

    def frames_rejected(self) -> None:
        """Frames were refused before placing: the next exact gap is theirs."""
        self._rejected_since_taken = True

    @property
    def rejected_since_taken(self) -> bool:
        return self._rejected_since_taken

    def stall_began(self) -> int:
        """Samples stopped coming: the gap that follows is labelled ``stalled``. Returns the
        first missing session index."""
        self._stall_from = self.next_index
        return self.next_index

    def forget_stall(self) -> None:
        self._stall_from = None

    def add_status_stamp(self, t_us: int, received: float) -> None:
        """A STATUS stamp: one more (device, host) pair for the clock fit."""
        stamp = self._unwrapper.unwrap(t_us)
        self.clock.add(stamp / 1e6, np.array([received]))

    def last_sample_host_time(self) -> float | None:
        """Monotonic host time at which the last placed sample was taken (None before one)."""
        if self._last_sample is None:
            return None
        clock, device_s = self._last_sample
        return float(clock.to_host(device_s))

    # -- placing ----------------------------------------------------------------------------
    def place(self, batch: SampleBatch, received: float, rate_hz: int,
              resuming: bool = False) -> list[Placed]:
        """Events for ``batch`` (already checked against the session layout), in order.

        ``resuming``: a stall was reported and these may be the first samples after it.
        """
        found = self.tracker.update(batch)
        findings = found
        if any(type(f) is StaleFrame for f in found):
            stale = [f for f in found if isinstance(f, StaleFrame)]
            findings = [f for f in found if not isinstance(f, StaleFrame)]
            # Received twice, or overtaken by later frames: their slots are already placed (or
            # already declared a gap). Placing them again would shift every later sample.
            duplicates = sum(f.duplicate for f in stale)
            self.duplicates += duplicates
            self.out_of_order += len(stale) - duplicates
            keep = np.ones(batch.n_frames, dtype=bool)
            keep[[f.frame for f in stale]] = False
            position = np.cumsum(keep) - 1
            findings = [dataclasses.replace(f, frame=int(position[f.frame])) for f in findings]
            batch = batch.select(keep)
            if batch.n_frames == 0:
                return []
        out: list[Placed] = []
        if batch.n_frames == 1 and not findings:
            self._place_part(batch, received, [], rate_hz, resuming, out)
            return out
        # Split the batch into runs of consecutive grid slots of one stream (a START or a
        # lost frame inside a batch breaks it), so every SamplesReceived is contiguous.
        index = batch.sample_index.astype(np.int64)
        breaks = (index[1:] != index[:-1] + batch.n_per_frame[:-1]) | (
            (batch.flags[1:] & SAMPLES_FIRST_AFTER_START) != 0)
        at: dict[int, list[MissingSlots | StreamRestart]] = {}
        for finding in findings:
            at.setdefault(finding.frame, []).append(finding)
        cuts = set((np.flatnonzero(breaks) + 1).tolist()) | (set(at) - {0})
        bounds = [0, *sorted(cuts), batch.n_frames]
        for a, b in zip(bounds[:-1], bounds[1:]):
            part = batch if (a, b) == (0, batch.n_frames) else batch.frames(a, b)
            self._place_part(part, received, at.get(a, []), rate_hz, resuming, out)
            resuming = resuming and not any(type(e) is SamplesReceived for e in out)
        return out

    def _place_part(self, part: SampleBatch, received: float, findings: list[MissingSlots | StreamRestart],
                    rate: int, resuming: bool, out: list[Placed]) -> None:
        period_us = 1e6 / rate
        single = part.n_frames == 1  # the live case: plain ints and floats cost less than numpy calls
        # Frame 0 as ints; on a one-frame batch from the decoder this builds no per-frame arrays.
        _, first_device, first_t_us, first_n, first_flags = part.first
        new_stream = (self._offset is None or bool(first_flags & SAMPLES_FIRST_AFTER_START)
                      or any(type(f) is StreamRestart for f in findings)
                      # Slots already placed (a tracker reset by a new boot_id, then frames of the
                      # old stream): never overlap the timeline; place them by the host clock.
                      or first_device + self._offset < self.next_index)
        if self._refusing or (self._stopped and new_stream and self._offset is not None):
            self._refusing = True
            self.refused_after_stop += part.n_samples
            return
        # Device time of each sample = its slot on the device's grid. The firmware samples on a
        # deadline schedule and stamps a frame with the time its first sample was actually
        # taken: never before the slot's deadline, sometimes up to a period after it. So the
        # grid origin is the smallest (stamp - slot * period) seen in this stream; using the
        # raw stamps instead would put late-stamped pairs below the clock's true envelope.
        if single:
            origin = self._unwrapper.unwrap_one(first_t_us) - first_device * period_us
        else:
            t_first = self._unwrapper.unwrap(part.t_us).astype(np.float64)
            slots = part.sample_index.astype(np.float64)
            origin = float(np.min(t_first - slots * period_us))
        if new_stream or self._grid_origin_us is None or origin < self._grid_origin_us:
            self._grid_origin_us = origin
        # The host time of the last sample, through the fit as it was before this stream.
        last_host = self.last_sample_host_time() if new_stream else None
        # A frame is sent once its last sample is taken: (due_last, received) bounds the clock.
        if single:
            due_first_us = self._grid_origin_us + first_device * period_us
            due_last_us = due_first_us + (first_n - 1) * period_us
            self.clock.add_pair(due_last_us / 1e6, received)
        else:
            due_first = self._grid_origin_us + slots * period_us
            due_last = due_first + (part.n_per_frame.astype(np.float64) - 1) * period_us
            self.clock.add(due_last / 1e6, np.full(part.n_frames, received))
            due_first_us, due_last_us = float(due_first[0]), float(due_last[-1])
        if new_stream:
            if self._offset is None and last_host is None:
                self._offset = -first_device  # the session starts with the first sample seen
            else:
                assert last_host is not None
                first_host = float(self.clock.to_host(due_first_us / 1e6))
                missing = max(0, int(round((first_host - last_host) * rate)) - 1)
                self._offset = self.next_index + missing - first_device
                if missing:
                    out.append(GapDetected(self.next_index, missing,
                                           self._restart_reason or "stream_restart", exact=False))
            self._restart_reason = None
            self._stall_from = None  # a new stream: the gap above says why
        else:
            assert self._offset is not None
            lost_frames = sum(f.lost_frames for f in findings if isinstance(f, MissingSlots))
            self.lost_frames += lost_frames
            # The gap is whatever lies between the last sample placed and this one, on the
            # device's own slot counter (exact). Taken from the timeline rather than from the
            # tracker's findings, so that no hole is left unreported even where the tracker
            # was reset in between (a boot_id change seen in STATUS).
            missing = first_device + self._offset - self.next_index
            if missing > 0:
                if self._stall_from is not None:
                    reason = "stalled"  # the glove went silent and came back: exact from its slots
                    self._stall_from = None
                elif self._gap_reason == "link_lost":
                    reason = "link_lost"
                elif self._rejected_since_taken:
                    reason = "rejected_frames"
                else:
                    reason = "lost_frames" if lost_frames else "device_skipped"
                out.append(GapDetected(self.next_index, missing, reason, exact=True))
        self._gap_reason = "lost_frames"
        self._rejected_since_taken = False
        offset = self._offset
        first_index = first_device + offset
        if (not resuming and self._stall_from is not None and first_index - self._stall_from > rate):
            self._stall_from = None  # a second of samples after the stall and no gap: none to label
        host_time = received + self.wall_minus_mono
        if single:
            frames = np.array([(first_index, first_t_us, host_time)], dtype=FRAME_DTYPE)
            self.next_index = first_index + first_n
        else:
            frames = np.empty(part.n_frames, dtype=FRAME_DTYPE)
            frames["sample_index"] = part.sample_index
            frames["sample_index"] += offset
            frames["t_us"] = part.t_us
            frames["host_time"] = host_time
            self.next_index = int(frames["sample_index"][-1]) + int(part.n_per_frame[-1])
        out.append(SamplesReceived(first_index, part.raw, frames))
        self._last_sample = (self.clock, due_last_us / 1e6)
        self.samples += part.n_samples
