"""The end-of-session report: what `glovecoach analyze --json` prints and the debrief shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from glovecoach.engine.messages import sensor_name, technique_name
from glovecoach.engine.protocol_check import Violation

EDGE_ABSENCE_S = 0.5   # a device missing this long at a station session's start or end: not told


@dataclass(frozen=True)
class ForceEpisode:
    """An excursion outside a force window (scoring limits) or a spine contact."""

    channel: str
    start_s: float
    end_s: float
    peak_n: float | None        # None when the peak was a saturated reading
    saturated: bool
    technique: str | None
    limit_n: float | None = None

    def to_dict(self, key: str) -> dict:
        d = {key: self.channel, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
             "peak_n": None if self.peak_n is None else round(self.peak_n, 2)}
        d["saturated"] = self.saturated
        d["technique"] = self.technique
        if self.limit_n is not None:
            d["limit_n"] = self.limit_n
        return d


@dataclass
class SessionReport:
    duration_s: float
    phases: list                    # glovecoach.engine.technique.Phase
    overforce_events: list[ForceEpisode]
    underforce_events: list[ForceEpisode]
    spine_contacts: list[ForceEpisode]
    violations: list[Violation]
    calibration: dict
    spine_check: bool
    per_region: dict
    spine_map: dict
    score: dict
    live_alerts: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    sensor_faults: list[dict] = field(default_factory=list)
    protocol_name: str = ""
    massage_found: bool = True      # False: no samples, or no technique recognised for a phase's length
    sensor_health: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """"no_massage" (nothing to judge: never a pass), "passed" or "not_passed"."""
        if not self.massage_found:
            return "no_massage"
        return "passed" if not self.violations else "not_passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def to_dict(self) -> dict:
        return {
            "duration_s": round(self.duration_s, 3),
            "phases": [{"technique": p.technique, "start_s": round(p.start_s, 3), "end_s": round(p.end_s, 3),
                        "paused_s": round(float(getattr(p, "paused_s", 0.0)), 3)}
                       for p in self.phases],
            "overforce_events": [e.to_dict("region") for e in self.overforce_events],
            "underforce_events": [e.to_dict("region") for e in self.underforce_events],
            "spine_contacts": [e.to_dict("segment") for e in self.spine_contacts],
            "protocol": {"name": self.protocol_name, "passed": self.passed, "verdict": self.verdict,
                         "violations": [v.to_dict() for v in self.violations]},
            "calibration": self.calibration,
            "spine_check": self.spine_check,
            "per_region": self.per_region,
            "spine_map": self.spine_map,
            "score": self.score,
            "live_alerts": self.live_alerts,
            "gaps": [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self.gaps],
            "sensor_faults": self.sensor_faults,
            "sensor_health": self.sensor_health,
        }

    def summary(self) -> str:
        """The report as a person reads it."""
        lines = []
        m, s = divmod(int(round(self.duration_s)), 60)
        if self.verdict == "no_massage":
            why = "no samples" if self.duration_s <= 0 else "no technique held long enough to be a phase"
            lines.append(f"Session {m} min {s:02d} s — {self.protocol_name}: NO MASSAGE FOUND ({why}); "
                         "nothing to grade")
        else:
            verdict = "PASSED" if self.passed else f"NOT PASSED ({len(self.violations)} problem(s))"
            lines.append(f"Session {m} min {s:02d} s — {self.protocol_name}: {verdict}; "
                         f"score {self.score['total']}/100")
        if self.calibration.get("source") == "csv":
            how = self.calibration.get("csv_calibration")
            lines.append("Forces: taken as given in the CSV (newtons" + (f", exported with the {how} calibration"
                                                                           if how else "") +
                         "); cells marked sat or open count as a saturated sensor or an open lead.")
        elif self.calibration.get("nominal"):
            lines.append("Calibration: none for this glove — forces use the typical sensor curve, "
                         "not this glove's own, so they are approximate (run glovecoach calibrate).")
        else:
            lines.append(f"Calibration: glove {self.calibration.get('glove_id')}.")
        if not self.spine_check:
            lines.append("Spine check: not done (no spine strip channels in this data).")
        if self.gaps:
            lost = sum(b - a for a, b in self.gaps)
            lines.append(f"Data gaps: {len(self.gaps)} ({lost:.1f} s without samples); nothing is judged inside them.")
        lines.append("")
        lines.append("Phases:")
        if not self.phases:
            lines.append("  (no technique recognised)")
        for p in self.phases:
            paused = float(getattr(p, "paused_s", 0.0) or 0.0)
            lines.append(f"  {_clock(p.start_s)}-{_clock(p.end_s)}  {technique_name(p.technique):<14} "
                         f"{p.end_s - p.start_s:6.0f} s" + (f" (of which {paused:.0f} s paused off the back)"
                                                            if paused else ""))
        if self.violations:
            lines.append("")
            lines.append("Problems:")
            for v in self.violations:
                lines.append(f"  {_clock(v.at_s)}  {v.message}")
        if self.overforce_events:
            lines.append("")
            lines.append("Too much force:")
            for e in self.overforce_events:
                peak = "saturated (off the sensor's scale)" if e.peak_n is None else f"peak {e.peak_n:.0f} N"
                lines.append(f"  {_clock(e.start_s)}  {sensor_name(e.channel):<30} {e.end_s - e.start_s:4.1f} s, "
                             f"{peak} (limit {e.limit_n:g} N, {technique_name(e.technique)})")
        if self.underforce_events:
            lines.append("")
            lines.append("Too light (fist work):")
            for e in self.underforce_events:
                lines.append(f"  {_clock(e.start_s)}  {sensor_name(e.channel):<30} presses peaked at "
                             f"{e.peak_n:.0f} N (minimum {e.limit_n:g} N)")
        if self.spine_contacts:
            lines.append("")
            lines.append("On the spinal line:")
            for e in self.spine_contacts:
                peak = "saturated" if e.peak_n is None else f"peak {e.peak_n:.1f} N"
                lines.append(f"  {_clock(e.start_s)}  {sensor_name(e.channel):<18} "
                             f"{e.end_s - e.start_s:4.1f} s, {peak}")
        b = self.score["breakdown"]
        lines.append("")
        if self.score.get("graded", True):
            lines.append(f"Score: force within limits {b['force_within_window_pct']:.1f} %, "
                         f"timing {b['timing']:.0f} %, {b['violations']} rule violation(s).")
        else:
            lines.append("Score: none (no massage to grade).")
        for f in self.sensor_faults:
            kind = f["kind"].replace("_", " ")
            lines.append(f"Sensor fault: {sensor_name(f['channel'])} {kind} for {f['duration_s']:.1f} s.")
        return "\n".join(lines)


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


# ----------------------------------------------------------------------------- the station


@dataclass(frozen=True)
class SpineContact(ForceEpisode):
    """A spine contact of a station: one per contact however many hands were on the back,
    with the hands that were on the back while it lasted."""

    hands: tuple[str, ...] = ()

    def to_dict(self, key: str) -> dict:
        d = super().to_dict(key)
        d["hands"] = list(self.hands)
        return d


def hands_words(hands) -> str:
    """("left",) -> "left hand"; ("left", "right") -> "both hands"."""
    hands = tuple(hands)
    if len(hands) >= 2:
        return "both hands"
    return f"{hands[0]} hand" if hands else "no hand"


@dataclass
class StationReport:
    """The report of a station: each hand's own `SessionReport` (its glove with the strip: force
    limits, technique, statistics and score of that hand), and what the station as a whole did
    (docs/engine.md, "The station")."""

    duration_s: float
    hands: dict[str, SessionReport]
    phases: list                        # the station's phases, as the protocol judges them
    technique_agreement_pct: float | None
    hands_differ: list[dict]            # [{start_s, end_s, techniques {hand: technique}}]
    spine_contacts: list[SpineContact]
    spine_check: bool
    spine_map: dict
    violations: list[Violation]
    score: dict
    protocol_name: str = ""
    massage_found: bool = True
    roles: tuple[str, ...] = ()
    device_gaps: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    strip_health: dict = field(default_factory=dict)
    strip_faults: list[dict] = field(default_factory=list)
    live_alerts: int = 0

    @property
    def verdict(self) -> str:
        if not self.massage_found:
            return "no_massage"
        return "passed" if not self.violations else "not_passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def to_dict(self) -> dict:
        """`analyze --json` of a station: the station part, and one section per hand in the
        shape of a one-glove report."""
        return {
            "duration_s": round(self.duration_s, 3),
            "station": {
                "roles": list(self.roles),
                "phases": [{"technique": p.technique, "start_s": round(p.start_s, 3), "end_s": round(p.end_s, 3),
                            "paused_s": round(float(getattr(p, "paused_s", 0.0)), 3)} for p in self.phases],
                "technique_agreement_pct": (None if self.technique_agreement_pct is None
                                            else round(self.technique_agreement_pct, 1)),
                "hands_differ": [{"start_s": round(d["start_s"], 3), "end_s": round(d["end_s"], 3),
                                  "techniques": dict(d["techniques"])} for d in self.hands_differ],
                "spine_contacts": [e.to_dict("segment") for e in self.spine_contacts],
                "spine_check": self.spine_check,
                "spine_map": self.spine_map,
                "protocol": {"name": self.protocol_name, "passed": self.passed, "verdict": self.verdict,
                             "violations": [v.to_dict() for v in self.violations]},
                "score": self.score,
                "live_alerts": self.live_alerts,
                "gaps": [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self.gaps],
                "device_gaps": {role: [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in spans]
                                for role, spans in self.device_gaps.items()},
                "strip_health": self.strip_health,
                "strip_faults": self.strip_faults,
            },
            "hands": {hand: report.to_dict() for hand, report in self.hands.items()},
        }

    def summary(self) -> str:
        """The station's report as a person reads it: the station, then each hand."""
        lines = []
        m, s = divmod(int(round(self.duration_s)), 60)
        if self.verdict == "no_massage":
            lines.append(f"Station session {m} min {s:02d} s — {self.protocol_name}: NO MASSAGE FOUND; "
                         "nothing to grade")
        else:
            verdict = "PASSED" if self.passed else f"NOT PASSED ({len(self.violations)} problem(s))"
            lines.append(f"Station session {m} min {s:02d} s — {self.protocol_name}: {verdict}; "
                         f"score {self.score['total']}/100")
        lines.append("Devices: " + ", ".join(r.replace("_", " ") for r in self.roles) + ".")
        if self.technique_agreement_pct is not None:
            lines.append(f"Both hands did the same technique {self.technique_agreement_pct:.0f} % of the time "
                         "both were working.")
        if not self.spine_check:
            lines.append("Spine check: not done (no spine strip in this station).")
        for role, spans in self.device_gaps.items():
            # Devices are started one after the other and stop the same way: a fraction of a
            # second missing at the very start or end is that, not a dropout worth a line.
            spans = [(a, b) for a, b in spans
                     if not ((a <= 0.0 or b >= self.duration_s - 1e-9) and b - a < EDGE_ABSENCE_S)]
            if spans:
                lost = sum(b - a for a, b in spans)
                lines.append(f"{role.replace('_', ' ').capitalize()} missing {len(spans)} time(s), {lost:.1f} s "
                             "in all; nothing of it is judged then.")
        lines.append("")
        lines.append("Station phases:")
        if not self.phases:
            lines.append("  (no technique recognised)")
        for p in self.phases:
            lines.append(f"  {_clock(p.start_s)}-{_clock(p.end_s)}  {technique_name(p.technique):<14} "
                         f"{p.end_s - p.start_s:6.0f} s")
        if self.hands_differ:
            lines.append("")
            lines.append("Hands doing different techniques:")
            for d in self.hands_differ:
                what = ", ".join(f"{h} {technique_name(t)}" for h, t in d["techniques"].items())
                lines.append(f"  {_clock(d['start_s'])}-{_clock(d['end_s'])}  {what}")
        if self.violations:
            lines.append("")
            lines.append("Problems:")
            for v in self.violations:
                lines.append(f"  {_clock(v.at_s)}  {v.message}")
        if self.spine_contacts:
            lines.append("")
            lines.append("On the spinal line:")
            for e in self.spine_contacts:
                peak = "saturated" if e.peak_n is None else f"peak {e.peak_n:.1f} N"
                lines.append(f"  {_clock(e.start_s)}  {sensor_name(e.channel):<18} "
                             f"{e.end_s - e.start_s:4.1f} s, {peak} ({hands_words(e.hands)} on the back)")
        b = self.score["breakdown"]
        lines.append("")
        if self.score.get("graded", True):
            lines.append(f"Station score: force within limits {b['force_within_window_pct']:.1f} % (both hands), "
                         f"timing {b['timing']:.0f} %, {b['violations']} rule violation(s).")
        else:
            lines.append("Station score: none (no massage to grade).")
        for f in self.strip_faults:
            kind = f["kind"].replace("_", " ")
            lines.append(f"Sensor fault: {sensor_name(f['channel'])} {kind} for {f['duration_s']:.1f} s.")
        for hand, report in self.hands.items():
            lines.append("")
            lines.append(f"=== {hand.capitalize()} hand ===")
            lines.append(report.summary())
        return "\n".join(lines)
