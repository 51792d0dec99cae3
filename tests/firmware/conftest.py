"""Fixtures for the firmware tests (helpers live in fwharness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fwharness import FIRMWARE, Glove


@pytest.fixture
def glove_factory():
    gloves: list[Glove] = []

    def make(env: dict[str, str] | None = None, use_pty: bool = True,
             firmware: Path = FIRMWARE) -> Glove:
        g = Glove(env, use_pty, firmware)
        gloves.append(g)
        return g

    yield make
    for g in gloves:
        g.close()
