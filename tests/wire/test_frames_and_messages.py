"""Single-frame decoding says exactly why a frame is bad; encoders refuse what the wire cannot carry."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from cobs import cobs

from glovecoach.wire import (
    MAX_PAYLOAD,
    UNKNOWN_TOKEN,
    Ack,
    Command,
    CommandFormatError,
    CorruptReason,
    ErrorCode,
    ErrorReply,
    FrameError,
    Hello,
    Log,
    LogLevel,
    MessageError,
    SampleBatch,
    Status,
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
    encode_message,
    encode_samples,
    encode_status,
    samples_per_frame,
)


def frame_with_crc(body: bytes, crc: int) -> bytes:
    return cobs.encode(body + struct.pack("<I", crc)) + b"\x00"


def reason_of(frame: bytes) -> CorruptReason:
    with pytest.raises(FrameError) as caught:
        decode_message(decode_frame(frame))
    return caught.value.reason


def test_crc_mismatch_names_both_crcs():
    payload = bytes([0x05, 0]) + b"hello"
    good = zlib.crc32(payload)
    with pytest.raises(FrameError) as caught:
        decode_frame(frame_with_crc(payload, good ^ 1))
    assert caught.value.reason is CorruptReason.CRC
    assert f"{good ^ 1:08x}" in str(caught.value) and f"{good:08x}" in str(caught.value)


def test_cobs_failure():
    # length code 0x09 promises 8 more bytes, only 2 follow
    assert reason_of(b"\x09ab\x00") is CorruptReason.COBS
    assert reason_of(b"\x02a\x00b\x00") is CorruptReason.COBS  # a 0x00 inside one frame


def test_length_failures():
    assert reason_of(b"\x00") is CorruptReason.LENGTH                     # empty
    assert reason_of(cobs.encode(b"\x01\x02\x03") + b"\x00") is CorruptReason.LENGTH  # shorter than type + CRC
    too_long = bytes([0x05, 0]) + b"x" * MAX_PAYLOAD
    assert reason_of(frame_with_crc(too_long, zlib.crc32(too_long))) is CorruptReason.LENGTH
    with pytest.raises(ValueError, match="2048"):
        encode_frame(too_long)


def test_message_level_reasons():
    assert reason_of(encode_frame(b"\x7f")) is CorruptReason.UNKNOWN_TYPE
    # a command arriving at the host is not a device-to-host type
    assert reason_of(encode_command(Command.STOP, 1)) is CorruptReason.UNKNOWN_TYPE
    status = bytearray(decode_frame(encode_status(1, 200, 5, 6, 7)))
    assert reason_of(encode_frame(bytes(status[:-1]))) is CorruptReason.LENGTH
    samples = decode_frame(encode_samples(0, 0, 0, np.zeros((2, 3), np.uint16)))
    assert reason_of(encode_frame(samples + b"\x00\x00")) is CorruptReason.LENGTH
    zero_channels = bytearray(samples)
    zero_channels[2] = 0
    assert reason_of(encode_frame(bytes(zero_channels))) is CorruptReason.MALFORMED
    assert reason_of(encode_frame(b"\x01\x01{not json")) is CorruptReason.MALFORMED
    assert reason_of(encode_frame(b"\x01\x01[1, 2]")) is CorruptReason.MALFORMED
    assert reason_of(encode_frame(b"\x02\x01")) is CorruptReason.LENGTH  # ACK without command byte


def test_samples_header_errors_are_specific():
    with pytest.raises(FrameError, match=r"3 channels needs 28 bytes, got 30"):
        decode_message(decode_frame(encode_samples(0, 0, 0, np.zeros((2, 3), np.uint16))) + b"\x00\x00")


def test_hello_properties_and_missing_key_error():
    info = {"protocol": 1, "glove_id": "GC-0007", "boot_id": 99, "rate_hz": 1000, "samples_per_frame": 20,
            "channels": ["a", "b"], "streaming": True, "link_bytes_per_s": None, "tare": [1, 2]}
    hello = decode_message(decode_frame(encode_hello(info)))
    assert isinstance(hello, Hello)
    assert (hello.glove_id, hello.boot_id, hello.rate_hz, hello.samples_per_frame) == ("GC-0007", 99, 1000, 20)
    assert hello.channels == ["a", "b"] and hello.streaming is True
    assert hello.link_bytes_per_s is None and hello.tare == [1, 2]
    with pytest.raises(MessageError, match="HELLO has no 'firmware'"):
        _ = hello.firmware


def test_status_properties():
    frame = encode_status(flags=0b11, rate_hz=200, t_us=5, boot_id=6, seq=7, dropped_samples=2,
                          saturated_mask=(1 << 19) | 1, open_mask=0b100, loop_max_us=900)
    status = decode_message(decode_frame(frame))
    assert isinstance(status, Status)
    assert status.streaming and status.tare_running
    assert status.saturated_channels == [0, 19] and status.open_channels == [2]
    assert not decode_message(decode_frame(encode_status(0, 200, 0, 0, 0))).streaming


def test_unknown_enum_values_survive_as_ints():
    ack = decode_message(decode_frame(encode_ack(3, 0x99, {})))
    assert isinstance(ack, Ack) and ack.command == 0x99 and not isinstance(ack.command, Command)
    err = decode_message(decode_frame(encode_error(4, 0x81, 77, "new code")))
    assert isinstance(err, ErrorReply) and err.code == 77 and err.command is Command.START
    log = decode_message(decode_frame(encode_log(9, "x")))
    assert isinstance(log, Log) and log.level == 9
    assert decode_message(decode_frame(encode_log(2, "boom"))).level is LogLevel.ERROR


def test_ack_detail_none_is_empty_body_and_decodes_to_empty_dict():
    frame = encode_ack(1, Command.STOP)
    assert decode_frame(frame) == b"\x02\x01\x00\x82"
    assert decode_message(decode_frame(frame)) == Ack(1, Command.STOP, {})


def test_text_with_invalid_utf8_is_kept_readable():
    log = decode_message(decode_frame(encode_frame(b"\x05\x02caught \xff in loop")))
    assert log.message == "caught \ufffd in loop"


def test_encode_message_roundtrips_every_kind():
    rng = np.random.default_rng(1)
    batch = SampleBatch.concat([decode_message(decode_frame(encode_samples(s, 3 * s, 10 * s, rng.integers(
        0, 4096, (3, 5), dtype=np.uint16)))) for s in range(4)])
    messages = [Status(1, 200, 3, 4, 5, 6, 7, 8, 9), Hello(1, {"glove_id": "g"}), Ack(2, Command.PING, {"nonce": 1}),
                ErrorReply(3, Command.TARE, ErrorCode.BUSY, "tare running"), Log(LogLevel.INFO, "boot")]
    stream = b"\x00" + b"".join(encode_message(m) for m in messages) + encode_message(batch)
    items = StreamDecoder().feed(stream)
    assert items[:-1] == messages
    assert np.array_equal(items[-1].raw, batch.raw) and items[-1].seq.tolist() == [0, 1, 2, 3]


def test_encode_samples_validation():
    with pytest.raises(ValueError, match="2-D"):
        encode_samples(0, 0, 0, np.zeros(20, np.uint16))
    with pytest.raises(ValueError, match="n_samples=65"):
        encode_samples(0, 0, 0, np.zeros((65, 1), np.uint16))
    with pytest.raises(ValueError, match="n_channels=33"):
        encode_samples(0, 0, 0, np.zeros((1, 33), np.uint16))
    with pytest.raises(ValueError, match="52 samples x 20 channels make a 2096-byte payload"):
        encode_samples(0, 0, 0, np.zeros((52, 20), np.uint16))
    with pytest.raises(ValueError, match=r"u16, got -1\.\.3"):
        encode_samples(0, 0, 0, np.array([[-1, 3]]))
    with pytest.raises(ValueError, match="seq=4294967296"):
        encode_samples(2**32, 0, 0, np.zeros((1, 1), np.uint16))
    # int arrays in range are accepted and converted
    assert encode_samples(0, 0, 0, np.array([[1, 2]])) == encode_samples(0, 0, 0, np.array([[1, 2]], np.uint16))


def test_encode_command_checks_names_and_ranges():
    assert decode_command(decode_frame(encode_command(Command.SET_RATE, 3, rate_hz=2000))) == (
        Command.SET_RATE, 3, {"rate_hz": 2000})  # range policy is the device's, not the wire's
    with pytest.raises(TypeError, match="SET_RATE takes rate_hz: missing rate_hz"):
        encode_command(Command.SET_RATE, 1)
    with pytest.raises(TypeError, match="START takes no arguments: unexpected rate_hz"):
        encode_command(Command.START, 1, rate_hz=5)
    with pytest.raises(ValueError, match="rate_hz=70000 outside 0..65535"):
        encode_command(Command.SET_RATE, 1, rate_hz=70000)
    with pytest.raises(ValueError, match="token=65536"):
        encode_command(Command.STOP, 65536)
    with pytest.raises(ValueError, match="unknown command 0x90"):
        encode_command(0x90, 1)


def test_decode_command_errors_carry_the_reply_to_send():
    with pytest.raises(CommandFormatError) as caught:
        decode_command(b"\x81\x01")
    assert (caught.value.code, caught.value.token, caught.value.command) == (ErrorCode.BAD_FRAME, UNKNOWN_TOKEN, 0x81)
    with pytest.raises(CommandFormatError) as caught:
        decode_command(b"\x90\x05\x00")
    assert (caught.value.code, caught.value.token, caught.value.command) == (ErrorCode.UNKNOWN_COMMAND, 5, 0x90)
    with pytest.raises(CommandFormatError, match="SET_RATE takes 2 argument bytes, got 1") as caught:
        decode_command(b"\x83\x06\x00\xe8")
    assert caught.value.code is ErrorCode.BAD_FRAME and caught.value.token == 6
    with pytest.raises(CommandFormatError, match="exceeds 64"):
        decode_command(b"\x81\x01\x00" + b"x" * 62)


def test_samples_per_frame_follows_the_spec_table():
    assert [samples_per_frame(r) for r in (50, 200, 250, 1000, 10, 5000)] == [1, 4, 5, 20, 1, 32]


@pytest.mark.parametrize("body, field, words", [
    (b'{"a": ' + b"[" * 1010 + b"]" * 1010 + b"}", "HELLO", "nested too deeply"),  # RecursionError in json
    (b'{"a": ' + b"[" * 20 + b"]" * 20 + b"}", "HELLO", "deeper than 8"),          # parses, but not a glove's
    (b'{"boot_id": NaN}', "HELLO", "non-finite"),
    (b'{"rate_hz": 1e999}', "HELLO", "out of range"),
    (b'{"glove_id": 12345}', "glove_id", "must be a string, got int"),
    (b'{"glove_id": "' + b"G" * 300 + b'"}', "glove_id", "1..64 characters, got 300"),
    (b'{"glove_id": "GC\\u001b[2J"}', "glove_id", "control characters"),
    (b'{"boot_id": true}', "boot_id", "must be an integer"),
    (b'{"boot_id": 4294967296}', "boot_id", "0..4294967295"),
    (b'{"channels": ["a", "a"]}', "channels", "repeats"),
    (b'{"channels": []}', "channels", "1..32 channels"),
    (b'{"channels": ["a", 3]}', "channels[1]", "must be a string"),
    (b'{"channels": ["a", "b"], "tare": [1]}', "tare", "1 offsets for 2 channels"),
    (b'{"tare": [-1]}', "tare[0]", "0..65535"),
    (b'{"streaming": "yes"}', "streaming", "true or false"),
])
def test_bad_hello_fields_are_malformed_and_named(body, field, words):
    with pytest.raises(FrameError, match="malformed") as caught:
        decode_message(b"\x01\x01" + body)
    assert caught.value.field == field and words in str(caught.value), str(caught.value)


def test_stamps_beyond_30_bits_and_rate_zero_are_malformed():
    samples = bytearray(decode_frame(encode_samples(0, 0, 0, np.zeros((1, 2), np.uint16))))
    samples[12:16] = (1 << 30).to_bytes(4, "little")
    with pytest.raises(FrameError, match="30-bit") as caught:
        decode_message(bytes(samples))
    assert caught.value.field == "t_us"
    status = bytearray(decode_frame(encode_status(0, 200, 0, 0, 0)))
    status[4:8] = (1 << 31).to_bytes(4, "little")
    with pytest.raises(FrameError, match="30-bit"):
        decode_message(bytes(status))
    with pytest.raises(FrameError, match="rate_hz=0"):
        decode_message(decode_frame(encode_status(0, 0, 0, 0, 0)))
