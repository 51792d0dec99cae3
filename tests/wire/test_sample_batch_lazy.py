"""SampleBatch built by the decoder's live paths (per-frame arrays made on first read) behaves as
one built with all its arrays, whatever is read first and however it is used afterwards."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from glovecoach.wire import ContinuityTracker, SampleBatch, StreamDecoder, encode_message
from wire_streams import sample_frames


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)


PER_FRAME = ("seq", "sample_index", "t_us", "n_per_frame", "flags")
DTYPES = {"seq": np.uint32, "sample_index": np.uint32, "t_us": np.uint32, "n_per_frame": np.uint16,
          "flags": np.uint8}


def eager(frames) -> SampleBatch:
    """The batch of ``frames`` built from arrays, as the bulk path builds it."""
    return SampleBatch(np.concatenate([f.raw for f in frames]), np.array([f.seq for f in frames], np.uint32),
                       np.array([f.sample_index for f in frames], np.uint32),
                       np.array([f.t_us for f in frames], np.uint32),
                       np.array([f.raw.shape[0] for f in frames], np.uint16),
                       np.array([f.flags for f in frames], np.uint8))


def live_batch(frames) -> SampleBatch:
    """The batch a live read of exactly ``frames`` gives (one read, as a serial port returns it)."""
    decoder = StreamDecoder(synced=True)
    items = decoder.feed(b"".join(f.wire for f in frames))
    assert len(items) == 1 and isinstance(items[0], SampleBatch)
    return items[0]


def assert_same(batch: SampleBatch, expected: SampleBatch) -> None:
    assert batch.n_frames == expected.n_frames
    assert batch.first == expected.first
    np.testing.assert_array_equal(batch.raw, expected.raw)
    for name in PER_FRAME:
        value = getattr(batch, name)
        assert value.dtype == DTYPES[name], name
        np.testing.assert_array_equal(value, getattr(expected, name), err_msg=name)
    np.testing.assert_array_equal(batch.frame_rows, expected.frame_rows)
    np.testing.assert_array_equal(batch.row_sample_indices(), expected.row_sample_indices())
    assert repr(batch) == repr(expected)


@pytest.mark.parametrize("count", [1, 3])
def test_live_batch_equals_eager_batch_and_builds_no_arrays_for_first(rng, count):
    frames = sample_frames(rng, count)
    batch = live_batch(frames)
    # The live path keeps the header's ints: the arrays are not there until read.
    for name in PER_FRAME:
        with pytest.raises(AttributeError):
            object.__getattribute__(batch, name)
    f = frames[0]
    assert batch.first == (f.seq, f.sample_index, f.t_us, f.raw.shape[0], f.flags)
    assert batch.n_frames == count and batch.n_samples == sum(f.raw.shape[0] for f in frames)
    assert batch.raw.flags.writeable and batch.raw.dtype == np.uint16
    assert_same(batch, eager(frames))
    # Built once: the same array objects on every read after the first.
    assert batch.seq is batch.seq and batch.flags is batch.flags


@pytest.mark.parametrize("count", [1, 3])
def test_each_field_read_first_gives_all_fields(rng, count):
    frames = sample_frames(rng, count)
    expected = eager(frames)
    for name in PER_FRAME:
        batch = live_batch(frames)
        np.testing.assert_array_equal(getattr(batch, name), getattr(expected, name))
        assert_same(batch, expected)


def test_frames_select_concat_and_encode_of_live_batches(rng):
    frames = sample_frames(rng, 5)
    one, three = live_batch(frames[:1]), live_batch(frames[1:4])
    expected = eager(frames[:4])
    assert_same(SampleBatch.concat([one, three]), expected)
    assert_same(live_batch(frames[1:4]).frames(1, 3), eager(frames[2:4]))
    assert_same(live_batch(frames[1:4]).select(np.array([True, False, True])), eager([frames[1], frames[3]]))
    assert encode_message(live_batch(frames[:1])) == frames[0].wire
    assert encode_message(live_batch(frames[1:4])) == b"".join(f.wire for f in frames[1:4])


def test_pickle_and_copy_keep_a_live_batch_whole(rng):
    frames = sample_frames(rng, 3)
    for batch in (live_batch(frames[:1]), live_batch(frames)):
        expected = eager(frames[:batch.n_frames])
        assert_same(pickle.loads(pickle.dumps(batch)), expected)
        assert_same(copy.copy(live_batch(frames[:batch.n_frames])), expected)


def test_first_of_eager_and_empty_batches(rng):
    frames = sample_frames(rng, 2)
    batch = eager(frames)
    f = frames[0]
    assert batch.first == (f.seq, f.sample_index, f.t_us, f.raw.shape[0], f.flags)
    assert all(type(v) is int for v in batch.first)
    empty = batch.select(np.zeros(2, dtype=bool))
    assert empty.n_frames == 0 and empty.first is None


def test_from_fields_checks_its_input_and_is_lazy(rng):
    frames = sample_frames(rng, 2)
    fields = [(f.seq, f.sample_index, f.t_us, f.raw.shape[0], f.flags) for f in frames]
    raw = np.concatenate([f.raw for f in frames])
    assert_same(SampleBatch.from_fields(raw, fields), eager(frames))
    with pytest.raises(ValueError, match="at least one frame"):
        SampleBatch.from_fields(raw[:0], [])
    with pytest.raises(ValueError, match=f"but raw has {raw.shape[0] - 1} rows"):
        SampleBatch.from_fields(raw[1:], fields)


def test_unknown_attribute_is_an_attribute_error(rng):
    batch = live_batch(sample_frames(rng, 1))
    with pytest.raises(AttributeError, match="no attribute 'sequence'"):
        _ = batch.sequence
    with pytest.raises(AttributeError):
        batch.extra = 1  # slots: no stray attributes on a message


def test_continuity_on_live_batches_matches_eager_batches(rng):
    # The tracker reads ``first`` on one-frame batches and the arrays otherwise: same findings.
    frames = sample_frames(rng, 40, skip_prob=0.2)
    live, ref = ContinuityTracker(), ContinuityTracker()
    for k in range(0, 40, 4):
        group = frames[k:k + (1 if k % 8 else 3)]
        assert live.update(live_batch(group)) == ref.update(eager(group))
    assert (live.frames, live.samples, live.lost_frames, live.missing_samples) == (
        ref.frames, ref.samples, ref.lost_frames, ref.missing_samples)
    assert live.missing_samples > 0  # the stream did skip slots: the slow path was taken too
