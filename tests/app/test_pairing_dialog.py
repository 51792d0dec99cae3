"""The pairing screen with real widgets (offscreen): devices found by the real discovery (the
firmware on a pty for USB, retained HELLOs on a real broker for WiFi), roles chosen with the
widgets, the pairing saved to a real file; a remembered device not found is shown missing."""

from __future__ import annotations

import json

import paho.mqtt.client as paho
import pytest
from PySide6 import QtWidgets

from glovecoach.app.pairing import (
    PairingModel,
    Sighting,
    StationDiscovery,
    StationMemory,
    UsbScanner,
    WifiScanner,
    merge_sightings,
)
from glovecoach.app.pairing_dialog import PairingDialog
from glovecoach.link.broker import EmbeddedBroker
from glovecoach.link.virtual_glove import VirtualGlove
from glovecoach.vocabulary.station import StationLayout
from glovecoach.wire import encode_hello


def _rows(dialog: PairingDialog) -> dict[str, list[str]]:
    table = dialog.table
    out = {}
    for row in range(table.rowCount()):
        cells = [table.item(row, c).text() if table.item(row, c) else "" for c in range(table.columnCount())]
        cells[4] = table.cellWidget(row, 4).currentText()
        out[cells[0]] = cells
    return out


def _choose(dialog: PairingDialog, device_id: str, role: str | None) -> None:
    box = dialog.role_box(device_id)
    box.setCurrentIndex(box.findData(role))


@pytest.fixture
def broker_with_devices():
    """A real broker holding the retained HELLOs of a left glove and a strip on WiFi."""
    with EmbeddedBroker() as broker:
        address = broker.address
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        pub.connect(address.host, address.port)
        pub.loop_start()
        for device_id, role, hand in (("L-01", "left_glove", "left"), ("S-03", "spine_strip", None)):
            hello = encode_hello({"glove_id": device_id, "role": role, "hand": hand, "firmware": "1.4.0"})
            pub.publish(f"glovecoach/bench/{device_id}/hello", hello, retain=True).wait_for_publish()
            pub.publish(f"glovecoach/bench/{device_id}/online", b"1", retain=True).wait_for_publish()
        try:
            yield address
        finally:
            pub.loop_stop()
            pub.disconnect()


def test_pair_a_station_found_on_usb_and_wifi(qtbot, tmp_path, broker_with_devices):
    address = broker_with_devices
    memory = StationMemory(tmp_path / "stations.json")
    with VirtualGlove(role="right_glove", glove_id="R-02") as glove:
        port = glove.plug()
        wifi = WifiScanner(address.host, address.port, room="bench")
        wifi.start()
        assert wifi.wait_subscribed(5.0)
        discovery = StationDiscovery([UsbScanner(list_ports=lambda: [port]), wifi])
        dialog = PairingDialog(PairingModel("Bench 3", memory), discovery)
        qtbot.addWidget(dialog)
        dialog.resize(1366, 768)
        dialog.show()
        try:
            qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=15000)
        finally:
            wifi.stop()
    rows = _rows(dialog)
    assert rows["R-02"][1:5] == ["right glove", rows["R-02"][2], f"USB {port}", "right glove"]
    assert rows["L-01"][3] == "WiFi (online)" and rows["L-01"][4] == "left glove"
    assert rows["S-03"][4] == "spine strip"
    assert dialog.use_button.isEnabled()

    # the strip cannot be a glove: refused, said why, its chooser back on its role
    _choose(dialog, "S-03", "left_glove")
    assert "S-03 is a spine strip" in dialog.message.text() and dialog.message.isVisible()
    assert dialog.role_box("S-03").currentData() == "spine_strip"
    # nor can two devices share a role
    _choose(dialog, "R-02", "left_glove")
    assert "The left glove is already L-01" in dialog.message.text()
    assert dialog.role_box("R-02").currentData() == "right_glove"
    # the user leaves the strip out of this session
    _choose(dialog, "S-03", None)
    assert dialog.message.text() == "" and dialog.role_box("S-03").currentData() is None
    assert _rows(dialog)["S-03"][5] == "not used"

    dialog.use_button.click()
    assert dialog.result() == QtWidgets.QDialog.DialogCode.Accepted
    choice = dialog.choice
    assert choice.layout == StationLayout.for_roles(("left_glove", "right_glove"))
    assert choice.urls() == {"left_glove": f"mqtt://{address.host}:{address.port}/bench/L-01",
                             "right_glove": port}
    saved = json.loads(memory.path.read_text())["stations"]["Bench 3"]["devices"]
    assert {role: d["id"] for role, d in saved.items()} == {"left_glove": "L-01", "right_glove": "R-02"}
    assert saved["right_glove"]["transport"] == "usb"


def test_a_remembered_device_not_found_is_shown_missing(qtbot, tmp_path):
    memory = StationMemory(tmp_path / "stations.json")
    first = PairingModel("Bench 3", memory)
    first.update(merge_sightings([
        Sighting("L-01", "usb", "/dev/ttyACM0", "left_glove", "left", "1.4.0"),
        Sighting("R-02", "wifi", "mqtt://10.0.0.2:1883/bench/R-02", "right_glove", "right", "1.4.0", True)]))
    first.remember()

    now = merge_sightings([Sighting("L-01", "usb", "/dev/ttyACM0", "left_glove", "left", "1.4.0")])
    dialog = PairingDialog(PairingModel("Bench 3", StationMemory(memory.path)), lambda: now)
    qtbot.addWidget(dialog)
    dialog.resize(1366, 768)
    dialog.show()
    dialog.show_found(now)
    rows = _rows(dialog)
    assert rows["R-02"][3] == "missing: not found now (last on WiFi)"
    assert rows["R-02"][4] == "right glove"
    assert not dialog.use_button.isEnabled()
    assert "The right glove (R-02) is not found" in dialog.hint.text()
    dialog.use_button.click()            # disabled: nothing happens
    assert dialog.choice is None

    # go on without it: its row goes, the station can start with the left glove
    _choose(dialog, "R-02", None)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=2000)
    assert dialog.use_button.isEnabled()
    dialog.accept()
    assert dialog.choice.layout == StationLayout.for_roles(("left_glove",))
    assert set(StationMemory(memory.path).load("Bench 3")) == {"left_glove"}
