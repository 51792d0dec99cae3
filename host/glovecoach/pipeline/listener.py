"""`Listener`: one consumer of a session's messages, with a hook per kind of message."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glovecoach.vocabulary.stream import (
    DeviceLog,
    DeviceProblem,
    GapDetected,
    LinkDown,
    LinkResumed,
    LinkStalled,
    LinkUp,
    SamplesReceived,
    StatusReceived,
)

Derived = Iterable[Any] | None


class Listener:
    """Override the hooks you need; each may return derived messages for the listeners after it.

    Hooks run on the thread that pumps the notifier (the GUI thread in the app), in message
    order, and must not block.
    """

    def on_message(self, message: Any) -> Derived:
        hook = _HOOKS.get(type(message))
        if hook is None:
            return self.on_other(message)
        return getattr(self, hook)(message)

    def on_samples(self, message: SamplesReceived) -> Derived:
        return None

    def on_gap(self, message: GapDetected) -> Derived:
        return None

    def on_status(self, message: StatusReceived) -> Derived:
        return None

    def on_link_down(self, message: LinkDown) -> Derived:
        return None

    def on_link_up(self, message: LinkUp) -> Derived:
        return None

    def on_link_stalled(self, message: LinkStalled) -> Derived:
        return None

    def on_link_resumed(self, message: LinkResumed) -> Derived:
        return None

    def on_device_problem(self, message: DeviceProblem) -> Derived:
        return None

    def on_device_log(self, message: DeviceLog) -> Derived:
        return None

    def on_other(self, message: Any) -> Derived:
        """Messages of higher layers (e.g. `CoachingUpdate`), which this layer does not name."""
        return None

    def stop(self) -> None:
        """The session is over: flush and release what the listener holds."""


_HOOKS: dict[type, str] = {
    SamplesReceived: "on_samples", GapDetected: "on_gap", StatusReceived: "on_status",
    LinkDown: "on_link_down", LinkUp: "on_link_up", LinkStalled: "on_link_stalled",
    LinkResumed: "on_link_resumed", DeviceProblem: "on_device_problem", DeviceLog: "on_device_log",
}
