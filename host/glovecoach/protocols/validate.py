"""Checking a parsed protocol file and building the `Protocol`: every error names field and line.

`ProtocolReader(data, source, lines, sensor_map).protocol()` takes what tomllib parsed, with
the key lines from `glovecoach.protocols.toml_lines`, checks every field (types, physical
bounds, known techniques and regions, order of groups, a maximum on every glove sensor during
every phased technique) and returns the Protocol, or raises `ProtocolError`.
"""

from __future__ import annotations

import re
from typing import Any

from glovecoach.protocols.model import (
    ANY_TECHNIQUE,
    FORMAT_NAME,
    FORMAT_VERSION,
    ChecklistItem,
    ForceFeedback,
    ForceWindow,
    PhaseSpec,
    Protocol,
    ProtocolError,
    ScoreWeights,
    ScreeningQuestion,
    SpinePolicy,
    known_techniques,
)
from glovecoach.vocabulary.sensors import SensorMap

# Physical bounds on every number in a protocol, by the unit its name ends in: a force window
# beyond 500 N per sensor (50 kg on one fingertip) or a duration beyond two hours is a typo or
# damage, never a massage. Keys added later with these endings are bounded the same way.
MAX_FORCE_N = 500.0
MAX_DURATION_S = 7200.0
MAX_PRESSES = 1000
_UNIT_BOUNDS = {"_n": (MAX_FORCE_N, "N"), "_s": (MAX_DURATION_S, "s")}


_TOP_KEYS = {"format", "version", "name", "description", "partner_position", "session", "phases",
             "force_feedback", "force_limits", "spine", "screening", "checklist", "score"}


