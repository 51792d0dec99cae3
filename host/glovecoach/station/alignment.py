"""Several devices' samples on one station sample index.

Every device samples on its own crystal: its clock is offset from the host's and runs up to
±100 ppm fast or slow, so counting each device's samples from its own start would drift apart
by 90 ms (18 samples at 200 Hz) over a 15-minute session. The host is the common clock.

Per device, a `ClockMapper` (glovecoach.link.device_clock: the lower envelope of device time
against host receive time, robust to late reads) maps the device's sample times to host time;
the station index of a device sample is then ``(host time - station origin) * rate``. A
device's rows are put on the station grid by nearest sample: where the device runs fast, a row
now and then has no station slot of its own and is dropped; where it runs slow, one fills two
slots. Nothing is interpolated, so a reading is always one the sensor made, and one station
slot is never given twice (each device remembers the next slot it owes).

The station origin is the host time of the first sample any device placed; the rate is the
station's nominal rate, which every device is started at.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from glovecoach.link.device_clock import ClockFit, ClockMapper

_SMALL_SPAN = 32   # placements of fewer slots than this are worked out without numpy


@functools.lru_cache(maxsize=64)
def _one_to_one(n: int) -> np.ndarray:
    rows = np.arange(n, dtype=np.int64)
    rows.flags.writeable = False   # shared between placements
    return rows


@dataclass(frozen=True)
class Placement:
    """Where a device's block lands: station slots ``first_index .. first_index + len(rows) - 1``
    take the device's block rows ``rows`` (indices into the block, nearest in time)."""

    first_index: int
    rows: np.ndarray
    one_to_one: bool = False     # rows is 0, 1, ..., n - 1: slot k takes the block's row k

    @property
    def n_samples(self) -> int:
        return int(len(self.rows))


