"""The `.gcrec` session file: lossless raw samples plus everything needed to replay a session.

Layout and guarantees: docs/recording-format.md.
"""

from __future__ import annotations

from glovecoach.recording.export import export_csv
from glovecoach.recording.format import FORMAT_VERSION, FRAME_DTYPE, RecordingError
from glovecoach.recording.reader import Note, Recording, SessionGap, open_recording
from glovecoach.recording.writer import RecordingWriter

__all__ = [
    "FORMAT_VERSION",
    "FRAME_DTYPE",
    "SessionGap",
    "Note",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "export_csv",
    "open_recording",
]
