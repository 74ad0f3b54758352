"""Export: the export step on 1 and on 4 tracks of real walking motion (one Blender start each run).

Prints seconds per stage (preparing with foot locking, BVH, GLB, Blender's FBX run including its start),
seconds of export per second of animation, peak memory of the step's process and of Blender's, and how
far the FBX's world joint positions (ufbx, every 10th frame) lie from the motion's (bones aimed at their child).
Run: .venv/bin/python bench/bench_export.py [--frames 3000] [--fps 30] [--preset mixamo]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd import trackfile  # noqa: E402
from mocapd.config import Config  # noqa: E402
from mocapd.export import motion as export_motion  # noqa: E402
from mocapd.export.blender import FbxExport, run_blender  # noqa: E402
from mocapd.export.bvh import write_bvh  # noqa: E402
from mocapd.export.glb import write_glb  # noqa: E402
from mocapd.export.prepare import PrepareSettings, prepare  # noqa: E402
from tests.deepmimic import add_noise, load_track  # noqa: E402


def walking_track(frames: int, fps: float, seed: int) -> trackfile.TrackMotion:
    """A real walk looped to `frames` frames at `fps`, with estimator-like noise."""
    cycle_frames = 38
    track = load_track("walk", cycles=frames // cycle_frames + 1, tid=seed)
    add_noise(track, seed=seed)
    for key in ("frame_idx", "R_root", "R_body", "camera", "betas", "trans", "confidence"):
        setattr(track, key, getattr(track, key)[:frames])
    track.fps = fps
    track.time = np.arange(frames) / fps
    return track


KEPT: list[object] = []


def fbx_position_error_mm(path: Path, motion: export_motion.ExportMotion) -> float:
    """Largest distance between a bone's world position in the FBX (ufbx) and in the motion, every 10th frame."""
    import gc

    import ufbx

    # ufbx objects do not keep their scene alive and crash when the cyclic collector meets them
    # (tests/ufbx_scenes.py): collector off, every scene kept until the process ends.
    gc.disable()
    scene = ufbx.load_file(str(path))
    KEPT.append(scene)
    stacks = list(scene.anim_stacks)
    _, expected = motion.world_transforms()
    worst = 0.0
    for frame in range(0, motion.frame_count, 10):
        evaluated = ufbx.evaluate_scene(scene, stacks[0].anim, float(motion.times[frame]))
        KEPT.append(evaluated)
        nodes = {node.name: node for node in list(evaluated.nodes)}
        for joint, name in enumerate(motion.names):
            position = np.array(list(nodes[name].node_to_world.c3))
            worst = max(worst, float(np.linalg.norm(position - expected[frame, joint])))
    return worst * 1000.0


def bench(track_count: int, frames: int, fps: float, folder: Path, preset: str) -> None:
    tracks = [walking_track(frames, fps, seed) for seed in range(1, track_count + 1)]
    timings = {"prepare (foot locking)": 0.0, "bvh": 0.0, "glb": 0.0}
    exports = []
    reports = []
    prepared_motions = []
    for track in tracks:
        started = time.perf_counter()
        prepared = prepare(track, PrepareSettings(preset=preset))
        timings["prepare (foot locking)"] += time.perf_counter() - started
        reports.append(prepared.report["foot_locking"])
        prepared_motions.append(prepared.motion)
        started = time.perf_counter()
        write_bvh(prepared.motion, folder / f"animation_track{track.tid}.bvh")
        timings["bvh"] += time.perf_counter() - started
        started = time.perf_counter()
        write_glb(prepared.motion, folder / f"animation_track{track.tid}.glb")
        timings["glb"] += time.perf_counter() - started
        motion_path = folder / f"motion{track.tid}.npz"
        export_motion.save(prepared.motion, motion_path)
        exports.append(FbxExport.single(motion_path, folder / f"animation_track{track.tid}.fbx"))
    log_path = folder / f"blender_{track_count}.log"
    started = time.perf_counter()
    run_blender(Config(), exports, folder / "request.json", log_path, timeout=1800)
    timings["fbx (one Blender start)"] = time.perf_counter() - started
    seconds = track_count * frames / fps
    total = sum(timings.values())
    bones = prepared.motion.joint_count
    print(
        f"\n{track_count} track(s) x {frames} frames at {fps:g} fps = {seconds:.0f} s of animation, "
        f"preset {preset} ({bones} bones)"
    )
    for stage, value in timings.items():
        print(f"  {stage:26s} {value:7.2f} s   {value / seconds * 1000:6.2f} ms per animation second")
    print(f"  {'total':26s} {total:7.2f} s   {total / seconds * 1000:6.2f} ms per animation second")
    blender_lines = [line for line in log_path.read_text().splitlines() if line.startswith("wrote ")]
    for line in blender_lines:
        print(f"  blender: {line.split(': ', 1)[1]}")
    sizes = {
        extension: sum(p.stat().st_size for p in folder.glob(f"*.{extension}")) / track_count / 1e6
        for extension in ("fbx", "bvh", "glb")
    }
    print(
        "  file size per track: "
        + ", ".join(f"{extension} {size:.1f} MB" for extension, size in sizes.items())
    )
    before = np.mean([report["sliding_before_cm"] for report in reports])
    after = np.mean([report["sliding_after_cm"] for report in reports])
    print(
        f"  foot sliding during contacts: {before:.2f} -> {after:.2f} cm per frame ({before / max(after, 1e-9):.0f}x less)"
    )
    error = fbx_position_error_mm(folder / f"animation_track{tracks[0].tid}.fbx", prepared_motions[0])
    print(f"  FBX world joint positions against the motion: max {error:.4f} mm (ufbx, every 10th frame)")
    for path in folder.iterdir():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--preset", default="mixamo", help="skeleton preset (mixamo: the most bones)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for track_count in (1, 4):
            bench(track_count, arguments.frames, arguments.fps, Path(folder), arguments.preset)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak memory: this process {own:.0f} MB, largest Blender child {children:.0f} MB")
    # ufbx 0.0.5 crashes freeing its objects at interpreter exit (whatever the order): leave without it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
