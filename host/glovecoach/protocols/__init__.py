"""Massage protocols as data: TOML files describing phases, timing, force windows and screening.

`default_protocol()` is the classic back massage shipped with glovecoach
(`classic_back_massage.toml` beside this module); `load_protocol(path)` reads a user's own.
Every field is documented in docs/protocol-files.md. A bad file raises `ProtocolError`
naming the file, the line and the field, for TOML syntax errors and for semantic ones alike.

The package in four parts: `model` (the dataclasses), `toml_lines` (where each key is, for
error messages), `validate` (checks a parsed file and builds the Protocol) and `load` (file
-> Protocol). Every public name is re-exported here.
"""

from __future__ import annotations

from glovecoach.protocols.load import (
    DEFAULT_PROTOCOL_PATH,
    MAX_FILE_BYTES,
    default_protocol,
    load_protocol,
    parse_protocol,
)
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
    Purpose,
    ScoreWeights,
    ScreeningQuestion,
    SpinePolicy,
    known_techniques,
)
from glovecoach.protocols.validate import MAX_DURATION_S, MAX_FORCE_N, MAX_PRESSES

__all__ = [
    "ANY_TECHNIQUE", "ChecklistItem", "DEFAULT_PROTOCOL_PATH", "FORMAT_NAME", "FORMAT_VERSION", "ForceFeedback",
    "ForceWindow", "MAX_DURATION_S", "MAX_FILE_BYTES", "MAX_FORCE_N", "MAX_PRESSES", "PhaseSpec", "Protocol",
    "ProtocolError", "Purpose", "ScoreWeights", "ScreeningQuestion", "SpinePolicy", "default_protocol",
    "known_techniques", "load_protocol", "parse_protocol",
]
