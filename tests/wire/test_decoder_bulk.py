"""The decoder's bulk path (all frames of a long read in one COBS decode and one CRC pass) gives
exactly what the frame-by-frame path gives, for intact streams and for every kind of damage
that makes it fall back."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.wire import SampleBatch, StreamDecoder, encode_frame, encode_samples, encode_status
from glovecoach.wire import decoder as decoder_module
from glovecoach.wire.decoder import _BULK_FROM_BYTES, _intact_crc
from glovecoach.wire.frames import crc32
from wire_streams import frame_records

FRAME_BY_FRAME = 10**9


def uniform_frames(rng: np.random.Generator, count: int, *, samples: int = 20, channels: int = 20,
                   zero_free_every: int = 0) -> list[bytes]:
    """SAMPLES frames all of one payload size. With ``zero_free_every``, every so many frames has
    no 0x00 in its samples, so its COBS encoding is longer (a 254-byte block code more): the
    encoded chunks then differ in length while the payloads do not."""
    frames = []
    for k in range(count):
        raw = rng.integers(0, 4096, size=(samples, channels), dtype=np.uint16)
        raw[rng.random(raw.shape) < 0.1] = 0
        if zero_free_every and k % zero_free_every == 0:
            raw = rng.integers(0x0101, 0x0FFF, size=(samples, channels), dtype=np.uint16) | 0x0101
        frames.append(encode_samples(k, k * samples, (k * 20_000) & 0x3FFFFFFF, raw, flags=int(k == 0)))
    return frames


def decode(stream: bytes, vectorise_from: int, read: int | None = None) -> tuple[list, StreamDecoder]:
    decoder = StreamDecoder(vectorise_from=vectorise_from)
    items = []
    read = read or len(stream)
    for start in range(0, len(stream), read):
        items += decoder.feed(stream[start:start + read])
    return items, decoder


def outcome(items: list, decoder: StreamDecoder) -> tuple:
    s = decoder.stats
    return (frame_records(items), s.bytes_in, s.frames_ok, s.corrupt_frames, dict(s.corrupt_by_reason),
            s.skipped_bytes, s.discarded_bytes, decoder.pending_bytes, str(decoder.last_error),
            [str(e) for e in decoder.take_device_errors()])


def assert_same_as_frame_by_frame(stream: bytes, read: int | None = None) -> list:
    for vectorise_from in (1, 64):
        items, decoder = decode(stream, vectorise_from, read)
        expected, reference = decode(stream, FRAME_BY_FRAME, read)
        assert outcome(items, decoder) == outcome(expected, reference)
    return items


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)


@pytest.fixture
def bulk_calls(monkeypatch):
    """Counts of the one-call decode succeeding / falling back (a spy: the real function runs)."""
    calls = {"batch": 0, "fallback": 0}
    real = decoder_module._uniform_joined

    def spy(body, joined, count):
        batch = real(body, joined, count)
        calls["batch" if batch is not None else "fallback"] += 1
        return batch

    monkeypatch.setattr(decoder_module, "_uniform_joined", spy)
    return calls


@pytest.mark.parametrize("zero_free_every", [0, 7])
def test_a_long_intact_read_is_one_batch(rng, zero_free_every, bulk_calls):
    frames = uniform_frames(rng, 120, zero_free_every=zero_free_every)
    stream = b"\x00" + b"".join(frames)
    assert len(stream) > _BULK_FROM_BYTES
    if zero_free_every:
        assert len({len(f) for f in frames}) > 1  # encoded lengths differ, payloads do not
    items = assert_same_as_frame_by_frame(stream)
    assert len(items) == 1 and isinstance(items[0], SampleBatch) and items[0].n_frames == 120
    assert items[0].raw.flags.writeable and items[0].raw.dtype == np.uint16
    assert bulk_calls == {"batch": 2, "fallback": 0}  # one per vectorise_from setting


def test_a_long_first_read_opened_mid_stream(rng, bulk_calls):
    frames = uniform_frames(rng, 120)
    stream = frames[0][7:] + b"".join(frames[1:])  # the port opened inside frame 0
    items = assert_same_as_frame_by_frame(stream)
    assert items[0].n_frames == 119 and int(items[0].seq[0]) == 1
    assert bulk_calls == {"batch": 2, "fallback": 0}


@pytest.mark.parametrize("read", [None, 20_000, 4_000, 821])
def test_reads_of_any_size_give_the_same_frames(rng, read):
    frames = uniform_frames(rng, 150, zero_free_every=11)
    assert_same_as_frame_by_frame(b"\x00" + b"".join(frames), read)


@pytest.mark.parametrize("where", [0, 1, 40, 118, 119])
@pytest.mark.parametrize("damage", ["bit", "cobs_code", "truncate", "extra_byte"])
def test_damage_anywhere_falls_back_and_loses_only_that_frame(rng, where, damage, bulk_calls):
    frames = uniform_frames(rng, 120)
    frame = bytearray(frames[where])
    if damage == "bit":
        frame[len(frame) // 2] ^= 0x10 if frame[len(frame) // 2] != 0x10 else 0x20
    elif damage == "cobs_code":
        frame[0] = 0xFE  # the first code points past the frame: the chain overruns
    elif damage == "truncate":
        del frame[len(frame) // 3:-1]
    else:
        frame[-1:-1] = b"\x07"
    frames[where] = bytes(frame)
    items = assert_same_as_frame_by_frame(b"\x00" + b"".join(frames))
    assert sum(i.n_frames for i in items if isinstance(i, SampleBatch)) == 119
    assert bulk_calls["batch"] == 0 and bulk_calls["fallback"] >= 1


def test_other_messages_empty_chunks_and_other_sizes_fall_back(rng):
    frames = uniform_frames(rng, 100)
    frames[30] = encode_status(1, 1000, 10, 11, 30)
    frames[50] = b"\x00"  # an empty chunk (two delimiters in a row)
    frames[70] = uniform_frames(rng, 1, samples=19)[0]
    frames[80] = encode_frame(b"\x10" + bytes(15))  # CRC fine, SAMPLES header cut short
    assert_same_as_frame_by_frame(b"\x00" + b"".join(frames))


def test_intact_rows_share_one_crc_and_damage_changes_it(rng):
    for count, size in ((1, 20), (2, 101), (5, 820), (333, 181)):
        rows = []
        for _ in range(count):
            payload = rng.integers(0, 256, size - 4, dtype=np.uint8).tobytes()
            rows.append(payload + crc32(payload).to_bytes(4, "little"))
        joined = bytearray(b"\x00".join(rows))
        assert crc32(bytes(joined)) == _intact_crc(count, size)
        # the same error in two rows does not cancel: each is shifted by its distance to the end
        if count >= 2:
            joined[3] ^= 0x40
            joined[size + 1 + 3] ^= 0x40
            assert crc32(bytes(joined)) != _intact_crc(count, size)
