"""What the coaching engine tells its caller: events and rule names.

Every sentence for people is written in `glovecoach.engine.messages`; the readable names of
sensors and techniques come from the vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

EVENT_KINDS = ("overforce", "underforce", "spine_contact", "saturation", "open_sensor", "sensor_fault",
               "phase_change", "cue", "violation")

RULES = (
    "must_begin_with_stroking", "must_end_with_stroking", "wrong_order", "missing_phase",
    "phase_too_short", "phase_too_long", "session_too_long", "excessive_force", "too_light",
    "spine_contact",
)


@dataclass(frozen=True)
class EngineEvent:
    kind: str                     # one of EVENT_KINDS
    state: str                    # "begin", "end" or "instant"
    at_s: float                   # session time of the sample that triggered this event
    message: str                  # one short sentence for the trainee
    channel: str | None = None    # sensor id or spine segment
    technique: str | None = None
    peak_n: float | None = None   # None when the peak was a saturated reading
    start_s: float | None = None
    end_s: float | None = None
    rule: str | None = None       # for violations (and cues: which rule the cue warns about)
    saturated: bool = False       # the peak was at the sensor's ceiling: "at least", not a reading

    def to_dict(self) -> dict:
        return asdict(self)


__all__ = ["EVENT_KINDS", "RULES", "EngineEvent"]
