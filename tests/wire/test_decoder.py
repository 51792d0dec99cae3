"""StreamDecoder on hand-built streams; every test runs the frame-by-frame and the vectorised path."""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.wire import (
    MAX_UNDELIMITED_RUN,
    Log,
    SampleBatch,
    Status,
    StreamDecoder,
    encode_frame,
    encode_log,
    encode_status,
)
from wire_streams import frame_records, sample_frames, sent_records

PATHS = {"frame_by_frame": 10**9, "vectorised": 1}


@pytest.fixture(params=list(PATHS), ids=list(PATHS))
def new_decoder(request):
    def make(**kwargs) -> StreamDecoder:
        return StreamDecoder(vectorise_from=PATHS[request.param], **kwargs)
    return make


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def test_bytes_before_first_delimiter_are_skipped_not_corrupt(new_decoder, rng):
    frames = sample_frames(rng, 3)
    decoder = new_decoder()
    second_half = frames[0].wire[5:]  # port opened in the middle of frame 0
    items = decoder.feed(second_half + frames[1].wire + frames[2].wire)
    assert frame_records(items) == sent_records(frames[1:])
    assert decoder.stats.skipped_bytes == len(second_half) - 1  # its trailing 0x00 is the sync point
    assert decoder.stats.corrupt_frames == 0
    assert decoder.stats.bytes_in == len(second_half) + len(frames[1].wire) + len(frames[2].wire)


def test_unsynced_feed_without_delimiter_is_all_skipped(new_decoder):
    decoder = new_decoder()
    assert decoder.feed(b"boot loader text\r\n") == []
    assert decoder.feed(b"more") == []
    assert decoder.stats.skipped_bytes == 22 and decoder.stats.corrupt_frames == 0


def test_partial_frames_carry_over_between_feeds(new_decoder, rng):
    frames = sample_frames(rng, 4)
    stream = b"\x00" + b"".join(f.wire for f in frames)
    decoder = new_decoder()
    items = []
    for k in range(0, len(stream), 7):
        items += decoder.feed(stream[k:k + 7])
    assert frame_records(items) == sent_records(frames)
    assert decoder.pending_bytes == 0
    assert decoder.stats.frames_ok == 4


def test_consecutive_samples_merge_until_another_message_or_channel_change(new_decoder, rng):
    a = sample_frames(rng, 3, channels=20)
    b = sample_frames(rng, 2, channels=20, first_seq=3, start_flag=False)
    c = sample_frames(rng, 2, channels=8, first_seq=5, start_flag=False)
    status = encode_status(1, 200, 10, 11, 3)
    stream = b"\x00" + b"".join(f.wire for f in a) + status + b"".join(f.wire for f in b + c) + encode_log(0, "hi")
    items = new_decoder().feed(stream)
    kinds = [(type(i).__name__, i.n_frames if isinstance(i, SampleBatch) else None) for i in items]
    assert kinds == [("SampleBatch", 3), ("Status", None), ("SampleBatch", 2), ("SampleBatch", 2), ("Log", None)]
    assert items[0].raw.shape == (sum(f.raw.shape[0] for f in a), 20)
    assert items[3].n_channels == 8
    assert items[0].raw.dtype == np.uint16 and items[0].raw.flags.writeable
    assert items[0].seq.dtype == np.uint32 and items[0].n_per_frame.dtype == np.uint16
    assert items[0].flags.dtype == np.uint8 and items[0].flags.tolist() == [1, 0, 0]
    np.testing.assert_array_equal(items[0].row_sample_indices(),
                                  np.concatenate([f.sample_index + np.arange(f.raw.shape[0]) for f in a]))


def test_corrupt_frames_are_counted_by_reason_and_the_rest_decodes(new_decoder, rng):
    frames = sample_frames(rng, 4)
    crc_broken = bytearray(frames[1].wire)
    crc_broken[-3] ^= 0x01 if crc_broken[-3] != 0x01 else 0x03
    stream = (b"\x00" + frames[0].wire + bytes(crc_broken) + b"\x09ab\x00" + encode_frame(b"\x7e")
              + b"\x00\x00" + frames[2].wire + encode_frame(b"\x04short") + frames[3].wire)
    decoder = new_decoder()
    items = decoder.feed(stream)
    assert frame_records(items) == sent_records([frames[0], frames[2], frames[3]])
    stats = decoder.stats
    assert stats.corrupt_frames == 4
    assert stats.corrupt_by_reason == {"cobs": 1, "crc": 1, "length": 1, "unknown_type": 1, "malformed": 0}
    assert stats.frames_ok == 3
    assert "STATUS payload of 6 bytes" in str(decoder.last_error)


def test_overlong_run_without_delimiter_is_discarded_and_counted(new_decoder, rng):
    frames = sample_frames(rng, 2)
    noise = bytes(rng.integers(1, 256, MAX_UNDELIMITED_RUN + 500, dtype=np.uint8))
    stream = b"\x00" + frames[0].wire + noise + b"\x00" + frames[1].wire
    for chunk_size in (len(stream), 1000, 97):  # 97: the run overflows before its delimiter arrives
        decoder = new_decoder()
        items = []
        for k in range(0, len(stream), chunk_size):
            items += decoder.feed(stream[k:k + chunk_size])
            assert decoder.pending_bytes <= MAX_UNDELIMITED_RUN  # memory stays bounded
        assert frame_records(items) == sent_records(frames)
        assert decoder.stats.corrupt_frames == 1 and decoder.stats.corrupt_by_reason["length"] == 1
        assert decoder.stats.discarded_bytes == len(noise)


def test_restart_forgets_partial_frame_and_resyncs(new_decoder, rng):
    frames = sample_frames(rng, 2)
    decoder = new_decoder()
    decoder.feed(b"\x00" + frames[0].wire[:10])
    assert decoder.pending_bytes == 10
    decoder.restart()  # port reopened
    items = decoder.feed(frames[0].wire[10:] + frames[1].wire)
    assert frame_records(items) == sent_records(frames[1:])
    assert decoder.stats.corrupt_frames == 0


def test_messages_keep_stream_order_with_samples(new_decoder, rng):
    frames = sample_frames(rng, 2)
    stream = b"\x00" + encode_log(1, "a") + frames[0].wire + encode_status(0, 50, 1, 2, 3) + frames[1].wire
    items = new_decoder().feed(stream)
    assert [type(i) for i in items] == [Log, SampleBatch, Status, SampleBatch]


def test_device_skips_give_short_frames_that_still_merge(new_decoder, rng):
    # frames of varying length back to back (the vectorised path's general data extraction)
    frames = sample_frames(rng, 12, max_samples=20, skip_prob=0.5)
    items = new_decoder().feed(b"\x00" + b"".join(f.wire for f in frames))
    assert len(items) == 1
    assert frame_records(items) == sent_records(frames)
