"""Property tests: the decoder never raises, resynchronises after any damage, and loses exactly
the frames that were damaged; chunking never changes the result."""

from __future__ import annotations

import os
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glovecoach.wire import (
    ContinuityTracker,
    MissingSlots,
    SampleBatch,
    StreamDecoder,
    StreamRestart,
    encode_hello,
    encode_log,
    encode_status,
)
from glovecoach.wire.frames import crc32
from wire_streams import SentFrame, frame_records, sample_frames, sent_records

# WIRE_EXAMPLES=2000 for a deeper run than CI's; deadline off because the machine is shared.
SETTINGS = settings(max_examples=int(os.environ.get("WIRE_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
VECTORISE = st.sampled_from([1, 4, 10**9])  # vectorised, mixed by feed size, frame-by-frame


def decode_in_chunks(stream: bytes, cuts: list[int], vectorise_from: int) -> tuple[list, StreamDecoder]:
    decoder = StreamDecoder(vectorise_from=vectorise_from)
    items = []
    bounds = [0] + sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        items += decoder.feed(stream[a:b])
    return items, decoder


def stats_tuple(decoder: StreamDecoder) -> tuple:
    s = decoder.stats
    return (s.bytes_in, s.frames_ok, s.corrupt_frames, dict(s.corrupt_by_reason), s.skipped_bytes,
            s.discarded_bytes, decoder.pending_bytes)


@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 4000), max_size=20), vectorise_from=VECTORISE)
def test_random_bytes_never_raise(data, cuts, vectorise_from):
    items, decoder = decode_in_chunks(data, cuts, vectorise_from)
    assert decoder.stats.bytes_in == len(data)
    assert all(not isinstance(i, SampleBatch) or i.raw.shape[0] == int(i.n_per_frame.sum()) for i in items)


@SETTINGS
@given(garbage=st.binary(max_size=3000), seed=st.integers(0, 2**32 - 1),
       cuts=st.lists(st.integers(0, 10_000), max_size=20), vectorise_from=VECTORISE)
def test_garbage_then_delimiter_resynchronises(garbage, seed, cuts, vectorise_from):
    """Whatever came before (noise, boot-loader text, a partial frame), every frame after the
    next 0x00 is decoded."""
    frames = sample_frames(np.random.default_rng(seed), 5)
    items, decoder = decode_in_chunks(garbage + b"\x00" + b"".join(f.wire for f in frames), cuts, vectorise_from)
    assert frame_records(items)[-5:] == sent_records(frames)
    assert decoder.stats.frames_ok >= 5


@SETTINGS
@given(data=st.binary(max_size=600))
def test_crc_implementation_matches_zlib(data):
    assert crc32(data) == zlib.crc32(data)


