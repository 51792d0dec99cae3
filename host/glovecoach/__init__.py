"""glovecoach: host side of the pressure-sensing massage training glove."""

__version__ = "0.1.0"
