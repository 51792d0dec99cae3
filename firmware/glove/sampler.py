"""The sampling loop: a fixed-rate grid of slots, SAMPLES frames, STATUS, TARE.

Timing model. Slot deadlines lie on a grid: next = previous + 1e6/rate_hz µs, kept exact
with an integer remainder (so 300 Hz does not drift by the 1/3 µs that 3333 µs loses).
The loop sleeps most of the wait and spins the last `hal.spin_us`. If it wakes more than
one period after a deadline, the missed slots are skipped (counted in dropped_samples)
and the frame being filled is sent early, so every SAMPLES frame holds consecutive slots.
A HAL that can still read a late slot as it was at its deadline (`hal.catch_up_slots` > 0:
the unix-port simulation, whose ADC is a signal indexed by slot) has up to that many late
slots taken back to back instead of skipped; a real ADC cannot sample the past, so the
ESP32 HAL sets 0.

Memory. Everything the loop touches is allocated in __init__: the frame buffer with one
memoryview per sample row, the STATUS buffer, per-channel maxima and TARE sums (glove/tare.py)
as byte arrays handled by viper helpers. Only commands (rare) and error paths allocate.
"""

import time

import micropython
from micropython import const

from glove import frames
from glove.tare import Tare

RATE_MIN_HZ = const(50)
RATE_MAX_HZ = const(1000)
DEFAULT_RATE_HZ = const(200)
LINK_USABLE_PERCENT = const(90)
STATUS_WIRE_BYTES = const(42)   # a STATUS frame (36 bytes at most) once a second (docs/protocol.md section 4)
FIRMWARE_VERSION = "0.1.0"


@micropython.viper
def scan_row(row, n_channels: int, maxima, saturated_at: int) -> int:
    """Track each channel's maximum in `maxima` (u16 array); return the saturated bits."""
    r = ptr16(row)
    m = ptr16(maxima)
    mask = 0
    c = 0
    while c < n_channels:
        v = int(r[c])
        if v > int(m[c]):
            m[c] = v
        if v >= saturated_at:
            mask |= 1 << c
        c += 1
    return mask


@micropython.viper
def open_channels(maxima, n_channels: int, open_below: int) -> int:
    """Bits of channels whose maximum stayed below open_below; resets the maxima."""
    m = ptr16(maxima)
    mask = 0
    c = 0
    while c < n_channels:
        if int(m[c]) < open_below:
            mask |= 1 << c
        m[c] = 0
        c += 1
    return mask


def link_bytes_needed(rate_hz, n_channels):
    """Bytes per second SAMPLES and STATUS frames need at rate_hz."""
    spf = frames.samples_per_frame(rate_hz)
    return rate_hz * frames.samples_wire_bytes(spf, n_channels) // spf + STATUS_WIRE_BYTES


