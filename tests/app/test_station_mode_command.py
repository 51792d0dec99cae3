"""`glovecoach app --station`: what it refuses before any window opens, and the virtual
station it starts (each device's own part of a simulated session, in its own channels)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from glovecoach.app.sources import simulated_session
from glovecoach.cli import main as cli_main
from glovecoach.commands import CommandError
from glovecoach.commands.app import parse_broker, virtual_station_urls
from glovecoach.simulate.files import read_signal_file
from glovecoach.vocabulary.sensors import device_map
from glovecoach.vocabulary.station import STATION_ROLES


@pytest.mark.parametrize("argv, words", [
    (["app", "--station", "--port", "/dev/ttyUSB0"], "does not take --port or --replay"),
    (["app", "--station", "--replay", "x.gcrec"], "does not take --port or --replay"),
    (["app", "--broker", "localhost"], "--station-name and --broker are for --station"),
    (["app", "--station", "--broker", "host:port"], "the port must be a number"),
])
def test_station_options_that_cannot_go_together_are_refused(capsys, argv, words):
    assert cli_main(argv) == 2
    assert words in capsys.readouterr().err


def test_broker_is_host_or_host_and_port():
    assert parse_broker("localhost") == ("localhost", 1883)
    assert parse_broker("10.0.0.2:11883") == ("10.0.0.2", 11883)
    with pytest.raises(CommandError, match="HOST or HOST:PORT"):
        parse_broker(":1883")


def test_the_virtual_station_plays_each_devices_own_channels(tmp_path):
    urls = virtual_station_urls("good_session", 4, start_s=100.0, directory=tmp_path)
    assert tuple(urls) == STATION_ROLES
    right = simulated_session("good_session", 4, 100.0)
    left = simulated_session("good_session", 5, 100.0)
    ids = set()
    for role, url in urls.items():
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.scheme == "virtual" and query["role"] == role
        ids.add(query["glove_id"])
        rate, raw = read_signal_file(query["signal"])
        channels = device_map(role).ids
        source = left if role == "left_glove" else right
        assert rate == source.rate_hz and raw.shape == (len(source.raw), len(channels))
        np.testing.assert_array_equal(raw, source.raw[:, [source.channels.index(c) for c in channels]])
    assert len(ids) == 3          # three devices, told apart by id
    with pytest.raises(ValueError, match="unknown scenario"):
        virtual_station_urls("no_such_scenario", directory=tmp_path)
