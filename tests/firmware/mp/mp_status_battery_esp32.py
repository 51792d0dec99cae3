# MicroPython: hal_esp32's battery sense and WiFi signal against the fake `machine` and
# `network`. argv: sensor_map role. A net.json in the working directory (or none) is the
# test's. Prints one JSON line.
import json
import sys

import machine
import micropython
import network

from glove import config, hal_esp32

cfg = config.load_sensor_map(sys.argv[1], sys.argv[2])
machine.select_order[:] = hal_esp32.select_pins(cfg, "esp32")
machine.microvolts[35] = 1953000          # 3.906 V at the cell, halved by 100k/100k
hal = hal_esp32.Esp32Hal(cfg, board="esp32", boot_grace_ms=0)
first = hal.battery_mv()                  # sets the ADC up (device.build does this at boot)
rssi_before = hal.rssi_dbm()
network.connected[0] = True
micropython.heap_lock()
try:
    battery = hal.battery_mv()
    rssi = hal.rssi_dbm()
finally:
    micropython.heap_unlock()
print(json.dumps({"first": first, "battery": battery, "rssi_before": rssi_before, "rssi": rssi,
                  "adc_gpios": machine.adc_gpios, "link": type(hal.link).__name__,
                  "link_bytes_per_s": hal.link_bytes_per_s, "wifi": hal.net_summary,
                  "wifi_calls": network.calls,
                  "uv_reads": machine.uv_reads[0]}))
