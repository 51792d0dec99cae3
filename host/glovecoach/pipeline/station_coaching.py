"""Coaching a station: one engine per hand, and what the station as a whole did.

(Interface first; the listener that fills it follows.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glovecoach.pipeline.coaching import CoachingUpdate


@dataclass(frozen=True)
class StationUpdate:
    """What the station's engines made of one stretch of the station index.

    ``hands`` maps "left"/"right" to that hand's `CoachingUpdate` (forces on the hand's 20
    channels: its glove, then the strip), for each hand coached in this stretch; ``events``
    are the station's own decisions (the hands doing different techniques, one spine contact
    however many hands were on the back); ``technique`` is the technique per hand and for
    the station, e.g. {"left": "kneading", "right": "kneading", "station": "kneading",
    "agree": True}.
    """

    first_index: int
    n_samples: int
    hands: dict[str, CoachingUpdate]
    events: tuple[Any, ...] = ()
    technique: dict = field(default_factory=dict)
