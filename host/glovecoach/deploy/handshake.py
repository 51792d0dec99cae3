"""Talking to a glove that already runs the firmware, before a deploy: is it there, and
put it into maintenance mode (one boot with the REPL free) so mpremote can reach it."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from glovecoach.deploy.plan import (
    MAINTENANCE_ACK_TIMEOUT_S,
    MAINTENANCE_CONNECT_TIMEOUT_S,
    MAINTENANCE_QUIET_S,
    PORT_RETURN_TIMEOUT_S,
    DeployError,
)


def identify_running_glove(port: str, listen_s: float = 2.5) -> str | None:
    """If the glovecoach firmware is running on `port`, say so; else None.

    The running firmware ignores Ctrl-C, so mpremote cannot reach the REPL and its probe fails;
    the firmware still answers INFO, which is what the link's one port probe asks.
    """
    from glovecoach.link.discovery import probe_port

    report = probe_port(port, timeout=listen_s)
    if not report.is_glove:
        return None
    if report.glove_id:
        return f"the glovecoach firmware of glove {report.glove_id} is running there"
    return "the glovecoach firmware is running there"


def enter_maintenance_mode(port: str, out: TextIO = sys.stdout) -> str:
    """Send MAINTENANCE to the glove running on `port` and wait until it has reset.

    The running firmware ignores Ctrl-C and feeds a watchdog, so mpremote cannot stop it;
    MAINTENANCE makes it reset into one boot that leaves the REPL free. "Reset" is seen as
    the link dropping (USB CDC) or STATUS frames stopping (a USB-UART bridge keeps the port);
    the port must then be there again. Returns the glove id; raises DeployError with the reason.
    """
    from glovecoach.link import (
        DeviceCommandError,
        GloveClient,
        LinkDown,
        LinkLost,
        StatusReceived,
    )
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
