"""HELLO with and without the device's role (docs/protocol.md 3.1): firmware from before roles
was the one-board kit, a right glove, and its HELLO still decodes to that."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from cobs import cobs

from glovecoach.wire import StreamDecoder
from glovecoach.wire.frames import FrameError
from glovecoach.wire.messages import Hello, MessageError, decode_message

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "frames.json").read_text())
# The golden HELLO was written before roles existed: it is an old firmware's HELLO.
OLD_INFO = next(v for v in GOLDEN["vectors"] if v["name"] == "hello")["fields"]["info"]


def hello_payload(info: dict) -> bytes:
    return bytes((0x01, 1)) + json.dumps(info).encode()


def on_the_wire(payload: bytes) -> bytes:
    return b"\x00" + cobs.encode(payload + struct.pack("<I", zlib.crc32(payload))) + b"\x00"


def decoded_hello(info: dict) -> Hello:
    items = StreamDecoder().feed(on_the_wire(hello_payload(info)))
    hellos = [x for x in items if isinstance(x, Hello)]
    assert len(hellos) == 1, items
    return hellos[0]


def test_old_firmware_hello_is_the_kit_a_right_hand():
    hello = decoded_hello(OLD_INFO)
    assert "role" not in hello.info and not hello.announces_role
    assert hello.role == "kit" and hello.hand == "right"
    assert len(hello.channels) == 20


@pytest.mark.parametrize("role, hand, n", [("kit", "right", 20), ("right_glove", "right", 12),
                                           ("left_glove", "left", 12), ("spine_strip", None, 8)])
def test_hello_with_a_role(role, hand, n):
    channels = OLD_INFO["channels"][12:] if role == "spine_strip" else OLD_INFO["channels"][:n]
    info = {**OLD_INFO, "role": role, "hand": hand, "channels": channels}
    hello = decoded_hello(info)
    assert hello.announces_role and hello.role == role and hello.hand == hand
    assert hello.channels == channels


@pytest.mark.parametrize("edit, message", [
    ({"hand": "both"}, 'hand: must be "left", "right" or null'),
    ({"hand": 1}, 'hand: must be "left", "right" or null'),
    ({"role": ""}, "role: must be 1..32 characters"),
    ({"role": 7}, "role: must be a string"),
])
def test_a_malformed_role_or_hand_is_a_corrupt_hello_naming_the_field(edit, message):
    with pytest.raises(FrameError, match=message):
        decode_message(hello_payload({**OLD_INFO, "role": "left_glove", **edit}))


def test_hello_built_in_code_checks_its_role_and_hand_when_read():
    # A Hello made directly (tests, replays) is checked when the value is asked for.
    with pytest.raises(MessageError, match="role must be a non-empty string"):
        _ = Hello(1, {"role": None}).role
    with pytest.raises(MessageError, match="hand must be"):
        _ = Hello(1, {"role": "left_glove", "hand": "up"}).hand
    assert Hello(1, {"role": "spine_strip", "hand": None}).hand is None
