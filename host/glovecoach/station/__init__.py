"""A station: one trainee, one partner, several devices (left glove, right glove, spine strip),
coached as one session. This layer puts every device's samples on one station timeline.

- `alignment`: each device's clock mapped to the host's, and its samples to the station's
  sample index (`StationTimebase`), so a spine contact and the glove force that caused it
  land on the same index whatever the devices' clock offsets and drift.
- `aligner`: `StationAligner`, the devices' link messages (each on its own session index) in,
  `StationSamples` / `StationGap` on the station index out, live or from a recording.
- `replay`: `align_recording`, a station's recorded devices through the same aligner.
- `virtual_frames`: devices simulated at the level of wire frames, with their own clocks, to
  measure all this with.
"""

from glovecoach.station.aligner import DeviceStats, StationAligner
from glovecoach.station.alignment import DeviceAlignment, StationTimebase
from glovecoach.station.replay import AlignedStation, align_recording, align_station_recording

__all__ = ["AlignedStation", "DeviceAlignment", "DeviceStats", "StationAligner", "StationTimebase",
           "align_recording", "align_station_recording"]
