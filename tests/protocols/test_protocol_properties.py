"""Property tests for the protocol loader: random, truncated, mutated and adversarial files.

`load_protocol` either raises ProtocolError naming the file and field, or returns a protocol
whose every number is finite and inside its physical range, and which gives every glove sensor
a live and a scoring maximum during every technique that has a phase.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glovecoach.protocols import (
    DEFAULT_PROTOCOL_PATH,
    MAX_DURATION_S,
    MAX_FORCE_N,
    Protocol,
    ProtocolError,
    default_protocol,
    load_protocol,
)
from glovecoach.vocabulary.sensors import load_sensor_map

# Tuned so the whole file runs in about 10 s on a loaded machine (each load parses ~300 lines).
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORK = Path(tempfile.mkdtemp(prefix="gcproto-props-"))
TEXT = DEFAULT_PROTOCOL_PATH.read_text(encoding="utf-8")
GLOVE = [c.id for c in load_sensor_map().channels if not c.is_spine]
NUMBER = re.compile(r"(?m)^(\w+) = (-?[0-9][0-9_.e+-]*)")
NUMBERS = list(NUMBER.finditer(TEXT))


def _load(data: bytes) -> Protocol | None:
    path = WORK / "case.toml"
    path.write_bytes(data)
    try:
        protocol = load_protocol(path)
    except ProtocolError as exc:
        assert str(exc).startswith(str(path)) and exc.field, str(exc)
        assert exc.line is None or exc.line >= 1
        return None
    check_in_range(protocol)
    return protocol


def _in(value: float | None, upper: float) -> bool:
    return value is None or (math.isfinite(value) and 0 <= value <= upper)


def check_in_range(p: Protocol) -> None:
    assert _in(p.session_max_s, MAX_DURATION_S) and p.session_max_s > 0
    assert _in(p.session_warn_at_s, MAX_DURATION_S) and p.session_warn_at_s < p.session_max_s
    assert _in(p.merge_gap_s, MAX_DURATION_S) and _in(p.min_phase_s, MAX_DURATION_S)
    for ph in p.phases:
        assert _in(ph.min_s, MAX_DURATION_S) and _in(ph.max_s, MAX_DURATION_S) and _in(ph.tolerance_s, MAX_DURATION_S)
        assert ph.min_s <= ph.max_s
    for w in p.force_windows:
        for v in (w.live_max_n, w.scoring_max_n, w.live_min_n, w.scoring_min_n):
            assert _in(v, MAX_FORCE_N)
    ff = p.force_feedback
    for key, value in vars(ff).items():
        assert math.isfinite(value) and value >= 0, key
        if key.endswith("_s"):
            assert value <= MAX_DURATION_S
        if key.endswith("_n"):
            assert value <= MAX_FORCE_N
    assert 0 < ff.live_release_ratio <= 1 and 0 < ff.scoring_release_ratio <= 1
    assert 1 <= ff.light_presses_to_alert <= 1000
    for key, value in vars(p.spine).items():
        assert _in(value, MAX_DURATION_S if key.endswith("_s") else MAX_FORCE_N), key
    for technique in p.techniques:
        for channel in GLOVE:
            assert p.force_limit(technique, channel, "live")[1] is not None
            assert p.force_limit(technique, channel, "scoring")[1] is not None
    assert p.screening and p.checklist


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@SETTINGS
@given(st.integers(0, len(TEXT)))
def test_truncated(cut: int) -> None:
    protocol = _load(TEXT[:cut].encode())
    if protocol is not None:   # only a cut inside the last section, [[checklist]], can load
        full = default_protocol()
        assert (protocol.phases, protocol.force_windows, protocol.spine, protocol.screening) == \
               (full.phases, full.force_windows, full.spine, full.screening)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(TEXT) - 1), st.integers(0, 255), st.sampled_from(["set", "del", "ins"])),
                min_size=1, max_size=3))
def test_mutated_bytes(mutations) -> None:
    data = bytearray(TEXT.encode())
    for at, byte, how in mutations:
        at %= len(data)
        if how == "set":
            data[at] = byte
        elif how == "del":
            del data[at]
        else:
            data.insert(at, byte)
    _load(bytes(data))


TOML_VALUE = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.integers(-(10**30), 10**30).map(str),                     # beyond 64 bits: tomllib takes them
    st.floats(allow_nan=True, allow_infinity=True).map(repr),            # inf and nan are TOML too
    st.sampled_from(["1e308", "-1e308", "5e-324", "1e-300", "0", "-0.0", "500", "500.0001", "7200", "7200.5",
                     "true", '"12"', "[1, 2]", "{a = 1}", "1979-05-27", "nan", "-inf", "+inf", "0x10", "1_000"]),
)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(NUMBERS) - 1), TOML_VALUE), min_size=1, max_size=3))
def test_adversarial_values(replacements) -> None:
    # Replace the values of numeric fields (any of them: session, phases, force windows, spine,
    # feedback) with hostile ones; the result must be refused or stay in range.
    chosen = dict(replacements)
    out, last = [], 0
    for k, match in enumerate(NUMBERS):
        if k in chosen:
            out.append(TEXT[last: match.start(2)] + chosen[k])
            last = match.end(2)
    out.append(TEXT[last:])
    _load("".join(out).encode())
