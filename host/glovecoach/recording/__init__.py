"""The `.gcrec` session file: lossless raw samples plus everything needed to replay a session,
of one device (`RecordingWriter`, `open_recording`) or of a station's devices, each its own
stream (`StationRecordingWriter`, `open_station_recording`); `open_any_recording` reads both.

Layout and guarantees: docs/recording-format.md.
"""

from __future__ import annotations

from glovecoach.recording.export import export_csv
from glovecoach.recording.format import (
    FORMAT_VERSION,
    FRAME_DTYPE,
    INSTRUCTOR_MESSAGE_NOTE,
    MARK_NOTE,
    STATION_FORMAT_VERSION,
    RecordingError,
)
from glovecoach.recording.reader import (
    Note,
    Recording,
    SessionGap,
    StationRecording,
    open_any_recording,
    open_recording,
    open_station_recording,
)
from glovecoach.recording.writer import DeviceStreamWriter, RecordingWriter, StationRecordingWriter

__all__ = [
    "FORMAT_VERSION",
    "FRAME_DTYPE",
    "INSTRUCTOR_MESSAGE_NOTE",
    "MARK_NOTE",
    "STATION_FORMAT_VERSION",
    "DeviceStreamWriter",
    "SessionGap",
    "Note",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "StationRecording",
    "StationRecordingWriter",
    "export_csv",
    "open_any_recording",
    "open_recording",
    "open_station_recording",
]
