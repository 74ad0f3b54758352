"""Named keypoints from MediaPipe's landmarks and from .trc markers; landmark and joint confidences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocapd.errors import JobError
from mocapd.motion import landmarks
from mocapd.skeleton import JOINT_INDEX, NUM_JOINTS

TRC = Path(__file__).parent / "data" / "mocap" / "Balancing_for_IK.trc"
KEY = landmarks.KEYPOINT_INDEX


def test_mediapipe_landmarks_land_on_their_names() -> None:
    raw = np.arange(landmarks.NUM_MEDIAPIPE, dtype=np.float64)[:, None].repeat(3, axis=1)[None]
    keypoints = landmarks.from_mediapipe(raw)
    assert keypoints.shape == (1, landmarks.NUM_KEYPOINTS, 3)
    assert keypoints[0, KEY["left_hip"], 0] == 23
    assert keypoints[0, KEY["right_toe"], 0] == 32  # right_foot_index
    assert keypoints[0, KEY["nose"], 0] == 0
    # MediaPipe has no neck and no top of the head: the IK derives them.
    assert np.isnan(keypoints[0, KEY["neck"]]).all() and np.isnan(keypoints[0, KEY["head_top"]]).all()
    confidence = landmarks.confidence_from_mediapipe(np.linspace(0, 1, 33)[None])
    assert confidence[0, KEY["neck"]] == 0
    assert confidence[0, KEY["left_wrist"]] == pytest.approx(15 / 32)


def test_trc_file_reads_into_keypoints() -> None:
    times, rate, markers = landmarks.read_trc(TRC)
    assert float(rate) == 60 and times.shape == (100,) and len(markers) == 21
    keypoints = landmarks.from_trc_markers(markers)
    assert keypoints.shape == (100, landmarks.NUM_KEYPOINTS, 3)
    expected_toe = (markers["LBigToe"] + markers["LSmallToe"]) / 2
    assert np.allclose(keypoints[:, KEY["left_toe"]], expected_toe)
    assert np.allclose(keypoints[:, KEY["neck"]], markers["Neck"])
    assert np.isnan(keypoints[:, KEY["left_ear"]]).all()
    # A standing person in metres, Y up: the head above the hips.
    assert np.all(keypoints[:, KEY["head_top"], 1] > keypoints[:, KEY["left_hip"], 1] + 0.5)


def test_truncated_trc_is_a_job_error(tmp_path: Path) -> None:
    path = tmp_path / "short.trc"
    path.write_text("PathFileType\t4\n")
    with pytest.raises(JobError, match="short.trc"):
        landmarks.read_trc(path)


def test_landmarks_outside_the_image_are_not_seen() -> None:
    points = np.array([[10.0, 10.0], [-50.0, 10.0], [10.0, 150.0], [99.0, 99.0]])
    visibility = np.array([0.9, 0.9, 0.9, 0.2])
    confidence = landmarks.landmark_confidence(points, visibility, (100, 100))
    assert confidence.tolist() == pytest.approx([0.9, 0.0, 0.0, 0.2])


def test_joint_confidence_is_the_least_seen_landmark() -> None:
    confidence = np.ones(33)
    confidence[landmarks.MEDIAPIPE_INDEX["left_heel"]] = 0.1
    confidence[landmarks.MEDIAPIPE_INDEX["right_ear"]] = 0.4
    joints = landmarks.joint_confidence(confidence)
    assert joints.shape == (NUM_JOINTS,)
    assert joints[JOINT_INDEX["left_foot"]] == pytest.approx(0.1)
    assert joints[JOINT_INDEX["head"]] == pytest.approx(0.4)
    assert joints[JOINT_INDEX["right_foot"]] == 1.0
