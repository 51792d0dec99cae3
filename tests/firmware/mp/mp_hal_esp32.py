# MicroPython: exercise hal_esp32 against the fake `machine` (pins and ADC only).
# argv: sensor_map board [role]
import json
import sys

import machine

from glove import config, hal_esp32

cfg = config.load_sensor_map(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else None)
board = sys.argv[2]
machine.select_order[:] = hal_esp32.select_pins(cfg, board)
try:
    # boot_grace_ms=0: the test does not need the Ctrl-C window after reset
    hal = hal_esp32.Esp32Hal(cfg, board=board, boot_grace_ms=0)
except ValueError as exc:   # a sensor map this board cannot honour stops the boot
    print(json.dumps({"refused": str(exc)}))
    sys.exit(0)
row = bytearray(2 * cfg.n_channels)
del machine.events[:]
hal.read_sample(memoryview(row))
values = [row[2 * c] | row[2 * c + 1] << 8 for c in range(cfg.n_channels)]
hal.feed_watchdog()
try:
    hal.reset()
    reset_returned = True
except SystemExit:
    reset_returned = False
print(json.dumps({
    "board": hal.board, "glove_id": hal.glove_id, "link": hal.link_bytes_per_s,
    "values": values, "adc_gpios": machine.adc_gpios, "select_gpios": machine.select_order,
    "settings": {str(k): v for k, v in machine.settings.items()},
    "reads": sum(1 for e in machine.events if e[0] == "read"),
    "select_writes": sum(1 for e in machine.events if e[0] == "select"),
    "feeds": machine.wdt_feeds[0], "boot": hal.boot_message(),
    "resets": machine.resets[0], "reset_returned": reset_returned,
    "board_from_machine": [hal_esp32.board_name("Generic ESP32S3 module with ESP32S3"),
                           hal_esp32.board_name("Generic ESP32 module with ESP32")],
}))
