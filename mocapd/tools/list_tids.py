"""List the tracks of a tracklets file (mocapd's or 4D-Humans'): tid, frames, share, first/last frame."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mocapd.errors import JobError
from mocapd.motion.extraction import list_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pkl", type=Path, required=True, help="tracklets file (tracklets.pkl or demo_<name>.pkl)"
    )
    arguments = parser.parse_args()
    try:
        print(list_file(arguments.pkl))
    except JobError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
