# MicroPython: hal_esp32 with a net.json in the working directory (fake `machine` and
# `network`). argv: sensor_map. Prints the link's progress, then one JSON line.
import json
import sys
import time

import network

from glove import config, hal_esp32

hal_esp32.BOOT_GRACE_MS = 0
cfg = config.load_sensor_map(sys.argv[1])
hal = hal_esp32.Esp32Hal(cfg, board="esp32")
link = hal.link
buf = bytearray(32)
before = link.client.sock is not None
hal.read_rx(buf)                 # WiFi not joined yet: no connection attempt
waiting = link.client.sock is not None
network.connected[0] = True      # the join completes
link._next_try = time.ticks_ms()  # and the retry is due (not waiting out the back-off)
hal.read_rx(buf)
after = link.client.sock is not None
print(json.dumps({"link": type(link).__name__, "link_bytes_per_s": hal.link_bytes_per_s,
                  "connected_before_join": before or waiting, "connected_after_join": after,
                  "wifi_calls": network.calls, "topic_frames": link.topic_frames.decode()}))
link.client.disconnect()
