"""People overlapping in the image posed apart: who is painted out, when the fresh look is taken."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from mocapd.backends.embedded import separate
from mocapd.backends.embedded.tracker import Detection
from mocapd.backends.embedded.tracking import TrackingState
from mocapd.decode import DecodedFrame
from mocapd.motion.landmarks import MEDIAPIPE_INDEX, NUM_MEDIAPIPE

# A standing person's landmarks in metres (x right, y down from the hips), arms hanging.
BODY = {
    "nose": (0.0, -0.6),
    "shoulder": (0.2, -0.5),
    "elbow": (0.25, -0.2),
    "wrist": (0.27, 0.05),
    "hip": (0.12, 0.0),
    "knee": (0.13, 0.45),
    "ankle": (0.14, 0.9),
    "heel": (0.12, 0.95),
    "foot_index": (0.2, 0.95),
}


def standing_world() -> np.ndarray:
    """(33, 3) metric landmarks of BODY, left on +x; hands and face on their nearest part."""
    world = np.zeros((NUM_MEDIAPIPE, 3))
    for name, index in MEDIAPIPE_INDEX.items():
        side = 1.0 if name.startswith("left_") else -1.0
        part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
        part = {"pinky": "wrist", "index": "wrist", "thumb": "wrist"}.get(part, part)
        x, y = BODY.get(part, BODY["nose"])
        world[index] = (side * x if part in BODY and part != "nose" else 0.0, y, 0.0)
    return world


def person(centre_x: float, metres_to_px: float, hip_y: float = 600.0) -> Detection:
    """A detection of the standing person with the hips at (centre_x, hip_y), `metres_to_px` pixels a metre."""
    world = standing_world()
    points = world[:, :2] * metres_to_px + np.array([centre_x, hip_y])
    confidence = np.ones(NUM_MEDIAPIPE)
    low, high = points.min(axis=0), points.max(axis=0)
    return Detection(points, confidence, np.concatenate([low, high]), 0.9, (world, confidence))


def test_only_someone_further_away_over_the_persons_box_is_painted_out() -> None:
    near = person(500.0, 500.0)
    behind = separate.seen(person(560.0, 300.0), 0.0)  # smaller in the image: further away
    aside = separate.seen(person(1500.0, 300.0), 0.0)
    assert separate.apparent_depth(person(0.0, 300.0)) > separate.apparent_depth(near)
    assert separate.behind_in_crop(near, [behind, aside]) == [behind]
    # The one behind has the nearer person in their crop, but the nearer one is not painted out.
    assert separate.behind_in_crop(person(560.0, 300.0), [separate.seen(near, 0.0)]) == []


def test_a_fresh_look_that_moves_a_limb_disagrees_one_that_only_swaps_the_sides_agrees() -> None:
    original = person(500.0, 500.0)
    rng = np.random.default_rng(3)
    noisy = person(500.0, 500.0)
    noisy.image_points = noisy.image_points + rng.normal(0.0, 3.0, noisy.image_points.shape)
    assert separate.disagreement(original, noisy) < separate.DISAGREE_SHARE
    mirrored = person(500.0, 500.0)
    mirrored.image_points = mirrored.image_points[separate.MIRRORED]
    assert separate.disagreement(original, mirrored) < separate.DISAGREE_SHARE
    raised = person(500.0, 500.0)
    arm = [MEDIAPIPE_INDEX[f"left_{part}"] for part in ("elbow", "wrist", "pinky", "index", "thumb")]
    arm += [MEDIAPIPE_INDEX["left_knee"], MEDIAPIPE_INDEX["left_ankle"], MEDIAPIPE_INDEX["left_heel"]]
    raised.image_points[arm] += np.array([150.0, -400.0])
    assert separate.disagreement(original, raised) > separate.DISAGREE_SHARE


def test_the_fresh_look_is_matched_to_the_person_or_to_nobody() -> None:
    original = person(500.0, 500.0)
    other = person(1400.0, 300.0)
    shifted = person(530.0, 500.0)
    assert separate.matching(original, [other, shifted]) is shifted
    assert separate.matching(original, [other]) is None


def test_someone_not_found_is_held_where_last_seen_for_a_while() -> None:
    last = {1: separate.seen(person(500.0, 500.0), 1.0), 2: separate.seen(person(900.0, 300.0), 1.0)}
    assert set(separate.held(last, {1}, 1.0 + separate.HOLD_SECONDS / 2)) == {2}
    assert separate.held(last, {1}, 1.0 + 2 * separate.HOLD_SECONDS) == {}


def test_painting_covers_the_bones_and_leaves_the_rest() -> None:
    image = np.zeros((1200, 1000, 3), dtype=np.uint8)
    points = person(500.0, 500.0).image_points
    painted = separate.paint_bones(image, [points])
    hip, knee = points[MEDIAPIPE_INDEX["left_hip"]], points[MEDIAPIPE_INDEX["left_knee"]]
    x, y = ((hip + knee) / 2).astype(int)
    assert tuple(painted[y, x]) == (128, 128, 128)
    assert not painted[10, 10].any() and not image.any()


class FreshLook:
    """Stands in for the IMAGE-mode landmarker: poses whatever it is given as `pose` (a Detection)."""

    def __init__(self, pose: Detection, size: tuple[int, int]) -> None:
        self.pose, self.size, self.images = pose, size, 0

    def detect(self, image: Any) -> Any:
        self.images += 1
        height, width = self.size
        marks = [
            SimpleNamespace(x=x / width, y=y / height, visibility=1.0, presence=1.0)
            for x, y in self.pose.image_points
        ]
        world = [SimpleNamespace(x=x, y=y, z=z) for x, y, z in self.pose.payload[0]]
        return SimpleNamespace(pose_landmarks=[marks], pose_world_landmarks=[world])


def test_tracking_poses_the_nearer_person_again_only_where_the_fresh_look_disagrees(tmp_path: Path) -> None:
    size = (1200, 1000)
    job = SimpleNamespace(config=SimpleNamespace(state_path=tmp_path))
    state = TrackingState(job)  # type: ignore[arg-type]
    state.size = size
    frame = DecodedFrame(0, 0.0, np.zeros(size + (3,), dtype=np.uint8), 1.0)
    near, behind = person(500.0, 500.0), person(560.0, 300.0)
    fixed = person(500.0, 500.0)
    arm = [
        MEDIAPIPE_INDEX[f"right_{part}"] for part in ("shoulder", "elbow", "wrist", "pinky", "index", "thumb")
    ]
    near.image_points = near.image_points.copy()
    near.image_points[arm] = behind.image_points[arm]  # the model took the arm of the one behind
    near.image_points[[MEDIAPIPE_INDEX["left_knee"], MEDIAPIPE_INDEX["left_ankle"]]] += (100.0, -100.0)
    look = FreshLook(fixed, size)
    state.fresh = look
    result = dict(state.separate([(1, near), (2, behind)], frame))
    assert look.images == 1  # only the nearer person is looked at again
    np.testing.assert_allclose(result[1].image_points, fixed.image_points, atol=1e-6)
    assert result[2] is behind
    # A fresh look agreeing with the followed pose leaves it as it was.
    state.fresh = FreshLook(person(502.0, 500.0), size)
    again = dict(state.separate([(1, fixed), (2, behind)], frame))
    assert again[1] is fixed
