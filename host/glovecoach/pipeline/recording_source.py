"""`RecordingSource`: a recording played into a pipeline as the link delivered it.

Replay in the app and `analyze` read a `.gcrec` through this, so they hand the coaching the
same messages the live session did: blocks of consecutive samples (never across a gap) and a
`GapDetected` for every stretch of the timeline without samples, the leading and trailing
ones included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glovecoach.recording.format import FRAME_DTYPE
from glovecoach.recording.runs import contiguous_blocks
from glovecoach.vocabulary.stream import GapDetected, SamplesReceived

NO_FRAMES = np.zeros(0, dtype=FRAME_DTYPE)   # a replayed block carries no wire-frame table
RECORDED_GAP = "recorded_gap"


class RecordingSource:
    """`poll()` gives the messages of the timeline up to the index set by `advance_to`."""

    def __init__(self, recording: Any, block_rows: int) -> None:
        self.recording = recording
        self.block_rows = max(1, int(block_rows))
        self.index = np.asarray(recording.sample_index, dtype=np.int64)
        self.total = int(getattr(recording, "n_total", 0) or (int(self.index[-1]) + 1 if len(self.index) else 0))
        self.row = 0          # next recording row to deliver
        self.end_index = 0    # one past the last sample or gap delivered
        self._stop = 0

    def advance_to(self, index: int) -> None:
        """The next `poll()` delivers the timeline up to (not including) session index `index`."""
        self._stop = int(min(max(index, 0), self.total))

    def advance_to_end(self) -> None:
        self._stop = self.total

    def poll(self) -> list[Any]:
        stop_row = int(np.searchsorted(self.index, self._stop, side="left"))
        starts, stops = contiguous_blocks(self.index, self.block_rows, self.row, stop_row)
        out: list[Any] = []
        raw = self.recording.raw
        for a, b in zip(starts.tolist(), stops.tolist()):
            first = int(self.index[a])
            if first > self.end_index:
                out.append(GapDetected(self.end_index, first - self.end_index, RECORDED_GAP, True))
            out.append(SamplesReceived(first, raw[a:b], NO_FRAMES))
            self.end_index = first + (b - a)
        self.row = max(self.row, stop_row)
        if self._stop > self.end_index:
            out.append(GapDetected(self.end_index, self._stop - self.end_index, RECORDED_GAP, True))
            self.end_index = self._stop
        return out