class DeviceAlignment:
    """One device's clock against the host's, and its blocks on the station grid."""

    def __init__(self, rate_hz: float, mapper: ClockMapper | None = None, refit_s: float | None = None) -> None:
        self.rate_hz = float(rate_hz)
        self.mapper = mapper or ClockMapper()
        self.next_index: int | None = None   # the first station slot this device has not filled
        # The fit is a median over every pair of the window's bucket minima (some 7,000 pairs
        # once the window is full, half a millisecond or more), and the mapper refits whenever
        # a frame improves its newest bucket: several times a second. With `refit_s` the
        # placement keeps a fit for that much device time once the fit spans `min_span_s`
        # (its slope is known, so using it a little longer costs nothing measurable);
        # None refits whenever the mapper would.
        self.refit_s = refit_s
        self._fit: ClockFit | None = None
        self._fit_until = -math.inf

    def observe(self, device_s: float, host_s: float) -> None:
        """A frame's device time stamp (seconds, unwrapped) and the host time it arrived."""
        self.mapper.add_pair(float(device_s), float(host_s))

    def current_fit(self, device_s: float) -> ClockFit | None:
        """The fit placement uses at device time ``device_s`` (see ``refit_s``)."""
        fit = self._fit
        if (fit is None or self.refit_s is None or device_s >= self._fit_until
                or fit.span_s < self.mapper.min_span_s):
            fit = self.mapper.fit()
            self._fit = fit
            self._fit_until = device_s + (self.refit_s or 0.0)
        return fit

    def restart_clock(self) -> None:
        """The device's clock no longer relates to the host's as before (it rebooted, or its
        stream was restarted and placed by the host clock): fit a fresh mapping from the next
        frame on. The slots already filled stay filled (`next_index` is kept), so a re-fit
        never gives a slot twice nor moves what was placed."""
        self.mapper.reset()
        self._fit = None

    def positions(self, device_s_first: float, n: int, origin_host_s: float) -> np.ndarray:
        """Fractional station positions of ``n`` samples taken one device period apart."""
        fit = self.current_fit(device_s_first)
        if fit is None:
            raise RuntimeError("no clock pairs yet: observe() a frame before placing its samples")
        host_first = float(fit.to_host(device_s_first))
        # one device period is 1/rate device seconds, i.e. `slope` station slots
        return (host_first - origin_host_s) * self.rate_hz + fit.slope * np.arange(n)

    def place(self, device_s_first: float, n: int, origin_host_s: float,
              follows_previous: bool = True) -> Placement:
        """Station slots for a block of ``n`` samples. ``follows_previous``: the block comes
        right after this device's last one (no gap in the device's own sample count)."""
        fit = self.current_fit(device_s_first)
        if fit is None:
            raise RuntimeError("no clock pairs yet: observe() a frame before placing its samples")
        # `positions` for the first and last sample only, in plain floats: a frame is a handful
        # of samples, and numpy's fixed cost per call would be most of the work (the same
        # arithmetic as ClockFit.to_host).
        host_first = fit.host_origin + fit.offset + fit.slope * (float(device_s_first) - fit.device_origin)
        first = (host_first - origin_host_s) * self.rate_hz
        step = fit.slope   # one device period is `slope` station slots
        lo = math.floor(first + 0.5)
        hi = math.floor(first + step * (n - 1) + 0.5)
        if self.next_index is not None and (follows_previous or lo < self.next_index):
            # A slot already filled is not filled twice, and a device streaming without a gap
            # leaves no hole: slots skipped because the clock fit moved on (it learns the
            # least-delayed frames as they come, most in the first second) take the block's
            # first row. After a real gap in the device's stream the hole stays a hole.
            lo = self.next_index
        if hi < lo:
            return Placement(lo, np.zeros(0, dtype=np.int64))
        if hi - lo == n - 1 and round((lo - first) / step) == 0 and round((hi - first) / step) == n - 1:
            # One slot per row, the first row on the first slot and the last on the last: the
            # rows in between follow one to one (the positions are linear with a slope near 1,
            # so rounding cannot skip one in the middle). Nearly every frame is this one.
            self.next_index = hi + 1
            return Placement(lo, _one_to_one(n), True)
        elif hi - lo < _SMALL_SPAN:
            # A frame's few slots in plain floats (numpy's fixed cost per call is most of the
            # work for five numbers); round() and np.rint both round half to even.
            top = n - 1
            picked = [min(max(round((i - first) / step), 0), top) for i in range(lo, hi + 1)]
            self.next_index = hi + 1
            if picked == list(range(n)):
                return Placement(lo, _one_to_one(n), True)
            return Placement(lo, np.array(picked, dtype=np.int64))
        else:
            rows = np.clip(np.rint((np.arange(lo, hi + 1) - first) / step), 0, n - 1).astype(np.int64)
        self.next_index = hi + 1
        return Placement(lo, rows)


class StationTimebase:
    """The devices of one station on one sample index: ``observe`` each frame's clock stamp,
    then ``place`` its samples."""

    def __init__(self, rate_hz: float, refit_s: float | None = None, origin_delay_s: float = 0.0) -> None:
        self.rate_hz = float(rate_hz)
        self.refit_s = refit_s
        self.devices: dict[str, DeviceAlignment] = {}
        self.origin_host_s: float | None = None
        # Slot 0 this long after the first sample placed (the samples before it are counted as
        # before the origin; a recording keeps them on their device's own index).
        self.origin_delay_s = float(origin_delay_s)

    def device(self, name: str) -> DeviceAlignment:
        if name not in self.devices:
            self.devices[name] = DeviceAlignment(self.rate_hz, refit_s=self.refit_s)
        return self.devices[name]

    def observe(self, name: str, device_s: float, host_s: float) -> None:
        self.device(name).observe(device_s, host_s)

    def place(self, name: str, device_s_first: float, n: int, follows_previous: bool = True) -> Placement:
        """Station slots for ``n`` samples of device ``name``, the first taken at device time
        ``device_s_first`` (seconds, the device's own clock); ``follows_previous`` is False
        after a gap in the device's own stream."""
        device = self.device(name)
        if self.origin_host_s is None:
            fit = device.current_fit(device_s_first)
            if fit is None:
                raise RuntimeError(f"{name}: no clock pairs yet: observe() a frame first")
            self.origin_host_s = float(fit.to_host(device_s_first)) + self.origin_delay_s
        return device.place(device_s_first, n, self.origin_host_s, follows_previous)
