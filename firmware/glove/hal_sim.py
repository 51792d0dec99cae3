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
            dual = DualLink(net, StdioLink(exit_on_eof=False))
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
        if self._file is not None:
            self._row = (self._row + n) % self._n_rows
            self._file.seek(GCSIG_HEADER_BYTES + self._row * self.row_bytes)
        else:
            self._slot = (self._slot + n) % PATTERN_SLOTS

    def feed_watchdog(self):
        pass

    def sleep_us(self, us):
        time.sleep_us(us)

    def reset(self):
        self.flush()
        sys.exit(RESET_EXIT_STATUS)

    def boot_message(self):
        if self._file is not None:
            return "simulated glove playing %s (%d rows made at %d Hz)" % (
                self.signal_path, self._n_rows, self.signal_rate_hz or 0)
        return "simulated glove playing the built-in stroke pattern"