class Sampler:
    def __init__(self, cfg, hal, writer, boot_id):
        self.cfg = cfg
        self.hal = hal
        self.writer = writer
        self.boot_id = boot_id
        n = cfg.n_channels
        self.n_channels = n
        self.saturated_at = cfg.saturated_at
        self.open_below = cfg.open_below
        row_bytes = 2 * n
        self.frame = bytearray(frames.SAMPLES_HEADER_BYTES
                               + frames.MAX_SAMPLES_SENT_PER_FRAME * row_bytes + frames.CRC_BYTES)
        view = memoryview(self.frame)
        self.rows = [view[frames.SAMPLES_HEADER_BYTES + k * row_bytes:
                          frames.SAMPLES_HEADER_BYTES + (k + 1) * row_bytes]
                     for k in range(frames.MAX_SAMPLES_SENT_PER_FRAME)]
        self.status = bytearray(frames.STATUS_EXT_BYTES + frames.CRC_BYTES)
        # Battery voltage and WiFi signal, read once per STATUS (not per sample); a HAL
        # without them (a test's) reports neither.
        self._battery_mv = getattr(hal, "battery_mv", None)
        self._rssi_dbm = getattr(hal, "rssi_dbm", None)
        self.maxima = bytearray(2 * n)
        self.tare = Tare(n, writer)
        self.streaming = False
        self.seq = 0
        self.slot_index = 0         # grid slot (since START) the next sample belongs to
        self.frame_index = 0        # sample_index of the frame being filled
        self.frame_t_us = 0
        self.n_in_frame = 0
        self.frame_flags = 0
        self.dropped = 0
        self.saturated_mask = 0
        self.loop_max_us = 0
        self.slots_this_second = 0
        self.errors_this_second = 0
        self.errors_total = 0       # caught exceptions since boot (tests read it)
        self.set_rate(DEFAULT_RATE_HZ)
        self.deadline = time.ticks_us()

    # -- configuration -------------------------------------------------------------

    def set_rate(self, rate_hz):
        self.rate_hz = rate_hz
        self.spf = frames.samples_per_frame(rate_hz)
        self.period_us = 1000000 // rate_hz
        self.period_rem = 1000000 % rate_hz
        self.period_frac = 0

    def check_rate(self, rate_hz):
        """None if rate_hz is acceptable, else the reason (for ERROR BAD_ARGUMENT)."""
        if not RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ:
            return "rate_hz %d outside %d..%d" % (rate_hz, RATE_MIN_HZ, RATE_MAX_HZ)
        link = self.hal.link_bytes_per_s
        if link is not None:
            need = link_bytes_needed(rate_hz, self.n_channels)
            usable = link * LINK_USABLE_PERCENT // 100
            if need > usable:
                return ("rate_hz %d needs %d B/s, above %d%% of the %d B/s link (%d B/s)"
                        % (rate_hz, need, LINK_USABLE_PERCENT, link, usable))
        return None

    def hello_info(self):
        return {
            "protocol": frames.PROTOCOL_VERSION,
            "firmware": FIRMWARE_VERSION,
            "glove_id": self.hal.glove_id,
            "board": self.hal.board,
            "boot_id": self.boot_id,
            "rate_hz": self.rate_hz,
            "samples_per_frame": self.spf,
            "adc_bits": self.cfg.adc_bits,
            "adc_max": self.cfg.adc_max,
            "channels": self.cfg.channel_ids,
            "role": self.cfg.role,
            "hand": self.cfg.hand,
            "streaming": self.streaming,
            "link_bytes_per_s": self.hal.link_bytes_per_s,
            "tare": self.tare.offsets,
            # The SSID and whether one is stored: never the password (glove/netconfig.py).
            "wifi": getattr(self.hal, "net_summary", None) or {"ssid": None, "configured": False},
        }

    # -- stream control ------------------------------------------------------------

    def start(self):
        self.streaming = True
        self.seq = 0
        self.slot_index = 0
        self.frame_index = 0
        self.n_in_frame = 0
        self.frame_flags = frames.SAMPLES_FLAG_FIRST
        self.dropped = 0

    def stop(self):
        # Samples already taken reach the host: send the partial frame rather than drop it.
        if self.streaming and self.n_in_frame:
            self.send_frame()
        self.streaming = False

    # -- the loop --------------------------------------------------------------------

    def send_frame(self):
        n = self.n_in_frame
        frames.pack_samples_header(self.frame, n, self.n_channels, self.frame_flags,
                                   self.seq, self.frame_index, self.frame_t_us)
        self.writer.send(self.frame, frames.SAMPLES_HEADER_BYTES + 2 * n * self.n_channels)
        self.seq += 1
        self.frame_flags = 0
        self.n_in_frame = 0

    def send_status(self, now):
        flags = 0
        if self.streaming:
            flags |= frames.STATUS_FLAG_STREAMING
        if self.tare.left:
            flags |= frames.STATUS_FLAG_TARE_RUNNING
        open_mask = open_channels(self.maxima, self.n_channels, self.open_below)
        battery = frames.BATTERY_UNKNOWN
        if self._battery_mv is not None:
            battery = self._battery_mv()
        rssi = frames.RSSI_UNKNOWN
        if self._rssi_dbm is not None:
            rssi = self._rssi_dbm()
        n = frames.pack_status(self.status, flags, self.rate_hz, now & frames.T_US_MASK,
                               self.boot_id, self.seq, self.dropped, self.saturated_mask,
                               open_mask, self.loop_max_us, battery, rssi)
        self.writer.send(self.status, n)
        self.saturated_mask = 0
        self.loop_max_us = 0
        self.errors_this_second = 0

    def sample_slot(self, now):
        """One grid slot: read every channel, update stats and TARE, fill/send the frame."""
        k = self.n_in_frame if self.streaming else 0
        row = self.rows[k]
        self.hal.read_sample(row)
        self.saturated_mask |= scan_row(row, self.n_channels, self.maxima, self.saturated_at)
        tare = self.tare
        if tare.left:
            tare.add(row)
        if self.streaming:
            if k == 0:
                self.frame_t_us = now & frames.T_US_MASK
                self.frame_index = self.slot_index
            self.n_in_frame = k + 1
            if k + 1 == self.spf:
                self.send_frame()
        self.slot_index += 1
        self.slots_this_second += 1

    def skip_slots(self, missed):
        """The loop woke `missed` whole periods late: leave those slots empty."""
        if self.streaming:
            if self.n_in_frame:
                self.send_frame()
            self.dropped += missed
        self.slot_index += missed
        self.slots_this_second += missed
        self.hal.skip_slots(missed)
        while missed:
            self.advance_deadline()
            missed -= 1

    def advance_deadline(self):
        self.deadline = time.ticks_add(self.deadline, self.period_us)
        self.period_frac += self.period_rem
        if self.period_frac >= self.rate_hz:
            self.period_frac -= self.rate_hz
            self.deadline = time.ticks_add(self.deadline, 1)

    def wait_for_deadline(self):
        """Sleep/spin until the slot's deadline; return the time the slot starts."""
        late = time.ticks_diff(time.ticks_us(), self.deadline)
        if late < 0:
            spin = self.hal.spin_us
            if -late > spin:
                self.hal.sleep_us(-late - spin)
            while time.ticks_diff(self.deadline, time.ticks_us()) > 0:
                pass
        return time.ticks_us()

    def run_slot(self, poll_commands):
        """Wait for the next deadline and do that slot's work (plus a command poll)."""
        t0 = self.wait_for_deadline()
        try:
            # Lateness is judged at the instant the slot starts, so a slot that is sampled
            # is less than one period late: its timestamp stays within a period of its grid
            # time.
            late = time.ticks_diff(t0, self.deadline)
            if late >= self.period_us:
                missed = late // self.period_us
                if missed <= self.hal.catch_up_slots:
                    # The HAL can still read this slot as it was at its deadline (the
                    # simulated ADC is a signal indexed by slot): take it, stamped with its
                    # grid time, and let the following slots run back to back until on time.
                    t0 = self.deadline
                else:
                    self.skip_slots(missed)
            self.sample_slot(t0)
            poll_commands()
            if self.slots_this_second >= self.rate_hz:
                self.slots_this_second -= self.rate_hz
                self.send_status(t0)
        except Exception as exc:   # keep sampling; the host learns of it through LOG
            self.report_exception(exc)
        work = time.ticks_diff(time.ticks_us(), t0)
        if work > self.loop_max_us:
            self.loop_max_us = work
        self.hal.feed_watchdog()
        self.advance_deadline()

    def report_exception(self, exc):
        self.errors_total += 1
        self.errors_this_second += 1
        if self.errors_this_second > 3:   # one broken slot must not flood the link
            return
        try:
            self.writer.send_log(frames.LOG_ERROR, "%s: %s" % (type(exc).__name__, exc))
        except Exception:
            pass
