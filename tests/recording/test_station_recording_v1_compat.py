"""Version 1 files read exactly as before the station format existed.

`station_recording_data/v1_main.gcrec.bin` was written by the writer of commit 70b2f30 (the last
one before format version 2) and `v1_main_expected.json` holds what that commit's reader made
of it and of damaged copies of it (torn, a flipped byte, a lost byte, a zeroed header). Both
were made by `regenerate()` below, run with that commit's code on the path:

    git archive 70b2f30 host | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/host:tests/recording python -c \
        "import test_station_recording_v1_compat as t; t.regenerate()"

so this module imports only what that commit had. Today's reader must give the same digest,
and today's writer, given the same calls, must write the same records (apart from the clock).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from glovecoach.recording import Recording, RecordingWriter, open_recording
from recording_helpers import CHANNELS, HELLO, frames_for, pattern

DATA = Path(__file__).parent / "station_recording_data"
REFERENCE = DATA / "v1_main.gcrec.bin"  # not .gcrec, which .gitignore leaves out
EXPECTED = DATA / "v1_main_expected.json"


def write_reference_session(path: Path) -> None:
    """The same calls, whichever writer is imported: samples with gaps, STATUS, notes, END."""
    with RecordingWriter(path, device_info=HELLO, rate_hz=200, channels=CHANNELS,
                         metadata={"trainee": "Bo", "source": "reference"}) as writer:
        writer.write_samples(0, pattern(0, 120), frames_for(0, 120))
        writer.flush()
        writer.write_gap(120, 16, "link: 4 frames lost")
        writer.write_status(1000.7, {"seq": 3, "battery_mv": 3950, "nan_stat": float("nan")})
        writer.write_samples(136, pattern(136, 200), frames_for(136, 200))
        writer.flush()
        writer.write_note("screening", {"pain": "none"})
        writer.write_samples(336, pattern(336, 64), frames_for(336, 64))
        writer.write_gap(400, 40, "device rebooted", exact=False)
        writer.write_samples(440, pattern(440, 100), frames_for(440, 100))
        writer.write_note("alert", {"text": "press lighter"}, host_time=1002.5)


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def digest(rec: Recording) -> dict:
    """Everything a Recording exposes, JSON-comparable (arrays by dtype, shape and hash)."""
    return {
        "format_version": rec.format_version, "device_info": rec.device_info, "rate_hz": rec.rate_hz,
        "channels": list(rec.channels), "metadata": rec.metadata, "started_at": rec.started_at,
        "raw": [str(rec.raw.dtype), list(rec.raw.shape), _sha(rec.raw)],
        "sample_index": [str(rec.sample_index.dtype), list(rec.sample_index.shape), _sha(rec.sample_index)],
        "frames": [str(rec.frames.dtype), list(rec.frames.shape), _sha(rec.frames)],
        "gaps": [[g.first_index, g.n_samples, g.reason, g.exact] for g in rec.gaps],
        "notes": [[n.kind, n.payload, n.host_time] for n in rec.notes],
        "statuses": rec.statuses, "problems": rec.problems, "closed_cleanly": rec.closed_cleanly,
        "ended_at": rec.ended_at, "end_info": rec.end_info, "n_total": rec.n_total,
        "skipped": [[s.byte, s.n_bytes, s.kind, s.reason, list(s.samples) if s.samples else None]
                    for s in rec.skipped],
        "truncated": rec.truncated, "truncation_reason": rec.truncation_reason,
        "lost_samples": rec.lost_samples, "duration_s": rec.duration_s, "samples": rec.samples,
    }


def _record_offsets(data: bytes) -> list[int]:
    offsets, pos = [], 16
    while pos + 16 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos + 8)
        offsets.append(pos)
        pos += 16 + length + 4
    return offsets


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:]


# Damaged copies of the reference file: the reader's damage handling must not change either.
VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "pristine": lambda d: d,
    "torn": lambda d: d[: int(len(d) * 0.7)],
    "torn_header": lambda d: d[: _record_offsets(d)[-1] + 7],
    "flipped_samples_byte": lambda d: _flip(d, _record_offsets(d)[3] + 200),
    "lost_byte": lambda d: d[: _record_offsets(d)[3] + 300] + d[_record_offsets(d)[3] + 301:],
    "zeroed_header": lambda d: d[: _record_offsets(d)[4]] + bytes(16) + d[_record_offsets(d)[4] + 16:],
}


def digests_of(data: bytes, tmp: Path) -> dict[str, dict]:
    out = {}
    for name, damage in VARIANTS.items():
        path = tmp / f"{name}.gcrec"
        path.write_bytes(damage(data))
        out[name] = json.loads(json.dumps(digest(open_recording(path)), default=str))
        # The path differs between runs; everything else must not.
    return out


def regenerate() -> None:  # pragma: no cover - run by hand with the old commit's code
    import tempfile
    DATA.mkdir(exist_ok=True)
    REFERENCE.unlink(missing_ok=True)
    write_reference_session(REFERENCE)
    with tempfile.TemporaryDirectory() as tmp:
        EXPECTED.write_text(json.dumps(digests_of(REFERENCE.read_bytes(), Path(tmp)), indent=1, sort_keys=True) + "\n")


def test_version_1_files_read_as_the_old_reader_read_them(tmp_path: Path) -> None:
    expected = json.loads(EXPECTED.read_text())
    got = digests_of(REFERENCE.read_bytes(), tmp_path)
    assert set(got) == set(expected)
    for name in VARIANTS:
        assert got[name] == expected[name], name
    # The damaged copies really are damaged (the comparison is not between clean files only).
    assert expected["torn"]["truncated"] and expected["flipped_samples_byte"]["skipped"]
    assert expected["lost_byte"]["problems"] and expected["zeroed_header"]["problems"]


def _records(data: bytes) -> list[tuple[bytes, bytes]]:
    """(header bytes 0..11, payload) per record, with the clock fields of SESSION and END dropped."""
    out = []
    for pos in _record_offsets(data):
        head = data[pos: pos + 12]
        (length,) = struct.unpack_from("<I", data, pos + 8)
        payload = data[pos + 16: pos + 16 + length]
        if head[4] in (1, 6):  # SESSION, END: JSON with the time the file was written
            obj = json.loads(payload)
            for key in ("started_at", "started_at_unix", "ended_at"):
                obj.pop(key, None)
            payload = json.dumps(obj, sort_keys=True).encode()
            head = head[:8]  # the length changes with the timestamps' digits
        out.append((head, payload))
    return out


def test_todays_writer_still_writes_version_1_for_one_device(tmp_path: Path) -> None:
    path = tmp_path / "today.gcrec"
    write_reference_session(path)
    data, old = path.read_bytes(), REFERENCE.read_bytes()
    assert data[:16] == old[:16]  # magic, version 1, header size
    assert _records(data) == _records(old)


def test_open_any_recording_reads_version_1_files_the_same(tmp_path: Path) -> None:
    # Imported here: the module's top imports only what the old commit had (see regenerate()).
    from glovecoach.recording import open_any_recording

    expected = json.loads(EXPECTED.read_text())
    for name, damage in VARIANTS.items():
        path = tmp_path / f"{name}.gcrec"
        path.write_bytes(damage(REFERENCE.read_bytes()))
        rec = open_any_recording(path)
        assert isinstance(rec, Recording) and rec.role is None
        assert json.loads(json.dumps(digest(rec), default=str)) == expected[name], name
