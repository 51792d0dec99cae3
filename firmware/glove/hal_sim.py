"""Simulated glove for the MicroPython unix port (the host's "virtual glove").

The only module that knows the glove is simulated. The ADC is replaced by rows of raw counts:
from the .gcsig file named by GLOVECOACH_SIM_SIGNAL (one row per sampling slot, looping), or
from a built-in stroking pattern. Bytes to and from the host go through stdin/stdout, which
the host connects to a pseudo-terminal. Environment:

  GLOVECOACH_SIM_SIGNAL     .gcsig file to play (optional)
  GLOVECOACH_GLOVE_ID       glove id announced in HELLO (default GC-SIM-0001)
  GLOVECOACH_SIM_LINK_BPS   pretend link capacity in bytes/s (default: none, like native USB)
  GLOVECOACH_NET_CONFIG     the simulated flash's network configuration file (glove/netconfig.py):
                            NET_CONFIG writes it; at boot, if it exists and names a broker,
                            frames go over MQTT (the USB side still takes commands)
  GLOVECOACH_SIM_BATTERY_V  battery voltage at boot, e.g. "4.1", or "4.1:0.5" to discharge at
                            0.5 V per hour (default 0.1 V/h, down to 3.0 V); unset: no battery
  GLOVECOACH_SIM_RSSI_DBM   WiFi signal to report while on MQTT, e.g. "-61"; unset: null
  GLOVECOACH_SIM_CLOCK_PPM  the crystal's error in parts per million (e.g. 100 or -100.5):
                            the device's clock runs that much fast (+) or slow (-) against
                            real time, and with it the sampling grid and every t_us stamp
  GLOVECOACH_SIM_CLOCK_OFFSET_US  where the device's clock stands at boot against the
                            machine's monotonic clock (default 0): separate boards are not
                            powered up at the same instant, but every unix process reads one
                            shared monotonic clock
  GLOVECOACH_SIM_SIGNAL_EPOCH_US  the machine's monotonic time (us) at which the signal file's
                            row 0 happens: the file is then the true force against real time,
                            shared by every device given the same epoch, and each slot reads
                            the row of the real instant it samples (a skewed crystal samples
                            a little faster or slower than the file's rate, as a board does).
                            Without it the file plays one row per slot from boot.
  GLOVECOACH_SIM_EXIT_ON_HANGUP  on MQTT: the process still ends when the host's side of its
                            pty closes (the host quit or was killed), so no WiFi glove
                            outlives the host that started it
"""

import os
import struct
import sys
import time

from micropython import const

from glove import netconfig
from glove.stdio_link import StdioLink

GCSIG_MAGIC = b"GCSIG1\n\0"
GCSIG_HEADER_BYTES = const(16)
DEFAULT_GLOVE_ID = "GC-SIM-0001"
# A process cannot reset itself: reset() ends it with this status instead (0 is an unplug,
# 1 a failed boot); starting it again is up to whoever runs it (VirtualGlove does not).
RESET_EXIT_STATUS = const(3)

# Built-in pattern: one stroke passes over the glove channels every PATTERN_SLOTS slots
# (3 s at the default 200 Hz); each channel sees a raised-cosine pressure bump whose
# timing is offset along the hand, as a palm sliding down a back would produce.
PATTERN_SLOTS = const(600)
PATTERN_PEAK_COUNTS = const(1800)
PATTERN_BUMP_SLOTS = const(240)


class SignalFileError(ValueError):
    pass


# -- the crystal ---------------------------------------------------------------------
# A board's clock is its crystal: off by up to +-100 ppm, and started at power-up. Every unix
# process reads the one monotonic clock of the machine, exactly, so without this the virtual
# devices of a station would share a perfect clock that no two boards have. With a skew or an
# offset set, `Crystal` stands in for the `time` module in every firmware module: device time
# = real time + offset + (real time since boot) x ppm. Integer arithmetic only (parts per
# billion): floats are heap objects in MicroPython, and the sampling loop calls ticks_us()
# several times per slot under heap_lock.

_real_ticks_us = time.ticks_us
_real_ticks_ms = time.ticks_ms
_real_ticks_add = time.ticks_add
_real_ticks_diff = time.ticks_diff
_real_sleep_us = time.sleep_us
PPB = const(1000000000)


