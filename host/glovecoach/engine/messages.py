"""Every sentence the coaching engine shows to a person, in one place.

The engine decides *what* happened (an over-force episode, a phase change, a rule broken);
this module says it in words. Keeping the words here means a wording change, a translation or
a new sensor label touches one file, and a test can check every kind of event names its
sensor without running the engine.

Sensor and technique names come from the vocabulary (`sensor_name()`: the sensor map's labels,
hardware/sensor_map.json; `technique_name()`), never written here.
"""

from __future__ import annotations

from glovecoach.vocabulary.sensors import sensor_name
from glovecoach.vocabulary.techniques import technique_name

__all__ = ["sensor_name", "technique_name"]   # with every sentence function below


def duration_words(seconds: float) -> str:
    """'2 min 05 s' or '45 s' (rounded to the second, never negative)."""
    seconds = max(0.0, seconds)
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


# ---------------------------------------------------------------------------------- live force alerts

def overforce_begin(channel: str, peak_n: float, limit_n: float, saturated: bool) -> str:
    """An over-force alert (also its running text while the episode lasts)."""
    peak = (f"at the top of its range (over {limit_n:g} N)" if saturated
            else f"{peak_n:.0f} N (limit {limit_n:g} N)")
    return f"Too much force on the {sensor_name(channel)}: {peak}."


def overforce_end(channel: str, gap: bool = False) -> str:
    return f"Force on the {sensor_name(channel)} back within limits{' (data gap)' if gap else ''}."


def underforce_begin(channel: str, peak_n: float, minimum_n: float) -> str:
    return f"Press harder with the {sensor_name(channel)}: {peak_n:.0f} N (at least {minimum_n:g} N)."


def underforce_end(channel: str) -> str:
    return f"Good pressure on the {sensor_name(channel)}."


def spine_begin(segment: str, peak_n: float | None) -> str:
    """A spine-contact alert; `peak_n` None when the reading was saturated."""
    return f"Off the spine! Pressure on {sensor_name(segment)}" + ("." if peak_n is None else f": {peak_n:.1f} N.")


def spine_end(segment: str) -> str:
    return f"Off {sensor_name(segment)}."


# ---------------------------------------------------------------------------------- sensor conditions

_CONDITION_WORDS = {
    "saturation": "is at the top of its range (saturated)",
    "open_sensor": "reads nothing: check its lead",
}


def sensor_condition_begin(kind: str, channel: str) -> str:
    """`kind` "saturation" or "open_sensor"."""
    if kind not in _CONDITION_WORDS:
        raise ValueError(f"sensor condition must be one of {sorted(_CONDITION_WORDS)}, not {kind!r}")
    return f"The {sensor_name(channel)} sensor {_CONDITION_WORDS[kind]}."


def sensor_normal_again(channel: str) -> str:
    """The end of a saturation, open lead or sensor fault."""
    return f"The {sensor_name(channel)} sensor reads normally again."


# ---------------------------------------------------------------------------------- phases and cues

def phase_change(technique: str) -> str:
    return f"Now: {technique_name(technique)}."


def move_on(technique: str) -> str:
    return f"Time to move on from {technique_name(technique)}."


def session_warning(seconds_left: float) -> str:
    return f"{seconds_left / 60:.0f} minutes left: finish with stroking."


# ---------------------------------------------------------------------------------- report violations

def excessive_force(channel: str, peak_n: float | None, limit_n: float) -> str:
    peak = "a saturated reading" if peak_n is None else f"{peak_n:.0f} N"
    return f"Too much force on the {sensor_name(channel)}: {peak} (limit {limit_n:g} N)."


def too_light(channel: str, peak_n: float, minimum_n: float) -> str:
    return f"Fist presses too light on the {sensor_name(channel)}: {peak_n:.0f} N (at least {minimum_n:g} N)."


def spine_violation(segment: str) -> str:
    return f"Pressure on the spinal line at {sensor_name(segment)}."


# ---------------------------------------------------------------------------------- order and timing rules

def no_massage_recognised() -> str:
    return "No massage technique was recognised in this session."


def begin_with(first: str, got: str) -> str:
    return f"Begin with {technique_name(first)}, not {technique_name(got)}."


def out_of_order(technique: str, order: list[str] | tuple[str, ...]) -> str:
    return (f"{technique_name(technique).capitalize()} is out of order here; the order is "
            f"{', '.join(technique_name(t) for t in order)}.")


def skipped(missing: str, before: str) -> str:
    return f"{technique_name(missing).capitalize()} was skipped: it comes before {technique_name(before)}."


def phase_too_long(technique: str, duration_s: float, max_s: float) -> str:
    return (f"{technique_name(technique).capitalize()} went on for {duration_words(duration_s)}; "
            f"move on after {duration_words(max_s)}.")


def phase_too_short(technique: str, duration_s: float, min_s: float) -> str:
    return (f"{technique_name(technique).capitalize()} lasted only {duration_words(duration_s)}; "
            f"give it at least {duration_words(min_s)}.")


def session_too_long(duration_s: float, max_s: float, final: bool) -> str:
    """At the end: how long it took. Live: finish now."""
    if final:
        return f"The session took {duration_words(duration_s)}; the limit is {duration_words(max_s)}."
    return f"Past the {duration_words(max_s)} limit: finish the session now."


def phase_missing(technique: str) -> str:
    return f"{technique_name(technique).capitalize()} was missing from the session."


def end_with(last: str, got: str) -> str:
    return f"End with {technique_name(last)}; the session ended with {technique_name(got)}."
