"""TARE (protocol command 0x84): average the next n samples of every channel.

Everything about TARE is here: its limits, whether a request may start, the running sums
(fed one row per slot by the sampler, without allocating), the offsets it ends with and
their ACK. The stream stays raw; the host gets the offsets in the ACK and in HELLO "tare".
"""

import micropython
from micropython import const

from glove import frames
from glove.commands import CMD_TARE

# TARE n = 0 asks for this many samples.
DEFAULT_N = const(64)
# While TARE runs, a second TARE is BUSY, SET_RATE is BUSY (a slower rate would stretch it)
# and the host waits for the ACK; so n is bounded by time, not count: at most MAX_SECONDS of
# samples at the current rate (1000 at 200 Hz).
MAX_SECONDS = const(5)


@micropython.viper
def add_row(row, n_channels: int, sums):
    """sums[c] += row[c] for every channel (u16 samples into u32 accumulators)."""
    r = ptr16(row)
    s = ptr32(sums)
    c = 0
    while c < n_channels:
        s[c] = int(s[c]) + int(r[c])
        c += 1


class Tare:
    def __init__(self, n_channels, writer):
        self.n_channels = n_channels
        self.writer = writer
        self.sums = bytearray(4 * n_channels)
        self.n = 0           # samples asked for by the running (or last) TARE
        self.left = 0        # samples still to add; 0 when no TARE runs
        self.token = 0
        self.offsets = None  # the last TARE's result, for HELLO; None before the first

    def start(self, n, token, rate_hz):
        """Begin TARE n (0: the default). Returns None, or (ERROR code, message) if refused."""
        n = n or DEFAULT_N
        most = MAX_SECONDS * rate_hz
        if n > most:
            return (frames.ERR_BAD_ARGUMENT,
                    "TARE n %d outside 1..%d (%d s at %d Hz; 0 means %d)"
                    % (n, most, MAX_SECONDS, rate_hz, DEFAULT_N))
        if self.left:
            return (frames.ERR_BUSY,
                    "TARE already running (%d of %d samples left)" % (self.left, self.n))
        sums = self.sums
        for i in range(len(sums)):
            sums[i] = 0
        self.n = n
        self.left = n
        self.token = token
        return None   # the ACK follows when the samples are in

    def blocks_rate_change(self):
        """Why SET_RATE must wait (a running TARE), or None."""
        if self.left:
            return "TARE running (%d of %d samples left): SET_RATE after its ACK" % (self.left, self.n)
        return None

    def add(self, row):
        """Add one sample row (called by the sampler only while `left`); ACK when complete."""
        add_row(row, self.n_channels, self.sums)
        self.left -= 1
        if not self.left:
            self._finish()

    def _finish(self):
        n = self.n
        sums = self.sums
        offsets = []
        for c in range(self.n_channels):
            s = sums[4 * c] | sums[4 * c + 1] << 8 | sums[4 * c + 2] << 16 | sums[4 * c + 3] << 24
            offsets.append((s + n // 2) // n)
        self.offsets = offsets
        self.writer.send_ack(self.token, CMD_TARE, {"offsets": offsets})
