"""Picks the hardware abstraction for the platform the firmware runs on.

Both backends offer the same small interface (see hal_sim.SimHal for the reference):
board, glove_id, link_bytes_per_s, spin_us, read_sample(row), write(buf, n),
read_rx(buf) -> n, feed_watchdog(), boot_message(), reset() (does not return).
"""

import sys


def open_hal(cfg):
    if sys.platform == "esp32":
        from glove.hal_esp32 import Esp32Hal
        return Esp32Hal(cfg)
    from glove.hal_sim import SimHal
    return SimHal(cfg)
