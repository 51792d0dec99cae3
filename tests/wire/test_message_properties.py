"""Property tests for every device-message decoder: whatever bytes a device (or a broken link)
produces, the decoders raise nothing but the project's own error type, and nothing they accept
holds a non-finite or out-of-range value (docs/reliability.md)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glovecoach.wire import (
    MAX_CHANNELS,
    MAX_SAMPLES_ACCEPTED_PER_FRAME,
    T_US_MAX,
    Ack,
    CommandFormatError,
    ContinuityTracker,
    ErrorReply,
    FrameError,
    Hello,
    Log,
    SampleBatch,
    StaleFrame,
    Status,
    StreamDecoder,
    decode_command,
    decode_frame,
    decode_message,
    encode_ack,
    encode_error,
    encode_frame,
    encode_hello,
    encode_log,
    encode_samples,
    encode_status,
)
from glovecoach.wire.frames import MAX_PAYLOAD
from wire_streams import sample_frames

SETTINGS = settings(max_examples=int(os.environ.get("WIRE_EXAMPLES", "100")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

GOOD_HELLO = {"protocol": 1, "firmware": "0.1.0", "glove_id": "GC-0001", "board": "esp32", "boot_id": 7,
              "rate_hz": 200, "samples_per_frame": 4, "adc_bits": 12, "adc_max": 4095,
              "channels": ["a", "b", "c"], "streaming": False, "link_bytes_per_s": None, "tare": [1, 2, 3]}


def payload_of(frame: bytes) -> bytes:
    return decode_frame(frame)


VALID_PAYLOADS = [
    payload_of(encode_hello(GOOD_HELLO)),
    payload_of(encode_status(1, 200, 123, 7, 9, 1, 3, 4, 900)),
    payload_of(encode_ack(5, 0x81, {"rate_hz": 200, "samples_per_frame": 4})),
    payload_of(encode_error(5, 0x83, 3, "rate_hz 5000 outside 50..1000")),
    payload_of(encode_log(2, "caught ValueError")),
    payload_of(encode_samples(3, 12, 4000, np.arange(12, dtype=np.uint16).reshape(4, 3), 1)),
]


# ------------------------------------------------------------------ what "accepted" must mean


def finite_everywhere(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_everywhere(v) for v in value)
    return True


def is_int(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_text(value, limit: int = 64) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= limit and value.isprintable()


def assert_acceptable(message) -> None:
    """What the host may compute with: spelled out from docs/protocol.md, not from the code."""
    if isinstance(message, Hello):
        info = message.info
        assert isinstance(info, dict) and finite_everywhere(info)
        ranges = {"protocol": 0xFF, "boot_id": 0xFFFFFFFF, "rate_hz": 0xFFFF, "samples_per_frame": 64,
                  "adc_bits": 16, "adc_max": 0xFFFF}
        for key, high in ranges.items():
            if key in info:
                assert is_int(info[key], 0 if key in ("protocol", "boot_id") else 1, high), (key, info[key])
        for key in ("glove_id", "firmware", "board"):
            if key in info:
                assert is_text(info[key]), (key, info[key])
        if "streaming" in info:
            assert isinstance(info["streaming"], bool)
        if "channels" in info:
            channels = info["channels"]
            assert isinstance(channels, list) and 1 <= len(channels) <= MAX_CHANNELS
            assert all(is_text(c) for c in channels) and len(set(channels)) == len(channels)
        if info.get("tare") is not None:
            assert all(is_int(v, 0, 0xFFFF) for v in info["tare"])
        if info.get("link_bytes_per_s") is not None:
            assert is_int(info["link_bytes_per_s"], 1, 2**31 - 1)
    elif isinstance(message, Status):
        assert message.t_us <= T_US_MAX and message.rate_hz >= 1
        for name in ("boot_id", "seq", "dropped_samples", "saturated_mask", "open_mask", "loop_max_us"):
            assert is_int(getattr(message, name), 0, 0xFFFFFFFF)
    elif isinstance(message, SampleBatch):
        assert message.raw.dtype == np.uint16 and 1 <= message.n_channels <= MAX_CHANNELS
        assert ((message.n_per_frame >= 1) & (message.n_per_frame <= MAX_SAMPLES_ACCEPTED_PER_FRAME)).all()
        assert message.raw.shape[0] == int(message.n_per_frame.sum())
        assert (message.t_us <= T_US_MAX).all()
    elif isinstance(message, Ack):
        assert isinstance(message.detail, dict) and finite_everywhere(message.detail)
    elif isinstance(message, (ErrorReply, Log)):
        assert isinstance(message.message, str)
    else:
        raise AssertionError(f"unexpected {message!r}")


def decode_or_reject(payload: bytes) -> None:
    try:
        message = decode_message(payload)
    except FrameError:
        return
    assert_acceptable(message)


# ------------------------------------------------------------------ message payloads


@SETTINGS
@given(payload=st.binary(max_size=MAX_PAYLOAD))
def test_random_payloads(payload):
    decode_or_reject(payload)


@SETTINGS
@given(kind=st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x05, 0x10]), body=st.binary(max_size=300))
def test_random_bodies_behind_every_type_byte(kind, body):
    decode_or_reject(bytes([kind]) + body)


@st.composite
def mutated(draw):
    """A valid payload, truncated, extended, or with bytes replaced or inserted."""
    payload = bytearray(draw(st.sampled_from(VALID_PAYLOADS)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["cut", "append", "replace", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(payload) - 1)))
        if action == "cut":
            del payload[at:]
        elif action == "append":
            payload += draw(st.binary(min_size=1, max_size=20))
        elif action == "replace" and payload:
            payload[at] = draw(st.integers(0, 255))
        elif action == "insert":
            payload[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and payload:
            del payload[at]
    return bytes(payload)


@SETTINGS
@given(payload=mutated())
def test_mutated_valid_payloads(payload):
    decode_or_reject(payload)


# Adversarial JSON: every JSON value Python can write, including what is not JSON (NaN,
# Infinity), numbers beyond float range, long and control-character strings, deep nesting.
json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=80) | st.sampled_from(["\x1b[2J", "G" * 300, "", "\x00"]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)
hello_keys = st.sampled_from(list(GOOD_HELLO) + ["extra", "nested"])


@st.composite
def adversarial_hello_bodies(draw):
    info = dict(GOOD_HELLO)
    for key in draw(st.lists(hello_keys, max_size=4)):
        info[key] = draw(json_values)
    for key in draw(st.lists(st.sampled_from(list(GOOD_HELLO)), max_size=3)):
        info.pop(key, None)
    text = json.dumps(info, allow_nan=True)
    choice = draw(st.integers(0, 5))
    if choice == 0:
        depth = draw(st.integers(100, 1010))
        text = '{"nested": ' + "[" * depth + "]" * depth + "}"
    elif choice == 1:
        text = text.replace(draw(st.sampled_from(["200", "4095", "7"])), draw(st.sampled_from(
            ["1e999", "-1e999", "NaN", "Infinity", "-0.0", "1e308", "9" * 40, "true", "null"])), 1)
    return text.encode("utf-8", errors="surrogatepass")[:MAX_PAYLOAD - 2]


@SETTINGS
@given(body=adversarial_hello_bodies(), version=st.integers(0, 255))
def test_adversarial_hello_json(body, version):
    decode_or_reject(bytes([0x01, version]) + body)


@SETTINGS
@given(body=adversarial_hello_bodies(), token=st.integers(0, 0xFFFF), command=st.integers(0, 255))
def test_adversarial_ack_detail(body, token, command):
    decode_or_reject(bytes([0x02]) + token.to_bytes(2, "little") + bytes([command]) + body)


@SETTINGS
@given(n=st.integers(0, 255), ch=st.integers(0, 255), flags=st.integers(0, 255),
       seq=st.integers(0, 2**32 - 1), index=st.integers(0, 2**32 - 1), t_us=st.integers(0, 2**32 - 1),
       extra=st.integers(-3, 3), fill=st.integers(0, 255))
def test_adversarial_samples_headers(n, ch, flags, seq, index, t_us, extra, fill):
    header = bytes([0x10, n, ch, flags]) + b"".join(v.to_bytes(4, "little") for v in (seq, index, t_us))
    size = max(0, min(2 * n * ch + extra, MAX_PAYLOAD - 16))
    decode_or_reject(header + bytes([fill]) * size)


@SETTINGS
@given(fields=st.lists(st.integers(0, 2**32 - 1), min_size=9, max_size=9))
def test_any_status(fields):
    flags, rate = fields[0] & 0xFF, fields[1] & 0xFFFF
    body = bytes([0x04, flags]) + rate.to_bytes(2, "little") + b"".join(v.to_bytes(4, "little") for v in fields[2:])
    decode_or_reject(body)


# ------------------------------------------------------------------ frames, commands, streams


@SETTINGS
@given(chunk=st.binary(max_size=2200))
def test_decode_frame_raises_only_frame_error(chunk):
    try:
        payload = decode_frame(chunk)
    except FrameError:
        return
    assert 1 <= len(payload) <= MAX_PAYLOAD


@SETTINGS
@given(payload=st.binary(max_size=80))
def test_decode_command_raises_only_its_error(payload):
    """What the replay device (and a device in general) parses from the host."""
    try:
        command, token, args = decode_command(payload)
    except CommandFormatError as exc:
        assert 0 <= exc.token <= 0xFFFF and exc.message
        return
    assert 0 <= token <= 0xFFFF and all(is_int(v, 0, 0xFFFFFFFF) for v in args.values())


@SETTINGS
@given(payloads=st.lists(st.one_of(mutated(), adversarial_hello_bodies().map(lambda b: b"\x01\x01" + b),
                                   st.binary(min_size=1, max_size=200)), min_size=1, max_size=12),
       cut=st.integers(0, 10_000), vectorise_from=st.sampled_from([1, 10**9]))
def test_a_device_sending_crc_correct_garbage(payloads, cut, vectorise_from):
    """The CRC is right, so only the content checks stand between these and the host: the
    decoder never raises, hands out only acceptable messages, and reports each rejected one as
    a device error."""
    stream = b"\x00" + b"".join(encode_frame(p[:MAX_PAYLOAD]) for p in payloads if p)
    decoder = StreamDecoder(vectorise_from=vectorise_from)
    cut %= len(stream) + 1
    messages = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    for message in messages:
        assert_acceptable(message)
    content = sum(decoder.stats.corrupt_by_reason[r] for r in ("length", "unknown_type", "malformed"))
    assert len(decoder.take_device_errors()) == min(content, 64)
    assert decoder.take_device_errors() == []


# ------------------------------------------------------------------ duplicates and reordering


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), data=st.data())
def test_tracker_drops_exactly_the_repeated_and_late_frames(seed, n, data):
    """A link that repeats and reorders frames: every frame is taken once, in order, or dropped
    as stale; gaps are exactly the slots of frames that were overtaken."""
    frames = sample_frames(np.random.default_rng(seed), n, channels=2, max_samples=4, skip_prob=0.1)
    order = list(range(n))
    for _ in range(data.draw(st.integers(0, 5))):  # repeats, anywhere after the original
        k = data.draw(st.integers(0, n - 1))
        at = data.draw(st.integers(order.index(k) + 1, len(order)))
        order.insert(at, k)
    for _ in range(data.draw(st.integers(0, 3))):  # neighbours swapped
        at = data.draw(st.integers(0, len(order) - 2))
        order[at], order[at + 1] = order[at + 1], order[at]
    tracker = ContinuityTracker()
    taken: list[int] = []
    stale = []
    for k in order:  # one frame per batch: as a live link delivers them
        f = frames[k]
        batch = SampleBatch(f.raw, np.array([f.seq], np.uint32), np.array([f.sample_index], np.uint32),
                            np.array([f.t_us], np.uint32), np.array([f.raw.shape[0]], np.uint16),
                            np.array([f.flags], np.uint8))
        events = tracker.update(batch)
        if any(isinstance(e, StaleFrame) for e in events):
            stale.append(k)
        else:
            taken.append(k)
    # Taken: strictly increasing, each at most once; stale: already taken or overtaken.
    assert taken == sorted(set(taken))
    expected_taken, high = [], -1
    for k in order:
        if k > high:
            expected_taken.append(k)
            high = k
    assert taken == expected_taken
    assert tracker.duplicates + tracker.out_of_order == len(stale) == len(order) - len(taken)
    assert tracker.duplicates == sum(1 for i, k in enumerate(order) if k in order[:i] and k in taken)
    missing = set(range(taken[0], taken[-1] + 1)) - set(taken)
    assert tracker.lost_frames == len(missing)
