"""The sensor map's device kinds and roles (hardware/sensor_map.json), and the host's reading of
them: the kit of today is a glove plus a spine strip, a left glove uses the right glove's ids,
and the firmware picks the same channels for each role as the host does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glovecoach.vocabulary.resources import sensor_map_path
from glovecoach.vocabulary.sensors import (
    ALL_CHANNELS,
    device_map,
    load_kinds,
    load_roles,
    load_sensor_map,
    parse_sensor_map,
)

REPO = Path(__file__).resolve().parents[2]
DATA = json.loads(sensor_map_path().read_text())


def test_the_kit_is_a_glove_plus_a_spine_strip_in_todays_order():
    glove, strip, kit = (device_map(r) for r in ("right_glove", "spine_strip", "kit"))
    assert kit.ids == glove.ids + strip.ids == ALL_CHANNELS == load_sensor_map().ids
    assert len(glove.ids) == 12 and len(strip.ids) == 8
    assert all(not c.is_spine for c in glove.channels) and all(c.is_spine for c in strip.channels)
    # Every existing caller's kit map is unchanged: the same channels with every field.
    assert kit.channels == load_sensor_map().channels
    assert (kit.role, kit.kind, kit.hand) == ("kit", "kit", "right")


def test_a_left_glove_is_the_right_glove_mirrored_same_ids_and_wiring():
    left, right = device_map("left_glove"), device_map("right_glove")
    assert left.channels == right.channels   # ids, mux inputs, dividers, labels: all the same
    assert (left.hand, right.hand) == ("left", "right")
    roles = load_roles()
    assert roles["left_glove"].mirrored and not roles["right_glove"].mirrored
    assert roles["spine_strip"].hand is None
    assert "mirror" in DATA["mirror"] and "left" in DATA["mirror"]


@pytest.mark.parametrize("kind", sorted(DATA["kinds"]))
def test_each_kind_has_unique_ids_and_one_channel_per_mux_input(kind):
    kinds = load_kinds()
    smap = device_map(next(r for r, v in DATA["roles"].items() if v["kind"] == kind))
    assert len(set(smap.ids)) == len(smap.ids)
    inputs = [(c.mux, c.mux_input) for c in smap.channels]
    assert len(set(inputs)) == len(inputs)
    assert {c.mux for c in smap.channels} == set(kinds[kind].multiplexers)


def test_every_channel_belongs_to_exactly_one_separate_device_kind():
    separate = [k for k in DATA["kinds"] if k != "kit"]
    owners = {cid: [k for k in separate
                    if any(c.id == cid for c in device_map(
                        next(r for r, v in DATA["roles"].items() if v["kind"] == k)).channels)]
              for cid in ALL_CHANNELS}
    assert all(len(kinds) == 1 for kinds in owners.values()), owners
    assert DATA["default_role"] == "kit"


def test_an_unknown_role_is_refused_naming_the_roles():
    with pytest.raises(ValueError, match="unknown role 'third_hand'.*left_glove.*spine_strip"):
        device_map("third_hand")


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["roles"]["left_glove"].update(kind="sock"), "roles.left_glove.kind 'sock' is not in kinds"),
    (lambda d: d["roles"]["left_glove"].update(hand="middle"), 'roles.left_glove.hand must be'),
    (lambda d: d["kinds"]["glove"].update(multiplexers=["no_mux"]), "kinds.glove uses no_mux"),
    (lambda d: d["kinds"]["glove"].pop("multiplexers"), "kinds.glove has no list of multiplexers"),
])
def test_a_malformed_kind_or_role_is_named(edit, message):
    data = json.loads(sensor_map_path().read_text())
    edit(data)
    with pytest.raises(ValueError, match=message):
        parse_sensor_map(data, "edited.json", role="left_glove")


def test_a_map_from_before_roles_has_only_the_kit():
    old = {k: v for k, v in DATA.items() if k not in ("kinds", "roles", "default_role", "mirror")}
    assert parse_sensor_map(old, "old.json", role="kit").ids == ALL_CHANNELS
    with pytest.raises(ValueError, match="unknown role 'left_glove'.*kit"):
        parse_sensor_map(old, "old.json", role="left_glove")


def test_firmware_and_host_pick_the_same_channels_for_every_role():
    micropython = Path(sys.executable).with_name("micropython")
    script = REPO / "tests" / "firmware" / "mp" / "mp_roles.py"
    env = {**os.environ, "MICROPYPATH": f"{REPO / 'firmware'}:.frozen"}
    proc = subprocess.run([str(micropython), str(script), str(sensor_map_path()), *DATA["roles"]],
                          capture_output=True, timeout=30, env=env, check=True)
    firmware = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    for role in DATA["roles"]:
        host = device_map(role)
        assert firmware[role] == {"channels": list(host.ids), "hand": host.hand, "kind": host.kind,
                                  "muxes": sorted({c.mux for c in host.channels})}, role
