"""One module per `glovecoach` sub-command.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code).

`COMMANDS` lists them with their one-line help. `glovecoach.cli` imports only the module of
the command being run: importing all of them cost `analyze` about 0.2 s of start-up, because
some pull in the serial link, the simulator or the deploy tools at import time. Adding a
command is adding a module here plus its line in `COMMANDS` (tests/test_cli_startup.py fails
if a module is missing from the table or its help differs from the module's own).
"""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure: printed as one line on stderr, exit code 2, no traceback."""


# name -> (module under glovecoach.commands, one-line help as `glovecoach --help` shows it)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("analyze", "analyse a recorded session (.gcrec, or a CSV of newtons) against a massage protocol"),
    "app": ("app", "open the training app"),
    "calibrate": ("calibrate", "calibrate the glove's sensors with reference weights (guided)"),
    "classroom": ("classroom", "watch every station of a room live through the room's MQTT broker"),
    "demo": ("demo", "watch the app coach a simulated good session"),
    "deploy": ("deploy", "flash MicroPython and copy the glove firmware to an ESP32"),
    "devices": ("devices", "list serial ports and the gloves on them"),
    "export": ("export", "export a .gcrec recording as CSV (newtons, or raw ADC counts with --raw)"),
    "info": ("info", "summarise a .gcrec recording"),
    "provision": ("provision", "give a glove its WiFi network and MQTT broker over USB (or --forget them)"),
    "record": ("record", "record raw samples from a glove to a .gcrec file"),
    "simulate": ("simulate", "write a simulated massage session with its ground truth"),
}