class Crystal:
    """A skewed stand-in for the `time` module: the ticks functions run ppb/1e9 fast."""

    ppb = 0             # parts per billion: +100 ppm is 100000
    offset_us = 0
    boot_us = _real_ticks_us()  # real ticks_us at boot, where the skew starts to accumulate

    # Static: called on the class (it stands in for a module), so no bound method is made.
    @staticmethod
    def ticks_us():
        now = _real_ticks_us()
        return _real_ticks_add(now, Crystal.offset_us
                               + _real_ticks_diff(now, Crystal.boot_us) * Crystal.ppb // PPB)

    @staticmethod
    def ticks_ms():
        return _real_ticks_add(_real_ticks_ms(), (Crystal.offset_us
                               + _real_ticks_diff(_real_ticks_us(), Crystal.boot_us) * Crystal.ppb // PPB)
                               // 1000)

    @staticmethod
    def sleep_us(us):
        # `us` device microseconds pass in us / (1 + ppb/1e9) real ones.
        _real_sleep_us(us * PPB // (PPB + Crystal.ppb))

    @staticmethod
    def sleep_ms(ms):
        Crystal.sleep_us(ms * 1000)

    @staticmethod
    def sleep(s):
        Crystal.sleep_us(int(s * 1000000))


def _install_crystal(ppm_text, offset_text):
    """Set the crystal from the environment's text and make every firmware module (loaded or
    still to come) use it for `time`. Returns the ppm set, for the boot message."""
    try:
        ppm = float(ppm_text) if ppm_text else 0.0
        offset = int(offset_text) if offset_text else 0
    except ValueError:
        raise ValueError("GLOVECOACH_SIM_CLOCK_PPM=%r / GLOVECOACH_SIM_CLOCK_OFFSET_US=%r: "
                         "expected a number of ppm and a whole number of microseconds"
                         % (ppm_text, offset_text))
    if not -10000 <= ppm <= 10000:
        raise ValueError("GLOVECOACH_SIM_CLOCK_PPM=%r: a crystal is off by ppm, not by more "
                         "than 1 %%" % ppm_text)
    # Everything time offers, with the clock functions replaced by the crystal's.
    for name in dir(time):
        if not name.startswith("__") and not hasattr(Crystal, name):
            setattr(Crystal, name, getattr(time, name))
    Crystal.ppb = int(round(ppm * 1000))
    Crystal.offset_us = offset
    Crystal.boot_us = _real_ticks_us()
    # Modules already loaded hold the real module under the name `time` (this one too, so
    # keep hold of it); later imports of `time` find the crystal in sys.modules.
    real = time
    for module in list(sys.modules.values()):
        if getattr(module, "time", None) is real:
            module.time = Crystal  # type: ignore[attr-defined]  # (any module holding `time`)
    # The stubs type sys.modules as modules only; a class serves as one here.
    sys.modules["time"] = Crystal  # type: ignore[assignment]
    return ppm


def _make_stdin_raw():
    # The host should hand us a raw pty; making it raw here as well costs one `stty` at boot
    # and protects the binary stream from newline translation and echo if it did not.
    # On a pipe stty fails quietly.
    try:
        os.system("stty raw -echo 2>/dev/null")
    except Exception:
        pass


class SimHal:
    board = "unix-sim"
    # time.sleep_us on Linux can overshoot by ~100 us or more on a busy machine: spin that
    # last part of each wait so slot timing stays tight without burning a whole core.
    spin_us = 300
    # The simulated ADC is a signal indexed by slot, so a slot read late (the unix process
    # was descheduled) still gets exactly the row it would have read on time. Up to a
    # quarter second of such lateness is caught up rather than skipped; longer stalls are
    # skipped and reported like on the real glove.
    catch_up_slots = 50

    def __init__(self, cfg):
        ppm = os.getenv("GLOVECOACH_SIM_CLOCK_PPM")
        offset = os.getenv("GLOVECOACH_SIM_CLOCK_OFFSET_US")
        # Before anything reads the clock (the sampler's grid starts after the HAL is open).
        self.clock_ppm = _install_crystal(ppm, offset) if (ppm or offset) else 0.0
        self._sleep_us = Crystal.sleep_us if (ppm or offset) else time.sleep_us
        self.n_channels = cfg.n_channels
        self.row_bytes = 2 * cfg.n_channels
        self.glove_id = os.getenv("GLOVECOACH_GLOVE_ID") or DEFAULT_GLOVE_ID
        link_bps = os.getenv("GLOVECOACH_SIM_LINK_BPS")
        self.link_bytes_per_s = int(link_bps) if link_bps else None
        self.signal_path = os.getenv("GLOVECOACH_SIM_SIGNAL") or None
        self.signal_rate_hz = None
        self._file = None
        if self.signal_path:
            self._open_signal(self.signal_path)
        else:
            self._make_pattern(cfg)
        self._epoch_us = None
        epoch = os.getenv("GLOVECOACH_SIM_SIGNAL_EPOCH_US")
        if epoch:
            self._on_true_time(epoch)
        self._open_battery()
        self._open_link()

    def _open_link(self):
        """USB (stdio), or MQTT beside USB when the simulated flash holds a broker."""
        # The simulated flash for NET_CONFIG; without the variable there is none (the
        # repository's firmware folder must never receive credentials).
        self.net_config_path = os.getenv("GLOVECOACH_NET_CONFIG") or None
        config = netconfig.load(self.net_config_path) if self.net_config_path else None
        self.net_summary = netconfig.summary(config)
        _make_stdin_raw()
        if config is not None and "mqtt" in config:
            # The "WiFi" glove: frames go over MQTT to the broker the file names (there is
            # no WiFi to join on the unix port). USB (stdin) still takes commands, without
            # ending the process at EOF: a glove on WiFi needs no host on its cable.
            from glove.dual_link import DualLink
            from glove.mqtt_link import open_mqtt_link
            net = open_mqtt_link(config, self.glove_id, source=self.net_config_path)
            # A virtual WiFi glove started by a host (GLOVECOACH_SIM_EXIT_ON_HANGUP) ends with
            # it: the host closing its side of the pty is the end of USB, and of this process.
            hangup = bool(os.getenv("GLOVECOACH_SIM_EXIT_ON_HANGUP"))
            dual = DualLink(net, StdioLink(exit_on_eof=hangup))
            self.link = net
            self.write = dual.write
            self.read_rx = dual.read_rx
            self.read_usb = dual.read_usb
            self.flush = dual.flush
        else:
            # The host closing its side (EOF, hang-up, read error) ends the process: for the
            # host that is the glove being unplugged.
            link = StdioLink(exit_on_eof=True)
            self.link = link
            self.write = link.write
            self.read_rx = link.read_rx
            self.flush = link.flush

    # -- battery and signal (STATUS) --------------------------------------------------------

    def _open_battery(self):
        """A simulated LiPo from GLOVECOACH_SIM_BATTERY_V ("4.1" or "4.1:0.5" V per hour).

        Kept as integers (mV, mV/h), so battery_mv() allocates nothing at STATUS time."""
        self._battery_start_mv = None
        self._battery_drain_mv_h = 100
        self._battery_t0 = time.ticks_ms()
        text = os.getenv("GLOVECOACH_SIM_BATTERY_V")
        if text:
            volts, _, drain = text.partition(":")
            self._battery_start_mv = int(float(volts) * 1000 + 0.5)
            if drain:
                self._battery_drain_mv_h = int(float(drain) * 1000 + 0.5)
        rssi = os.getenv("GLOVECOACH_SIM_RSSI_DBM")
        self._rssi = int(rssi) if rssi else None

    def battery_mv(self):
        """Battery voltage in mV (0xFFFF: no battery simulated), falling linearly to 3.0 V."""
        start = self._battery_start_mv
        if start is None:
            return 0xFFFF
        seconds = time.ticks_diff(time.ticks_ms(), self._battery_t0) // 1000
        mv = start - seconds * self._battery_drain_mv_h // 3600
        floor = 3000 if start > 3000 else start
        return mv if mv > floor else floor

    def rssi_dbm(self):
        """The WiFi signal while frames go over MQTT (GLOVECOACH_SIM_RSSI_DBM), else unknown."""
        if self._rssi is None or not getattr(self.link, "network", False):
            return -128
        return self._rssi

    # -- signal source --------------------------------------------------------------

    def _open_signal(self, path):
        try:
            f = open(path, "rb")
        except OSError as exc:
            raise SignalFileError("signal file %s cannot be opened (%s)" % (path, exc))
        head = f.read(GCSIG_HEADER_BYTES)
        if len(head) < GCSIG_HEADER_BYTES or head[:8] != GCSIG_MAGIC:
            raise SignalFileError("signal file %s: not a .gcsig file (bad magic)" % path)
        n_channels, rate_hz, n_samples = struct.unpack_from("<HHI", head, 8)
        if n_channels != self.n_channels:
            raise SignalFileError("signal file %s has %d channels, the sensor map has %d"
                                  % (path, n_channels, self.n_channels))
        if n_samples == 0:
            raise SignalFileError("signal file %s holds no samples" % path)
        size = os.stat(path)[6]
        expected = GCSIG_HEADER_BYTES + n_samples * self.row_bytes
        if size < expected:
            raise SignalFileError("signal file %s is truncated: %d bytes, header promises %d"
                                  % (path, size, expected))
        self.signal_rate_hz = rate_hz
        self._n_rows = n_samples
        self._row = 0
        self._file = f

    def _on_true_time(self, epoch_text):
        """Play the signal file against real time from the epoch (see the module's doc).

        The position in the file is kept in 1e-9 rows (integers: no float on the heap): each
        slot of the device's grid lasts 1 / (1 + ppm) of a nominal period in real time, so it
        moves the position on by that many rows."""
        if self._file is None:
            raise SignalFileError("GLOVECOACH_SIM_SIGNAL_EPOCH_US is set but there is no signal "
                                  "file (GLOVECOACH_SIM_SIGNAL) to play against real time")
        try:
            self._epoch_us = int(epoch_text)
        except ValueError:
            raise ValueError("GLOVECOACH_SIM_SIGNAL_EPOCH_US=%r: expected a whole number of "
                             "microseconds of the machine's monotonic clock" % epoch_text)
        self._true_rate_hz = int(self.signal_rate_hz or 0)
        if self._true_rate_hz <= 0:
            raise SignalFileError("signal file %s gives no rate: it cannot be played against "
                                  "real time" % self.signal_path)
        self._row_pos = -1       # until the first slot reads
        self._row_step = PPB * PPB // (PPB + Crystal.ppb)
        self._row_span = self._n_rows * PPB

    def _true_position(self):
        """Where in the file real time stands now (the first slot's read; allocates, once),
        half a row on, so that each slot reads the row nearest its instant."""
        elapsed = _real_ticks_diff(_real_ticks_us(), self._epoch_us)
        rows, rest = divmod(elapsed * self._true_rate_hz, 1000000)
        return ((rows % self._n_rows) * PPB + rest * (PPB // 1000000) + PPB // 2) % self._row_span

    def _make_pattern(self, cfg):
        self._floor = [cfg.unloaded_counts(c) for c in cfg.channels]
        # The stroke is felt by the hand; spine channels stay at their unloaded floor.
        glove = [i for i, c in enumerate(cfg.channels) if c.region != "spine"]
        self._moving = [0] * self.n_channels   # 1 for channels the stroke passes over
        self._offset = [0] * self.n_channels
        for k, i in enumerate(glove):
            self._moving[i] = 1
            self._offset[i] = k * (PATTERN_SLOTS - PATTERN_BUMP_SLOTS) // (2 * max(1, len(glove)))
        import math
        wave = [0] * PATTERN_SLOTS
        for s in range(PATTERN_BUMP_SLOTS):
            wave[s] = int(PATTERN_PEAK_COUNTS * (1 - math.cos(2 * math.pi * s / PATTERN_BUMP_SLOTS)) / 2)
        self._wave = wave
        self._slot = 0

    def read_sample(self, row):
        """Fill row (memoryview of 2*n_channels bytes) with one sample, u16 little-endian."""
        f = self._file
        if f is not None and self._epoch_us is not None:
            pos = self._row_pos
            if pos < 0:
                pos = self._true_position()
            r = pos // PPB
            if r != self._row:      # a skewed grid now and then skips or repeats a row
                f.seek(GCSIG_HEADER_BYTES + r * self.row_bytes)
            f.readinto(row)
            self._row = r + 1
            pos += self._row_step
            if pos >= self._row_span:
                pos -= self._row_span
            self._row_pos = pos
            return
        if f is not None:
            if self._row == self._n_rows:
                f.seek(GCSIG_HEADER_BYTES)
                self._row = 0
            f.readinto(row)
            self._row += 1
            return
        slot = self._slot
        wave = self._wave
        floor = self._floor
        moving = self._moving
        offset = self._offset
        for c in range(self.n_channels):
            v = floor[c]
            if moving[c]:
                v += wave[(slot + offset[c]) % PATTERN_SLOTS]
            row[2 * c] = v & 0xFF
            row[2 * c + 1] = v >> 8
        slot += 1
        self._slot = 0 if slot == PATTERN_SLOTS else slot

    def skip_slots(self, n):
        """Skipped slots still pass in the signal, so playback stays on the slot timeline."""
        if self._epoch_us is not None:
            if self._row_pos >= 0:
                self._row_pos = (self._row_pos + n * self._row_step) % self._row_span
            return
        if self._file is not None:
            self._row = (self._row + n) % self._n_rows
            self._file.seek(GCSIG_HEADER_BYTES + self._row * self.row_bytes)
        else:
            self._slot = (self._slot + n) % PATTERN_SLOTS

    def feed_watchdog(self):
        pass

    def sleep_us(self, us):
        self._sleep_us(us)

    def reset(self):
        self.flush()
        sys.exit(RESET_EXIT_STATUS)

    def boot_message(self):
        clock = " on a crystal %+.1f ppm off" % self.clock_ppm if self.clock_ppm else ""
        if self._epoch_us is not None:
            clock += ", against real time"
        if self._file is not None:
            return "simulated glove playing %s (%d rows made at %d Hz)%s" % (
                self.signal_path, self._n_rows, self.signal_rate_hz or 0, clock)
        return "simulated glove playing the built-in stroke pattern" + clock
