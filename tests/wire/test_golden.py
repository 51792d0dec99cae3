"""Every golden vector (generated from docs/protocol.md, not from this code) both ways, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glovecoach.wire import (
    Command,
    StreamDecoder,
    decode_command,
    decode_frame,
    decode_message,
    encode_ack,
    encode_command,
    encode_error,
    encode_frame,
    encode_hello,
    encode_log,
    encode_samples,
    encode_status,
)
from wire_streams import golden_fields

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "frames.json").read_text())
VECTORS = GOLDEN["vectors"]
DEVICE_VECTORS = [v for v in VECTORS if v["fields"]["type"] != "COMMAND"]
COMMAND_VECTORS = [v for v in VECTORS if v["fields"]["type"] == "COMMAND"]
ids = [v["name"] for v in VECTORS]


def test_golden_file_covers_every_message_type():
    kinds = {v["fields"]["type"] for v in VECTORS}
    assert kinds == {"SAMPLES", "STATUS", "HELLO", "ACK", "ERROR", "LOG", "COMMAND"}
    assert {v["fields"]["command"] for v in COMMAND_VECTORS} == {int(c) for c in Command}


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_frame_layer_roundtrip(vector):
    payload, frame = bytes.fromhex(vector["payload_hex"]), bytes.fromhex(vector["frame_hex"])
    assert encode_frame(payload) == frame
    assert decode_frame(frame) == payload


@pytest.mark.parametrize("vector", DEVICE_VECTORS, ids=[v["name"] for v in DEVICE_VECTORS])
def test_device_vector_decodes_to_its_fields(vector):
    frame = bytes.fromhex(vector["frame_hex"])
    assert golden_fields(decode_message(decode_frame(frame))) == vector["fields"]
    # and through the stream decoder, both the frame-by-frame and the vectorised path
    for vectorise_from in (1, 10**9):
        decoder = StreamDecoder(synced=True, vectorise_from=vectorise_from)
        items = decoder.feed(frame)
        assert [golden_fields(i) for i in items] == [vector["fields"]]
        assert decoder.stats.frames_ok == 1 and decoder.stats.corrupt_frames == 0


def encode_from_fields(fields: dict) -> bytes:
    kind = fields["type"]
    if kind == "SAMPLES":
        return encode_samples(fields["seq"], fields["sample_index"], fields["t_us"],
                              np.array(fields["raw"], dtype=np.uint16), fields["flags"])
    if kind == "STATUS":
        return encode_status(**{k: v for k, v in fields.items() if k != "type"})
    if kind == "HELLO":
        return encode_hello(fields["info"])
    if kind == "ACK":
        return encode_ack(fields["token"], fields["command"], fields["detail"])
    if kind == "ERROR":
        return encode_error(fields["token"], fields["command"], fields["code"], fields["message"])
    if kind == "LOG":
        return encode_log(fields["level"], fields["message"])
    if kind == "COMMAND":
        return encode_command(fields["command"], fields["token"], **fields["args"])
    raise AssertionError(kind)


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_encoder_reproduces_frame_hex(vector):
    assert encode_from_fields(vector["fields"]).hex() == vector["frame_hex"]


@pytest.mark.parametrize("vector", COMMAND_VECTORS, ids=[v["name"] for v in COMMAND_VECTORS])
def test_command_vector_decodes_to_its_fields(vector):
    command, token, args = decode_command(decode_frame(bytes.fromhex(vector["frame_hex"])))
    fields = vector["fields"]
    assert (int(command), token, args) == (fields["command"], fields["token"], fields["args"])
    assert isinstance(command, Command)


def test_all_golden_frames_in_one_stream():
    stream = b"\x00" + b"".join(bytes.fromhex(v["frame_hex"]) for v in DEVICE_VECTORS)
    for vectorise_from in (1, 10**9):
        decoder = StreamDecoder(vectorise_from=vectorise_from)
        items = decoder.feed(stream)
        # the four SAMPLES vectors are adjacent and all 20-channel: they merge into one batch
        assert len(items) == len(DEVICE_VECTORS) - 3
        batch = items[0]
        assert batch.n_frames == 4
        assert batch.seq.tolist() == [0, 70000, 5, 1]
        assert [golden_fields(i) for i in items[1:]] == [v["fields"] for v in DEVICE_VECTORS[4:]]
        assert decoder.stats.frames_ok == len(DEVICE_VECTORS)
