"""Extract one track of a tracklets file (mocapd's or 4D-Humans') to a world-frame motion NPZ."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mocapd.errors import JobError
from mocapd.motion.extraction import extract_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pkl", type=Path, required=True, help="tracklets file (tracklets.pkl or demo_<name>.pkl)"
    )
    parser.add_argument("--tid", type=int, required=True, help="track id, as listed by tools/list_tids.py")
    parser.add_argument("--out", type=Path, required=True, help="the motion file to write (.npz)")
    parser.add_argument(
        "--fps", type=float, help="the source video's frame rate (not recorded in the tracklets)"
    )
    parser.add_argument("--smpl-model", default="", help="SMPL_NEUTRAL.pkl, for bone lengths from the shape")
    arguments = parser.parse_args()
    try:
        warnings = extract_file(
            arguments.pkl, arguments.tid, arguments.out, arguments.fps, arguments.smpl_model
        )
    except JobError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
