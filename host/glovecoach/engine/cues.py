"""Protocol cues while the session goes on: phase changes, "move on", the session warning and
order and timing violations, each said once; and where the current phase stands.

`ProtocolCues` knows the confirmed phase changes and nothing of forces. Given the session
time it says which cue or violation is due (`due(now_s, confirmed)`), and for the live display
how long the current phase has gone on, its time window and time left, what may come next and
the session time so far (`phase_status`). The rules themselves are `glovecoach.engine.protocol_check` (a pure function
of the phases), so the live cues and the report apply exactly the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from glovecoach.engine import messages
from glovecoach.engine.events import EngineEvent
from glovecoach.engine.protocol_check import (
    ObservedPhase,
    assign_slots,
    check_phases,
    judged_phases,
    next_techniques,
)
from glovecoach.protocols import PhaseSpec, Protocol
from glovecoach.vocabulary.techniques import Phase

PROTOCOL_RECHECK_S = 0.5     # time-based protocol rules are re-evaluated this often


@dataclass(frozen=True)
class PhaseStatus:
    """Where the session stands on the protocol, for the live display."""
    technique: str | None                  # the confirmed technique, None before any and in "none"
    phase_elapsed_s: float                 # how long the current phase has gone on (pauses as the protocol counts them)
    phase_window: tuple[float, float] | None   # its (min_s, max_s)
    cue: str | None                        # "move_on" once the phase reached its max_s
    session_elapsed_s: float               # massage time: since the first phase began
    phases: tuple[Phase, ...]              # the phases so far, "none" left out
    judged: tuple[ObservedPhase, ...]      # as the protocol judges them (no minimum length)
    next_techniques: tuple[str, ...] = ()  # what the protocol allows next (protocol_check.next_techniques)

    @property
    def time_left_s(self) -> float | None:
        """Until the current phase reaches its max_s (negative past it); None without a window."""
        return None if self.phase_window is None else self.phase_window[1] - self.phase_elapsed_s


class ProtocolCues:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._changes: list[list] = []     # [technique, start_s, end_s] from confirmed changes
        self._reported: set[tuple] = set()
        self._cued: set[tuple] = set()
        self._cue: str | None = None
        self._next_recheck_s = 0.0

    def phases_so_far(self, now_s: float) -> list[Phase]:
        """The confirmed phases ("none" included), the last one running until `now_s`."""
        out = []
        for k, (tech, start, end) in enumerate(self._changes):
            last = k == len(self._changes) - 1
            out.append(Phase(tech, start, max(now_s, end) if last else end))
        return out

    def on_change(self, change) -> list[EngineEvent]:
        """A confirmed change of technique (technique, start_s, confirmed_at_s): the
        phase_change event and any violation it makes."""
        events: list[EngineEvent] = []
        if self._changes:
            self._changes[-1][2] = change.start_s
        self._changes.append([change.technique, change.start_s, change.confirmed_at_s])
        if change.technique != "none":
            events.append(EngineEvent(
                "phase_change", "instant", change.confirmed_at_s, messages.phase_change(change.technique),
                technique=change.technique, start_s=change.start_s))
        self._cue = None
        events += self._violations(change.confirmed_at_s)
        return events

    def _violations(self, now_s: float) -> list[EngineEvent]:
        """Violations not reported yet; at_s is when the rule was broken (check_phases), a
        sample time that does not depend on how samples were split into blocks."""
        out = []
        for v in check_phases(self.protocol, self.phases_so_far(now_s), now_s, final=False):
            if v.key in self._reported:
                continue
            self._reported.add(v.key)
            out.append(EngineEvent("violation", "instant", v.at_s, v.message, rule=v.rule))
        return out

    def due(self, now_s: float, confirmed: str | None) -> list[EngineEvent]:
        """Cues and violations due by session time `now_s`; `confirmed` is the technique
        confirmed now ("none" or None when there is none)."""
        out: list[EngineEvent] = []
        merged = judged_phases(self.protocol, self.phases_so_far(now_s))
        if not merged:
            return out
        session = now_s - merged[0].start_s
        warn = self.protocol.session_warn_at_s
        if session >= warn and ("session_warning",) not in self._cued:
            self._cued.add(("session_warning",))
            left = self.protocol.session_max_s - warn
            out.append(EngineEvent("cue", "instant", merged[0].start_s + warn, messages.session_warning(left),
                                   rule="session_too_long"))
        current = merged[-1]
        live_phase = confirmed not in (None, "none") and current.technique == confirmed
        if live_phase:
            spec = self.current_spec(merged)
            if spec is not None and current.duration_s >= spec.max_s:
                key = ("move_on", len(merged) - 1, current.start_s)
                if key not in self._cued:
                    self._cued.add(key)
                    self._cue = "move_on"
                    # When the phase's max_s is reached: pauses that do not count push it back.
                    due_s = current.start_s + current.paused_s * (not current.pause_counts) + spec.max_s
                    out.append(EngineEvent("cue", "instant", due_s, messages.move_on(current.technique),
                                           technique=current.technique, rule="phase_too_long"))
        if now_s >= self._next_recheck_s:
            self._next_recheck_s = now_s + PROTOCOL_RECHECK_S
            out += self._violations(now_s)
        return out

    def current_spec(self, merged: list[ObservedPhase]) -> PhaseSpec | None:
        """The protocol slot the last of `merged` fills (its technique's first slot when it is
        out of order)."""
        assignment = assign_slots(self.protocol, merged)
        slot = assignment[-1][0]
        if slot is not None:
            return self.protocol.phases[slot]
        return next((s for s in self.protocol.phases if s.technique == merged[-1].technique), None)

    def phase_status(self, now_s: float, confirmed: str | None) -> PhaseStatus:
        phases = self.phases_so_far(now_s)
        merged = judged_phases(self.protocol, phases, min_phase=False)
        technique = confirmed if confirmed not in (None, "none") else None
        elapsed = 0.0
        window = None
        if technique and merged and merged[-1].technique == technique:
            elapsed = merged[-1].duration_s
            spec = self.current_spec(merged)
            if spec is not None:
                window = (spec.min_s, spec.max_s)
        return PhaseStatus(
            technique=technique, phase_elapsed_s=elapsed, phase_window=window,
            cue=self._cue if technique else None,
            session_elapsed_s=(now_s - merged[0].start_s) if merged else 0.0,
            phases=tuple(p for p in phases if p.technique != "none"), judged=tuple(merged),
            next_techniques=next_techniques(self.protocol, judged_phases(self.protocol, phases)))


__all__ = ["PROTOCOL_RECHECK_S", "PhaseStatus", "ProtocolCues"]
