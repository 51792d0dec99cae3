"""`deploy --virtual`: the plan's file set in a folder standing in for the board, booted in
MicroPython's unix port."""

from __future__ import annotations

import shutil
from pathlib import Path

from glovecoach.deploy.plan import DeployError, DeployPlan

VIRTUAL_BOOT_TIMEOUT_S = 10.0


def deploy_virtual(plan: DeployPlan, device_root: Path, glove_id: str | None = None) -> dict:
    """Deploy into `device_root`, a folder standing in for the board's filesystem, then boot
    it in the MicroPython unix port and require a HELLO.

    This runs exactly the file set `plan` would copy to a board, so it proves the plan is
    complete (a module left out fails the import at boot) and that the firmware in it starts
    and announces the sensor map it was deployed with, in the plan's role (the role file is
    written into the folder as on a board, and the firmware finds it there). Returns the
    HELLO's info.
    """
    from glovecoach.deploy.plan import ROLE_FILE
    from glovecoach.link import GloveClient
    from glovecoach.link.virtual_glove import VirtualGlove
    from glovecoach.vocabulary.sensors import KIT_ROLE, device_map

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
    if plan.role is not None:
        (device_root / ROLE_FILE).write_text(plan.role)
    map_path = device_root / "sensor_map.json"
    glove = VirtualGlove(firmware=device_root, sensor_map=map_path, glove_id=glove_id)
    try:
        with glove, GloveClient(glove.port, reconnect=False) as client:
            hello = client.connect(timeout=VIRTUAL_BOOT_TIMEOUT_S)
    except (TimeoutError, OSError, FileNotFoundError) as exc:
        log = glove.firmware_log().strip().splitlines()[-6:]
        raise DeployError(f"the firmware deployed to {device_root} did not boot ({exc})"
                          + ("; its last output:\n  " + "\n  ".join(log) if log else "")) from exc
    role_file = device_root / ROLE_FILE
    # Without --role the folder's own role file (from an earlier deploy) stays in force.
    role = plan.role or (role_file.read_text().strip() if role_file.is_file() else "") or KIT_ROLE
    if hello.role != role:
        raise DeployError(f"the deployed firmware announces role {hello.role!r}, "
                          f"it was deployed as {role!r}")
    expected = list(device_map(role, map_path).ids)
    if list(hello.channels) != expected:
        raise DeployError(f"the deployed firmware announces channels {hello.channels}, "
                          f"the deployed sensor map has {expected} for role {role}")
    return dict(hello.info)
