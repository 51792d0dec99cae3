"""Protocol files: the shipped default, lookups, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from glovecoach.protocols import (
    DEFAULT_PROTOCOL_PATH,
    ProtocolError,
    default_protocol,
    load_protocol,
    parse_protocol,
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
    ('technique = "rubbing"', 'technique = "rubing"', 1, "phases[2].technique", 'technique = "rubing"',
     "unknown technique"),
    # min > max in a phase
    ("min_s = 120", "min_s = 200", 4, "phases[3].min_s", "min_s = 200", "greater than max_s"),
    # min > max in a force window
    ("live_min_n = 5", "live_min_n = 25", 1, "force_limits[20].live_min_n", "live_min_n = 25",
     "greater than live_max_n"),
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


# ----------------------------------------------------------------------------- hostile files

@pytest.mark.parametrize("old, new, occurrence, field, problem", [
    ("max_s = 900", "max_s = 1e300", 1, "session.max_s", "1e+300 s is beyond the physical limit of 7200 s"),
    ("merge_gap_s = 10.0", "merge_gap_s = 9223372036854775807", 1, "session.merge_gap_s",
     "is beyond the physical limit of 7200 s"),
    ("tolerance_s = 15", "tolerance_s = 1e9", 3, "phases[2].tolerance_s", "beyond the physical limit of 7200 s"),
    ("min_s = 120", "min_s = 86400", 1, "phases[0].min_s", "86400 s is beyond the physical limit of 7200 s"),
    ("live_max_n = 25", "live_max_n = 1e12", 1, "force_limits[0].live_max_n",
     "1e+12 N is beyond the physical limit of 500 N"),
    ("scoring_min_n = 4", "scoring_min_n = 501", 1, "force_limits[20].scoring_min_n",
     "beyond the physical limit of 500 N"),
    ("contact_above_baseline_n = 1.5", "contact_above_baseline_n = 1e100", 1, "spine.contact_above_baseline_n",
     "beyond the physical limit of 500 N"),
    ("baseline_time_constant_s = 10.0", "baseline_time_constant_s = 1e308", 1, "spine.baseline_time_constant_s",
     "beyond the physical limit of 7200 s"),
    ("press_contact_n = 1.0", "press_contact_n = inf", 1, "force_feedback.press_contact_n", "must be a finite number"),
    ("light_presses_to_alert = 4", "light_presses_to_alert = 1e9", 1, "force_feedback.light_presses_to_alert",
     "must be a whole number in 1..1000"),
    ("live_min_duration_s = 0.10", "live_min_duration_s = nan", 1, "force_feedback.live_min_duration_s",
     "must be a finite number"),
    ('name = "Classic back massage"', "name = 1979-05-27", 1, "name", "must be a string, not date"),
])
def test_huge_values_and_wrong_types_name_field_and_line(tmp_path: Path, old, new, occurrence, field, problem) -> None:
    text = replace_nth(DEFAULT_TEXT, old, new, occurrence)
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    e = err.value
    assert (e.field, problem in e.problem) == (field, True), str(e)
    assert e.line == line_of(text, new.splitlines()[0])
    assert str(e).startswith(f"{path}:{e.line}: {field}: ")


def _essentials(p):
    return (p.phases, p.force_windows, p.spine, p.screening, p.force_feedback, p.session_max_s,
            p.session_warn_at_s, p.merge_gap_s, p.min_phase_s)


def test_a_file_cut_short_never_loads_with_fewer_limits() -> None:
    # Before, a file cut after any complete section loaded: without force limits, spine
    # settings or screening questions. Now every section a complete protocol has is required,
    # so a cut anywhere before the last section fails, naming what is missing and where the
    # file ends; a cut inside the last section ([[checklist]]) can only lose checklist items.
    full = default_protocol()
    lines = DEFAULT_TEXT.splitlines(keepends=True)
    loaded_cuts = 0
    cuts = [sum(len(x) for x in lines[:k]) for k in range(len(lines))]
    cuts += [c + len(lines[k]) // 2 for k, c in enumerate(cuts)]        # mid-line cuts too
    for cut in sorted(set(cuts)):
        text = DEFAULT_TEXT[:cut]
        try:
            p = parse_protocol(text, "cut.toml")
        except ProtocolError as exc:
            assert exc.line is None or 1 <= exc.line <= text.count("\n") + 1
            continue
        loaded_cuts += 1
        assert _essentials(p) == _essentials(full), f"cut at byte {cut} loaded with different limits"
        assert p.checklist == full.checklist[: len(p.checklist)] and p.checklist
    assert 0 < loaded_cuts < 20   # only cuts inside the checklist load


@pytest.mark.parametrize("section", ["[[force_limits]]", "[spine]", "[[screening]]", "[[checklist]]"])
def test_each_section_of_a_complete_protocol_is_required(tmp_path: Path, section: str) -> None:
    # Cut the file where that section starts: what is left is valid TOML.
    text = DEFAULT_TEXT[: DEFAULT_TEXT.index(section)]
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    name = section.strip("[]")
    assert err.value.field == name
    assert err.value.line == text.count("\n") + 1
    assert "cut short?" in err.value.problem


def test_force_limits_must_cover_every_technique_with_a_phase(tmp_path: Path) -> None:
    # Without the "*" knuckle entry, stroking... still has its own knuckle entry, but the
    # techniques are all covered; drop percussion's own knuckle entry too and it has none.
    text = DEFAULT_TEXT.replace('technique = "*"\nregion = "knuckles"\nlive_max_n = 40\nscoring_max_n = 50\n',
                                'technique = "*"\nregion = "knuckles"\nscoring_max_n = 50\n')
    text = text.replace('technique = "percussion"\nregion = "knuckles"\nlive_min_n = 5\nlive_max_n = 40\n',
                        'technique = "percussion"\nregion = "knuckles"\nlive_min_n = 5\n')
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    e = err.value
    assert e.field == "force_limits"
    assert e.problem.startswith("no live_max_n for sensor 'knuckles_index_middle' during 'percussion'")
    assert e.line == line_of(text, "[[force_limits]]", DEFAULT_TEXT.count("[[force_limits]]"))


@pytest.mark.parametrize("content, line, problem", [
    (DEFAULT_TEXT.encode("utf-16"), 1, "UTF-16 text"),
    (DEFAULT_TEXT.encode("utf-16-le"), 1, "UTF-16 text"),
    (DEFAULT_TEXT.encode()[:300] + b"\x00\x01\x02", DEFAULT_TEXT[:300].count("\n") + 1, "binary data (a NUL byte)"),
    (DEFAULT_TEXT.encode().replace(b"Classic back", b"Classic \xff back"), line_of(DEFAULT_TEXT, "Classic back"),
     "not UTF-8 text"),
    (b"a = " + b"[" * 100_000, None, ""),
    (b"#" * (2 << 20), None, "larger than 1024 KiB"),
])
def test_binary_utf16_and_absurd_files_are_named(tmp_path: Path, content: bytes, line, problem: str) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(content)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert str(path) in str(err.value) and problem in err.value.problem
    if line is not None:
        assert err.value.line == line
