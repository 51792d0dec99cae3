"""A sensor map whose every station device carries N channels: the issue's "3 devices x 20
channels" as a load, for the classroom scale benchmark.

Today's devices carry 12 (each glove) and 8 (the spine strip) channels (hardware/sensor_map.json).
This map keeps every one of them and adds channels until each device has N: each glove gets
extra hand sensors on its multiplexer's free inputs, then on a second one (cycling through the
fingertip, palm, hand-edge and knuckle regions, so they enter the same region sums the coach
reads), and the strip gets spine segments 9..N on a wider multiplexer pair. It is not a
hardware design: no glove with these sensors exists. It exists so that the host, which reads
its whole channel layout from the map (`GLOVECOACH_SENSOR_MAP`, glovecoach.vocabulary.resources),
can be measured carrying the wider frames, recordings and coaching a 20-channel device brings.

    python benchmarks/wide_sensor_map.py 20 > /tmp/wide_map.json
"""

from __future__ import annotations

import copy
import json
import sys

# The extra glove sensors' regions, in turn (region, group): every region the coach sums.
_EXTRA_REGIONS = (("fingertips", "fingers"), ("palm", "palm"), ("hand_edge", "edge_knuckles"),
                  ("knuckles", "edge_knuckles"))
_MUX_INPUTS = 16   # a CD74HC4067 per added multiplexer


def widened_sensor_map(base: dict, per_device: int) -> dict:
    """``base`` (a parsed hardware/sensor_map.json) with every glove and the spine strip
    carrying ``per_device`` channels; the one-board kit carries both muxes' channels as before."""
    out = copy.deepcopy(base)
    channels = out["channels"]
    glove = [c for c in channels if c["region"] != "spine"]
    spine = [c for c in channels if c["region"] == "spine"]
    extra_glove, extra_spine = per_device - len(glove), per_device - len(spine)
    if extra_glove < 0 or extra_spine < 0:
        raise ValueError(f"{per_device} channels per device is fewer than today's "
                         f"{len(glove)} (glove) and {len(spine)} (spine strip)")
    if per_device > 2 * _MUX_INPUTS:
        raise ValueError(f"at most {2 * _MUX_INPUTS} channels per device (two 16-input multiplexers)")
    muxes = out["multiplexers"]
    # Free ADC1 pins (ADC2 is unusable with WiFi on): 36, 39 and 35 are taken by the map.
    muxes["glove_aux_mux"] = {"part": "CD74HC4067", "inputs": _MUX_INPUTS, "adc_gpio": 34,
                              "adc_unit": 1, "adc_channel": 6}
    muxes["spine_mux"] = dict(muxes["spine_mux"], part="CD74HC4067", inputs=_MUX_INPUTS)
    muxes["spine_aux_mux"] = {"part": "CD74HC4067", "inputs": _MUX_INPUTS, "adc_gpio": 32,
                              "adc_unit": 1, "adc_channel": 4}
    kinds = out["kinds"]
    kinds["glove"]["multiplexers"] = ["glove_mux", "glove_aux_mux"]
    kinds["spine_strip"]["multiplexers"] = ["spine_mux", "spine_aux_mux"]
    kinds["kit"]["multiplexers"] = ["glove_mux", "glove_aux_mux", "spine_mux", "spine_aux_mux"]
    # Added hand sensors take the glove mux's free inputs first (today's 12 leave 4 of 16), then
    # the second multiplexer's.
    free = [("glove_mux", i) for i in range(muxes["glove_mux"]["inputs"])
            if i not in {c["mux_input"] for c in glove if c["mux"] == "glove_mux"}]
    free += [("glove_aux_mux", i) for i in range(_MUX_INPUTS)]
    if extra_glove > len(free):
        raise ValueError(f"at most {len(glove) + len(free)} channels per glove (two 16-input multiplexers)")
    added_glove = []
    for k, (mux, inp) in zip(range(extra_glove), free):
        region, group = _EXTRA_REGIONS[k % len(_EXTRA_REGIONS)]
        added_glove.append(dict(glove[0], id=f"aux_{k + 1}", region=region, group=group,
                                mux=mux, mux_input=inp, label=f"added sensor {k + 1}",
                                short_label=f"aux {k + 1}", map_label=f"aux {k + 1}"))
    segments = []
    for k in range(len(spine) + extra_spine):
        mux, inp = ("spine_mux", k) if k < _MUX_INPUTS else ("spine_aux_mux", k - _MUX_INPUTS)
        segments.append(dict(spine[0], id=f"spine_{k + 1}", mux=mux, mux_input=inp,
                             label=f"spine segment {k + 1}", short_label=str(k + 1), map_label=f"seg {k + 1}"))
    out["channels"] = glove + added_glove + segments
    out["note"] = (f"benchmark load: every station device carries {per_device} channels "
                   "(benchmarks/wide_sensor_map.py); not a hardware design")
    return out


def main() -> None:
    from glovecoach.vocabulary.resources import sensor_map_path

    with open(sensor_map_path(), encoding="utf-8") as fh:
        base = json.load(fh)
    json.dump(widened_sensor_map(base, int(sys.argv[1])), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
