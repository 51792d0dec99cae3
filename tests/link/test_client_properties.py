"""Property test of the whole client: whatever byte stream a device produces (valid frames,
repeats, reordering, bit flips, CRC-correct garbage, other layouts, reboots, noise), the
reader keeps running, logs no host error, and what it hands out is a timeline a recorder can
write: samples of the session's layout, in range, never overlapping, tiled with gaps."""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fake_glove import CHANNELS, slot_values
from glovecoach.link import GapDetected, GloveClient, LinkDown, SamplesReceived, Transport
from glovecoach.wire import encode_frame, encode_hello, encode_samples, encode_status

SETTINGS = settings(max_examples=int(os.environ.get("LINK_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class BytesDevice(Transport):
    """The device end of a link that delivers a fixed byte stream in fixed pieces (the physical
    edge, played back: everything above it is the real client)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.name = "bytes-device"
        self._pieces = list(pieces)
        self._open = False
        self.drained = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._pieces:
            return self._pieces.pop(0)
        self.drained.set()  # the reader came back for more: everything before is handled
        threading.Event().wait(min(timeout, 0.005))
        return b""

    def write(self, data: bytes) -> None:
        pass  # a device that never answers: the stream is what it is


def hello(boot_id: int, channels=CHANNELS) -> bytes:
    return encode_hello({"protocol": 1, "firmware": "p", "glove_id": "GC-PROP", "board": "fake",
                         "boot_id": boot_id, "rate_hz": 200, "samples_per_frame": 4, "adc_bits": 12,
                         "adc_max": 4095, "channels": list(channels), "streaming": True})


@st.composite
def device_streams(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    boot = 1
    parts = [b"\x00", hello(boot)]
    seq = k = 0
    t = 1000
    sent: list[bytes] = []
    for _ in range(draw(st.integers(5, 60))):
        op = draw(st.sampled_from(["frame"] * 8 + ["dup", "swap", "flip", "garbage", "noise", "status",
                                                   "reboot", "restart", "layout", "skip", "bad",
                                                   "other_hello", "hello_back"]))
        if op in ("frame", "swap", "flip", "skip", "bad", "layout"):
            if op == "skip":
                k += int(rng.integers(1, 50))
                t += 5000 * int(rng.integers(1, 50))
            raw = slot_values(k + 1000 * boot, 4, 6 if op == "layout" else 4)
            if op == "bad":
                raw[1, 2] = 9999
            flags = 1 if seq == 0 else 0
            wire = encode_samples(seq, k, t & 0x3FFFFFFF, raw, flags)
            if op == "flip":
                flipped = bytearray(wire)
                bit = int(rng.integers(0, 8 * (len(wire) - 1)))
                flipped[bit // 8] ^= 1 << (bit % 8)
                wire = bytes(flipped)
            if op == "swap" and sent:
                parts.insert(len(parts) - 1, wire)
            else:
                parts.append(wire)
            sent.append(wire)
            seq, k, t = seq + 1, k + 4, t + 20_000
        elif op == "dup" and sent:
            parts.append(sent[int(rng.integers(0, len(sent)))])
        elif op == "garbage":
            parts.append(encode_frame(bytes([draw(st.sampled_from([0x01, 0x02, 0x04, 0x05, 0x10]))])
                                      + draw(st.binary(max_size=120))))
        elif op == "noise":
            parts.append(draw(st.binary(max_size=60)))
        elif op == "status":
            parts.append(encode_status(1, 200, t & 0x3FFFFFFF, draw(st.sampled_from([boot, boot + 7])), seq))
        elif op == "reboot":
            boot += 1
            parts.append(b"\x00" + hello(boot))
            seq = k = 0
        elif op == "restart":
            seq = k = 0
        elif op == "other_hello":  # same boot, other channels: samples refused until hello_back
            parts.append(hello(boot, CHANNELS + ["c4"]))
        elif op == "hello_back":
            parts.append(hello(boot))
    stream = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)]) if b > a]


@SETTINGS
@given(pieces=device_streams())
def test_any_device_stream_gives_a_writable_timeline(pieces, caplog):
    device = BytesDevice(pieces)
    caplog.set_level(logging.ERROR, logger="glovecoach.link.client")
    client = GloveClient(device, reconnect=False)
    client.open()
    try:
        assert device.drained.wait(10), "the reader stopped reading"
        assert client.reader_alive
        events = client.poll()
    finally:
        client.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not any(isinstance(e, LinkDown) for e in events)
    event(f"samples received: {any(isinstance(e, SamplesReceived) for e in events)}")
    event(f"gaps: {sorted({e.reason for e in events if isinstance(e, GapDetected)})}")
    position = None
    for e in events:
        if isinstance(e, SamplesReceived):
            assert e.raw.dtype == np.uint16 and e.raw.shape[1] == len(CHANNELS)
            assert int(e.raw.max(initial=0)) <= 4095
            assert e.frames["sample_index"][0] == e.first_index
            first, n = e.first_index, len(e.raw)
        elif isinstance(e, GapDetected):
            assert e.n_samples > 0
            first, n = e.first_index, e.n_samples
        else:
            continue
        assert position is None or first == position, (first, position)  # no overlap, no hole
        position = first + n
