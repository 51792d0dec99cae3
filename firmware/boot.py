# ESP32 boot: nothing to set up before main.py; the firmware configures its own pins,
# watchdog and USB stream. Kept minimal so a broken main.py still leaves a usable REPL.
