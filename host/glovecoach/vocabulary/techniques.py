"""The massage techniques the engine recognises and the protocol names, and a phase of one.

The protocol text's order is stroking, rubbing, kneading, stroking again, with optional deep
stroking, vibration and percussion; "none" is the hand off the back.
"""

from __future__ import annotations

from dataclasses import dataclass

TECHNIQUES = ("none", "stroking", "deep_stroking", "rubbing", "kneading", "vibration", "percussion")
MASSAGE_TECHNIQUES = tuple(t for t in TECHNIQUES if t != "none")

_READABLE = {"deep_stroking": "deep stroking"}


def technique_name(technique: str | None) -> str:
    """A technique as a trainee would say it: 'deep_stroking' -> 'deep stroking'."""
    if not technique:
        return "no technique"
    return _READABLE.get(technique, technique)


@dataclass(frozen=True)
class Phase:
    """A stretch of session time spent on one technique."""

    technique: str
    start_s: float
    end_s: float
