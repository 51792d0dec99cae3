"""Protocol files: the shipped default, lookups, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from glovecoach.protocols import (
    DEFAULT_PROTOCOL_PATH,
    ProtocolError,
    default_protocol,
    load_protocol,
)

DEFAULT_TEXT = DEFAULT_PROTOCOL_PATH.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def replace_nth(text: str, old: str, new: str, occurrence: int) -> str:
    start = -1
    for _ in range(occurrence):
        start = text.index(old, start + 1)
    return text[:start] + new + text[start + len(old):]


# ----------------------------------------------------------------------------- the default

def test_default_protocol_encodes_the_classic_massage() -> None:
    p = default_protocol()
    assert [ph.technique for ph in p.phases] == [
        "stroking", "deep_stroking", "rubbing", "kneading", "vibration", "percussion", "stroking"]
    assert [ph.optional for ph in p.phases] == [False, True, False, False, True, True, False]
    assert all((ph.min_s, ph.max_s) == (120, 180) for ph in p.phases)
    assert p.session_max_s == 900 and p.session_warn_at_s < 900
    assert {q.id for q in p.screening} >= {"pregnancy", "fever", "tuberculosis", "malignant_tumour"}
    assert all(q.question.endswith("?") for q in p.screening)
    assert {c.id for c in p.checklist} >= {"hands_warm", "gel_applied"}
    assert p.partner_position == "prone"


def test_force_limit_lookup_precedence_and_purpose() -> None:
    p = default_protocol()
    # A channel entry beats its region's entry.
    assert p.force_limit("kneading", "thumb_tip") == (None, 25.0)
    assert p.force_limit("kneading", "index_tip") == (None, 20.0)
    # Scoring is more lenient than live feedback everywhere.
    for tech in ("stroking", "deep_stroking", "rubbing", "kneading", "vibration", "percussion", None):
        for ch in ("thumb_tip", "palm_heel", "hand_edge", "knuckles_index_middle"):
            live_lo, live_hi = p.force_limit(tech, ch, "live")
            sc_lo, sc_hi = p.force_limit(tech, ch, "scoring")
            assert sc_hi >= live_hi
            if live_lo is not None:
                assert sc_lo <= live_lo
    # Fist work has a window: a minimum as well as a maximum.
    assert p.force_limit("kneading", "knuckles_ring_little", "live") == (5.0, 20.0)
    assert p.force_limit("kneading", "knuckles_ring_little", "scoring") == (4.0, 24.0)
    # No technique yet: the "*" entries. Spine channels have no force window.
    assert p.force_limit(None, "palm_heel") == p.force_limit("none", "palm_heel") == (None, 30.0)
    assert p.force_limit("stroking", "spine_3") == (None, None)
    with pytest.raises(ValueError):
        p.force_limit("stroking", "thumb_tip", "exam")


def test_a_copy_of_the_default_loads_identically(tmp_path: Path) -> None:
    mine = load_protocol(write(tmp_path, DEFAULT_TEXT))
    assert mine.phases == default_protocol().phases
    assert mine.force_windows == default_protocol().force_windows


def test_a_user_protocol_can_change_limits_and_drop_phases(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace('technique = "kneading"\nregion = "fingertips"\nlive_max_n = 20',
                                'technique = "kneading"\nregion = "fingertips"\nlive_max_n = 12')
    text = text.replace('technique = "deep_stroking"\noptional = true\nmin_s = 120',
                        'technique = "deep_stroking"\noptional = true\nmin_s = 60')
    p = load_protocol(write(tmp_path, text))
    assert p.force_limit("kneading", "ring_tip") == (None, 12.0)
    assert p.phases[1].min_s == 60


# ----------------------------------------------------------------------------- errors

def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = replace_nth(DEFAULT_TEXT, "max_s = 180", "max_s = = 180", 3)
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert err.value.line == line_of(text, "max_s = = 180")
    assert str(path) in str(err.value) and "TOML" in str(err.value)


@pytest.mark.parametrize("old, new, occurrence, field, needle, problem", [
    # unknown technique
    ('technique = "rubbing"', 'technique = "rubing"', 1, "phases[2].technique", 'technique = "rubing"', "unknown technique"),
    # min > max in a phase
    ("min_s = 120", "min_s = 200", 4, "phases[3].min_s", "min_s = 200", "greater than max_s"),
    # min > max in a force window
    ("live_min_n = 5", "live_min_n = 25", 1, "force_limits[20].live_min_n", "live_min_n = 25", "greater than live_max_n"),
    # wrong type
    ("max_s = 900", 'max_s = "900"', 1, "session.max_s", 'max_s = "900"', "must be a number"),
    ("optional = true", 'optional = "yes"', 1, "phases[1].optional", 'optional = "yes"', "true or false"),
    # unknown region
    ('region = "hand_edge"', 'region = "elbow"', 1, "force_limits[2].region", 'region = "elbow"', "unknown region"),
    # unknown field (a typo)
    ("tolerance_s = 15", "tolerence_s = 15", 2, "phases[1].tolerence_s", "tolerence_s = 15", "unknown field"),
    # warning after the limit
    ("warn_at_s = 780", "warn_at_s = 950", 1, "session.warn_at_s", "warn_at_s = 950", "before session.max_s"),
])
def test_semantic_errors_name_field_and_line(tmp_path: Path, old, new, occurrence, field, needle, problem) -> None:
    text = replace_nth(DEFAULT_TEXT, old, new, occurrence)
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    e = err.value
    assert e.field == field
    assert e.line == line_of(text, needle)
    assert problem in e.problem
    assert str(e).startswith(f"{path}:{e.line}: {field}: ")


def test_missing_field_names_the_table_line(tmp_path: Path) -> None:
    # Third phase loses its max_s: the error points at that phase's [[phases]] header.
    text = replace_nth(DEFAULT_TEXT, "max_s = 180\n", "", 3)
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert err.value.field == "phases[2].max_s"
    assert "missing" in err.value.problem
    header_lines = [i for i, l in enumerate(text.splitlines(), start=1) if l.strip() == "[[phases]]"]
    assert err.value.line == header_lines[2]


def test_missing_session_table_and_duplicate_ids(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("[session]", "[sessions]")
    with pytest.raises(ProtocolError) as err:
        load_protocol(write(tmp_path, text))
    assert err.value.field == "sessions" and "unknown field" in err.value.problem

    text = DEFAULT_TEXT.replace('id = "fever"', 'id = "infection"')
    with pytest.raises(ProtocolError) as err:
        load_protocol(write(tmp_path, text, "dup.toml"))
    assert err.value.field == "screening[3].id" and "duplicate" in err.value.problem
    assert err.value.line == line_of(text, 'id = "infection"', 2)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProtocolError) as err:
        load_protocol(missing)
    assert str(missing) in str(err.value)
