"""tools/list_tids.py and tools/extract_track_for_tid.py, run as a person would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd import trackfile
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.rootmotion import default_focal_length
from mocapd.motion.worldframe import phalp_focal_length
from mocapd.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, STANDARD_OFFSETS
from tests.fake_4dhumans.layout import LayoutBuilder, Person, camera_from_world

REPOSITORY = Path(__file__).resolve().parents[1]
# MediaPipe landmarks placed on SMPL joints of a standing actor, for tracklets like the embedded backend's.
LANDMARK_JOINTS = {
    "left_shoulder": "left_shoulder",
    "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow",
    "right_elbow": "right_elbow",
    "left_wrist": "left_wrist",
    "right_wrist": "right_wrist",
    "left_hip": "left_hip",
    "right_hip": "right_hip",
    "left_knee": "left_knee",
    "right_knee": "right_knee",
    "left_ankle": "left_ankle",
    "right_ankle": "right_ankle",
    "left_foot_index": "left_foot",
    "right_foot_index": "right_foot",
    "nose": "head",
}


def run_tool(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "tools" / name), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def phalp_pkl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4D-Humans output: track 1 in all 50 frames (ghosts in 20..24), track 2 from frame 10, listed after."""
    builder = LayoutBuilder(50, tuple_keys=True)
    for frame in range(50):
        builder.add(
            frame, Person(tid=1, tracked_time=int(20 <= frame < 25), camera=camera_from_world([0, 0, -8]))
        )
        if frame >= 10:
            builder.add(frame, Person(tid=2, camera=camera_from_world([1.0, 0.0, -6.0 - 0.02 * frame])))
    path = tmp_path_factory.mktemp("phalp") / "demo_clip.pkl"
    joblib.dump(builder.build(), path, compress=3)
    return path


def test_list_tids_prints_real_frames_share_and_span(phalp_pkl: Path) -> None:
    result = run_tool("list_tids.py", "--pkl", str(phalp_pkl))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.strip().splitlines()]
    assert rows[0] == ["tid", "frames", "share", "first", "last"]
    assert rows[1:] == [["1", "45", "90.0%", "0", "49"], ["2", "40", "80.0%", "10", "49"]]


def test_extract_writes_a_track_file_with_the_given_fps(phalp_pkl: Path, tmp_path: Path) -> None:
    out = tmp_path / "track_2.npz"
    result = run_tool(
        "extract_track_for_tid.py", "--pkl", str(phalp_pkl), "--tid", "2", "--out", str(out), "--fps", "50"
    )
    assert result.returncode == 0, result.stderr
    motion = trackfile.load(out)
    assert motion.tid == 2 and motion.fps == 50.0
    assert list(motion.frame_idx) == list(range(10, 50)) and np.isclose(motion.time[0], 0.2)
    # Facing the camera (+Z) and moving away from it: stepping backwards, along -Z; PHALP's depths
    # brought from its focal length to a 60-degree lens (no focal length given).
    depth_scale = default_focal_length(1920, 1080) / phalp_focal_length(1080, 1920)
    assert np.allclose(np.diff(motion.trans[:, 2]), -0.02 * depth_scale, atol=1e-5)


def test_extract_without_fps_or_with_an_unreadable_model_warns(phalp_pkl: Path, tmp_path: Path) -> None:
    broken = tmp_path / "SMPL_NEUTRAL.pkl"
    broken.write_text("licence page, not a model")
    out = tmp_path / "track_1.npz"
    result = run_tool(
        "extract_track_for_tid.py",
        "--pkl",
        str(phalp_pkl),
        "--tid",
        "1",
        "--out",
        str(out),
        "--smpl-model",
        str(broken),
    )
    assert result.returncode == 0, result.stderr
    assert "30 fps assumed" in result.stderr and "not a readable SMPL model pickle" in result.stderr
    motion = trackfile.load(out)
    assert motion.fps == 30.0 and np.allclose(motion.confidence[20:25], 0.0)


def test_an_unknown_tid_is_an_error_naming_the_known_ones(phalp_pkl: Path, tmp_path: Path) -> None:
    result = run_tool(
        "extract_track_for_tid.py", "--pkl", str(phalp_pkl), "--tid", "7", "--out", str(tmp_path / "x.npz")
    )
    assert result.returncode == 2 and "known tracks: 1, 2" in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_tracklets_of_the_embedded_backend_use_its_confidence_and_landmarks(tmp_path: Path) -> None:
    scale = 1.2  # a tall actor
    joints = np.zeros((NUM_JOINTS, 3))
    for joint in range(1, NUM_JOINTS):
        joints[joint] = joints[PARENTS[joint]] + scale * STANDARD_OFFSETS[joint]
    landmarks = np.zeros((33, 3))
    for landmark, joint in LANDMARK_JOINTS.items():
        landmarks[MEDIAPIPE_INDEX[landmark]] = joints[JOINT_INDEX[joint]]
    for side in ("left", "right"):
        ankle = joints[JOINT_INDEX[f"{side}_ankle"]]
        landmarks[MEDIAPIPE_INDEX[f"{side}_heel"]] = ankle + [0.0, -0.05, -0.05]
        landmarks[MEDIAPIPE_INDEX[f"{side}_ear"]] = joints[JOINT_INDEX["head"]] + [
            0.07 if side == "left" else -0.07,
            0,
            0,
        ]
    builder = LayoutBuilder(12)
    for frame in range(12):
        confidence = np.full(24, 0.9 - 0.01 * frame)
        extra = {
            "landmarks_world": landmarks,
            "landmarks_image": np.zeros((33, 2)),
            "landmarks_visibility": np.ones(33),
            "joint_confidence": confidence,
        }
        builder.add(frame, Person(tid=3, extra=extra))
    pkl = tmp_path / "tracklets.pkl"
    joblib.dump(builder.build(), pkl)
    out = tmp_path / "track_3.npz"
    result = run_tool(
        "extract_track_for_tid.py", "--pkl", str(pkl), "--tid", "3", "--out", str(out), "--fps", "24"
    )
    assert result.returncode == 0, result.stderr
    motion = trackfile.load(out)
    assert np.allclose(motion.confidence[:, 0], 0.9 - 0.01 * np.arange(12))
    shin = JOINT_INDEX["left_ankle"]
    assert np.isclose(
        np.linalg.norm(motion.offsets[shin]), scale * np.linalg.norm(STANDARD_OFFSETS[shin]), rtol=0.02
    )
