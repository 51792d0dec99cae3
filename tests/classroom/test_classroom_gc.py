"""`settle_garbage_collector`: what exists when the room opens is left out of the collector's
full scans (a full collection over it paused a 12-station room for 66-77 ms)."""

from __future__ import annotations

import gc
import time

from glovecoach.classroom.hub import settle_garbage_collector


def test_what_the_room_opened_with_is_frozen_out_of_full_collections():
    gc.unfreeze()
    kept = [[k] for k in range(200_000)]          # a room's worth of long-lived objects
    start = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - start
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() >= len(kept)
        start = time.perf_counter()
        gc.collect()
        after = time.perf_counter() - start
        assert after < before / 2, (before, after)
    finally:
        gc.unfreeze()
