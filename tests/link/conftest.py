from __future__ import annotations

import os
import tty

import pytest

from glovecoach.link.virtual_glove import VirtualGlove


@pytest.fixture
def virtual_glove():
    """The real firmware in the real MicroPython unix port, behind a real pty."""
    with VirtualGlove(glove_id="GC-TEST-0042") as glove:
        yield glove


@pytest.fixture
def silent_pty():
    """A pty whose other side is open but never answers (a device that is not a glove)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)
