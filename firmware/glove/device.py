"""Boot sequence and main loop: wires config, HAL, frame writer, sampler and commands."""

import os
import sys
import time

from glove import frames, maintenance
from glove.commands import CommandHandler
from glove.config import default_role, default_sensor_map_path, load_sensor_map
from glove.hal import open_hal
from glove.sampler import Sampler


def new_boot_id():
    b = os.urandom(4)
    return b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24


def build(main_file):
    """Load the sensor map for this device's role, open the HAL and create the sampler and
    command handler."""
    on_device = sys.platform == "esp32"
    cfg = load_sensor_map(default_sensor_map_path(main_file, on_device),
                          default_role(main_file, on_device))
    hal = open_hal(cfg)
    battery = getattr(hal, "battery_mv", None)
    if battery is not None:
        battery()   # its first call sets up the battery ADC: at boot, not in the loop
    writer = frames.FrameWriter(hal.write)
    sampler = Sampler(cfg, hal, writer, new_boot_id())
    handler = CommandHandler(sampler, writer, hal, maintenance.flag_path(main_file))
    return hal, writer, sampler, handler


def _report_boot_failure(exc):
    # Without a sensor map or HAL there is nothing to sample; tell the host why (as a
    # LOG frame, readable by any protocol v1 receiver) before giving up.
    try:
        out = sys.stdout.buffer
        writer = frames.FrameWriter(lambda buf, n: out.write(buf, 0, n))
        out.write(b"\x00")
        writer.send_log(frames.LOG_ERROR, "boot failed: %s" % exc)
    except Exception:
        pass


def main(main_file):
    if maintenance.take(maintenance.flag_path(main_file)):
        # Asked for by the MAINTENANCE command before the last reset: return to the REPL
        # before anything turns Ctrl-C off or starts the watchdog (glove/maintenance.py).
        print(maintenance.BOOT_LINE)
        return
    try:
        hal, writer, sampler, handler = build(main_file)
    except Exception as exc:
        _report_boot_failure(exc)
        raise
    link = getattr(hal, "link", None)
    if link is not None and hasattr(link, "on_up"):
        # A network link announces the device again after each (re)connect to the broker.
        link.on_up = lambda: writer.send_hello(sampler.hello_info())
    hal.write(b"\x00", 1)   # terminate whatever the host saw before (boot-loader text)
    writer.send_hello(sampler.hello_info())
    writer.send_log(frames.LOG_INFO, hal.boot_message())
    poll = handler.poll
    sampler.deadline = time.ticks_us()   # the grid starts now, after the boot messages
    while True:
        sampler.run_slot(poll)