class ProtocolReader:
    """Checks the parsed TOML and builds a Protocol; every error names field and line."""

    def __init__(self, data: dict, source: str, lines: dict[tuple, int], smap: SensorMap,
                 last_line: int | None = None) -> None:
        self.data = data
        self.source = source
        self.lines = lines
        self.smap = smap
        self.last_line = last_line

    # -- error helpers
    def _line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    @staticmethod
    def _name(path: tuple) -> str:
        out = ""
        for part in path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def fail(self, path: tuple, problem: str) -> ProtocolError:
        return ProtocolError(self.source, self._line(path), self._name(path), problem)

    def missing(self, path: tuple, problem: str) -> ProtocolError:
        # A whole section that is absent has no line of its own; a file cut short is the usual
        # cause, so point at where the file ends.
        if len(path) == 1 and self.last_line:
            problem += f" (the file ends at line {self.last_line}: cut short?)"
            return ProtocolError(self.source, self.last_line, self._name(path), problem)
        return self.fail(path, problem)

    # -- typed getters
    def table(self, parent: dict, path: tuple, required: bool = True) -> dict:
        value = parent.get(path[-1])
        if value is None:
            if required:
                raise self.missing(path, f"missing table [{self._name(path)}]")
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table, not {_type_name(value)}")
        return value

    def array_of_tables(self, parent: dict, path: tuple, required: bool = True) -> list[dict]:
        value = parent.get(path[-1])
        if value is None:
            if required:
                raise self.missing(path, f"missing: a complete protocol has [[{self._name(path)}]] entries")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(path, f"must be an array of tables ([[{path[-1]}]]), not {_type_name(value)}")
        return value

    def number(self, parent: dict, path: tuple, default: float | None = None,
               minimum: float | None = 0.0, positive: bool = False) -> float:
        """A number that is required, or has a default."""
        value = self.maybe_number(parent, path, default, True, minimum, positive)
        assert value is not None
        return value

    def maybe_number(self, parent: dict, path: tuple, default: float | None = None, required: bool = False,
                     minimum: float | None = 0.0, positive: bool = False) -> float | None:
        key = path[-1]
        if key not in parent:
            if default is not None or not required:
                return default
            raise self.fail(path, "missing field")
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"must be a number, not {_type_name(value)} {_short_repr(value)}")
        try:
            value = float(value)
        except OverflowError:   # TOML integers are unbounded in tomllib
            raise self.fail(path, f"a {len(str(abs(value)))}-digit number is beyond any physical limit") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(path, "must be a finite number")
        for suffix, (upper, unit) in _UNIT_BOUNDS.items():
            if isinstance(key, str) and key.endswith(suffix) and value > upper:
                raise self.fail(path, f"{value:g} {unit} is beyond the physical limit of {upper:g} {unit}")
        if positive and value <= 0:
            raise self.fail(path, f"must be greater than 0, got {value:g}")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be at least {minimum:g}, got {value:g}")
        return value

    def string(self, parent: dict, path: tuple, default: str | None = None) -> str:
        key = path[-1]
        if key not in parent:
            if default is not None:
                return default
            raise self.fail(path, "missing field")
        value = parent[key]
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_type_name(value)} {_short_repr(value)}")
        if not value.strip():
            raise self.fail(path, "must not be empty")
        return value

    def boolean(self, parent: dict, path: tuple, default: bool) -> bool:
        value = parent.get(path[-1], default)
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_type_name(value)} {_short_repr(value)}")
        return value

    def no_unknown(self, table: dict, path: tuple, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(path + (key,), f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def technique(self, parent: dict, path: tuple, allow_any: bool = False) -> str:
        value = self.string(parent, path)
        known = known_techniques()
        if value in known or (allow_any and value == ANY_TECHNIQUE):
            return value
        choices = ", ".join(known + ((ANY_TECHNIQUE,) if allow_any else ()))
        raise self.fail(path, f"unknown technique {value!r} (known: {choices})")

    # -- sections
    def protocol(self) -> Protocol:
        d = self.data
        self.no_unknown(d, (), _TOP_KEYS)
        fmt = self.string(d, ("format",))
        if fmt != FORMAT_NAME:
            raise self.fail(("format",), f"must be {FORMAT_NAME!r}, got {fmt!r}")
        version = self.number(d, ("version",))
        if version != FORMAT_VERSION:
            raise self.fail(("version",), f"unsupported version {version:g} (this glovecoach reads {FORMAT_VERSION})")
        name = self.string(d, ("name",))
        description = self.string(d, ("description",), default=" ").strip()
        position = self.string(d, ("partner_position",), default="prone")

        session = self.table(d, ("session",))
        self.no_unknown(session, ("session",), {"max_s", "warn_at_s", "merge_gap_s", "min_phase_s", "pause_max_s",
                                                "pause_counts_toward_phase"})
        max_s = self.number(session, ("session", "max_s"), positive=True)
        warn_at_s = self.number(session, ("session", "warn_at_s"), positive=True)
        if warn_at_s >= max_s:
            raise self.fail(("session", "warn_at_s"), f"must be before session.max_s ({max_s:g} s), got {warn_at_s:g}")
        merge_gap_s = self.number(session, ("session", "merge_gap_s"), default=10.0)
        min_phase_s = self.number(session, ("session", "min_phase_s"), default=20.0)
        pause_max_s = self.number(session, ("session", "pause_max_s"), default=40.0)
        pause_counts = self.boolean(session, ("session", "pause_counts_toward_phase"), default=False)

        phases = tuple(self.phase(p, ("phases", i)) for i, p in enumerate(self.array_of_tables(d, ("phases",))))
        if not phases:
            raise self.fail(("phases",), "need at least one phase")
        self.check_groups(phases)

        ff_table = self.table(d, ("force_feedback",), required=False)
        ff = self.force_feedback(ff_table)
        windows = tuple(self.force_window(w, ("force_limits", i))
                        for i, w in enumerate(self.array_of_tables(d, ("force_limits",))))
        seen: dict[tuple[str, str], int] = {}
        for i, w in enumerate(windows):
            k = (w.technique, w.region)
            if k in seen:
                raise self.fail(("force_limits", i), f"second entry for technique {w.technique!r} and region "
                                                     f"{w.region!r} (first is force_limits[{seen[k]}])")
            seen[k] = i

        spine = self.spine(self.table(d, ("spine",)))
        screening = tuple(
            ScreeningQuestion(self.ident(q, ("screening", i)), self.string(q, ("screening", i, "question")))
            for i, q in enumerate(self.array_of_tables(d, ("screening",)))
        )
        for i, q in enumerate(self.array_of_tables(d, ("screening",))):
            self.no_unknown(q, ("screening", i), {"id", "question"})
        checklist = tuple(
            ChecklistItem(self.ident(c, ("checklist", i)), self.string(c, ("checklist", i, "item")))
            for i, c in enumerate(self.array_of_tables(d, ("checklist",)))
        )
        for i, c in enumerate(self.array_of_tables(d, ("checklist",))):
            self.no_unknown(c, ("checklist", i), {"id", "item"})
        for name_, items in (("screening", screening), ("checklist", checklist)):
            ids = [x.id for x in items]
            for i, ident in enumerate(ids):
                if ids.index(ident) != i:
                    raise self.fail((name_, i, "id"), f"duplicate id {ident!r}")

        score = self.score(self.table(d, ("score",), required=False))

        protocol = Protocol(
            name=name, description=description, source=self.source, phases=phases,
            session_max_s=max_s, session_warn_at_s=warn_at_s, merge_gap_s=merge_gap_s, min_phase_s=min_phase_s,
            force_feedback=ff, force_windows=windows, spine=spine, screening=screening,
            checklist=checklist, partner_position=position, pause_max_s=max(pause_max_s, merge_gap_s),
            pause_counts_toward_phase=pause_counts, score=score,
        )
        self.check_coverage(protocol)
        return protocol

    def check_coverage(self, protocol: Protocol) -> None:
        """Every glove sensor has a live and a scoring maximum during every technique that has a
        phase (from that technique's entries or the "*" ones). A protocol with a forgotten or
        cut-off [[force_limits]] entry would otherwise coach with no over-force alert at all."""
        glove = [c.id for c in self.smap.channels if not c.is_spine]
        last = len(protocol.force_windows) - 1
        for technique in protocol.techniques:
            for channel in glove:
                for purpose in ("live", "scoring"):
                    if protocol.force_limit(technique, channel, purpose)[1] is None:  # type: ignore[arg-type]
                        raise ProtocolError(
                            self.source, self._line(("force_limits", last)), "force_limits",
                            f"no {purpose}_max_n for sensor {channel!r} during {technique!r}: every technique "
                            f"with a phase needs a {purpose} maximum on every glove sensor, from its own entries "
                            f"or the \"*\" ones (a file cut short?)")

    def ident(self, table: dict, path: tuple) -> str:
        value = self.string(table, path + ("id",))
        if not re.fullmatch(r"[a-z0-9_]+", value):
            raise self.fail(path + ("id",), f"ids are lower-case letters, digits and _: {value!r}")
        return value

    def phase(self, p: dict, path: tuple) -> PhaseSpec:
        self.no_unknown(p, path, {"technique", "min_s", "max_s", "tolerance_s", "optional", "group"})
        technique = self.technique(p, path + ("technique",))
        min_s = self.number(p, path + ("min_s",))
        max_s = self.number(p, path + ("max_s",), positive=True)
        if min_s > max_s:
            raise self.fail(path + ("min_s",), f"min_s ({min_s:g}) is greater than max_s ({max_s:g})")
        tolerance_s = self.number(p, path + ("tolerance_s",), default=0.0)
        group = self.string(p, path + ("group",)) if "group" in p else None
        return PhaseSpec(technique, min_s, max_s, tolerance_s, self.boolean(p, path + ("optional",), False), group)

    def check_groups(self, phases: tuple[PhaseSpec, ...]) -> None:
        seen_done: set[str] = set()
        for i, p in enumerate(phases):
            prev = phases[i - 1].group if i else None
            if p.group and p.group != prev and p.group in seen_done:
                raise self.fail(("phases", i, "group"), f"phases of group {p.group!r} must be next to each other")
            if p.group:
                seen_done.add(p.group)

    def force_feedback(self, t: dict) -> ForceFeedback:
        path = ("force_feedback",)
        default = ForceFeedback()
        self.no_unknown(t, path, set(ForceFeedback.__dataclass_fields__))
        values: dict[str, Any] = {}
        for key in ForceFeedback.__dataclass_fields__:
            v = self.number(t, path + (key,), default=getattr(default, key))
            values[key] = v
        for key in ("live_release_ratio", "scoring_release_ratio"):
            if not 0 < values[key] <= 1:
                raise self.fail(path + (key,), f"must be in (0, 1], got {values[key]:g}")
        presses = values["light_presses_to_alert"]
        if presses != int(presses) or not 1 <= presses <= MAX_PRESSES:
            raise self.fail(path + ("light_presses_to_alert",),
                            f"must be a whole number in 1..{MAX_PRESSES}, got {presses:g}")
        values["light_presses_to_alert"] = int(presses)
        return ForceFeedback(**values)

    def force_window(self, w: dict, path: tuple) -> ForceWindow:
        keys = {"technique", "region", "live_max_n", "scoring_max_n", "live_min_n", "scoring_min_n"}
        self.no_unknown(w, path, keys)
        technique = self.technique(w, path + ("technique",), allow_any=True)
        region = self.string(w, path + ("region",))
        regions = {c.region for c in self.smap.channels} - {"spine"}
        glove_ids = {c.id for c in self.smap.channels if not c.is_spine}
        if region not in regions and region not in glove_ids:
            raise self.fail(path + ("region",), f"unknown region or glove channel {region!r} "
                                                f"(regions: {', '.join(sorted(regions))}; or a glove channel id)")
        vals = {k: self.maybe_number(w, path + (k,)) for k in sorted(keys - {"technique", "region"})}
        if all(vals[k] is None for k in ("live_max_n", "scoring_max_n", "live_min_n", "scoring_min_n")):
            raise self.fail(path, "needs at least one of live_max_n, scoring_max_n, live_min_n, scoring_min_n")
        for purpose in ("live", "scoring"):
            lo, hi = vals[f"{purpose}_min_n"], vals[f"{purpose}_max_n"]
            if lo is not None and hi is not None and lo > hi:
                raise self.fail(path + (f"{purpose}_min_n",),
                                f"{purpose}_min_n ({lo:g}) is greater than {purpose}_max_n ({hi:g})")
        return ForceWindow(technique=technique, region=region, **vals)

    def score(self, t: dict) -> ScoreWeights:
        """The score's weights: each in [0, 1], together 1 (so the total stays 0-100)."""
        path = ("score",)
        default = ScoreWeights()
        self.no_unknown(t, path, set(ScoreWeights.__dataclass_fields__))
        values = {k: self.number(t, path + (k,), default=getattr(default, k))
                  for k in ScoreWeights.__dataclass_fields__}
        weights = ("force_weight", "timing_weight", "violations_weight")
        for key in weights:
            if values[key] > 1:
                raise self.fail(path + (key,), f"must be in [0, 1], got {values[key]:g}")
        total = sum(values[k] for k in weights)
        if abs(total - 1.0) > 1e-9:
            raise self.fail(path, "force_weight + timing_weight + violations_weight must be 1 "
                                  f"(the score is out of 100), got {total:g}")
        if values["points_per_violation"] > 100:
            raise self.fail(path + ("points_per_violation",),
                            f"must be in [0, 100], got {values['points_per_violation']:g}")
        return ScoreWeights(**values)

    def spine(self, t: dict) -> SpinePolicy:
        path = ("spine",)
        default = SpinePolicy()
        self.no_unknown(t, path, set(SpinePolicy.__dataclass_fields__))
        values = {k: self.number(t, path + (k,), default=getattr(default, k)) for k in SpinePolicy.__dataclass_fields__}
        if values["release_above_baseline_n"] > values["contact_above_baseline_n"]:
            raise self.fail(path + ("release_above_baseline_n",),
                            f"must not exceed contact_above_baseline_n ({values['contact_above_baseline_n']:g})")
        if values["baseline_time_constant_s"] <= 0:
            raise self.fail(path + ("baseline_time_constant_s",), "must be greater than 0")
        return SpinePolicy(**values)


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


__all__ = ["MAX_DURATION_S", "MAX_FORCE_N", "MAX_PRESSES", "ProtocolReader"]
