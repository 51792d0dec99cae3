"""glovecoach glove firmware (MicroPython)."""
