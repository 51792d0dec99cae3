from __future__ import annotations

import pytest

from e2e_helpers import signal_rows, write_signal_file


@pytest.fixture
def signal_file(tmp_path):
    """A .gcsig of 4000 self-identifying rows for the firmware to play, and those rows."""
    rows = signal_rows(4000)
    return write_signal_file(tmp_path / "pattern.gcsig", rows), rows
