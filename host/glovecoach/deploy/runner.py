"""Running a deploy plan: each step a subprocess with a time limit, output shown live, the
first failure named with its step and port (and one retry through maintenance mode when the
glove is running the firmware)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from glovecoach.deploy.handshake import enter_maintenance_mode, identify_running_glove
from glovecoach.deploy.plan import (
    PROBE_ATTEMPTS_AFTER_MAINTENANCE,
    PROBE_RETRY_PAUSE_S,
    DeployError,
    DeployPlan,
    DeployStep,
)


@dataclass
class StepResult:
    returncode: int | None      # None: killed at its time limit
    output_tail: list[str]


def run_step(step: DeployStep, echo: TextIO | None = None, tail_lines: int = 12) -> StepResult:
    """Run one step with its time limit; the process group is killed when the limit passes."""
    tail: deque[str] = deque(maxlen=tail_lines)
    full: list[str] = []
    try:
        proc = subprocess.Popen(
            step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        return StepResult(127, [f"cannot start {step.argv[0]}: {exc}"])

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
    return StepResult(returncode, list(tail))


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
