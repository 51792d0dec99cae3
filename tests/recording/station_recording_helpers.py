"""A three-device station session on disk, shared by the station recording tests.

Each device gets its own length, gaps and HELLO, so a stream mixed up with another, or a row
put at the wrong index, shows: `pattern` values identify (index, channel) and each device's
rows are offset by its own amount.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glovecoach.recording import StationRecordingWriter
from glovecoach.vocabulary.station import StationLayout
from recording_helpers import frames_for, pattern

LAYOUT = StationLayout.full()
RATE = 200

HELLOS = {
    "left_glove": {"glove_id": "GL-0001", "role": "left_glove", "firmware": "0.2.0", "board": "esp32s3",
                   "boot_id": 11},
    "right_glove": {"glove_id": "GR-0002", "role": "right_glove", "firmware": "0.2.0", "board": "esp32s3",
                    "boot_id": 22},
    "spine_strip": {"glove_id": "SP-0003", "role": "spine_strip", "firmware": "0.2.0", "board": "esp32",
                    "boot_id": 33},
}
OFFSET = {"left_glove": 0, "right_glove": 1000, "spine_strip": 2000}

# What each device's stream holds: ("samples", first, n) or ("gap", first, n, reason, exact).
# The left glove is there throughout; the right one loses frames twice and reboots (an
# estimated gap); the strip joins late and stops early.
PLAN = {
    "left_glove": [("samples", 0, 600)],
    "right_glove": [("samples", 0, 120), ("gap", 120, 8, "link: 2 frames lost", True),
                    ("samples", 128, 200), ("gap", 328, 40, "device rebooted", False),
                    ("samples", 368, 232)],
    "spine_strip": [("gap", 0, 100, "joined late", False), ("samples", 100, 300)],
}


def rows(role: str, first: int, n: int) -> np.ndarray:
    channels = len(LAYOUT.device(role).channels)
    return ((pattern(first, n, channels).astype(np.int64) + OFFSET[role]) % 4096).astype(np.uint16)


def device_frames(role: str, first: int, n: int) -> np.ndarray:
    frames = frames_for(first, n)
    frames["host_time"] += OFFSET[role] / 1e6  # each device's own arrival times
    return frames


def write_station(path: Path, *, chunk: int = 4, close: bool = True, flush_each: bool = False,
                  **writer_args) -> StationRecordingWriter:
    """The PLAN written interleaved across devices, `chunk` samples (one wire frame) at a time,
    as a station pipeline would; closed with alignment summaries unless `close` is false."""
    writer = StationRecordingWriter(path, LAYOUT, RATE, {"trainee": "Bo", "transports": {"spine_strip": "mqtt"}},
                                    **writer_args)
    for role, hello in HELLOS.items():
        writer.device(role).set_device_info(hello, host_time=1000.0)
    writer.device("left_glove").write_note("transport", {"transport": "usb", "port": "/dev/ttyACM0"})
    steps = {role: [] for role in PLAN}
    for role, items in PLAN.items():
        for item in items:
            if item[0] == "gap":
                steps[role].append(item)
            else:
                _, first, n = item
                steps[role] += [("samples", f, min(chunk, first + n - f)) for f in range(first, first + n, chunk)]
    writer.set_station_origin(999.5)
    while any(steps.values()):
        for role, todo in steps.items():
            if not todo:
                continue
            item = todo.pop(0)
            device = writer.device(role)
            if item[0] == "gap":
                device.write_gap(item[1], item[2], item[3], exact=item[4])
            else:
                device.write_samples(item[1], rows(role, item[1], item[2]), device_frames(role, item[1], item[2]))
            if flush_each:
                writer.flush()
    writer.device("right_glove").write_status(1001.0, {"seq": 5, "dropped_samples": 0})
    writer.device("right_glove").set_device_info({**HELLOS["right_glove"], "boot_id": 23}, host_time=1001.9)
    writer.note("checklist", {"warm_hands": True}, host_time=1002.0)
    writer.device("left_glove").set_alignment({"offset_s": -0.002, "ppm": 12.0})
    if close:
        writer.close(alignment={"right_glove": {"offset_s": 0.0123, "ppm": -41.5}}, station_samples=610)
    return writer


def expected_index(role: str) -> np.ndarray:
    return np.concatenate([np.arange(item[1], item[1] + item[2]) for item in PLAN[role] if item[0] == "samples"])
