"""A malformed command gets ERROR BAD_FRAME with the token both ends call UNKNOWN_TOKEN.

The firmware's bytes go through the host's own decoder (glovecoach.wire), not the harness's,
so the test fails if either side's constant changes alone.
"""

from __future__ import annotations

import os
import select
import struct
import time

import pytest
from cobs import cobs

from fwharness import CMD_PING, command, encode_frame
from glovecoach.wire import UNKNOWN_TOKEN, Ack, ErrorCode, ErrorReply, StreamDecoder

MALFORMED = {
    # CRC of other bytes: the token inside cannot be trusted.
    "bad CRC": cobs.encode(struct.pack("<BHI", CMD_PING, 7, 1) + struct.pack("<I", 0)) + b"\x00",
    # A 0x00 inside what should be a COBS block (a chunk that is not valid COBS).
    "bad COBS": b"\x05\x81\x07\x00",
    # Type byte only: no token to read.
    "too short": encode_frame(bytes([CMD_PING])),
    # Longer than any command: the receiver drops it whole.
    "overlong": bytes(range(1, 200)) + b"\x00",
}


def _replies(glove, seconds: float) -> list:
    """Host-decoded messages from the firmware's raw bytes over the next `seconds`."""
    # The harness has decoded up to a delimiter and holds the start of the next frame: from
    # there on the stream is in step.
    decoder = StreamDecoder(synced=True)
    messages = decoder.feed(glove.buf)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([glove.fd_in], [], [], 0.05)
        if ready:
            messages += decoder.feed(os.read(glove.fd_in, 65536))
    assert decoder.stats.corrupt_frames == 0
    return messages


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_command_is_answered_with_the_shared_unknown_token(glove_factory, name):
    glove = glove_factory()
    glove.wait_for(lambda x: x["type"] == "HELLO")
    glove.send(MALFORMED[name])
    glove.send(command(CMD_PING, 42, struct.pack("<I", 9)))   # a good command after it
    replies = _replies(glove, 1.0)
    errors = [m for m in replies if isinstance(m, ErrorReply)]
    assert len(errors) == 1, errors
    assert errors[0].token == UNKNOWN_TOKEN and errors[0].code == ErrorCode.BAD_FRAME, errors[0]
    # The receiver is back in step: the next command is answered normally.
    assert [m.token for m in replies if isinstance(m, Ack)] == [42]

