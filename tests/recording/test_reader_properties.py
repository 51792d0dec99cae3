"""Property tests for the recording reader: random, truncated, mutated and adversarial files.

Whatever the bytes, `open_recording` either raises RecordingError or returns a Recording in
which every value is finite and within the format's physical bounds; a valid file damaged in
any way never yields a wrong sample (every row returned is exactly the one written at its index).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glovecoach.recording import Recording, RecordingError, RecordingWriter, open_recording
from glovecoach.recording.format import (
    FRAME_DTYPE,
    MAX_CHANNELS,
    MAX_RATE_HZ,
    MAX_SESSION_S,
    SAMPLES_HEADER,
    T_US_MODULUS,
    Kind,
    encode_record,
    file_header,
)
from recording_helpers import CHANNELS, HELLO, frames_for, pattern

# Tuned so the whole file runs in about 10 s on a loaded machine.
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ADVERSARIAL = settings(max_examples=80, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
WORK = Path(tempfile.mkdtemp(prefix="gcrec-props-"))


def _valid_file() -> bytes:
    """Four flushed SAMPLES records (with frame tables), a gap, a STATUS, a NOTE and END."""
    path = WORK / "valid.gcrec"
    if not path.exists():
        with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS) as writer:
            for first in (0, 40, 80):
                writer.write_samples(first, pattern(first, 40), frames_for(first, 40))
                writer.flush()
            writer.write_gap(120, 8, "link_down")
            writer.write_status(1.5, {"seq": 3, "dropped_samples": 0})
            writer.write_samples(128, pattern(128, 40), frames_for(128, 40))
            writer.write_note("alert", {"text": "too hard", "peak_n": 31.5}, host_time=2.0)
    return path.read_bytes()


VALID = _valid_file()


def _open(data: bytes) -> Recording:
    path = WORK / "case.gcrec"
    path.write_bytes(data)
    rec = open_recording(path)
    check_invariants(rec)
    return rec


def _finite_everywhere(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_everywhere(v) for v in value)
    return True


def check_invariants(rec: Recording) -> None:
    """What every returned Recording satisfies, however damaged the file was."""
    assert 1 <= rec.rate_hz <= MAX_RATE_HZ
    assert 1 <= len(rec.channels) <= MAX_CHANNELS and len(set(rec.channels)) == len(rec.channels)
    assert all(isinstance(c, str) and c for c in rec.channels)
    max_index = rec.rate_hz * MAX_SESSION_S
    assert rec.raw.dtype == np.uint16 and rec.raw.shape == (rec.samples, len(rec.channels))
    assert 0 <= rec.samples <= rec.n_total <= max_index
    if rec.samples:
        assert rec.sample_index[0] >= 0 and rec.sample_index[-1] < rec.n_total
        assert np.all(np.diff(rec.sample_index) > 0)
    assert rec.lost_samples >= 0 and math.isfinite(rec.duration_s)
    for gap in rec.gaps:
        assert 0 <= gap.first_index and gap.n_samples >= 0 and gap.end_index <= rec.n_total
        assert isinstance(gap.reason, str) and isinstance(gap.exact, bool)
    assert np.isfinite(rec.frames["host_time"]).all()
    assert ((rec.frames["sample_index"] >= 0) & (rec.frames["sample_index"] < max_index)).all()
    assert (rec.frames["t_us"] < T_US_MODULUS).all()
    for status in rec.statuses:
        assert isinstance(status, dict) and math.isfinite(status["host_time"])
    for note in rec.notes:
        assert isinstance(note.kind, str) and note.kind and isinstance(note.payload, dict)
        assert note.host_time is None or math.isfinite(note.host_time)
    assert isinstance(rec.device_info, dict) and isinstance(rec.metadata, dict)
    assert _finite_everywhere([rec.device_info, rec.metadata, rec.statuses, [n.payload for n in rec.notes],
                               rec.end_info or {}])
    assert isinstance(rec.ended_at, (str, type(None)))
    assert all(isinstance(p, str) for p in rec.problems)
    for skipped in rec.skipped:
        assert skipped.byte >= 0 and skipped.n_bytes > 0


def _no_wrong_samples(rec: Recording) -> None:
    np.testing.assert_array_equal(rec.raw, pattern(0, 168)[rec.sample_index])


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    for candidate in (data, file_header() + data):
        try:
            _open(candidate)
        except RecordingError:
            pass


@SETTINGS
@given(st.integers(0, len(VALID)))
def test_truncated(cut: int) -> None:
    try:
        rec = _open(VALID[:cut])
    except RecordingError:
        return
    _no_wrong_samples(rec)
    # A cut file is a prefix: its samples are the first ones written.
    np.testing.assert_array_equal(rec.sample_index[: min(rec.samples, 120)], np.arange(min(rec.samples, 120)))


MUTATION = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "overwrite", "zero_run", "duplicate"]),
    st.integers(0, len(VALID) - 1), st.integers(1, 300), st.binary(min_size=1, max_size=64),
)


@SETTINGS
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated(mutations) -> None:
    data = bytearray(VALID)
    for how, at, length, blob in mutations:
        at %= max(len(data), 1)
        if how == "flip":
            data[at] ^= 1 << (length % 8)
        elif how == "delete":
            del data[at: at + length]
        elif how == "insert":
            data[at:at] = blob
        elif how == "overwrite":
            data[at: at + len(blob)] = blob
        elif how == "zero_run":
            data[at: at + length] = bytes(len(data[at: at + length]))
        else:
            data[at:at] = data[at: at + length]
    try:
        rec = _open(bytes(data))
    except RecordingError:
        return
    _no_wrong_samples(rec)


# Adversarial: records framed with valid checksums but hostile content.

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from([1e308, -1e308, 5e-324, 2**63, 10**30, "", "ch00"]),
)
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _json_bytes(value: object) -> bytes:
    import json
    return json.dumps(value).encode()  # allow_nan: NaN and Infinity reach the reader as tokens


def _session(**override) -> dict:
    session = {"format_version": 1, "device_info": HELLO, "rate_hz": 200, "channels": list(CHANNELS[:3]),
               "started_at": "2026-12-02T10:00:00.000+00:00", "metadata": {}}
    session.update(override)
    return session


SESSION_FIELD = st.sampled_from(["rate_hz", "channels", "device_info", "metadata", "started_at"])
RECORD_KIND = st.sampled_from([Kind.GAP, Kind.STATUS, Kind.NOTE, Kind.END, Kind.SAMPLES, 99])


@st.composite
def hostile_record(draw) -> bytes:
    kind = draw(RECORD_KIND)
    if kind == Kind.SAMPLES:
        first = draw(st.integers(-(2**63), 2**63 - 1))
        n = draw(st.integers(0, 6))
        ch = draw(st.sampled_from([3, 3, 3, 0, 1, 65535]))
        n_frames = draw(st.integers(0, 3))
        raw = draw(st.binary(min_size=2 * n * 3, max_size=2 * n * 3)) if ch == 3 else b""
        frames = draw(st.binary(min_size=FRAME_DTYPE.itemsize * n_frames, max_size=FRAME_DTYPE.itemsize * n_frames))
        if draw(st.booleans()) and n_frames:   # hostile but well-formed frame values
            table = np.zeros(n_frames, FRAME_DTYPE)
            table["host_time"] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e308, 0.0]))
            table["sample_index"] = draw(st.integers(-(2**63), 2**63 - 1))
            table["t_us"] = draw(st.integers(0, 2**32 - 1))
            frames = table.tobytes()
        return encode_record(kind, SAMPLES_HEADER.pack(first, n, ch, 0, n_frames) + raw + frames)
    if kind == Kind.GAP:
        body = {"first_index": draw(JSON), "n_samples": draw(JSON), "reason": draw(JSON), "exact": draw(JSON)}
    elif kind == Kind.STATUS:
        body = {"host_time": draw(JSON), "status": draw(JSON)}
    elif kind == Kind.NOTE:
        body = {"kind": draw(JSON), "host_time": draw(JSON), "payload": draw(JSON)}
    elif kind == Kind.END:
        body = {"ended_at": draw(JSON), "end_index": draw(JSON), "samples": draw(JSON)}
    else:
        body = draw(JSON)
    if draw(st.booleans()):
        body = {k: v for k, v in body.items() if draw(st.booleans())} if isinstance(body, dict) else body
    if draw(st.integers(0, 9)) == 0:
        return encode_record(kind, b"[" * 3000)   # nesting too deep for the json module
    return encode_record(kind, _json_bytes(body))


@ADVERSARIAL
@given(SESSION_FIELD, JSON, st.lists(hostile_record(), max_size=6))
def test_adversarial_records(field: str, value: object, records: list[bytes]) -> None:
    data = file_header() + encode_record(Kind.SESSION, _json_bytes(_session(**{field: value}))) + b"".join(records)
    try:
        _open(data)
    except RecordingError:
        pass


@ADVERSARIAL
@given(st.lists(hostile_record(), max_size=6))
def test_adversarial_records_after_a_good_session(records: list[bytes]) -> None:
    data = file_header() + encode_record(Kind.SESSION, _json_bytes(_session())) + b"".join(records)
    rec = _open(data)   # a good SESSION: never an error, whatever follows
    assert rec.channels == CHANNELS[:3]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e400, 10**30, 0, -5, 200.5, True, "200", None])
def test_a_session_rate_that_is_not_a_physical_rate_is_refused(value) -> None:
    text = _json_bytes(_session()).replace(b'"rate_hz": 200', b'"rate_hz": ' + (
        b"1e400" if value == 1e400 else _json_bytes(value)))
    with pytest.raises(RecordingError, match="bad SESSION record at byte 16: (rate_hz|NaN|Infinity|number)"):
        _open(file_header() + encode_record(Kind.SESSION, text))


def test_a_gap_beyond_the_session_bound_is_skipped_and_named() -> None:
    gap = {"first_index": 0, "n_samples": 10**15, "reason": "x", "exact": True}
    data = (file_header() + encode_record(Kind.SESSION, _json_bytes(_session()))
            + encode_record(Kind.GAP, _json_bytes(gap)))
    rec = _open(data)
    assert rec.n_total == 0 and rec.problems[0].startswith("bad GAP record at byte")
    assert "n_samples 1000000000000000 outside 0..17280000" in rec.problems[0]

