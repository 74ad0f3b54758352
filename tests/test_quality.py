"""Per-track quality figures on cases with known answers."""

from __future__ import annotations

import numpy as np

from mocapd.motion import extraction, quality, tracklets
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.skeleton import NUM_JOINTS, STANDARD_OFFSETS
from mocapd.trackfile import TrackMotion
from tests.fake_4dhumans.layout import LayoutBuilder, Person, camera_from_world


def motion_with(trans: np.ndarray, fps: float) -> TrackMotion:
    count = trans.shape[0]
    return TrackMotion(
        tid=1,
        fps=fps,
        frame_idx=np.arange(count),
        time=np.arange(count) / fps,
        R_root=np.tile(np.eye(3), (count, 1, 1)),
        R_body=np.tile(np.eye(3), (count, NUM_JOINTS - 1, 1, 1)),
        camera=np.zeros((count, 3)),
        betas=np.zeros((count, 10)),
        trans=trans,
        offsets=STANDARD_OFFSETS,
        confidence=np.ones((count, NUM_JOINTS)),
    )


def test_jitter_is_zero_for_steady_motion_and_matches_a_known_oscillation() -> None:
    fps = 100.0
    time = np.arange(400) / fps
    steady = np.stack([1.5 * time, np.full_like(time, 0.9), np.zeros_like(time)], axis=1)
    assert quality.jitter(motion_with(steady, fps)) < 1e-9
    amplitude, angular = 0.05, 2 * np.pi * 2.0
    shaking = steady.copy()
    shaking[:, 0] = amplitude * np.sin(angular * time)
    # Mean of |a| = A w^2 |sin| over whole periods: A w^2 * 2/pi, the same for every joint.
    expected = amplitude * angular**2 * 2 / np.pi
    assert abs(quality.jitter(motion_with(shaking, fps)) / expected - 1) < 0.02


def test_bone_length_variation_measures_the_spread_of_limb_lengths() -> None:
    generator = np.random.default_rng(0)
    landmarks = np.zeros((500, 33, 3))
    for index, name in enumerate(MEDIAPIPE_INDEX):
        landmarks[:, MEDIAPIPE_INDEX[name]] = [0.0, index * 0.1, 0.0]
    assert quality.bone_length_variation(landmarks) < 1e-12
    noisy = landmarks.copy()
    for start, end in quality.LIMBS:
        rest = landmarks[:, MEDIAPIPE_INDEX[end]] - landmarks[:, MEDIAPIPE_INDEX[start]]
        scale = 1 + generator.normal(0, 0.1, (500, 1))
        noisy[:, MEDIAPIPE_INDEX[end]] = noisy[:, MEDIAPIPE_INDEX[start]] + rest * scale
    variation = quality.bone_length_variation(noisy)
    assert variation is not None and 0.08 < variation < 0.12
    assert quality.bone_length_variation(np.full((5, 33, 3), np.nan)) is None


def test_out_of_image_from_the_box_and_from_low_confidence() -> None:
    size = np.tile([1080.0, 1920.0], (4, 1))
    boxes = np.array(
        [[100, 100, 300, 700], [0, 100, 300, 700], [1700, 300, 220, 700], [100, 100, 300, 700]], float
    )
    confidence = np.ones((4, 24))
    confidence[3, :20] = 0.1
    assert quality.out_of_image(boxes, size).tolist() == [False, True, True, False]
    assert quality.out_of_image(boxes, size, confidence).tolist() == [False, True, True, True]


def test_track_quality_of_an_extracted_track() -> None:
    builder = LayoutBuilder(20)
    for frame in range(20):
        person = Person(
            tid=1, camera=camera_from_world([0.02 * frame, 0.0, -8.0]), tracked_time=int(frame in (5, 6))
        )
        if frame == 10:
            person.bbox = (1800.0, 200.0, 300.0, 700.0)  # past the right border
        builder.add(frame, person)
    extracted = extraction.extract(tracklets.from_dict(builder.build()), 1, 25.0)
    figures = quality.track_quality(extracted)
    assert figures["detected_share"] == 0.9 and figures["interpolated_frames"] == 2
    assert figures["frames_out_of_image"] == 1
    assert figures["bone_length_cv"] is None  # 4D-Humans gives no landmarks
    assert figures["jitter_m_s2"] < 1e-6  # steady walk along x
