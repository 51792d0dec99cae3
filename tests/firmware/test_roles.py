"""Device roles in the real firmware (MicroPython unix port): one firmware, the role set on the
device (role.txt next to main.py, or GLOVECOACH_ROLE on the unix port), and each role samples
and announces only its own channels.

What a role should sample is worked out here from the map's JSON directly (the channels on the
role's kind's multiplexers, in map order), not through the firmware's or the host's parser.
"""

from __future__ import annotations

import json
import shutil

import pytest
from test_hal_esp32 import run_hal
from test_no_alloc import SCRIPT as NO_ALLOC_SCRIPT

from fwharness import CMD_START, FIRMWARE, SENSOR_MAP, run_micropython

MAP = json.loads(SENSOR_MAP.read_text())
ROLES = ("kit", "right_glove", "left_glove", "spine_strip")
HAND = {"kit": "right", "right_glove": "right", "left_glove": "left", "spine_strip": None}


def expected_ids(role: str) -> list[str]:
    muxes = MAP["kinds"][MAP["roles"][role]["kind"]]["multiplexers"]
    return [c["id"] for c in MAP["channels"] if c["mux"] in muxes]


def boot(glove) -> dict:
    return glove.wait_for(lambda x: x["type"] == "HELLO")["info"]


def test_the_map_defines_the_four_roles_this_test_expects():
    assert set(MAP["roles"]) == set(ROLES)
    assert {r: MAP["roles"][r]["hand"] for r in ROLES} == HAND
    assert len(expected_ids("kit")) == 20 and len(expected_ids("left_glove")) == 12
    assert len(expected_ids("spine_strip")) == 8


@pytest.mark.parametrize("role", ROLES)
def test_each_role_announces_itself_and_streams_its_own_columns(glove_factory, role):
    glove = glove_factory({"GLOVECOACH_ROLE": role})
    info = boot(glove)
    assert info["role"] == role and info["hand"] == HAND[role]
    assert info["channels"] == expected_ids(role)
    assert glove.request(CMD_START, 1)["type"] == "ACK"
    items = glove.collect(1.0)
    samples = [x for x in items if x["type"] == "SAMPLES"]
    assert len(samples) >= 20   # 200 Hz, 4 samples a frame: ~50 frames in a second
    assert {s["n_channels"] for s in samples} == {len(expected_ids(role))}
    # The built-in pattern strokes the hand; a spine strip alone stays at its unloaded floor.
    raw = [row for s in samples for row in s["raw"]]
    moving = [max(col) - min(col) > 100 for col in zip(*raw)]
    if role == "spine_strip":
        assert not any(moving)
    else:
        assert any(moving[:12]) and not any(moving[12:])


def test_without_a_role_anywhere_the_board_is_the_kit_of_today(glove_factory):
    info = boot(glove_factory())
    assert (info["role"], info["hand"]) == ("kit", "right")
    assert info["channels"] == [c["id"] for c in MAP["channels"]]


def test_role_file_next_to_main_sets_the_role_and_the_environment_overrides_it(glove_factory, tmp_path):
    # As deployed on a board: role.txt beside main.py (written by `glovecoach deploy --role`).
    fw = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    (fw / "role.txt").write_text("left_glove\n")
    env = {"GLOVECOACH_SENSOR_MAP": str(SENSOR_MAP)}
    info = boot(glove_factory(env, firmware=fw))
    assert (info["role"], info["hand"]) == ("left_glove", "left")
    assert info["channels"] == expected_ids("left_glove")
    info = boot(glove_factory({**env, "GLOVECOACH_ROLE": "spine_strip"}, firmware=fw))
    assert info["role"] == "spine_strip" and info["channels"] == expected_ids("spine_strip")


def test_an_unknown_role_stops_the_boot_with_a_log_naming_the_roles(glove_factory):
    glove = glove_factory({"GLOVECOACH_ROLE": "third_hand"})
    log = glove.wait_for(lambda x: x["type"] == "LOG")
    assert "boot failed" in log["message"] and "unknown role 'third_hand'" in log["message"]
    assert "left_glove" in log["message"] and "spine_strip" in log["message"]


def test_a_map_from_before_roles_still_boots_as_the_kit(glove_factory, tmp_path):
    old = {k: v for k, v in MAP.items() if k not in ("kinds", "roles", "default_role", "mirror")}
    path = tmp_path / "old_map.json"
    path.write_text(json.dumps(old))
    info = boot(glove_factory({"GLOVECOACH_SENSOR_MAP": str(path)}))
    assert (info["role"], info["hand"]) == ("kit", "right") and len(info["channels"]) == 20
    glove = glove_factory({"GLOVECOACH_SENSOR_MAP": str(path), "GLOVECOACH_ROLE": "left_glove"})
    log = glove.wait_for(lambda x: x["type"] == "LOG")
    assert "role 'left_glove' asked for, but the map has no roles" in log["message"]


@pytest.mark.parametrize("role", ["left_glove", "spine_strip"])
def test_a_role_samples_with_the_heap_locked(role):
    # Fewer columns change the buffers' sizes, not the loop: still no allocation per slot.
    proc = run_micropython(str(NO_ALLOC_SCRIPT), "1000", "1500", "catchup",
                           env={"GLOVECOACH_ROLE": role}, timeout=30)
    errors, frames_sent, dropped, _ = map(int, proc.stdout.rsplit(b"\nRESULT ", 1)[1].split())
    assert errors == 0 and dropped == 0 and frames_sent == 1500 // 20


@pytest.mark.parametrize("role", ["left_glove", "spine_strip", "kit"])
def test_esp32_hal_sets_up_and_reads_only_the_roles_multiplexers(tmp_path, role):
    out = run_hal("esp32", cwd=tmp_path, role=role)
    muxes = MAP["kinds"][MAP["roles"][role]["kind"]]["multiplexers"]
    gpio = {name: MAP["multiplexers"][name]["adc_gpio"] for name in muxes}
    chans = [c for c in MAP["channels"] if c["mux"] in muxes]
    assert sorted(out["adc_gpios"]) == sorted(gpio.values())
    assert out["values"] == [10 * gpio[c["mux"]] + c["mux_input"] for c in chans]
    assert out["reads"] == len(chans)
    assert out["select_writes"] == len({c["mux_input"] for c in chans}) * len(MAP["select_gpio"])
