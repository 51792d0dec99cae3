"""For every test folder: tests marked `mosquitto` need the broker binary (.ci/run installs it);
on a machine without it they are skipped, and say why."""

from __future__ import annotations

import pytest

from glovecoach.link.room_broker import find_mosquitto


def _have_mosquitto() -> bool:
    try:
        find_mosquitto()
    except Exception:  # noqa: BLE001 - any reason it cannot be found is a reason to skip
        return False
    return True


def pytest_collection_modifyitems(config, items) -> None:
    marked = [item for item in items if "mosquitto" in item.keywords]
    if marked and not _have_mosquitto():
        skip = pytest.mark.skip(reason="mosquitto is not installed (.ci/run installs it)")
        for item in marked:
            item.add_marker(skip)
