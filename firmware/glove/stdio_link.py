"""The byte link to the host over the MicroPython stdio stream (USB CDC, UART or a pty)."""

import select
import sys

import micropython


class StdioLink:
    """Blocking writes of whole frames; non-blocking reads of whatever the host sent.

    MicroPython's stream readinto(buf, n) waits until it has n bytes, so reads go one byte
    at a time while the poller reports data (commands are a few dozen bytes and rare).
    `exit_on_eof`: the simulated glove ends when the host closes its side (an unplug); a
    real glove keeps running.
    """

    def __init__(self, exit_on_eof):
        micropython.kbd_intr(-1)   # command bytes may contain 0x03 (Ctrl-C)
        self.exit_on_eof = exit_on_eof
        self.eof = False    # the host side closed (only seen when exit_on_eof is off)
        self._out = sys.stdout.buffer
        self._in = sys.stdin.buffer
        self._one = bytearray(1)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        # ipoll allocates its result tuple on first use only: make that use now.
        for _ in self._poll.ipoll(0):
            break

    def write(self, buf, n):
        try:
            self._out.write(buf, 0, n)
        except OSError:
            # EIO once the host has closed the pty: the glove is unplugged.
            if self.exit_on_eof:
                sys.exit(0)
            raise

    def flush(self):
        # Not every port's stdout stream has flush(); where it is missing, writes are direct.
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()

    def read_rx(self, buf):
        """Read up to len(buf) bytes that are already waiting; return how many."""
        n = 0
        one = self._one
        limit = len(buf)
        while n < limit:
            events = 0
            for _obj, ev in self._poll.ipoll(0):
                events = ev
            if not events:
                break
            try:
                got = self._in.readinto(one, 1)
            except OSError:
                got = 0
            if not got:
                if self.exit_on_eof:
                    sys.exit(0)
                self.eof = True
                break
            buf[n] = one[0]
            n += 1
        return n
