#!/usr/bin/env python3
"""Thin front over mocapd.tools.extract_track_for_tid (installed as `mocapd-extract-track`, or `python -m mocapd.tools.extract_track_for_tid`)."""

import sys

from mocapd.tools.extract_track_for_tid import main

if __name__ == "__main__":
    sys.exit(main())
