"""The session's layout (glove, channels, ADC range), fixed by the first valid HELLO, and the
check every SAMPLES frame must pass before it is placed on the timeline.

Pure: it answers with what to keep and what to report; the coordinator counts and reports.
"""

from __future__ import annotations

import numpy as np

from glovecoach.wire.messages import Hello, SampleBatch, shorten

# Keys of a HELLO the host cannot do without (docs/protocol.md 3.1).
REQUIRED_HELLO_KEYS = ("glove_id", "boot_id", "channels")

# (number of frames refused, field at fault, message for the user)
Rejection = tuple[int, str, str]


class SessionLayout:
    def __init__(self) -> None:
        self.channels: tuple[str, ...] | None = None
        self.glove_id: str | None = None
        self.adc_max = 0xFFFF
        # (field, message) while the latest HELLO differs from the session's: samples refused.
        self.mismatch: tuple[str, str] | None = None

    def check_hello(self, hello: Hello) -> tuple[bool, tuple[str, str] | None]:
        """(whether ``hello`` can be used, the problem to report if any). The first usable
        HELLO fixes the layout; a later one that differs makes samples be refused until one
        matches again."""
        missing = [key for key in REQUIRED_HELLO_KEYS if key not in hello.info]
        if missing:
            return False, (missing[0], f"HELLO has no {missing[0]!r} (ignored)")
        channels, glove = tuple(hello.channels), hello.glove_id
        if self.channels is None:
            self.channels, self.glove_id = channels, glove
            self.adc_max = int(hello.info.get("adc_max") or 0xFFFF)
            return True, None
        if glove != self.glove_id:
            self.mismatch = ("glove_id", f"HELLO names glove {shorten(glove)}, but this session records "
                                         f"glove {self.glove_id}: its samples are refused")
        elif channels != self.channels:
            self.mismatch = ("channels", f"HELLO lists {len(channels)} channels {shorten(list(channels))}, "
                                         f"this session records {len(self.channels)}: samples are refused "
                                         "until the glove reports the session's channels again")
        else:
            self.mismatch = None
        return True, self.mismatch

    def check_samples(self, batch: SampleBatch) -> tuple[SampleBatch | None, Rejection | None]:
        """The frames of ``batch`` that fit the session (None if none do) and what was refused.
        Values are checked per frame with one reduction over the block, not per sample."""
        assert self.channels is not None
        if self.mismatch is not None:
            return None, (batch.n_frames, *self.mismatch)
        if batch.n_channels != len(self.channels):
            return None, (batch.n_frames, "n_channels", f"SAMPLES with {batch.n_channels} channels, but the HELLO "
                                                        f"listed {len(self.channels)}: dropped")
        if self.adc_max < 0xFFFF and batch.n_samples and int(batch.raw.max()) > self.adc_max:
            frame_max = np.maximum.reduceat(batch.raw.max(axis=1), batch.frame_rows)
            bad = frame_max > self.adc_max
            rejection = (int(bad.sum()), "raw", f"value {int(frame_max.max())} above adc_max {self.adc_max} "
                                                f"in {int(bad.sum())} SAMPLES frame(s): dropped")
            batch = batch.select(~bad)
            return (batch if batch.n_frames else None), rejection
        return batch, None
