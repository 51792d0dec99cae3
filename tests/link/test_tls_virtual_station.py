"""A virtual station whose three devices (the real firmware) reach a classroom's Mosquitto
over TLS with their own logins, as provisioned gloves with `--ca` do."""

from __future__ import annotations

import pytest
from test_virtual_station_mqtt import check_station_streams
from tls_certs import make_room_tls

from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from glovecoach.link.virtual_station import DEFAULT_GLOVE_IDS
from glovecoach.simulate.station import virtual_station
from glovecoach.vocabulary.station import STATION_ROLES
from mqtt_helpers import MOSQUITTO

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")


def test_a_station_of_tls_devices_streams_through_a_tls_room(tmp_path, monkeypatch):
    tls = make_room_tls(tmp_path / "certs")
    ids = {role: DEFAULT_GLOVE_IDS[role] for role in STATION_ROLES}
    accounts = RoomAccounts.create("room3", devices=ids.values())
    monkeypatch.setenv("GLOVECOACH_MQTT_USER", "instructor")
    monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", accounts.screens["instructor"])
    with RoomBroker(accounts, host="127.0.0.1", tls=tls) as broker, \
            virtual_station(6, 120, transport="mqtt", broker_url=f"mqtts://127.0.0.1:{broker.port}", room="room3",
                            tls_ca=tls.cafile,
                            device_passwords={role: accounts.devices[ids[role]] for role in STATION_ROLES}) as station:
        for role in STATION_ROLES:
            assert station.urls[role] == (f"mqtts://127.0.0.1:{broker.port}/room3/{ids[role]}?ca={tls.cafile}")
            config = (station.folder / f"{role}.net.json").read_text()
            assert "BEGIN CERTIFICATE" in config
        check_station_streams(station, seconds=1.5)


def test_tls_ca_needs_the_brokers_url(tmp_path):
    tls = make_room_tls(tmp_path / "certs")
    with pytest.raises(ValueError, match="broker_url"):
        virtual_station(6, 120, transport="mqtt", tls_ca=tls.cafile)