@st.composite
def streams(draw):
    """A device stream: boot delimiter, SAMPLES frames with other messages between them, maybe noise."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frames = sample_frames(rng, draw(st.integers(1, 30)), channels=draw(st.sampled_from([1, 3, 20])),
                           max_samples=draw(st.sampled_from([1, 4, 20])), skip_prob=0.1)
    parts = [b"\x00"]
    others = [encode_status(1, 200, 5, 6, 7), encode_log(0, "note"), encode_hello({"glove_id": "g"})]
    for f in frames:
        if draw(st.integers(0, 9)) == 0:
            parts.append(others[draw(st.integers(0, len(others) - 1))])
        parts.append(f.wire)
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), draw(st.binary(max_size=300)))
    return b"".join(parts)


@SETTINGS
@given(stream=streams(), cuts=st.lists(st.integers(0, 100_000), max_size=40), vectorise_from=VECTORISE)
def test_any_chunking_gives_the_same_result_as_feeding_whole(stream, cuts, vectorise_from):
    whole = StreamDecoder()
    expected = whole.feed(stream)
    items, chunked = decode_in_chunks(stream, cuts, vectorise_from)
    assert frame_records(items) == frame_records(expected)
    assert stats_tuple(chunked) == stats_tuple(whole)


def expected_survivors(frames: list[SentFrame], damaged: dict[int, bytes]) -> list[int]:
    """Frames that must come out: undamaged, and not glued to a damaged frame whose trailing
    delimiter was flipped (the two then form one chunk, which fails its CRC)."""
    survivors = []
    for i in range(len(frames)):
        if i in damaged:
            continue
        if i - 1 in damaged and damaged[i - 1][-1] != 0:
            continue
        survivors.append(i)
    return survivors


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_frames=st.integers(2, 40), damage=st.data(),
       cuts=st.lists(st.integers(0, 100_000), max_size=10), vectorise_from=VECTORISE)
def test_bit_flips_lose_exactly_the_damaged_frames(seed, n_frames, damage, cuts, vectorise_from):
    rng = np.random.default_rng(seed)
    frames = sample_frames(rng, n_frames, channels=20, max_samples=6, skip_prob=0.1)
    damaged_set = damage.draw(st.sets(st.integers(0, n_frames - 1), max_size=n_frames // 2))
    damaged: dict[int, bytes] = {}
    for i in damaged_set:
        wire = bytearray(frames[i].wire)
        for _ in range(damage.draw(st.integers(1, 3))):
            bit = damage.draw(st.integers(0, 8 * len(wire) - 1))
            wire[bit // 8] ^= 1 << (bit % 8)
        if bytes(wire) != frames[i].wire:
            damaged[i] = bytes(wire)
    stream = b"\x00" + b"".join(damaged.get(i, f.wire) for i, f in enumerate(frames))

    items, decoder = decode_in_chunks(stream, cuts, vectorise_from)
    survivors = expected_survivors(frames, damaged)
    assert frame_records(items) == sent_records([frames[i] for i in survivors])
    assert decoder.stats.frames_ok == len(survivors)
    if damaged:
        assert decoder.stats.corrupt_frames >= 1 or decoder.pending_bytes > 0

    # The tracker sees exactly the frames and grid slots missing between survivors.
    tracker = ContinuityTracker()
    events = [e for batch in items for e in tracker.update(batch)]
    expected: list[MissingSlots | StreamRestart] = []
    if survivors and survivors[0] == 0:
        expected.append(StreamRestart(0, 0, "start_flag"))
    for a, b in zip(survivors[:-1], survivors[1:]):
        fa, fb = frames[a], frames[b]
        end = fa.sample_index + fa.raw.shape[0]
        if b - a > 1 or fb.sample_index != end:
            expected.append(MissingSlots(end, fb.sample_index - end, b - a - 1))

    def strip(e):
        if isinstance(e, MissingSlots):
            return type(e).__name__, e.device_sample_index, e.missing_samples, e.lost_frames
        return type(e).__name__, e.device_sample_index, e.seq, e.reason

    assert [strip(e) for e in events] == [strip(e) for e in expected]
    if survivors:
        span = survivors[-1] - survivors[0] + 1
        assert tracker.lost_frames == span - len(survivors)
        first, last = frames[survivors[0]], frames[survivors[-1]]
        grid = last.sample_index + last.raw.shape[0] - first.sample_index
        assert tracker.missing_samples == grid - sum(frames[i].raw.shape[0] for i in survivors)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), cut=st.floats(0.05, 0.95), boot_delimiter=st.booleans(),
       cuts=st.lists(st.integers(0, 100_000), max_size=10), vectorise_from=VECTORISE)
def test_spliced_streams_resynchronise(seed, cut, boot_delimiter, cuts, vectorise_from):
    """Half a frame (device reset mid-frame) followed by whole frames of a new boot."""
    rng = np.random.default_rng(seed)
    before = sample_frames(rng, 3)
    after = sample_frames(rng, 5, first_seq=0)
    half = before[2].wire[:max(1, int(cut * (len(before[2].wire) - 1)))]
    stream = (b"\x00" + before[0].wire + before[1].wire + half + (b"\x00" if boot_delimiter else b"")
              + b"".join(f.wire for f in after))
    items, decoder = decode_in_chunks(stream, cuts, vectorise_from)
    # without the boot delimiter the half frame swallows the first frame after it
    expected = before[:2] + (after if boot_delimiter else after[1:])
    assert frame_records(items) == sent_records(expected)
    assert decoder.stats.corrupt_frames == 1


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(1, 400), cuts=st.lists(st.integers(0, 100_000), max_size=10),
       vectorise_from=VECTORISE)
def test_truncated_stream_start_and_end(seed, start, cuts, vectorise_from):
    """A stream cut anywhere at both ends: every frame wholly inside the cut (after the first
    delimiter) comes out, nothing before it is called corrupt, the cut frame at the end waits."""
    rng = np.random.default_rng(seed)
    frames = sample_frames(rng, 6)
    full = b"".join(f.wire for f in frames)
    start = start % len(full)
    end = len(full) - len(frames[-1].wire) // 2
    stream = full[start:end]
    items, decoder = decode_in_chunks(stream, cuts, vectorise_from)
    ends = np.cumsum([len(f.wire) for f in frames])  # offset just past each frame's delimiter
    starts = ends - [len(f.wire) for f in frames]
    # A frame comes out when the delimiter before it is inside the cut and it ends inside the
    # cut; one beginning exactly at the cut is skipped (nothing shows it starts a frame).
    whole = [i for i in range(len(frames)) if starts[i] > start and ends[i] <= end]
    assert frame_records(items) == sent_records([frames[i] for i in whole])
    assert decoder.stats.corrupt_frames == 0
    if b"\x00" in stream:
        assert decoder.stats.skipped_bytes == stream.index(b"\x00")
        assert decoder.pending_bytes == len(stream) - (stream.rindex(b"\x00") + 1)
    else:  # the cut left no delimiter at all: nothing to sync on
        assert decoder.stats.skipped_bytes == len(stream) and decoder.pending_bytes == 0
