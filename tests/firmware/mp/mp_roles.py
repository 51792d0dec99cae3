# MicroPython: the firmware's own reading of the sensor map per role (glove/config.py).
# argv: sensor_map role... Prints one JSON line: role -> channels, hand, kind, muxes.
import json
import sys

from glove import config

out = {}
for role in sys.argv[2:]:
    cfg = config.load_sensor_map(sys.argv[1], role)
    out[role] = {"channels": cfg.channel_ids, "hand": cfg.hand, "kind": cfg.kind,
                 "muxes": sorted(cfg.multiplexers)}
print(json.dumps(out))
