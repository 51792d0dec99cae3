"""SessionLayout alone: the first usable HELLO fixes the session, and every SAMPLES frame is
checked against it (frames refused whole, with the field at fault)."""

from __future__ import annotations

import numpy as np

from glovecoach.link.session_layout import SessionLayout
from glovecoach.wire import SampleBatch
from glovecoach.wire.messages import Hello


def hello(**info) -> Hello:
    base = {"glove_id": "GC-1", "boot_id": 5, "channels": ["a", "b"], "adc_max": 4095}
    base.update(info)
    return Hello(1, {k: v for k, v in base.items() if v is not None})


def batch(*frames: list[list[int]]) -> SampleBatch:
    """Frames of rows; seq and slots follow on."""
    raw = np.array([row for frame in frames for row in frame], np.uint16)
    n = np.array([len(f) for f in frames], np.uint16)
    index = np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.uint32)
    return SampleBatch(raw, np.arange(len(frames), dtype=np.uint32), index,
                       np.zeros(len(frames), np.uint32), n, np.zeros(len(frames), np.uint8))


def test_a_hello_without_a_required_key_is_ignored_and_named():
    layout = SessionLayout()
    assert layout.check_hello(hello(boot_id=None)) == (False, ("boot_id", "HELLO has no 'boot_id' (ignored)"))
    assert layout.channels is None
    assert layout.check_hello(hello()) == (True, None)
    assert (layout.channels, layout.glove_id, layout.adc_max) == (("a", "b"), "GC-1", 4095)


def test_values_above_adc_max_drop_their_frames_only():
    layout = SessionLayout()
    layout.check_hello(hello())
    kept, rejection = layout.check_samples(batch([[1, 2], [3, 4]], [[4096, 0]], [[5, 6]]))
    assert kept.n_frames == 2 and kept.raw[:, 0].tolist() == [1, 3, 5]
    assert rejection == (1, "raw", "value 4096 above adc_max 4095 in 1 SAMPLES frame(s): dropped")
    kept, rejection = layout.check_samples(batch([[4095, 4095]]))  # adc_max itself is valid
    assert kept.n_frames == 1 and rejection is None


def test_another_channel_count_is_refused_whole():
    layout = SessionLayout()
    layout.check_hello(hello())
    kept, rejection = layout.check_samples(batch([[1, 2, 3]], [[4, 5, 6]]))
    assert kept is None and rejection[:2] == (2, "n_channels")


def test_a_later_hello_naming_other_channels_or_glove_refuses_samples_until_it_matches_again():
    layout = SessionLayout()
    layout.check_hello(hello())
    usable, problem = layout.check_hello(hello(channels=["a", "b", "c"]))
    assert usable and problem[0] == "channels"
    kept, rejection = layout.check_samples(batch([[1, 2]]))
    assert kept is None and rejection[:2] == (1, "channels")
    assert layout.check_hello(hello(glove_id="GC-2"))[1][0] == "glove_id"
    assert layout.check_hello(hello()) == (True, None)  # the session's glove and channels again
    kept, rejection = layout.check_samples(batch([[1, 2]]))
    assert kept.n_frames == 1 and rejection is None
    assert layout.channels == ("a", "b")  # the first HELLO fixed the layout for good
