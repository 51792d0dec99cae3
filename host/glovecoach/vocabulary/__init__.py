"""The words every layer shares, lowest in the stack: it imports nothing else of glovecoach
except `glovecoach.vocabulary.resources` (where the sensor map file is).

- `techniques`: the massage techniques, a `Phase` of one technique, their readable names.
- `sensors`: the sensor map (`hardware/sensor_map.json`, the only place channel ids, regions
  and labels are written), channel groups, "is this a spine sensor", readable sensor names.
- `stream`: what flows down a session's pipeline (raw sample blocks, gaps, STATUS, link
  events), made live by the link and from a file by a recording source.
- `blocks`: force blocks (newtons), as the coaching engine takes them.
- `resources`: where the files shared with the firmware live (the firmware, the sensor map),
  inside an installed package or a checkout.
"""
