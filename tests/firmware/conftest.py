"""Fixtures for the firmware tests (helpers live in fwharness.py)."""

from __future__ import annotations

import pytest

from fwharness import Glove


@pytest.fixture
def glove_factory():
    gloves: list[Glove] = []

    def make(env: dict[str, str] | None = None, use_pty: bool = True) -> Glove:
        g = Glove(env, use_pty)
        gloves.append(g)
        return g

    yield make
    for g in gloves:
        g.close()
