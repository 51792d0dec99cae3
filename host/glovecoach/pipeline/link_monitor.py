"""`LinkMonitor`: what state the device link is in, and how often it went wrong."""

from __future__ import annotations

from glovecoach.pipeline.listener import Listener
from glovecoach.vocabulary.stream import (
    DeviceProblem,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
)

UP, STALLED, DOWN = "up", "stalled", "down"


class LinkMonitor(Listener):
    """`state` is "up", "stalled" (link up, no samples) or "down" (unplugged, reconnecting).

    `link_is_up` says whether commands can be sent (true while stalled); a stall and an
    unplugged cable both leave the trainee without feedback, hence `delivering`.
    """

    def __init__(self) -> None:
        self.state = UP
        self.link_is_up = True
        self.drops = 0
        self.stalls = 0
        self.device_problems = 0

    @property
    def delivering(self) -> bool:
        return self.state == UP

    def on_link_down(self, message: LinkDown) -> None:
        self.state, self.link_is_up = DOWN, False
        self.drops += 1

    def on_link_up(self, message: LinkUp) -> None:
        self.state, self.link_is_up = UP, True

    def on_link_stalled(self, message: LinkStalled) -> None:
        self.state = STALLED
        self.stalls += 1

    def on_link_resumed(self, message: LinkResumed) -> None:
        self.state = UP

    def on_device_problem(self, message: DeviceProblem) -> None:
        self.device_problems += message.count
