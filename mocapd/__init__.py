"""mocapd: a motion-capture daemon that turns dropped videos into animated skeletons."""

__version__ = "0.1.0"
