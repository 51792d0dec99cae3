"""A station: one trainee, one partner, several devices (left glove, right glove, spine strip),
coached as one session. This layer puts every device's samples on one station timeline.

- `alignment`: each device's clock mapped to the host's, and its samples to the station's
  sample index (`StationTimebase`), so a spine contact and the glove force that caused it
  land on the same index whatever the devices' clock offsets and drift.
"""

from glovecoach.station.alignment import DeviceAlignment, StationTimebase

__all__ = ["DeviceAlignment", "StationTimebase"]
