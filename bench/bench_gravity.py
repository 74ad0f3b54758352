"""The camera's up against the calibration on the 8 Pose2Sim views: the person's cue, the scene's
vertical edges (mocapd.motion.verticals) and the extraction step's result (the fused one).

Per view: degrees off the calibration's up for each, the scene's figures (inliers per frame, their
share, spread, its distance from the person's estimate, why it was not trusted), the scene cue's
seconds (sampling and decoding the frames included) against the clip's duration, and the method
the step chose. The tracklets come from --cache (a folder of <demo>_<cam>.pkl, as bench_solver
writes them), else the tracking step is run.
Run: .venv/bin/python bench/bench_gravity.py [--cache DIR] [--demo SinglePerson MultiPerson]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_solver  # noqa: E402

from mocapd import trackfile  # noqa: E402
from mocapd.motion import association, extraction, tracklets, verticals  # noqa: E402
from mocapd.steps import track_extraction  # noqa: E402
from tests.test_gravity import POSE2SIM, degrees_between, true_up  # noqa: E402


def view(demo: str, camera: str, cache: Path | None, folder: Path) -> dict[str, object]:
    video = POSE2SIM / demo / "videos" / f"{camera}.mp4"
    path, _ = bench_solver.track_clip(video, folder / "tracking", cache, demo)
    job = bench_solver.make_job(video, folder / f"{demo}_{camera}")
    job.tracklets_path.parent.mkdir(parents=True, exist_ok=True)
    job.tracklets_path.write_bytes(path.read_bytes())
    assert job.video_info is not None and job.video_info.fps
    fps = job.video_info.fps
    raw = tracklets.read(job.tracklets_path)
    data = association.relabel(raw, association.associate(raw, fps))
    tracks = [extraction.camera_track(data, summary.tid, fps) for summary in extraction.summarise(data)]
    person = extraction.clip_up(tracks)
    start = time.process_time()
    scene = verticals.from_video(job.video_path, data, person.up, None)
    cpu = time.process_time() - start
    outcome = track_extraction.run(job)
    main = outcome.data["selected"][0]
    quality = next(entry["quality"] for entry in outcome.data["tracks"] if entry["tid"] == main)
    saved = trackfile.load(job.track_path(main))
    # The step's up, read back from the saved motion: world up (0, 1, 0) in the camera's axes.
    fused_up = saved.world_from_camera[:3, :3].T @ np.array([0.0, 1.0, 0.0])
    truth = true_up(demo, camera)
    return {
        "view": f"{demo} {camera}",
        "person": degrees_between(person.up, truth),
        "scene": degrees_between(scene.up, truth) if scene.up is not None else float("nan"),
        "fused": degrees_between(fused_up, truth),
        "method": quality["level_method"],
        "seconds": scene.figures.get("seconds", float("nan")),
        "cpu": cpu,
        "duration": job.video_info.duration or float("nan"),
        "figures": scene.figures,
        "reason": scene.reason,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="folder of cached tracklets (<demo>_<cam>.pkl)"
    )
    parser.add_argument("--demo", nargs="+", default=["SinglePerson", "MultiPerson"])
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for demo in arguments.demo:
            for camera in ("cam01", "cam02", "cam03", "cam04"):
                rows.append(view(demo, camera, arguments.cache, Path(folder)))
    print(
        f"{'view':<20} {'person':>7} {'scene':>7} {'fused':>7} {'method':>10} {'scene s':>8} {'CPU s':>6} {'x clip':>7}"
    )
    for row in rows:
        print(
            f"{row['view']:<20} {row['person']:7.2f} {row['scene']:7.2f} {row['fused']:7.2f} {row['method']:>10} "
            f"{row['seconds']:8.3f} {row['cpu']:6.3f} {row['seconds'] / row['duration']:7.3f}"  # type: ignore[operator]
        )
        print(f"    {row['figures']}" + (f" not trusted: {row['reason']}" if row["reason"] else ""))
    for name in ("person", "scene", "fused"):
        values = np.array([row[name] for row in rows], dtype=float)
        print(
            f"{name}: mean {np.nanmean(values):.2f} deg, max {np.nanmax(values):.2f} deg over {len(rows)} views"
        )


if __name__ == "__main__":
    main()
