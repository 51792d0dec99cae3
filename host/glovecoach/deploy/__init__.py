"""Putting MicroPython and the glove firmware on an ESP32 (`glovecoach deploy`).

- `plan`: what is on disk -> the exact list of esptool / mpremote / mpy-cross steps
  (`build_plan`); `--dry-run` prints it, so the preview is what runs.
- `runner`: runs the steps in order, stops at the first failure and names it (`run_plan`).
- `handshake`: a glove already running the firmware: found through the link's port probe,
  then put into maintenance mode so the REPL is free for one boot.
- `virtual`: the same file set booted in MicroPython's unix port (`deploy --virtual`).
"""

from glovecoach.deploy.handshake import enter_maintenance_mode, identify_running_glove
from glovecoach.deploy.plan import (
    PROBE_TIMEOUT_S,
    DeployError,
    DeployFile,
    DeployPlan,
    DeployStep,
    build_plan,
    check_flash_image,
    check_port_exists,
    firmware_files,
)
from glovecoach.deploy.runner import StepResult, run_plan, run_step
from glovecoach.deploy.virtual import deploy_virtual

__all__ = [
    "PROBE_TIMEOUT_S", "DeployError", "DeployFile", "DeployPlan", "DeployStep", "StepResult",
    "build_plan", "check_flash_image", "check_port_exists", "deploy_virtual", "enter_maintenance_mode",
    "firmware_files", "identify_running_glove", "run_plan", "run_step",
]
