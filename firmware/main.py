"""glovecoach glove firmware: entry point.

On the ESP32 MicroPython runs this file at boot. On the unix port (the host's virtual
glove): `cd firmware && micropython main.py`, see docs/firmware.md for the environment.
"""

import sys

try:
    _main_file = __file__
except NameError:   # a port that does not set __file__ for the boot script
    _main_file = "main.py"

# Import glove/ from next to this file, whatever the working directory.
_here = _main_file.rsplit("/", 1)[0] if "/" in _main_file else ""
if _here and _here not in sys.path:
    sys.path.insert(0, _here)

from glove.device import main  # noqa: E402

main(_main_file)
