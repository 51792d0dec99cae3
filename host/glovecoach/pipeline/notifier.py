"""`Notifier`: drains a source and fans its messages out to listeners."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from glovecoach.pipeline.listener import Listener
from glovecoach.vocabulary.stream import SamplesReceived


class Source(Protocol):
    def poll(self) -> list[Any]:
        """The messages that arrived since the last call (never blocks)."""
        ...


class Notifier:
    """One session's message pump. `pump()` takes what the source has and delivers it.

    With `join_samples` (the default, for a live link) consecutive sample blocks in one poll
    are joined into one before delivery: a listener's cost is mostly per call (a block to the
    engine, a write to the file), and the link hands over a frame's worth at a time. A source
    that already sizes its blocks (a recording) turns it off.
    """

    def __init__(self, source: Source, listeners: Sequence[Listener] = (), *,
                 join_samples: bool = True) -> None:
        self.source = source
        self.listeners: list[Listener] = list(listeners)
        self.join_samples = join_samples

    def pump(self) -> int:
        """Deliver everything the source holds now; returns how many messages it gave."""
        messages = self.source.poll()
        for message in (join_sample_runs(messages) if self.join_samples else messages):
            self.deliver(message)
        return len(messages)

    def deliver(self, message: Any, start: int = 0) -> None:
        """Hand `message` to the listeners from `start` on; what one derives goes to those after it."""
        listeners = self.listeners
        derived_from: list[tuple[Any, int]] = []
        for k in range(start, len(listeners)):
            derived = listeners[k].on_message(message)
            if derived:
                derived_from.extend((d, k + 1) for d in derived)
        # after the message itself has passed every listener: a cause is seen before its effects
        for d, after in derived_from:
            self.deliver(d, after)

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()


def join_sample_runs(messages: Iterable[Any]) -> list[Any]:
    """Join consecutive, contiguous `SamplesReceived` into one (order of everything else kept)."""
    if isinstance(messages, list) and len(messages) < 2:
        return messages     # most polls of a live device: nothing or one frame
    out: list[Any] = []
    run: list[SamplesReceived] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(SamplesReceived(run[0].first_index, np.concatenate([m.raw for m in run]),
                                       np.concatenate([m.frames for m in run])))
        run.clear()

    for m in messages:
        if isinstance(m, SamplesReceived):
            if run and m.first_index != run[-1].first_index + len(run[-1].raw):
                close_run()
            run.append(m)
            continue
        close_run()
        out.append(m)
    close_run()
    return out
