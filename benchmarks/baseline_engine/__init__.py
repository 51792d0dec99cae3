"""FROZEN baseline: the coaching engine as it was at commit ace55cc, before issue 9's rework.

Do not edit: bench_robustness.py measures "today's recogniser in the same run" with it (see
README.md here). Only the intra-engine imports were made relative.

The coaching engine: force blocks in, coaching events and a session report out.

`CoachingEngine(protocol, channels, rate_hz)` takes `ForceBlock`s (glovecoach.calibration)
of any size, returns `EngineEvent`s, exposes `state` for a live display and builds a
`SessionReport` at `finish()`. It knows nothing of Qt, files or ports, so live coaching,
replay and `glovecoach analyze` run the same code. See docs/engine.md.

Names are resolved lazily so that importing a submodule (e.g. `glovecoach.engine.technique`,
which `glovecoach.protocols` uses) does not pull in the whole engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CoachingEngine": ".coaching",
    "EngineEvent": ".events",
    "EngineState": ".coaching",
    "SessionReport": ".report",
    "EVENT_KINDS": ".events",
    "RULES": ".events",
}

if TYPE_CHECKING:
    from .coaching import CoachingEngine, EngineState
    from .events import EVENT_KINDS, RULES, EngineEvent
    from .report import SessionReport


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'glovecoach.engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)


__all__ = sorted(_EXPORTS)
