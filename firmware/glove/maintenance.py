"""Maintenance mode: one boot that leaves the REPL free, so deploy tools can reach it.

While it runs, the firmware switches Ctrl-C off and feeds a watchdog, so nothing on the
serial port can interrupt it. The MAINTENANCE command therefore leaves a flag file next to
main.py and resets the board. The boot that finds the flag removes it first and then
returns to the REPL without starting the watchdog or the sampling loop; removing it first
means the boot after that (the reset at the end of a deploy) is a normal one again.
"""

import os

FLAG_NAME = "maintenance.flag"
BOOT_LINE = "glovecoach: maintenance mode - not sampling, Ctrl-C and the REPL are free until the next reset"


def flag_path(main_file):
    """The flag's path: next to main.py, wherever the firmware runs from."""
    here = main_file.rsplit("/", 1)[0] if "/" in main_file else ""
    return here + "/" + FLAG_NAME if here else FLAG_NAME


def request(path):
    """Ask for a maintenance boot. Raises OSError if the flag cannot be written."""
    with open(path, "w") as fh:
        fh.write("the next boot leaves the REPL free (written by the MAINTENANCE command)\n")


def take(path):
    """True if a maintenance boot was asked for; the flag is gone afterwards either way."""
    try:
        os.remove(path)
    except OSError:   # no flag: a normal boot
        return False
    return True
