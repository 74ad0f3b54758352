"""Smooth one track file (NPZ in, NPZ out) with mocapd's smoother or a SmoothNet checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mocapd.errors import JobError
from mocapd.options import JobOptions
from mocapd.smoothing.smoother import METHOD, RotationSmoother, SmoothingParameters
from mocapd.smoothing.trackfiles import smooth_track_file


def main(argv: list[str] | None = None) -> int:
    defaults = JobOptions()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--npz", type=Path, required=True, help="track file to smooth")
    parser.add_argument("--out", type=Path, required=True, help="where to write the smoothed track file")
    parser.add_argument(
        "--ckpt", type=Path, help="SmoothNet checkpoint (official or ours); default: our smoother"
    )
    parser.add_argument(
        "--win",
        type=int,
        help=f"window in frames (default {defaults.smoothing_window}; with --ckpt the checkpoint's, "
        "and a different value is refused)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        help="smooth the root path like a forward-backward exponential average of this gain (e.g. 0.2; "
        "1 leaves it untouched); default: the joints' cutoff lowered for the root",
    )
    parser.add_argument(
        "--strength", type=float, default=defaults.smoothing_strength, help="0 = raw .. 1 = full smoothing"
    )
    arguments = parser.parse_args(argv)
    if not 0.0 <= arguments.strength <= 1.0:
        parser.error("--strength must be between 0 and 1")
    if arguments.ema is not None and not 0.0 < arguments.ema <= 1.0:
        parser.error("--ema must be in (0, 1]")
    parameters = SmoothingParameters(
        strength=arguments.strength,
        window=arguments.win or defaults.smoothing_window,
        root_ema=arguments.ema,
    )
    try:
        rotation_smoother: RotationSmoother | None = None
        method = METHOD
        if arguments.ckpt is not None:
            from mocapd.smoothing.learned import load_checkpoint

            loaded = load_checkpoint(arguments.ckpt, arguments.strength, arguments.win)
            rotation_smoother, method = loaded.smoother, loaded.description
        figures = smooth_track_file(arguments.npz, arguments.out, parameters, rotation_smoother)
    except JobError as error:
        print(f"adapt_smoothnet: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"method": method, "jitter_mm_per_frame2": figures, "out": str(arguments.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
