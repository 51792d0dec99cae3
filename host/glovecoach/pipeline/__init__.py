"""The pipeline owner: one device's messages fanned out to listeners, in one direction.

A source (a connected `GloveClient`, or a recording played by `RecordingSource`) yields the
link's messages: sample blocks on the session timeline, gaps, STATUS, link and device events.
A `Notifier` drains it and hands each message to its `Listener`s in the order they were added;
a listener may answer with derived messages (the coaching listener answers a raw block with a
`CoachingUpdate`), which go only to the listeners after it. So data flows one way:

    source --> recorder (raw, lossless) --> coaching (raw -> newtons -> engine) --> display, report

The live app, `record`, `calibrate`, replay and `analyze` all use this; they differ only in
their source and their listeners. (python-can's `Notifier` and `Listener` are the model.)
"""

from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.notifier import Notifier

__all__ = ["Listener", "Notifier"]
