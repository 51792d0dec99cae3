"""Transports and the device client (docs/link.md).

``open_transport(url)`` gives a byte link to a glove (serial port, virtual glove, replay);
``GloveClient(url)`` turns it into events on the session timeline, with commands and
automatic reconnection.
"""

from __future__ import annotations

from glovecoach.link.client import GloveClient
from glovecoach.link.commands import DeviceCommandError
from glovecoach.link.events import (
    DeviceLog,
    DeviceProblem,
    Event,
    GapDetected,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkStats,
    LinkUp,
    SamplesReceived,
    StatusReceived,
)
from glovecoach.link.transport import LinkLost, Transport, make_transport, open_transport
from glovecoach.link.virtual_glove import VirtualGlove

__all__ = [
    "DeviceCommandError", "DeviceLog", "DeviceProblem", "Event", "GapDetected", "GloveClient", "LinkDown",
    "LinkLost", "LinkResumed", "LinkStalled", "LinkStats", "LinkUp", "SamplesReceived", "StatusReceived",
    "Transport", "make_transport", "open_transport", "VirtualGlove",
]
