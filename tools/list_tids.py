#!/usr/bin/env python3
"""Thin front over mocapd.tools.list_tids (installed as `mocapd-list-tids`, or `python -m mocapd.tools.list_tids`)."""

import sys

from mocapd.tools.list_tids import main

if __name__ == "__main__":
    sys.exit(main())
