"""The firmware's encoder and command decoder against tests/golden/frames.json."""

from __future__ import annotations

import json
import os
import random
import struct
import zlib

import pytest
from cobs import cobs

from fwharness import GOLDEN, run_micropython

HERE = os.path.dirname(__file__)
GOLDEN_DOC = json.loads(GOLDEN.read_text())
JSON_BODIED = {"HELLO", "ACK"}


@pytest.fixture(scope="module")
def firmware_output() -> dict[str, dict]:
    proc = run_micropython(os.path.join(HERE, "mp", "mp_golden.py"), str(GOLDEN))
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return {r["name"]: r for r in rows}


def _split_frame(frame: bytes) -> bytes:
    assert frame.endswith(b"\x00") and b"\x00" not in frame[:-1]
    data = cobs.decode(frame[:-1])
    payload, crc = data[:-4], struct.unpack("<I", data[-4:])[0]
    assert zlib.crc32(payload) == crc
    return payload


@pytest.mark.parametrize("vector", GOLDEN_DOC["vectors"], ids=lambda v: v["name"])
def test_firmware_matches_golden_vector(vector, firmware_output):
    got = firmware_output[vector["name"]]
    kind = vector["fields"]["type"]
    if kind == "COMMAND":
        assert got["fields"] == vector["fields"]
        return
    frame = bytes.fromhex(got["frame_hex"])
    if kind in JSON_BODIED and vector["fields"].get("detail", vector["fields"].get("info")):
        # MicroPython dicts keep no insertion order: compare the header bytes and the JSON.
        payload, want = _split_frame(frame), bytes.fromhex(vector["payload_hex"])
        head = 2 if kind == "HELLO" else 4
        assert payload[:head] == want[:head]
        assert json.loads(payload[head:]) == json.loads(want[head:])
    else:
        assert frame.hex() == vector["frame_hex"]


def test_every_vector_was_produced(firmware_output):
    assert set(firmware_output) == {v["name"] for v in GOLDEN_DOC["vectors"]}


CODEC_SCRIPT = os.path.join(HERE, "mp", "mp_codec.py")


def test_cobs_and_crc_match_reference_on_edge_lengths(tmp_path):
    """Block boundaries at 254 bytes are where COBS encoders differ; compare with `cobs`."""
    rng = random.Random(7)
    cases = []
    for n in (0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 1000, 2048):
        cases.append(bytes(rng.randrange(1, 256) for _ in range(n)))        # no zeros at all
        cases.append(bytes(rng.randrange(0, 256) for _ in range(n)))        # random
        if n:
            cases.append(bytes([1] * (n - 1)) + b"\x00")                      # zero at the end
            cases.append(b"\x00" * n)
    src = tmp_path / "cases.txt"
    src.write_text("\n".join(c.hex() for c in cases) + "\n")
    proc = run_micropython(CODEC_SCRIPT, str(src))
    lines = proc.stdout.decode().split()
    assert len(lines) == len(cases)
    for case, line in zip(cases, lines):
        want = cobs.encode(case + struct.pack("<I", zlib.crc32(case))) + b"\x00"
        assert bytes.fromhex(line) == want, f"length {len(case)}"
