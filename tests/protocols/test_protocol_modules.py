"""The protocols package's parts alone: the model, the TOML line scanner, the validator."""

from __future__ import annotations

import tomllib

import pytest

import glovecoach.protocols as protocols
from glovecoach.protocols.model import ForceWindow, Protocol
from glovecoach.protocols.toml_lines import key_lines, split_key
from glovecoach.protocols.validate import ProtocolReader
from glovecoach.vocabulary.sensors import load_sensor_map

# What `glovecoach.protocols` offered before it was split; callers import these from it.
PUBLIC = ["ANY_TECHNIQUE", "ChecklistItem", "DEFAULT_PROTOCOL_PATH", "ForceFeedback", "ForceWindow", "PhaseSpec",
          "Protocol", "ProtocolError", "ScreeningQuestion", "SpinePolicy", "default_protocol", "known_techniques",
          "load_protocol", "parse_protocol", "Purpose", "FORMAT_NAME", "FORMAT_VERSION", "MAX_FORCE_N",
          "MAX_DURATION_S", "MAX_PRESSES", "MAX_FILE_BYTES"]


def test_the_package_still_offers_every_public_name() -> None:
    missing = [name for name in PUBLIC if not hasattr(protocols, name)]
    assert missing == []
    assert set(protocols.__all__) >= set(PUBLIC)


def test_key_lines_find_headers_keys_and_array_items() -> None:
    text = '\n'.join([
        'name = "x"',                       # 1
        'description = "one line"',         # 2
        '',                                 # 3
        '[session]',                        # 4
        'max_s = 900   # [not a header]',   # 5
        '[[phases]]',                       # 6
        'technique = "stroking"',           # 7
        'list = [',                         # 8
        '  "a", "b",',                      # 9
        ']',                                # 10
        '[[phases]]',                       # 11
        '"quoted key" = 1',                 # 12
        'a.b = 2',                          # 13
    ])
    lines = key_lines(text)
    assert lines[("name",)] == 1 and lines[("description",)] == 2
    assert lines[("session",)] == 4 and lines[("session", "max_s")] == 5
    assert lines[("phases", 0)] == 6 and lines[("phases", 0, "technique")] == 7 and lines[("phases", 0, "list")] == 8
    assert lines[("phases", 1)] == 11 and lines[("phases", 1, "quoted key")] == 12
    assert lines[("phases", 1, "a", "b")] == 13
    assert split_key(' a . "b" ') == ("a", "b")


def test_the_validator_names_field_and_line_without_reading_a_file() -> None:
    text = protocols.DEFAULT_PROTOCOL_PATH.read_text().replace("max_s = 900 ", "max_s = -900 ", 1)
    reader = ProtocolReader(tomllib.loads(text), "mine.toml", key_lines(text), load_sensor_map())
    with pytest.raises(protocols.ProtocolError) as info:
        reader.protocol()
    assert info.value.field == "session.max_s" and info.value.source == "mine.toml"
    assert text.splitlines()[info.value.line - 1].startswith("max_s = -900")


def test_the_model_answers_limits_without_any_file() -> None:
    base = protocols.default_protocol()
    mine = Protocol(
        name="m", description="", source="<code>", phases=base.phases, session_max_s=900, session_warn_at_s=780,
        merge_gap_s=10, min_phase_s=20, force_feedback=base.force_feedback, spine=base.spine, screening=(),
        checklist=(), force_windows=(ForceWindow("*", "fingertips", 20, 24),
                                     ForceWindow("kneading", "index_tip", 30, 36, live_min_n=2)))
    assert mine.force_limit("kneading", "index_tip") == (2, 30)
    assert mine.force_limit("kneading", "middle_tip", "scoring") == (None, 24)
    assert mine.force_limit("stroking", "spine_3") == (None, None)      # the spine has no force window
    assert mine.score == protocols.ScoreWeights()
    with pytest.raises(ValueError, match="purpose"):
        mine.force_limit("kneading", "index_tip", "both")  # type: ignore[arg-type]


@pytest.mark.xfail(strict=True, reason="known limitation kept as it was: a multi-line string opened after a key "
                   "is not seen (the quote-stripping pattern eats the opening quotes), so a line inside it that "
                   "looks like a key gets a line number; only error messages' line numbers can be affected")
def test_key_lines_skip_a_multi_line_string_after_a_key() -> None:
    lines = key_lines('description = """two\nlines = not a key"""\n[session]')
    assert ("lines",) not in lines
