"""Draw hardware/wiring.svg and hardware/placement.svg from hardware/sensor_map.json.

Every channel row in the wiring diagram (mux input, divider, bias, connector pin, FSR) and
every sensor in the placement drawing comes from the sensor map, so the drawings cannot drift
from what the firmware and host read. A channel with no drawn position is an error.

    python hardware/make_diagrams.py            # writes both SVGs next to this file
    python hardware/make_diagrams.py --png DIR  # also renders them to PNG (Qt, offscreen)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"

# Sensor part per region (the BOM in hardware/README.md and bom.csv says why).
PART_BY_REGION = {
    "fingertips": "FSR 402",
    "hand_edge": "FSR 402",
    "knuckles": "FSR UX 402",
    "spine": "FSR 406",
}
PART_BY_CHANNEL = {           # palm: the two load-bearing spots get the large square part
    "thenar": "FSR 402",
    "hypothenar": "FSR 402",
    "palm_center": "FSR 406",
    "palm_heel": "FSR 406",
}
GROUP_COLOUR = {
    "fingers": "#1f77b4",
    "palm": "#2ca02c",
    "edge_knuckles": "#d62728",
    "spine": "#9467bd",
}

# ESP32-S3 DevKitC-1 variant: ADC1 is on GPIO1-10 there and GPIO36/39 do not exist as ADC
# pins. These are the firmware's defaults (firmware/glove/config.py); a map may override them
# with multiplexers.<name>.adc_gpio_esp32s3 and select_gpio_esp32s3, and the drawing follows.
# GPIO4-7 are free on the DevKitC-1 and clear of the strapping pins (0, 3, 45, 46), USB
# (19, 20), UART0 (43, 44), octal PSRAM (35-37) and the RGB LED.
S3_ADC_GPIO = {"glove_mux": 1, "spine_mux": 2}
S3_SELECT_GPIO = (4, 5, 6, 7)
S3_ADC1_CHANNEL = {g: f"ADC1_CH{g - 1}" for g in range(1, 11)}
CLASSIC_ADC_NAME = {36: "VP, ADC1_CH0", 39: "VN, ADC1_CH3"}

# Spine strip: sensors at a fixed pitch on elastic webbing, spine_1 on C7, the last on the
# sacrum. Levels are typical for an adult of about 1.70 m; align the two ends, not the middle.
SPINE_PITCH_MM = 75
SPINE_LEVELS = ("C7", "T3", "T6", "T9", "T12", "L3", "L5", "sacrum (S2)")


class DiagramError(ValueError):
    """The sensor map and the drawing data disagree (e.g. a channel with no position)."""


# ----------------------------------------------------------------------------- SVG builder

class Svg:
    def __init__(self, width: int, height: int, title: str):
        self.width, self.height = width, height
        self.parts: list[str] = [
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
        self.title = title

    def add(self, element: str) -> None:
        self.parts.append(element)

    def line(self, x1, y1, x2, y2, stroke="#222", width=1.6, dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                 f'stroke="{stroke}" stroke-width="{width}"{d}/>')

    def polyline(self, points, stroke="#222", width=1.6, fill="none") -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(f'<polyline points="{pts}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{width}" stroke-linejoin="round"/>')

    def polygon(self, points, stroke="#222", width=1.6, fill="none") -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{width}" stroke-linejoin="round"/>')

    def rect(self, x, y, w, h, stroke="#222", fill="none", width=1.6, rx=0.0,
             dash: str | None = None, fill_opacity: float = 1.0) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
                 f'fill="{fill}" fill-opacity="{fill_opacity}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def circle(self, cx, cy, r, stroke="#222", fill="none", width=1.6,
               fill_opacity: float = 1.0) -> None:
        self.add(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" '
                 f'fill-opacity="{fill_opacity}" stroke="{stroke}" stroke-width="{width}"/>')

    def text(self, x, y, s, size=13, anchor="start", weight="normal", fill="#111",
             rotate: float | None = None) -> None:
        t = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="{size}" '
                 f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}"{t}>'
                 f'{escape(s)}</text>')

    def dot(self, x, y, r=3.2) -> None:
        self.circle(x, y, r, stroke="#222", fill="#222", width=1)

    def render(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{self.width}" '
                f'height="{self.height}" viewBox="0 0 {self.width} {self.height}">\n'
                f'<title>{escape(self.title)}</title>\n' + "\n".join(self.parts) + "\n</svg>\n")


# Schematic symbols ------------------------------------------------------------------------

def resistor_h(svg: Svg, x1: float, x2: float, y: float, label: str = "", colour="#222") -> None:
    """Horizontal zigzag resistor between x1 and x2 with leads, label above."""
    body = min(48.0, (x2 - x1) * 0.7)
    a = (x1 + x2 - body) / 2
    b = a + body
    pts = [(x1, y), (a, y)]
    n = 6
    for k in range(n):
        pts.append((a + body * (k + 0.5) / n, y + (-5 if k % 2 == 0 else 5)))
    pts += [(b, y), (x2, y)]
    svg.polyline(pts, stroke=colour)
    if label:
        svg.text((x1 + x2) / 2, y - 8, label, size=11, anchor="middle", fill="#444")


def fsr_h(svg: Svg, x1: float, x2: float, y: float, colour: str) -> None:
    """Horizontal FSR: a resistor box with the variable-resistor diagonal arrow."""
    w, h = min(56.0, (x2 - x1) * 0.7), 14.0
    a = (x1 + x2 - w) / 2
    svg.line(x1, y, a, y)
    svg.line(a + w, y, x2, y)
    svg.rect(a, y - h / 2, w, h, stroke=colour, fill="#ffffff", width=1.8)
    # Diagonal through the body with an arrow head: "varies with force".
    sx, sy, ex, ey = a - 4, y + h / 2 + 6, a + w + 4, y - h / 2 - 6
    svg.line(sx, sy, ex, ey, stroke=colour, width=1.3)
    ang = math.atan2(ey - sy, ex - sx)
    for da in (2.6, -2.6):
        svg.line(ex, ey, ex + 7 * math.cos(ang + da), ey + 7 * math.sin(ang + da),
                 stroke=colour, width=1.3)


def ground(svg: Svg, x: float, y: float) -> None:
    """Ground symbol hanging below (x, y)."""
    svg.line(x, y, x, y + 6)
    svg.line(x - 8, y + 6, x + 8, y + 6)
    svg.line(x - 5, y + 9.5, x + 5, y + 9.5)
    svg.line(x - 2, y + 13, x + 2, y + 13)


def net_flag(svg: Svg, x: float, y: float, name: str, to_left: bool = True,
             colour="#b03000") -> None:
    """A net label (pentagon) whose point touches (x, y)."""
    w = 9 + 7.4 * len(name)
    d = -1 if to_left else 1
    pts = [(x, y), (x + d * 8, y - 8), (x + d * (8 + w), y - 8), (x + d * (8 + w), y + 8),
           (x + d * 8, y + 8)]
    svg.polygon(pts, stroke=colour, fill="#fff3ec", width=1.3)
    svg.text(x + d * (8 + w / 2), y + 4.5, name, size=11, anchor="middle", fill=colour,
             weight="bold")


# ----------------------------------------------------------------------------- sensor map

@dataclass(frozen=True)
class MapChannel:
    id: str
    region: str
    group: str
    mux: str
    mux_input: int
    divider_ohm: int
    bias_ohm: int


def load_map(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    try:
        channels = [MapChannel(c["id"], c["region"], c["group"], c["mux"], int(c["mux_input"]),
                               int(c["divider_ohm"]), int(c["bias_ohm"]))
                    for c in data["channels"]]
        muxes = data["multiplexers"]
        select = [int(g) for g in data["select_gpio"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DiagramError(f"{path}: malformed sensor map ({exc!r})") from exc
    for ch in channels:
        if ch.mux not in muxes:
            raise DiagramError(f"{path}: channel {ch.id} uses unknown multiplexer {ch.mux!r}")
    return {"channels": channels, "muxes": muxes, "select": select, "data": data}


def ohms(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:g} MΩ"
    if value >= 1000:
        return f"{value / 1000:g} kΩ"
    return f"{value} Ω"


def part_for(ch: MapChannel) -> str:
    return PART_BY_CHANNEL.get(ch.id) or PART_BY_REGION.get(ch.region, "FSR")


# ----------------------------------------------------------------------------- wiring.svg

ROW_PITCH = 60
X_MUX_L, X_MUX_R = 470, 600
X_NODE = 690
X_CONN_L, X_CONN_R = 860, 900
X_SPLIT, X_JOIN = 950, 1100
X_RAIL = 1130
X_LABEL = 1150


def wiring_svg(smap: dict) -> str:
    channels: list[MapChannel] = smap["channels"]
    muxes: dict = smap["muxes"]
    select: list[int] = smap["select"]
    mux_names = sorted(muxes, key=lambda m: min(c.mux_input + 100 * (c.mux != m)
                                                 for c in channels))
    # Blocks: one per multiplexer, channels in mux-input order.
    blocks = []
    y = 210.0
    for name in mux_names:
        chans = sorted((c for c in channels if c.mux == name), key=lambda c: c.mux_input)
        inputs = int(muxes[name]["inputs"])
        used = {c.mux_input for c in chans}
        unused = [k for k in range(inputs) if k not in used]
        top = y
        rows = {c.id: top + k * ROW_PITCH for k, c in enumerate(chans)}
        last_row = top + (len(chans) - 1) * ROW_PITCH
        n_left_pins = 4 + len(select)
        bottom = max(last_row + (55 if unused else 0), top + 40 * n_left_pins - 20)
        blocks.append({"name": name, "chans": chans, "rows": rows, "top": top,
                       "bottom": bottom, "last_row": last_row, "unused": unused,
                       "inputs": inputs})
        y = bottom + 140
    height = int(y + 270)
    width = 1560
    svg = Svg(width, height, "glovecoach wiring")
    svg.text(20, 34, "glovecoach: wiring of the glove and spine strip", size=22, weight="bold")
    svg.text(20, 58, "Generated from hardware/sensor_map.json by hardware/make_diagrams.py; "
             "do not edit by hand. Pin numbers are for the ESP32 DevKitC (ESP32-S3 variant "
             "in the table below).", size=12, fill="#444")

    # Zones: board side and sensor side of the connectors.
    zone_top, zone_bottom = 80, y - 85
    boundary = (X_CONN_L + X_CONN_R) / 2
    svg.rect(15, zone_top, width - 30, zone_bottom - zone_top, stroke="#8a8a8a", dash="8 5",
             width=1.2, rx=10)
    svg.line(boundary, zone_top, boundary, zone_bottom, stroke="#8a8a8a", dash="8 5", width=1.2)
    svg.text(25, zone_top + 20, "ELECTRONICS BOX (on the forearm): ESP32, multiplexers, "
             "divider resistors", size=12, weight="bold", fill="#666")
    svg.text(boundary + 10, zone_top + 20, "SENSOR SIDE: bias resistor soldered at each FSR",
             size=12, weight="bold", fill="#666")

    # ESP32 module.
    gtop = blocks[0]["top"]
    esp_x, esp_w = 40, 210
    esp_pins = []    # (label, y, kind)
    first_mux = blocks[0]
    com_y = {b["name"]: b["top"] + 20 for b in blocks}
    sel_y0 = first_mux["top"] + 120
    sel_ys = [sel_y0 + 30 * k for k in range(len(select))]
    for b in blocks:
        gpio = int(muxes[b["name"]]["adc_gpio"])
        esp_pins.append((f"GPIO{gpio} ({CLASSIC_ADC_NAME.get(gpio, 'ADC1')})",
                         com_y[b["name"]] if b is first_mux else com_y[first_mux["name"]] + 40,
                         ("adc", b["name"])))
    for k, g in enumerate(select):
        esp_pins.append((f"GPIO{g}  (S{k})", sel_ys[k], ("sel", k)))
    pwr_y = sel_ys[-1] + 60
    esp_pins.append(("3V3", pwr_y, ("3v3", None)))
    esp_pins.append(("GND", pwr_y + 40, ("gnd", None)))
    esp_top, esp_bottom = gtop - 20, pwr_y + 110
    svg.rect(esp_x, esp_top, esp_w, esp_bottom - esp_top, fill="#eef4fb", width=2, rx=6)
    svg.text(esp_x + esp_w / 2, esp_top - 10, "U1  ESP32 DevKitC (WROOM-32E)", size=14,
             anchor="middle", weight="bold")
    for label, py, _kind in esp_pins:
        svg.line(esp_x + esp_w, py, esp_x + esp_w + 12, py)
        svg.text(esp_x + esp_w - 8, py + 4, label, size=12, anchor="end")
    svg.text(esp_x + esp_w / 2, esp_bottom - 34, "USB (micro-B / USB-C)", size=12,
             anchor="middle", weight="bold")
    svg.text(esp_x + esp_w / 2, esp_bottom - 18, "5 V power + serial to the host", size=11,
             anchor="middle", fill="#444")
    net_flag(svg, esp_x + esp_w + 12, pwr_y, "3V3", to_left=False)
    ground(svg, esp_x + esp_w + 12, pwr_y + 40)

    # Select bus lanes: vertical wires that carry S0..S3 down to every mux.
    lane_x = [330 + 22 * k for k in range(len(select))]
    adc_lane_x = 290
    for sy in sel_ys:
        svg.line(esp_x + esp_w + 12, sy, X_MUX_L, sy, stroke="#0a6", width=1.8)
    for b_index, b in enumerate(blocks):
        name = b["name"]
        mux = muxes[name]
        inputs = b["inputs"]
        n_sel = max(1, (inputs - 1).bit_length())
        top, bottom = b["top"] - 30, b["bottom"] + 30
        svg.rect(X_MUX_L, top, X_MUX_R - X_MUX_L, bottom - top, fill="#f6f1fb", width=2, rx=4)
        svg.text((X_MUX_L + X_MUX_R) / 2, top - 10,
                 f"U{b_index + 2}  {mux['part']}  ({inputs}:1)", size=14, anchor="middle",
                 weight="bold")
        # Left pins: COM, S0.., enable, VCC, GND.
        cy = com_y[name] if b_index == 0 else b["top"] + 20
        svg.text(X_MUX_L + 8, cy + 4, "COM/SIG", size=11)
        local_sel = sel_ys if b_index == 0 else [b["top"] + 70 + 30 * k for k in range(n_sel)]
        for k in range(n_sel):
            svg.text(X_MUX_L + 8, local_sel[k] + 4, f"S{k}", size=11)
            if b_index > 0:
                # Branch from the select bus down to this mux.
                svg.dot(lane_x[k], sel_ys[k])
                svg.polyline([(lane_x[k], sel_ys[k]), (lane_x[k], local_sel[k]),
                              (X_MUX_L, local_sel[k])], stroke="#0a6", width=1.8)
        py = local_sel[n_sel - 1] + 50
        enable = "EN̅" if inputs == 16 else "INH̅"
        for label, kind in ((enable, "gnd"), ("VCC", "3v3"), ("GND", "gnd")) + (
                (("VEE", "gnd"),) if inputs == 8 else ()):
            svg.line(X_MUX_L - 14, py, X_MUX_L, py)
            svg.text(X_MUX_L + 8, py + 4, label, size=11)
            if kind == "gnd":
                ground(svg, X_MUX_L - 14, py)
            else:
                net_flag(svg, X_MUX_L - 14, py, "3V3")
                svg.text(X_MUX_L - 60, py + 4, "100 nF to GND ·", size=10, anchor="end",
                         fill="#444")
            py += 38
        # ADC wire from the ESP32 to COM.
        gpio = int(mux["adc_gpio"])
        esp_y = next(p[1] for p in esp_pins if p[2] == ("adc", name))
        if b_index == 0:
            svg.line(esp_x + esp_w + 12, esp_y, X_MUX_L, cy, stroke="#c60", width=2)
        else:
            svg.polyline([(esp_x + esp_w + 12, esp_y), (adc_lane_x, esp_y), (adc_lane_x, cy),
                          (X_MUX_L, cy)], stroke="#c60", width=2)
        svg.text(X_MUX_L - 8, cy - 6, f"GPIO{gpio}", size=11, anchor="end", fill="#c60")

        # Connector for this block.
        conn = f"J{b_index + 1}"
        n_pins = len(b["chans"]) + 1
        ctop = b["top"] - 60
        cbot = b["last_row"] + 22
        svg.rect(X_CONN_L, ctop, X_CONN_R - X_CONN_L, cbot - ctop, fill="#fff8dc", width=2)
        svg.text((X_CONN_L + X_CONN_R) / 2, ctop - 8, f"{conn} ({n_pins}-pin)", size=12,
                 anchor="middle", weight="bold")
        # Pin 1 is the shared 3V3 lead to the sensors.
        rail_top = ctop + 16
        svg.text((X_CONN_L + X_CONN_R) / 2, rail_top + 4, "1", size=11, anchor="middle")
        net_flag(svg, X_CONN_L, rail_top, "3V3")
        svg.line(X_CONN_R, rail_top, X_RAIL, rail_top, stroke="#b03000", width=1.8)
        last_row = max(b["rows"].values())
        svg.line(X_RAIL, rail_top, X_RAIL, last_row, stroke="#b03000", width=1.8)
        svg.text(X_RAIL + 6, rail_top - 4, "3V3 to every sensor", size=11, fill="#b03000")

        for pin_no, ch in enumerate(b["chans"], start=2):
            ry = b["rows"][ch.id]
            colour = GROUP_COLOUR.get(ch.group, "#333")
            svg.text(X_MUX_R - 8, ry + 4, f"{'I' if inputs == 16 else 'Y'}{ch.mux_input}",
                     size=11, anchor="end")
            svg.line(X_MUX_R, ry, X_CONN_L, ry)
            svg.dot(X_NODE, ry)
            # Divider to ground, hanging off the node.
            svg.line(X_NODE, ry, X_NODE, ry + 18)
            resistor_h(svg, X_NODE, X_NODE + 100, ry + 18)
            svg.text(X_NODE + 50, ry + 36, f"Rd {ohms(ch.divider_ohm)}", size=11,
                     anchor="middle", fill="#444")
            ground(svg, X_NODE + 100, ry + 18)
            svg.text((X_CONN_L + X_CONN_R) / 2, ry + 4, str(pin_no), size=11, anchor="middle")
            # Sensor side: FSR in parallel with the bias resistor, to the 3V3 rail.
            svg.line(X_CONN_R, ry, X_SPLIT, ry)
            svg.dot(X_SPLIT, ry)
            fsr_h(svg, X_SPLIT, X_JOIN, ry, colour)
            svg.polyline([(X_SPLIT, ry), (X_SPLIT, ry + 18)])
            resistor_h(svg, X_SPLIT, X_JOIN, ry + 18)
            svg.polyline([(X_JOIN, ry + 18), (X_JOIN, ry)])
            svg.dot(X_JOIN, ry)
            svg.line(X_JOIN, ry, X_RAIL, ry)
            svg.dot(X_RAIL, ry)
            svg.text(X_SPLIT + 75, ry + 36, f"Rb {ohms(ch.bias_ohm)}", size=11,
                     anchor="middle", fill="#444")
            svg.text(X_LABEL, ry + 2, ch.id, size=14, weight="bold", fill=colour)
            svg.text(X_LABEL, ry + 18, f"{part_for(ch)} · {conn}.{pin_no} · "
                     f"{mux['part']} {'I' if inputs == 16 else 'Y'}{ch.mux_input}",
                     size=11, fill="#444")
        if b["unused"]:
            uy = b["bottom"]
            names = ", ".join(f"I{k}" for k in b["unused"])
            svg.line(X_MUX_R, uy, X_MUX_R + 30, uy)
            ground(svg, X_MUX_R + 30, uy)
            svg.text(X_MUX_R + 44, uy + 4, f"unused {names}: tie to GND", size=11,
                     fill="#444")

    # Notes and the ESP32-S3 pin table.
    ny = y - 50
    svg.text(20, ny, "How to read a row:", size=13, weight="bold")
    svg.text(20, ny + 18, "3V3 → FSR ∥ Rb (at the sensor) → connector → node → Rd → GND; "
             "the node goes to one mux input. Pressing lowers the FSR's resistance and raises "
             "the node voltage.", size=12)
    svg.text(20, ny + 36, "Rb keeps an unloaded sensor at about 310 counts; a broken lead "
             "(FSR and Rb both cut off) lets Rd pull the node to 0 V, which reads as 'open'.",
             size=12)
    svg.text(20, ny + 54, "Select lines are shared: S0-S2 drive both muxes, S3 only the 16:1. "
             "Both COM outputs go to ADC1 pins, which keep working while WiFi is on.", size=12)
    svg.text(20, ny + 72, "Power: the DevKitC's own 3.3 V regulator feeds both muxes and every "
             "divider (about 2 mA unloaded, under 30 mA with every sensor pressed hard).",
             size=12)
    tx = 20
    ty = ny + 110
    svg.text(tx, ty, "ESP32-S3 DevKitC-1 variant", size=13, weight="bold")
    pin_rows = [("signal", "ESP32 DevKitC", "ESP32-S3 DevKitC-1")]
    s3_select = smap["data"].get("select_gpio_esp32s3", S3_SELECT_GPIO)
    for name in mux_names:
        g = int(muxes[name]["adc_gpio"])
        s3g = int(muxes[name].get("adc_gpio_esp32s3", S3_ADC_GPIO.get(name, -1)))
        pin_rows.append((f"{muxes[name]['part']} COM", f"GPIO{g} ({CLASSIC_ADC_NAME.get(g, '')})",
                     f"GPIO{s3g} ({S3_ADC1_CHANNEL.get(s3g, 'not ADC1!')})"))
    for k, g in enumerate(select):
        pin_rows.append((f"S{k}", f"GPIO{g}", f"GPIO{s3_select[k]}"))
    col_x = (tx, tx + 170, tx + 370)
    for r, row in enumerate(pin_rows):
        for c, cell in enumerate(row):
            svg.text(col_x[c], ty + 20 + 17 * r, cell, size=12,
                     weight="bold" if r == 0 else "normal")
    return svg.render()


# ----------------------------------------------------------------------------- placement.svg

# Positions on a drawn right hand, fingers up, in the drawing's own coordinates (origin at the
# hand's top-left corner, about 2 px per mm). Palm view: thumb on the viewer's right.
PALM_VIEW = {
    "thumb_tip": (284, 230), "index_tip": (205, 64), "middle_tip": (158, 44),
    "ring_tip": (112, 62), "little_tip": (68, 102), "thenar": (206, 306),
    "hypothenar": (86, 322), "palm_center": (148, 262), "palm_heel": (148, 362),
    "hand_edge": (44, 268),
}
# Back view is the palm view mirrored: index and middle are on the left, next to the thumb.
BACK_VIEW = {"knuckles_index_middle": (118, 192), "knuckles_ring_little": (210, 196)}
PART_SIZE_PX = {"FSR 402": 13, "FSR UX 402": 13, "FSR 406": 22}


def _hand_outline(svg: Svg, ox: float, oy: float, mirror: bool) -> None:
    """A simple right hand, fingers up; mirror=True draws the back view (thumb on the left)."""
    def X(x):
        return ox + (300 - x if mirror else x)

    def Y(y):
        return oy + y

    skin, edge = "#fbe3cf", "#9c6b4e"
    # Thumb first, so the palm covers its root: a capsule from the thenar out and up.
    x0, y0, x1, y1 = 215, 335, 290, 215
    w = 46
    length = math.hypot(x1 - x0, y1 - y0) + w
    ang = math.degrees(math.atan2(Y(y1) - Y(y0), X(x1) - X(x0)))
    mx, my = (X(x0) + X(x1)) / 2, (Y(y0) + Y(y1)) / 2
    svg.add(f'<rect x="{mx - length / 2:.1f}" y="{my - w / 2:.1f}" width="{length:.1f}" '
            f'height="{w}" rx="{w / 2}" fill="{skin}" stroke="{edge}" stroke-width="1.6" '
            f'transform="rotate({ang:.1f} {mx:.1f} {my:.1f})"/>')
    # Fingers: (centre x, top y, width); their bases hide under the palm.
    for cx, ty, fw in ((68, 80, 36), (112, 40, 40), (158, 22, 42), (205, 42, 40)):
        svg.rect(X(cx) - fw / 2, Y(ty), fw, 200 - ty, stroke=edge, fill=skin, width=1.6,
                 rx=fw / 2)
    palm = [(46, 180), (230, 180), (244, 240), (240, 330), (212, 400), (88, 400), (54, 330),
            (38, 240)]
    svg.polygon([(X(x), Y(y)) for x, y in palm], stroke=edge, fill=skin, width=1.6)
    # Finger creases where the fingers meet the palm.
    for cx, fw in ((68, 36), (112, 40), (158, 42), (205, 40)):
        svg.line(X(cx) - fw / 2 + 4, Y(182), X(cx) + fw / 2 - 4, Y(182), stroke=edge, width=0.8)
    svg.rect(min(X(92), X(208)), Y(398), 116, 42, stroke=edge, fill=skin, width=1.6)


def _sensor_mark(svg: Svg, x: float, y: float, part: str, colour: str) -> None:
    r = PART_SIZE_PX.get(part, 12)
    if part == "FSR 406":
        svg.rect(x - r, y - r, 2 * r, 2 * r, stroke=colour, fill=colour, width=2, rx=3,
                 fill_opacity=0.3)
    else:
        svg.circle(x, y, r, stroke=colour, fill=colour, width=2, fill_opacity=0.3)
    svg.dot(x, y, 2.2)


def _labelled(svg: Svg, ch: MapChannel, x: float, y: float, lx: float, ly: float,
              anchor: str) -> None:
    colour = GROUP_COLOUR.get(ch.group, "#333")
    _sensor_mark(svg, x, y, part_for(ch), colour)
    svg.line(x, y, lx, ly - 4, stroke=colour, width=1.1)
    tx = lx + (4 if anchor == "start" else -4)
    svg.text(tx, ly, ch.id, size=13, anchor=anchor, weight="bold", fill=colour)
    svg.text(tx, ly + 15, f"{part_for(ch)} · I{ch.mux_input}", size=11, anchor=anchor,
             fill="#444")


def placement_svg(smap: dict) -> str:
    channels: list[MapChannel] = smap["channels"]
    glove = [c for c in channels if c.region != "spine"]
    spine = sorted((c for c in channels if c.region == "spine"), key=lambda c: c.mux_input)
    missing = [c.id for c in glove if c.id not in PALM_VIEW and c.id not in BACK_VIEW]
    if missing:
        raise DiagramError(f"no drawn position for glove channel(s) {', '.join(missing)}: "
                           "add them to PALM_VIEW or BACK_VIEW in make_diagrams.py")
    if len(spine) > len(SPINE_LEVELS):
        raise DiagramError(f"{len(spine)} spine channels but only {len(SPINE_LEVELS)} levels "
                           "are drawn: extend SPINE_LEVELS in make_diagrams.py")
    by_id = {c.id: c for c in channels}
    width, height = 1700, 960
    svg = Svg(width, height, "glovecoach sensor placement")
    svg.text(20, 34, "glovecoach: where each sensor sits", size=22, weight="bold")
    svg.text(20, 58, "Generated from hardware/sensor_map.json by hardware/make_diagrams.py. "
             "Labels are channel ids; I<n> / Y<n> is the multiplexer input. Not to scale.", size=12,
             fill="#444")

    # Palm view.
    ox, oy = 200, 190
    svg.text(ox + 150, oy - 80, "RIGHT HAND, PALM SIDE", size=15, anchor="middle", weight="bold")
    svg.text(ox + 150, oy - 62, "(thumb on the right)", size=12, anchor="middle", fill="#444")
    _hand_outline(svg, ox, oy, mirror=False)
    label_pos = {   # where each label goes, relative to the hand origin
        "little_tip": (-40, 80, "end"), "ring_tip": (-40, 20, "end"),
        "middle_tip": (158, -22, "middle"), "index_tip": (320, 30, "start"),
        "thumb_tip": (340, 170, "start"), "thenar": (340, 320, "start"),
        "palm_center": (340, 255, "start"),
        "hypothenar": (-40, 360, "end"), "hand_edge": (-40, 260, "end"),
        "palm_heel": (340, 410, "start"),
    }
    for cid, (x, y) in PALM_VIEW.items():
        if cid not in by_id:
            continue
        lx, ly, anchor = label_pos[cid]
        _labelled(svg, by_id[cid], ox + x, oy + y, ox + lx, oy + ly, anchor)

    # Back view.
    bx, by_ = 790, 190
    svg.text(bx + 150, by_ - 80, "RIGHT HAND, BACK", size=15, anchor="middle", weight="bold")
    svg.text(bx + 150, by_ - 62, "(thumb on the left; sensors over the knuckles)", size=12,
             anchor="middle", fill="#444")
    _hand_outline(svg, bx, by_, mirror=True)
    back_labels = {"knuckles_index_middle": (40, -12, "end"),
                   "knuckles_ring_little": (330, 130, "start")}
    for cid, (x, y) in BACK_VIEW.items():
        if cid not in by_id:
            continue
        lx, ly, anchor = back_labels[cid]
        _labelled(svg, by_id[cid], bx + x, by_ + y, bx + lx, by_ + ly, anchor)

    # Legend under the hands.
    ly = 720
    svg.text(40, ly, "Sensor parts", size=14, weight="bold")
    items = [("FSR 402 (Ø12.7 mm active)", "FSR 402"), ("FSR 406 (38 mm square)", "FSR 406"),
             ("FSR UX 402 (higher force, knuckles)", "FSR UX 402")]
    for k, (text, part) in enumerate(items):
        _sensor_mark(svg, 55, ly + 28 + 34 * k, part, "#555555")
        svg.text(85, ly + 33 + 34 * k, text, size=12)
    svg.text(400, ly, "Colours = plot groups", size=14, weight="bold")
    for k, (group, colour) in enumerate(GROUP_COLOUR.items()):
        svg.rect(400, ly + 16 + 26 * k, 18, 14, stroke=colour, fill=colour, fill_opacity=0.3)
        svg.text(426, ly + 28 + 26 * k, group, size=12)
    svg.text(40, ly + 150, "Sensors sit under a thin outer glove layer, centred on the pad "
             "that carries the load; the FSR tails run along the finger backs to the "
             "wrist connector J1.", size=12, fill="#333")
    svg.text(40, ly + 168, "hand_edge lies along the ulnar edge between the little-finger "
             "knuckle and the wrist (the striking edge in hacking).", size=12, fill="#333")

    # Spine strip.
    sx = 1420
    top_y = 160
    px_per_mm = 1.15
    svg.text(sx + 60, top_y - 50, "SPINE STRIP (partner's back)", size=15, anchor="middle",
             weight="bold")
    svg.text(sx + 60, top_y - 32, f"{SPINE_PITCH_MM} mm pitch, C7 to sacrum", size=12,
             anchor="middle", fill="#444")
    length_mm = SPINE_PITCH_MM * (len(spine) - 1)
    strip_h = length_mm * px_per_mm
    # Torso outline behind the strip.
    torso = [(sx - 70, top_y - 15), (sx + 190, top_y - 15), (sx + 175, top_y + strip_h * 0.55),
             (sx + 190, top_y + strip_h + 30), (sx - 70, top_y + strip_h + 30),
             (sx - 55, top_y + strip_h * 0.55)]
    svg.polygon(torso, stroke="#c9b3a1", fill="#fdf3ea", width=1.4)
    svg.line(sx + 60, top_y - 15, sx + 60, top_y + strip_h + 30, stroke="#b09080", width=1.2,
             dash="5 4")
    svg.rect(sx + 35, top_y - 30, 50, strip_h + 60, stroke="#666", fill="#e9e4f2", width=1.6,
             rx=8)
    for k, ch in enumerate(spine):
        cy = top_y + k * SPINE_PITCH_MM * px_per_mm
        colour = GROUP_COLOUR.get(ch.group, "#333")
        _sensor_mark(svg, sx + 60, cy, part_for(ch), colour)
        svg.text(sx + 100, cy - 2, ch.id, size=13, weight="bold", fill=colour)
        svg.text(sx + 100, cy + 13, f"{SPINE_LEVELS[k]} · {k * SPINE_PITCH_MM} mm · Y{ch.mux_input}",
                 size=11, fill="#444")
        # Ruler ticks on the left.
        svg.line(sx - 40, cy, sx - 20, cy, stroke="#444", width=1.2)
        svg.text(sx - 44, cy + 4, f"{k * SPINE_PITCH_MM}", size=11, anchor="end")
    svg.line(sx - 30, top_y, sx - 30, top_y + strip_h, stroke="#444", width=1.2)
    svg.text(sx - 80, top_y + strip_h / 2, "mm from C7", size=11, anchor="middle",
             rotate=-90)
    svg.text(sx + 60, top_y + strip_h + 52, "head ↑   cable J2 leaves at the sacrum end ↓",
             size=11, anchor="middle", fill="#444")
    return svg.render()


# ----------------------------------------------------------------------------- output

def write_diagrams(sensor_map: Path, out_dir: Path) -> list[Path]:
    smap = load_map(sensor_map)
    outputs = {"wiring.svg": wiring_svg(smap), "placement.svg": placement_svg(smap)}
    written = []
    for name, text in outputs.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render_png(svg_path: Path, png_path: Path, scale: float = 1.0) -> None:
    """Render an SVG with Qt's SVG renderer (offscreen), the same one the app uses."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise DiagramError(f"{svg_path}: Qt cannot parse this SVG")
    size = renderer.defaultSize()
    image = QImage(int(size.width() * scale), int(size.height() * scale),
                   QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    renderer.render(painter, QRectF(0, 0, image.width(), image.height()))
    painter.end()
    if not image.save(str(png_path)):
        raise DiagramError(f"cannot write {png_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sensor-map", type=Path, default=HERE / "sensor_map.json")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the SVGs")
    parser.add_argument("--png", type=Path, default=None, metavar="DIR",
                        help="also render each SVG to DIR/<name>.png")
    parser.add_argument("--scale", type=float, default=1.0, help="PNG scale (default 1)")
    args = parser.parse_args(argv)
    try:
        written = write_diagrams(args.sensor_map, args.out)
        for path in written:
            print(f"wrote {path}")
            if args.png is not None:
                args.png.mkdir(parents=True, exist_ok=True)
                png = args.png / (path.stem + ".png")
                render_png(path, png, args.scale)
                print(f"wrote {png}")
    except (OSError, ValueError) as exc:
        print(f"make_diagrams: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
