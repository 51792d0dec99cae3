"""The coaching engine: force blocks in, coaching events and a session report out.

`CoachingEngine(protocol, channels, rate_hz)` takes `ForceBlock`s (glovecoach.vocabulary) of
any size, returns `EngineEvent`s, exposes `state` for a live display and builds a
`SessionReport` at `finish()`. It knows nothing of Qt, files or ports, so live coaching,
replay and `glovecoach analyze` run the same code (through glovecoach.pipeline's
`CoachingListener`). See docs/engine.md.
"""

from glovecoach.engine.coaching import CoachingEngine, EngineState
from glovecoach.engine.events import EVENT_KINDS, RULES, EngineEvent
from glovecoach.engine.report import SessionReport

__all__ = ["EVENT_KINDS", "RULES", "CoachingEngine", "EngineEvent", "EngineState", "SessionReport"]
