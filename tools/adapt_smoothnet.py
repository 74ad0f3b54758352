#!/usr/bin/env python3
"""Thin front over mocapd.tools.adapt_smoothnet (installed as `mocapd-adapt-smoothnet`, or `python -m mocapd.tools.adapt_smoothnet`)."""

import sys

from mocapd.tools.adapt_smoothnet import main

if __name__ == "__main__":
    sys.exit(main())
