"""Device clock → host clock.

The glove stamps every SAMPLES frame and STATUS with ``time.ticks_us() & 0x3FFFFFFF`` (30 bits,
wraps every 1073.7 s). The host needs two things from it:

* an unwrapped, monotonic device time (:class:`DeviceClockUnwrapper`);
* the host time at which the device took a sample (:class:`ClockMapper`), to place samples
  on the host's timeline, to measure the real sample rate, and to size a gap across a device
  reboot (where the device's own counters restart and only the host clock is common).

Mapping model: a frame stamped at device time ``d`` reaches the host at
``h = offset + slope * d + delay`` where ``delay >= 0`` (USB polling, scheduler, the reader's
wake-up). Delay only ever *adds*, so the clock is the lower envelope of the (d, h) cloud, not
its mean: a least-squares line through all pairs would be dragged up by every late read.

We sample the envelope: per short bucket of device time (0.25 s, about a dozen frames) we keep
the pair with the smallest ``h - d``, the least-delayed frame. Through those bucket minima,
over a sliding window, the slope is the Theil–Sen estimate (median of the slopes between
well-separated minima) and the offset a low quantile of their residuals. Taking medians and
quantiles rather than the extreme points (a convex hull) matters in practice: a device stamp
that is itself late (a sample taken late on a busy device) puts a pair *below* the true
envelope, and a hull would pivot on it (we measured 500 ppm of fake drift that way).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from glovecoach.wire.continuity import TICKS_MASK, TICKS_MODULUS, unwrap_ticks

__all__ = ["TICKS_MODULUS", "ClockFit", "ClockMapper", "DeviceClockUnwrapper"]


class DeviceClockUnwrapper:
    """Turns a stream of 30-bit ``t_us`` stamps into a monotonic int64 microsecond count.

    Consecutive stamps are assumed less than half a wrap (537 s) apart, which the protocol
    guarantees (frames and STATUS arrive at least once a second while the link is up).
    A step backwards of less than half a wrap is kept as a backwards step (it would be a
    device bug, not a wrap) so that it shows up instead of adding 1073 s.
    """

    def __init__(self) -> None:
        self._last: int | None = None

    def reset(self) -> None:
        self._last = None

    def unwrap_one(self, t_us: int) -> int:
        """One stamp (the live case: a frame per read), in plain integers."""
        stamp = int(t_us) & TICKS_MASK
        if self._last is None:
            self._last = stamp
        else:
            half = TICKS_MODULUS // 2
            self._last += (stamp - (self._last & TICKS_MASK) + half) % TICKS_MODULUS - half
        return self._last

    def unwrap(self, t_us: np.ndarray | int) -> np.ndarray:
        unwrapped = unwrap_ticks(np.asarray(t_us), self._last)
        if unwrapped.size:
            self._last = int(unwrapped[-1])
        return unwrapped


@dataclass(frozen=True)
class ClockFit:
    """``host = host_origin + offset + slope * (device - device_origin)``."""

    device_origin: float
    host_origin: float
    offset: float
    slope: float
    span_s: float  # device-time span of the pairs behind the fit

    @property
    def drift_ppm(self) -> float:
        return (self.slope - 1.0) * 1e6

    def to_host(self, device_s: np.ndarray | float) -> np.ndarray:
        d = np.asarray(device_s, dtype=np.float64) - self.device_origin
        return self.host_origin + self.offset + self.slope * d


class ClockMapper:
    """Lower-envelope fit of (device time, host receive time) pairs over a sliding window.

    ``add(device_s, host_s)`` takes arrays of pairs (device seconds from the unwrapper, host
    seconds from ``time.monotonic()``); ``fit()`` returns the current :class:`ClockFit`.
    Until the pairs span ``min_span_s`` the slope is fixed at 1 (no drift yet measurable) and
    only the offset is fitted.
    """

    def __init__(self, *, window_s: float = 30.0, bucket_s: float = 0.25,
                 min_span_s: float = 2.0, offset_quantile: float = 0.2) -> None:
        self.window_s = window_s
        self.offset_quantile = offset_quantile
        self.bucket_s = bucket_s
        self.min_span_s = min_span_s
        # (bucket key, device_s, host_s) of each bucket's least-delayed pair, device-time order.
        self._buckets: deque[tuple[int, float, float]] = deque()
        self._device_origin: float | None = None
        self._host_origin = 0.0
        self._fit: ClockFit | None = None

    def reset(self) -> None:
        self._buckets.clear()
        self._device_origin = None
        self._fit = None

    def add_pair(self, device_s: float, host_s: float) -> None:
        """One pair, as :meth:`add` takes it, in plain floats: a live reader adds one per
        frame, and numpy's fixed cost per call would be most of the work."""
        if self._device_origin is None:
            self._device_origin, self._host_origin = device_s, host_s
        key = math.floor((device_s - self._device_origin) / self.bucket_s)
        buckets = self._buckets
        if buckets and buckets[-1][0] == key:
            _, bd, bh = buckets[-1]
            if host_s - device_s >= bh - bd:
                return  # not less delayed than the bucket's best: nothing changes
            buckets[-1] = (key, device_s, host_s)
        elif not buckets or key > buckets[-1][0]:
            buckets.append((key, device_s, host_s))
            horizon = key - math.ceil(self.window_s / self.bucket_s)
            while buckets[0][0] < horizon:
                buckets.popleft()
        else:
            return  # older than the newest bucket: out of order, ignored
        self._fit = None

    def add(self, device_s: np.ndarray | float, host_s: np.ndarray | float) -> None:
        d = np.atleast_1d(np.asarray(device_s, dtype=np.float64))
        h = np.atleast_1d(np.asarray(host_s, dtype=np.float64))
        if d.shape != h.shape:
            raise ValueError(f"device and host arrays differ in shape: {d.shape} vs {h.shape}")
        if d.size == 0:
            return
        if self._device_origin is None:
            self._device_origin = float(d[0])
            self._host_origin = float(h[0])
        keys = np.floor((d - self._device_origin) / self.bucket_s).astype(np.int64)
        residual = h - d
        order = np.lexsort((residual, keys))  # by key, then least delay first
        keys_sorted = keys[order]
        first_of_key = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]])
        best = order[first_of_key]
        changed = False
        for i in best:  # one iteration per bucket touched (a few per read), not per pair
            key = int(keys[i])
            di, hi = float(d[i]), float(h[i])
            if self._buckets and self._buckets[-1][0] == key:
                _, bd, bh = self._buckets[-1]
                if hi - di < bh - bd:
                    self._buckets[-1] = (key, di, hi)
                    changed = True
            elif not self._buckets or key > self._buckets[-1][0]:
                self._buckets.append((key, di, hi))
                changed = True
            # a pair older than the newest bucket only arrives out of order: ignore it
        newest = self._buckets[-1][0]
        horizon = newest - int(np.ceil(self.window_s / self.bucket_s))
        while self._buckets and self._buckets[0][0] < horizon:
            self._buckets.popleft()
            changed = True
        if changed:  # the fit depends only on the buckets: most frames leave them as they were
            self._fit = None

    def fit(self) -> ClockFit | None:
        if self._fit is not None or not self._buckets or self._device_origin is None:
            return self._fit
        pts = np.array([(d, h) for _, d, h in self._buckets], dtype=np.float64)
        x = pts[:, 0] - self._device_origin
        y = pts[:, 1] - self._host_origin
        span = float(x[-1] - x[0])
        slope = 1.0
        if span >= self.min_span_s and len(x) >= 4:
            i, j = np.triu_indices(len(x), 1)
            dx = x[j] - x[i]
            far = dx >= span / 4  # close pairs give noisy slopes
            slope = float(np.median((y[j] - y[i])[far] / dx[far]))
        offset = float(np.quantile(y - slope * x, self.offset_quantile))
        self._fit = ClockFit(self._device_origin, self._host_origin, offset, slope, span)
        return self._fit

    def to_host(self, device_s: np.ndarray | float) -> np.ndarray:
        fit = self.fit()
        if fit is None:
            raise RuntimeError("ClockMapper has no pairs yet")
        return fit.to_host(device_s)
