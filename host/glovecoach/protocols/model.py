"""The protocol data model: phases, force windows, feedback and spine policies, score weights.

Plain frozen dataclasses with the lookups the engine needs (`Protocol.force_limit`); no file
reading and no checking here (`glovecoach.protocols.load` reads files, `.validate` checks them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from glovecoach.vocabulary.sensors import region_of
from glovecoach.vocabulary.techniques import MASSAGE_TECHNIQUES

FORMAT_NAME = "glovecoach-protocol"
FORMAT_VERSION = 1
ANY_TECHNIQUE = "*"
Purpose = Literal["live", "scoring"]


def known_techniques() -> tuple[str, ...]:
    """Techniques a phase or force window may name: the recogniser's, less "none"."""
    return MASSAGE_TECHNIQUES


class ProtocolError(ValueError):
    """A protocol file that cannot be used; says which file, line and field."""

    def __init__(self, source: str, line: int | None, field_name: str, problem: str) -> None:
        self.source = source
        self.line = line
        self.field = field_name
        self.problem = problem
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {field_name}: {problem}")


@dataclass(frozen=True)
class PhaseSpec:
    technique: str
    min_s: float
    max_s: float
    tolerance_s: float
    optional: bool = False
    group: str | None = None


@dataclass(frozen=True)
class ForceWindow:
    technique: str            # a technique or "*"
    region: str               # a sensor-map region or a channel id
    live_max_n: float | None
    scoring_max_n: float | None
    live_min_n: float | None = None
    scoring_min_n: float | None = None


@dataclass(frozen=True)
class ForceFeedback:
    live_min_duration_s: float = 0.10
    live_release_ratio: float = 0.85
    scoring_min_duration_s: float = 0.25
    scoring_release_ratio: float = 0.90
    press_contact_n: float = 1.0
    light_presses_to_alert: int = 4
    press_gap_s: float = 3.0

    def min_duration_s(self, purpose: Purpose) -> float:
        return self.live_min_duration_s if purpose == "live" else self.scoring_min_duration_s

    def release_ratio(self, purpose: Purpose) -> float:
        return self.live_release_ratio if purpose == "live" else self.scoring_release_ratio


@dataclass(frozen=True)
class SpinePolicy:
    contact_above_baseline_n: float = 1.5
    release_above_baseline_n: float = 1.0
    min_duration_s: float = 0.05
    glove_contact_n: float = 2.0
    baseline_time_constant_s: float = 10.0


@dataclass(frozen=True)
class ScoreWeights:
    """How the 0-100 score is made from its three parts (the protocol file's `[score]`).

    total = force_weight x (% of in-contact samples within the scoring maxima)
          + timing_weight x (% of phases whose length is inside their window)
          + violations_weight x max(0, 100 - points_per_violation x rule violations)

    The weights sum to 1, so the total stays within 0-100. Why these defaults
    (docs/protocol-files.md, "[score]"): force carries half because it is what the glove
    measures all session long and what can hurt the partner; timing is the protocol's other
    continuous demand but a matter of the massage's effect rather than of safety, so it weighs
    less; violations weigh least because most of them are already counted once in the other
    two parts (every scored over-force is also time outside the force window, every timing
    violation a phase outside its window), and 20 points each means five problems use up that
    part. They are the weights glovecoach has always used, not fitted to instructors' grades.
    """
    force_weight: float = 0.5
    timing_weight: float = 0.3
    violations_weight: float = 0.2
    points_per_violation: float = 20.0

    @property
    def force(self) -> float:
        return self.force_weight

    @property
    def timing(self) -> float:
        return self.timing_weight

    @property
    def violations(self) -> float:
        return self.violations_weight


@dataclass(frozen=True)
class ScreeningQuestion:
    id: str
    question: str


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    item: str


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    source: str
    phases: tuple[PhaseSpec, ...]
    session_max_s: float
    session_warn_at_s: float
    merge_gap_s: float
    min_phase_s: float
    force_feedback: ForceFeedback
    force_windows: tuple[ForceWindow, ...]
    spine: SpinePolicy
    screening: tuple[ScreeningQuestion, ...]
    checklist: tuple[ChecklistItem, ...]
    partner_position: str = "prone"
    # A break with the hand off the back (gel, repositioning the partner) of at most this long,
    # followed by the same technique, keeps one phase; whether it counts toward that phase's
    # length is `pause_counts_toward_phase` (docs/protocol-files.md says why it does not).
    pause_max_s: float = 40.0
    pause_counts_toward_phase: bool = False
    score: ScoreWeights = field(default_factory=ScoreWeights)
    _limit_cache: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def techniques(self) -> tuple[str, ...]:
        """Techniques named by the phases, in protocol order without repeats."""
        return tuple(dict.fromkeys(p.technique for p in self.phases))

    def phase_window(self, technique: str) -> tuple[float, float, float] | None:
        """(min_s, max_s, tolerance_s) of the first phase doing `technique`, or None."""
        for p in self.phases:
            if p.technique == technique:
                return (p.min_s, p.max_s, p.tolerance_s)
        return None

    def force_window(self, technique: str | None, channel_id: str) -> ForceWindow | None:
        """The entry that governs `channel_id` during `technique` (None, "none": the "*" entries).

        Precedence: this technique before "*", and within each a channel entry before its
        region's entry. Spine channels are never governed by force windows.
        """
        key = (technique, channel_id)
        if key in self._limit_cache:
            return self._limit_cache[key]
        region = _region_of(channel_id)
        found = None
        if region != "spine":
            for tech in (technique, ANY_TECHNIQUE):
                for where in (channel_id, region):
                    found = next(
                        (w for w in self.force_windows if w.technique == tech and w.region == where),
                        None,
                    )
                    if found:
                        break
                if found:
                    break
        self._limit_cache[key] = found
        return found

    def force_limit(
        self, technique: str | None, channel_id: str, purpose: Purpose = "live"
    ) -> tuple[float | None, float | None]:
        """(min_n, max_n) per sensor for live feedback or for scoring; None where no bound."""
        if purpose not in ("live", "scoring"):
            raise ValueError(f"purpose must be 'live' or 'scoring', not {purpose!r}")
        w = self.force_window(technique, channel_id)
        if w is None:
            return (None, None)
        if purpose == "live":
            return (w.live_min_n, w.live_max_n)
        return (w.scoring_min_n, w.scoring_max_n)


def _region_of(channel_id: str) -> str:
    return region_of(channel_id)
