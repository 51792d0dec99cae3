"""hardware/make_diagrams.py: the wiring and placement drawings come from the sensor map."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from glovecoach.vocabulary.resources import sensor_map_path
from glovecoach.vocabulary.sensors import load_sensor_map
from hwscripts import HARDWARE_DIR, load_script

md = load_script("make_diagrams")
SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(svg_text: str) -> list[str]:
    root = ET.fromstring(svg_text)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]


def generate(tmp_path, mutate=None) -> tuple[str, str]:
    data = json.loads(sensor_map_path().read_text())
    if mutate:
        mutate(data)
    path = tmp_path / "sensor_map.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    out.mkdir()
    md.write_diagrams(path, out)
    return (out / "wiring.svg").read_text(), (out / "placement.svg").read_text()


def test_committed_drawings_match_the_sensor_map(tmp_path):
    wiring, placement = generate(tmp_path)
    assert (HARDWARE_DIR / "wiring.svg").read_text() == wiring, \
        "hardware/wiring.svg is stale: run python hardware/make_diagrams.py"
    assert (HARDWARE_DIR / "placement.svg").read_text() == placement, \
        "hardware/placement.svg is stale: run python hardware/make_diagrams.py"


def test_wiring_has_every_channel_with_its_mux_input_and_resistors(tmp_path):
    wiring, _ = generate(tmp_path)
    labels = texts(wiring)
    smap = load_sensor_map()
    for ch in smap.channels:
        assert ch.id in labels
        # The line under each channel id names its mux and input, as in the sensor map.
        detail = labels[labels.index(ch.id) + 1]
        mux_part = "CD74HC4067 I" if ch.mux == "glove_mux" else "CD74HC4051 Y"
        assert detail.endswith(f"{mux_part}{ch.mux_input}"), (ch.id, detail)
    assert labels.count("Rd 2.2 kΩ") == sum(c.divider_ohm == 2200 for c in smap.channels)
    assert labels.count("Rb 56 kΩ") == sum(c.bias_ohm == 56000 for c in smap.channels)
    for gpio in (36, 39, 25, 26, 27, 14):
        assert any(f"GPIO{gpio}" in t for t in labels)
    assert "J1 (13-pin)" in labels and "J2 (9-pin)" in labels
    assert "unused I12, I13, I14, I15: tie to GND" in labels


def test_changing_the_map_changes_the_drawing(tmp_path):
    def swap(data):
        for ch in data["channels"]:
            if ch["id"] == "palm_heel":
                ch["divider_ohm"], ch["bias_ohm"] = 3300, 39000
        data["select_gpio"] = [32, 33, 27, 14]
    wiring, _ = generate(tmp_path, swap)
    labels = texts(wiring)
    assert "Rd 3.3 kΩ" in labels and "Rb 39 kΩ" in labels
    assert any(t.startswith("GPIO32") for t in labels)
    assert not any(t.startswith("GPIO25") for t in labels)


def test_placement_labels_every_sensor_and_refuses_an_unplaced_one(tmp_path):
    _, placement = generate(tmp_path)
    labels = texts(placement)
    for ch in load_sensor_map().channels:
        assert ch.id in labels
    assert any(t.startswith("C7 · 0 mm") for t in labels)
    assert any(t.startswith("sacrum") for t in labels)

    def add_wrist(data):
        data["channels"].append({"id": "wrist", "region": "palm", "group": "palm",
                                 "mux": "glove_mux", "mux_input": 12, "divider_ohm": 2200,
                                 "bias_ohm": 27000})
    other = tmp_path / "with_wrist"
    other.mkdir()
    with pytest.raises(md.DiagramError, match="wrist"):
        generate(other, add_wrist)


def test_drawings_render_with_qt(tmp_path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QImage

    for name in ("wiring", "placement"):
        png = tmp_path / f"{name}.png"
        md.render_png(HARDWARE_DIR / f"{name}.svg", png)
        image = QImage(str(png))
        root = ET.parse(HARDWARE_DIR / f"{name}.svg").getroot()
        assert (image.width(), image.height()) == (int(root.get("width")), int(root.get("height")))
        # Not blank: a sparse grid over the whole picture finds lines and text.
        samples = [image.pixelColor(x, y).lightness()
                   for y in range(0, image.height(), 7) for x in range(0, image.width(), 7)]
        dark = sum(1 for v in samples if v < 160)
        assert dark > 0.01 * len(samples), name
