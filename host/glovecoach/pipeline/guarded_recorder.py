"""`GuardedRecorder`: a live session's recording writer that fails once, in words, and lets the
session go on.

When the recording cannot go on (the disk is full, the drive was pulled), the people are told
once (``on_failure(reason)``), what was written stays readable, and the coaching goes on
without recording instead of the session failing. Used by the station app's controllers and by
the classroom, whose other stations must not stop because one station's file did.
"""

from __future__ import annotations

from typing import Any

from glovecoach.recording import RecordingError


class GuardedRecorder:
    """The session's recording writer, for a live session: when the recording cannot go on (the
    disk is full, the drive was pulled), the people are told once, what was written stays
    readable, and the coaching goes on without recording instead of the window failing.

    It guards a `RecordingWriter` and a `StationRecordingWriter` alike: a station's device
    streams (`devices`, `device(role)`) come wrapped too and share the one failure, so a full
    disk met by the left glove's stream stops the recording of the whole station, once."""

    GUARDED = frozenset({"write_samples", "write_gap", "write_status", "write_note", "flush",
                         "note", "set_station_origin", "set_device_info", "set_alignment"})

    def __init__(self, writer: Any, on_failure, *, root: GuardedRecorder | None = None) -> None:
        self.writer = writer
        self.on_failure = on_failure
        self._root = root or self
        self.failed: str | None = None

    def _fail(self, exc: RecordingError) -> None:
        root = self._root
        if root.failed is None:
            root.failed = str(exc)
            root.on_failure(root.failed)

    def _call(self, name: str, *args, **kwargs) -> None:
        if self._root.failed is not None:
            return
        try:
            getattr(self.writer, name)(*args, **kwargs)
        except RecordingError as exc:
            self._fail(exc)

    def write_samples(self, *args, **kwargs) -> None:
        self._call("write_samples", *args, **kwargs)

    def write_gap(self, *args, **kwargs) -> None:
        self._call("write_gap", *args, **kwargs)

    def write_status(self, *args, **kwargs) -> None:
        self._call("write_status", *args, **kwargs)

    def write_note(self, *args, **kwargs) -> None:
        self._call("write_note", *args, **kwargs)

    def flush(self) -> None:
        self._call("flush")

    @property
    def devices(self) -> dict[str, GuardedRecorder]:
        """A station writer's device streams, each guarded by this recorder."""
        return {role: GuardedRecorder(stream, self.on_failure, root=self._root)
                for role, stream in self.writer.devices.items()}

    def device(self, role: str) -> GuardedRecorder:
        return GuardedRecorder(self.writer.device(role), self.on_failure, root=self._root)

    def close(self, **kwargs) -> None:
        try:
            self.writer.close(**kwargs)
        except RecordingError as exc:
            self._fail(exc)

    def __getattr__(self, name: str):
        # note, set_station_origin, set_device_info, set_alignment (a station's) are guarded
        # as the methods above; anything else (paths, counters) is the writer's own
        if name in GuardedRecorder.GUARDED:
            return lambda *args, **kwargs: self._call(name, *args, **kwargs)
        return getattr(self.writer, name)
