"""The 4D-Humans root path (mocapd.motion.solver.root) before/after, on synthetic PHALP tracklets.

A real DeepMimic walk written as PHALP's tracklets with its root depth drifting and jittering along
the ray (tests/phalp_clips.py), several noise seeds. "before" is the per-frame fit
(extraction.observe(solve=False)), "after" the root path: with the camera's true up (solve_root
alone, figures in the camera frame against the true floor) and through extraction (up estimated,
figures in the levelled world). Per seed: mean root error (m), the lowest sole's range from the floor
(cm), a truly planted foot's motion along the floor (mm/frame), the contact share, seconds.

Run: .venv/bin/python bench/bench_fourdhumans_root.py [--seeds 0 1 2 3 4] [--frames 90]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd.motion import extraction  # noqa: E402
from mocapd.motion.solver.root import solve_root  # noqa: E402
from tests.phalp_clips import FPS, TRUE_UP, Measured, measure, measure_camera, per_frame_joints, phalp_clip  # noqa: E402
from tests.solver_clips import CAMERA  # noqa: E402


def line(label: str, before: Measured, after: Measured, share: float, seconds: float) -> str:
    def sole(measured: Measured) -> str:
        return f"{100 * measured.lowest_sole_m.min():+5.1f}..{100 * measured.lowest_sole_m.max():+5.1f}"

    return (
        f"  {label:<11} root {before.root_error_m:.3f} -> {after.root_error_m:.3f} m   lowest sole "
        f"{sole(before)} -> {sole(after)} cm   sliding {before.sliding_mm:6.1f} -> {after.sliding_mm:5.1f} "
        f"mm/frame   contact {share:5.1%}   {seconds:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--frames", type=int, default=90)
    arguments = parser.parse_args()
    for seed in arguments.seeds:
        clip = phalp_clip(arguments.frames, seed=seed)
        per_frame = extraction.observe(clip.data, 1, FPS, solve=False)
        joints = per_frame_joints(per_frame)
        start = time.perf_counter()
        alone = solve_root(
            joints,
            CAMERA.project(joints),
            per_frame.confidence,
            per_frame.offsets,
            CAMERA,
            per_frame.times,
            TRUE_UP,
        )
        seconds = time.perf_counter() - start
        print(f"seed {seed}, {arguments.frames} frames")
        before = measure_camera(joints, per_frame.offsets, clip)
        after = measure_camera(joints + alone.shift[:, None], per_frame.offsets, clip)
        print(line("true up", before, after, alone.figures["contact_share"], seconds))
        start = time.perf_counter()
        track = extraction.observe(clip.data, 1, FPS)
        seconds = time.perf_counter() - start
        share = track.solver["contact_share"]
        print(line("extraction", measure(per_frame, clip), measure(track, clip), share, seconds))


if __name__ == "__main__":
    main()
