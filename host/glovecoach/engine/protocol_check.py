"""Checking a sequence of phases against a protocol's order and timing rules.

`check_phases` is a pure function of the phases seen so far, so the live engine (after every
confirmed phase change, with `final=False`) and the end-of-session report (`final=True`) apply
exactly the same rules. Each violation carries a `key` that stays the same between calls, so
the live engine reports each one once.

Matching phases to the protocol: the protocol is an ordered list of slots (some optional,
some sharing a group whose members may come in any order). Each observed phase takes the
first unused slot for its technique at or after the current position; required slots it jumps
over are missing, and a technique with no such slot left is out of order. A second stretch of
the technique just done (after a break longer than `merge_gap_s`) continues that slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from glovecoach.engine import messages
from glovecoach.protocols import PhaseSpec, Protocol


@dataclass(frozen=True)
class ObservedPhase:
    technique: str
    start_s: float
    end_s: float
    paused_s: float = 0.0        # breaks off the back inside the phase (gel, repositioning)
    pause_counts: bool = True    # whether those breaks count toward the phase's length

    @property
    def duration_s(self) -> float:
        """The phase's length as the protocol judges it."""
        return self.end_s - self.start_s - (0.0 if self.pause_counts else self.paused_s)


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    at_s: float
    key: tuple

    def to_dict(self) -> dict:
        return {"rule": self.rule, "message": self.message, "at_s": round(self.at_s, 3)}


def merge_phases(phases: Sequence, merge_gap_s: float, min_phase_s: float = 0.0, pause_max_s: float = 0.0,
                 pause_counts: bool = True) -> list[ObservedPhase]:
    """The phases the protocol is judged on.

    "none" stretches are dropped, and so are stretches shorter than `min_phase_s` (a slip of
    the hand or a misrecognised moment, not a phase; a phase still going on counts once it
    is that long). Stretches of one technique split by a break of at most `merge_gap_s` (or
    by a dropped slip) are joined; so are stretches split by a pause off the back of at most
    `pause_max_s` (gel, repositioning the partner), whose length is kept as `paused_s` and
    counts toward the phase only if `pause_counts`.
    """
    real = [p for p in phases if p.technique not in (None, "none") and p.end_s > p.start_s]
    join_s = max(merge_gap_s, min_phase_s, pause_max_s)
    # A short stretch right after a stretch of its own technique, with only time off the back
    # between them, is that phase resumed after a pause (its first seconds go to confirming the
    # technique again), not a slip: it is joined, not dropped.
    resumed = {k for k in range(1, len(real))
               if real[k].end_s - real[k].start_s < min_phase_s and real[k].technique == real[k - 1].technique
               and real[k].start_s - real[k - 1].end_s <= join_s}
    kept = [p for k, p in enumerate(real) if p.end_s - p.start_s >= min_phase_s or k in resumed]
    dropped = [p for k, p in enumerate(real) if p.end_s - p.start_s < min_phase_s and k not in resumed]
    merged: list[ObservedPhase] = []
    for p in kept:
        gap = p.start_s - merged[-1].end_s if merged else 0.0
        if merged and merged[-1].technique == p.technique and gap <= join_s:
            prev = merged[-1]
            # Off the back in the break: what no (dropped) stretch of any technique covers.
            worked = sum(max(0.0, min(d.end_s, p.start_s) - max(d.start_s, prev.end_s)) for d in dropped)
            off = max(gap - worked, 0.0)
            paused = prev.paused_s + (off if off > merge_gap_s else 0.0)
            merged[-1] = ObservedPhase(p.technique, prev.start_s, max(prev.end_s, p.end_s), paused, pause_counts)
        else:
            merged.append(ObservedPhase(p.technique, float(p.start_s), float(p.end_s), 0.0, pause_counts))
    return merged


def judged_phases(protocol: Protocol, phases: Sequence, min_phase: bool = True) -> list[ObservedPhase]:
    """`merge_phases` with the protocol's own settings."""
    return merge_phases(phases, protocol.merge_gap_s, protocol.min_phase_s if min_phase else 0.0,
                        protocol.pause_max_s, protocol.pause_counts_toward_phase)


def assign_slots(protocol: Protocol, phases: Sequence[ObservedPhase]) -> list[tuple[int | None, list[int]]]:
    """For each phase: (slot index or None when out of order, required slots it skipped)."""
    slots = protocol.phases
    used = [False] * len(slots)
    position = 0
    last_slot: int | None = None
    out: list[tuple[int | None, list[int]]] = []
    for phase in phases:
        if last_slot is not None and slots[last_slot].technique == phase.technique:
            out.append((last_slot, []))      # the same phase resumed after a long break
            continue
        chosen = None
        # Inside the current group any unused member may come next.
        group = slots[last_slot].group if last_slot is not None else None
        if group:
            for j, s in enumerate(slots):
                if not used[j] and s.group == group and s.technique == phase.technique:
                    chosen = j
                    break
        if chosen is None:
            for j in range(position, len(slots)):
                if not used[j] and slots[j].technique == phase.technique:
                    chosen = j
                    break
        if chosen is None:
            out.append((None, []))
            continue
        # Inside a group `chosen` lies before `position`, so nothing counts as skipped.
        skipped = [j for j in range(position, chosen) if not used[j] and not slots[j].optional]
        used[chosen] = True
        for j in skipped:
            used[j] = True    # reported once, not again for later phases
        position = _group_end(slots, chosen) if slots[chosen].group else chosen + 1
        last_slot = chosen
        out.append((chosen, skipped))
    return out


