"""docs/protocol.md in code: framing, messages, the stream decoder and loss accounting."""

from __future__ import annotations

from glovecoach.wire.continuity import (
    TICKS_BITS,
    TICKS_MASK,
    TICKS_MODULUS,
    ContinuityTracker,
    MissingSlots,
    StaleFrame,
    StreamRestart,
    unwrap_ticks,
)
from glovecoach.wire.decoder import DecoderStats, StreamDecoder
from glovecoach.wire.frames import (
    DELIMITER,
    MAX_COMMAND_PAYLOAD,
    MAX_PAYLOAD,
    MAX_UNDELIMITED_RUN,
    PROTOCOL_VERSION,
    CorruptReason,
    FrameError,
    decode_frame,
    encode_frame,
)
from glovecoach.wire.messages import (
    COMMAND_ARGUMENTS,
    MAX_CHANNELS,
    MAX_SAMPLES_ACCEPTED_PER_FRAME,
    SAMPLES_FIRST_AFTER_START,
    STATUS_STREAMING,
    STATUS_TARE_RUNNING,
    T_US_MAX,
    UNKNOWN_TOKEN,
    Ack,
    Command,
    CommandFormatError,
    ErrorCode,
    ErrorReply,
    Hello,
    Log,
    LogLevel,
    Message,
    MessageError,
    MessageType,
    SampleBatch,
    Status,
    decode_command,
    decode_message,
    encode_ack,
    encode_command,
    encode_error,
    encode_hello,
    encode_log,
    encode_message,
    encode_samples,
    encode_status,
    samples_per_frame,
)

__all__ = [
    "COMMAND_ARGUMENTS", "DELIMITER", "MAX_CHANNELS", "MAX_COMMAND_PAYLOAD", "MAX_PAYLOAD",
    "MAX_SAMPLES_ACCEPTED_PER_FRAME", "MAX_UNDELIMITED_RUN", "PROTOCOL_VERSION",
    "SAMPLES_FIRST_AFTER_START", "STATUS_STREAMING", "STATUS_TARE_RUNNING", "T_US_MAX", "TICKS_BITS",
    "TICKS_MASK", "TICKS_MODULUS",
    "UNKNOWN_TOKEN",
    "Ack", "Command", "CommandFormatError", "ContinuityTracker", "CorruptReason", "DecoderStats",
    "ErrorCode", "ErrorReply", "FrameError", "MissingSlots", "Hello", "Log", "LogLevel", "Message",
    "MessageError", "MessageType", "SampleBatch", "StaleFrame", "Status", "StreamDecoder", "StreamRestart",
    "decode_command", "decode_frame", "decode_message", "encode_ack", "encode_command",
    "encode_error", "encode_frame", "encode_hello", "encode_log", "encode_message",
    "encode_samples", "encode_status", "samples_per_frame", "unwrap_ticks",
]
