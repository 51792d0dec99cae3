"""Pairing a station without Qt: devices found on USB (the real firmware on a pty) and on
WiFi (retained HELLOs on a real broker), merged; the assignment rules; the remembered
assignment through a real file, and a remembered device that is not found now."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as paho
import pytest

from glovecoach.app.pairing import (
    FoundDevice,
    PairingError,
    PairingModel,
    Sighting,
    StationDiscovery,
    StationMemory,
    UsbScanner,
    WifiScanner,
    default_stations_path,
    merge_sightings,
)
from glovecoach.link.broker import EmbeddedBroker
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.vocabulary.station import StationLayout
from glovecoach.wire import encode_hello


def usb(device_id: str, role: str, hand: str | None, port: str = "/dev/ttyACM0") -> Sighting:
    return Sighting(device_id, "usb", port, role, hand, "1.4.0")


def wifi(device_id: str, role: str, hand: str | None, online: bool | None = True) -> Sighting:
    return Sighting(device_id, "wifi", f"mqtt://127.0.0.1:1883/room1/{device_id}", role, hand,
                    "1.4.0", online)


def full_station_found() -> list[FoundDevice]:
    return merge_sightings([usb("L-01", "left_glove", "left", "/dev/ttyACM0"),
                            wifi("R-02", "right_glove", "right"),
                            wifi("S-03", "spine_strip", None)])


@pytest.fixture
def memory(tmp_path):
    return StationMemory(tmp_path / "config" / "stations.json")


# ----------------------------------------------------------------------------- finding


def test_a_device_on_usb_and_wifi_is_one_device_used_over_usb():
    found = merge_sightings([
        wifi("R-02", "right_glove", "right"),
        usb("R-02", "right_glove", "right", "/dev/ttyUSB1"),
        wifi("S-03", "spine_strip", None, online=False),
    ])
    assert [d.device_id for d in found] == ["R-02", "S-03"]
    right, strip = found
    assert right.transports == ("usb", "wifi")
    assert right.transport == "usb" and right.address == "/dev/ttyUSB1"
    assert "USB /dev/ttyUSB1" in right.state() and "WiFi (online)" in right.state()
    assert strip.transport == "wifi" and strip.address.startswith("mqtt://127.0.0.1:1883/room1/")
    assert strip.online is False and "offline" in strip.state()


def test_the_live_usb_answer_wins_over_an_old_retained_hello():
    # the retained HELLO is from before the board was redeployed as a left glove
    found = merge_sightings([wifi("G-9", "right_glove", "right"),
                             usb("G-9", "left_glove", "left")])
    assert found[0].role == "left_glove" and found[0].hand == "left"


def test_the_real_firmware_on_usb_is_found_with_its_role(tmp_path):
    with VirtualGlove(role="left_glove", glove_id="VL-1") as glove:
        port = glove.plug()
        scanner = UsbScanner(list_ports=lambda: [port, str(tmp_path / "no-such-port")])
        sightings = scanner()
    assert len(sightings) == 1
    s = sightings[0]
    assert (s.device_id, s.transport, s.address, s.role, s.hand) == \
        ("VL-1", "usb", port, "left_glove", "left")
    assert s.firmware


def test_retained_hellos_on_a_real_broker_are_found_with_presence():
    with EmbeddedBroker() as broker:
        address = broker.address
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        pub.connect(address.host, address.port)
        pub.loop_start()
        try:
            for device_id, role, hand in (("R-02", "right_glove", "right"),
                                          ("S-03", "spine_strip", None)):
                hello = encode_hello({"glove_id": device_id, "role": role, "hand": hand,
                                      "firmware": "1.4.0", "boot_id": 7})
                pub.publish(f"glovecoach/room1/{device_id}/hello", hello, retain=True).wait_for_publish()
            pub.publish("glovecoach/room1/R-02/online", b"1", retain=True).wait_for_publish()
            pub.publish("glovecoach/room1/S-03/online", b"0", retain=True).wait_for_publish()
            pub.publish("glovecoach/room1/X-00/hello", b"not a frame", retain=True).wait_for_publish()
            # a screen that subscribes later still learns about them (retained)
            scanner = WifiScanner(address.host, address.port, room="room1")
            scanner.start()
            try:
                assert scanner.wait_subscribed(5.0), scanner.problem
                deadline = time.monotonic() + 5.0
                # every retained message in: both HELLOs, both presences, the bad one
                def settled() -> bool:
                    seen = scanner()
                    return (len(seen) >= 2 and all(d.online is not None for d in seen)
                            and scanner.bad_hellos >= 1)

                while not settled() and time.monotonic() < deadline:
                    time.sleep(0.05)
                found = StationDiscovery([scanner])()
            finally:
                scanner.stop()
        finally:
            pub.loop_stop()
            pub.disconnect()
    assert [(d.device_id, d.role, d.transport, d.online) for d in found] == [
        ("R-02", "right_glove", "wifi", True), ("S-03", "spine_strip", "wifi", False)]
    assert found[0].address == f"mqtt://{address.host}:{address.port}/room1/R-02"
    assert scanner.bad_hellos == 1


def test_an_unreachable_broker_is_a_problem_shown_not_an_exception():
    scanner = WifiScanner("127.0.0.1", 1, room="room1", connect_timeout=0.5)
    scanner.start()
    discovery = StationDiscovery([scanner, lambda: [usb("L-01", "left_glove", "left")]])
    found = discovery()
    assert [d.device_id for d in found] == ["L-01"]
    assert any("cannot reach the MQTT broker 127.0.0.1:1" in p for p in discovery.problems)


# ----------------------------------------------------------------------------- assigning


def test_each_device_takes_the_role_it_announces(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found())
    assert model.assignment == {"left_glove": "L-01", "right_glove": "R-02", "spine_strip": "S-03"}
    choice = model.choice()
    assert choice.layout == StationLayout.full()
    assert choice.urls()["left_glove"] == "/dev/ttyACM0"
    assert choice.transports() == {"left_glove": "usb", "right_glove": "wifi", "spine_strip": "wifi"}


def test_two_devices_in_one_role_are_refused_with_the_reason(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found() + merge_sightings([usb("R-77", "right_glove", "right",
                                                             "/dev/ttyACM4")]))
    # the first right glove keeps its role; the second is listed, not used
    assert model.assignment["right_glove"] == "R-02" and model.role_of("R-77") is None
    with pytest.raises(PairingError, match="right glove is already R-02.*one device per role"):
        model.assign("R-77", "right_glove")
    model.assign("R-02", None)
    model.assign("R-77", "right_glove")
    assert model.assignment["right_glove"] == "R-77" and model.role_of("R-02") is None


def test_a_strip_cannot_be_a_glove_but_a_glove_can_change_hands(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found())
    with pytest.raises(PairingError, match="S-03 is a spine strip.*cannot be the left glove"):
        model.assign("S-03", "left_glove")
    model.assign("L-01", None)
    model.assign("R-02", "left_glove")        # same board, same channels: the other hand
    assert model.assignment["left_glove"] == "R-02"
    assert any("announces the right hand" in n for n in model.notes("R-02"))


def test_the_kit_is_a_station_on_its_own(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found() + merge_sightings([usb("K-5", "kit", "right", "/dev/ttyACM2")]))
    assert model.role_of("K-5") is None       # its role would clash with the gloves
    with pytest.raises(PairingError, match="The kit is a station on its own"):
        model.assign("K-5", "kit")
    for device_id in ("L-01", "R-02", "S-03"):
        model.assign(device_id, None)
    model.assign("K-5", "kit")
    with pytest.raises(PairingError, match=r"kit \(K-5\) is a station on its own"):
        model.assign("S-03", "spine_strip")
    assert model.choice().layout == StationLayout.kit()


def test_a_station_needs_a_glove(memory):
    model = PairingModel("bench 3", memory)
    model.update(merge_sightings([wifi("S-03", "spine_strip", None)]))
    assert model.problems() == ["A station needs a glove: assign a left or right glove (or the kit)."]
    with pytest.raises(PairingError, match="needs a glove"):
        model.choice()


# ----------------------------------------------------------------------------- remembering


def test_the_assignment_is_remembered_per_station_in_a_real_file(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found())
    model.assign("L-01", None)
    model.assign("R-02", "left_glove")
    path = model.remember()
    assert path == memory.path and path.exists()
    data = json.loads(path.read_text())
    assert data["format"] == "glovecoach-stations"
    devices = data["stations"]["bench 3"]["devices"]
    assert devices["left_glove"]["id"] == "R-02" and devices["left_glove"]["transport"] == "wifi"
    assert set(devices) == {"left_glove", "spine_strip"}
    other = PairingModel("bench 4", memory)
    other.update(merge_sightings([usb("K-5", "kit", "right")]))
    other.remember()
    assert StationMemory(memory.path).stations() == ["bench 3", "bench 4"]

    # next time: the user's choice comes back, not the announced roles
    again = PairingModel("bench 3", StationMemory(memory.path))
    again.update(full_station_found())
    assert again.assignment == {"left_glove": "R-02", "spine_strip": "S-03"}
    assert again.role_of("L-01") is None


def test_a_remembered_device_not_found_now_is_shown_missing_not_dropped(memory):
    model = PairingModel("bench 3", memory)
    model.update(full_station_found())
    model.remember()

    again = PairingModel("bench 3", StationMemory(memory.path))
    # the right glove's battery is flat: only two devices answer
    again.update(merge_sightings([usb("L-01", "left_glove", "left"),
                                  wifi("S-03", "spine_strip", None)]))
    right = again.device_in("right_glove")
    assert right is not None and right.device_id == "R-02" and right.missing
    assert right.state() == "missing: not found now (last on WiFi)"
    assert [d.device_id for d in again.found()] == ["L-01", "R-02", "S-03"]
    assert any("not found now" in n for n in again.notes("R-02"))
    assert again.problems() == ['The right glove (R-02) is not found: plug it in or switch it on, '
                                'or set it to "not used".']
    # a missing glove can change hands: it stays listed, in its new role
    again.assign("L-01", None)
    again.assign("R-02", "left_glove")
    assert again.device_in("left_glove").device_id == "R-02" and again.device_in("left_glove").missing
    again.assign("R-02", "right_glove")
    again.assign("L-01", "left_glove")
    # it comes back: found again, in its remembered role
    again.update(full_station_found())
    assert not again.device_in("right_glove").missing
    assert again.problems() == []
    # or the user goes on without it; a missing device in no role leaves the list
    again.update(merge_sightings([usb("L-01", "left_glove", "left")]))
    again.assign("R-02", None)
    assert "R-02" not in [d.device_id for d in again.found()]
    assert again.device_in("spine_strip").missing       # S-03 went too, still remembered
    # saved while missing, it is kept as it was last reached
    again.remember()
    kept = StationMemory(memory.path).load("bench 3")
    assert set(kept) == {"left_glove", "spine_strip"}
    assert kept["spine_strip"].transport == "wifi" and kept["spine_strip"].address.endswith("/S-03")


def test_a_damaged_file_is_reported_and_pairing_starts_afresh(memory):
    memory.path.parent.mkdir(parents=True)
    memory.path.write_text("{ not json")
    model = PairingModel("bench 3", memory)
    assert model.problem and str(memory.path) in model.problem
    model.update(full_station_found())
    model.remember()                       # replaces the damaged file with a good one
    assert StationMemory(memory.path).load("bench 3")["left_glove"].device_id == "L-01"


def test_the_file_lives_in_the_config_folder_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("GLOVECOACH_STATIONS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_stations_path() == tmp_path / "xdg" / "glovecoach" / "stations.json"
    monkeypatch.setenv("GLOVECOACH_STATIONS", str(tmp_path / "elsewhere.json"))
    assert default_stations_path() == tmp_path / "elsewhere.json"
    assert StationMemory().path == tmp_path / "elsewhere.json"


def test_losing_the_broker_is_a_problem_shown():
    broker = EmbeddedBroker()
    address = broker.start()
    scanner = WifiScanner(address.host, address.port)
    scanner.start()
    try:
        assert scanner.wait_subscribed(5.0) and scanner.problem is None
        broker.stop()
        deadline = time.monotonic() + 5.0
        while scanner.problem is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scanner.problem and f"lost the MQTT broker {address.host}:{address.port}" in scanner.problem
    finally:
        scanner.stop()
        broker.stop()
