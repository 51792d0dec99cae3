"""The sample blocks that flow down the pipeline.

Every block is placed on the session timeline by `first_index`, the session sample index of
its first row (time = index / rate); a block never spans a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ForceBlock:
    """Calibrated forces of consecutive samples, as the coaching engine takes them."""

    first_index: int
    newtons: np.ndarray      # (n, ch) float32; 0 where open; at saturation: the ceiling, not a reading
    saturated: np.ndarray    # (n, ch) bool
    open: np.ndarray         # (n, ch) bool

    @property
    def n_samples(self) -> int:
        return int(self.newtons.shape[0])