def next_techniques(protocol: Protocol, phases: Sequence[ObservedPhase]) -> tuple[str, ...]:
    """The techniques the protocol allows next after the judged `phases`, in protocol order:
    the members of the current group not done yet, then every slot from the next position up
    to and including the first required one (optional slots may be left out). Empty once the
    last slot is done."""
    slots = protocol.phases
    assignment = assign_slots(protocol, phases)
    used = {slot for slot, _ in assignment if slot is not None} | {j for _, sk in assignment for j in sk}
    last = next((slot for slot, _ in reversed(assignment) if slot is not None), None)
    out: list[str] = []
    position = 0
    if last is not None:
        group = slots[last].group
        if group:
            out += [s.technique for j, s in enumerate(slots) if s.group == group and j not in used]
        position = _group_end(slots, last) if group else last + 1
    for j in range(position, len(slots)):
        if j in used:
            continue
        out.append(slots[j].technique)
        if not slots[j].optional:
            break
    return tuple(dict.fromkeys(out))


def _group_end(slots: Sequence[PhaseSpec], j: int) -> int:
    while j + 1 < len(slots) and slots[j + 1].group == slots[j].group:
        j += 1
    return j + 1


def check_phases(protocol: Protocol, phases: Sequence, now_s: float, final: bool) -> list[Violation]:
    """Order and timing violations of `phases` (raw phases; "none" and short breaks are merged).

    With final=False the last phase is still going on: it is checked for being too long (by
    `now_s`) but not for being too short, and nothing is said yet about missing phases or the
    final stroking.
    """
    merged = judged_phases(protocol, phases)
    slots = protocol.phases
    out: list[Violation] = []
    if not merged:
        if final and now_s > 0:
            out.append(Violation("missing_phase", messages.no_massage_recognised(),
                                 now_s, ("missing_phase", "all")))
        return out
    first_technique = slots[0].technique
    last_technique = slots[-1].technique
    if merged[0].technique != first_technique:
        out.append(Violation(
            "must_begin_with_stroking" if first_technique == "stroking" else "wrong_order",
            messages.begin_with(first_technique, merged[0].technique),
            merged[0].start_s + protocol.min_phase_s, ("begin",)))
    assignment = assign_slots(protocol, merged)
    for k, (phase, (slot, skipped)) in enumerate(zip(merged, assignment)):
        ongoing = not final and k == len(merged) - 1
        if slot is None and k > 0:
            out.append(Violation(
                "wrong_order",
                messages.out_of_order(phase.technique, [s.technique for s in slots]),
                phase.start_s + protocol.min_phase_s, ("order", k, phase.technique)))
        for j in skipped:
            if j == 0 and merged[0].technique != first_technique:
                continue   # already said: begin with stroking
            if any(later.technique == slots[j].technique and later_slot is None
                   for later, (later_slot, _) in zip(merged[k + 1:], assignment[k + 1:])):
                continue   # it was done, only late: that is the wrong_order violation
            out.append(Violation(
                "missing_phase",
                messages.skipped(slots[j].technique, phase.technique),
                phase.start_s + protocol.min_phase_s, ("missing", j)))
        spec = slots[slot] if slot is not None else _spec_for(protocol, phase.technique)
        if spec is None:
            continue
        end_s = now_s if ongoing else phase.end_s
        duration = end_s - phase.start_s
        if duration > spec.max_s + spec.tolerance_s:
            out.append(Violation(
                "phase_too_long",
                messages.phase_too_long(phase.technique, duration, spec.max_s),
                phase.start_s + spec.max_s + spec.tolerance_s, ("too_long", k)))
        elif not ongoing and duration < spec.min_s - spec.tolerance_s:
            out.append(Violation(
                "phase_too_short",
                messages.phase_too_short(phase.technique, duration, spec.min_s),
                phase.end_s, ("too_short", k)))
    session_start = merged[0].start_s
    session_end = now_s if not final else merged[-1].end_s
    if session_end - session_start > protocol.session_max_s:
        out.append(Violation(
            "session_too_long", messages.session_too_long(session_end - session_start, protocol.session_max_s, final),
            session_start + protocol.session_max_s, ("session_too_long",)))
    if final:
        used = {slot for slot, _ in assignment if slot is not None} | {j for _, sk in assignment for j in sk}
        reported_missing = {j for _, sk in assignment for j in sk}
        for j, spec in enumerate(slots):
            if spec.optional or j in reported_missing or j in used:
                continue
            if j == len(slots) - 1 and spec.technique == last_technique and merged[-1].technique != last_technique:
                continue   # reported below as not ending with stroking
            out.append(Violation("missing_phase", messages.phase_missing(spec.technique),
                                 merged[-1].end_s, ("missing", j)))
        if merged[-1].technique != last_technique:
            out.append(Violation(
                "must_end_with_stroking" if last_technique == "stroking" else "wrong_order",
                messages.end_with(last_technique, merged[-1].technique),
                merged[-1].end_s, ("end",)))
    out.sort(key=lambda v: v.at_s)
    return out


def _spec_for(protocol: Protocol, technique: str) -> PhaseSpec | None:
    return next((s for s in protocol.phases if s.technique == technique), None)
