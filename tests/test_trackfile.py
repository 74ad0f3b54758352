"""The track file's optional camera pose: written when known, absent from older files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocapd import trackfile
from mocapd.errors import JobError
from mocapd.skeleton import NUM_JOINTS, STANDARD_OFFSETS


def motion(pose: np.ndarray | None = None) -> trackfile.TrackMotion:
    n = 4
    return trackfile.TrackMotion(
        tid=2,
        fps=30.0,
        frame_idx=np.arange(n),
        time=np.arange(n) / 30.0,
        R_root=np.tile(np.eye(3), (n, 1, 1)),
        R_body=np.tile(np.eye(3), (n, NUM_JOINTS - 1, 1, 1)),
        camera=np.zeros((n, 3)),
        betas=np.zeros((n, 10)),
        trans=np.zeros((n, 3)),
        offsets=STANDARD_OFFSETS.copy(),
        confidence=np.ones((n, NUM_JOINTS)),
        world_from_camera=pose,
    )


def test_the_camera_pose_round_trips_and_older_files_load_without_it(tmp_path: Path) -> None:
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    trackfile.save(motion(pose), tmp_path / "with.npz")
    loaded = trackfile.load(tmp_path / "with.npz")
    assert loaded.world_from_camera is not None and np.allclose(loaded.world_from_camera, pose)
    trackfile.save(motion(None), tmp_path / "without.npz")
    assert "world_from_camera" not in np.load(tmp_path / "without.npz")
    assert trackfile.load(tmp_path / "without.npz").world_from_camera is None


def test_a_camera_pose_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="world_from_camera"):
        trackfile.save(motion(np.eye(3)), tmp_path / "bad.npz")
