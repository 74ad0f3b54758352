"""Left/right repair on a real walk with stretches the pose model mirrored."""

from __future__ import annotations

import numpy as np

from mocapd.motion.landmarks import landmark_confidence
from mocapd.motion.solver import flips
from tests.solver_clips import HEIGHT, WIDTH, make_clip, mirror


def chosen_for(clip) -> np.ndarray:  # type: ignore[no-untyped-def]
    confidence = landmark_confidence(clip.image, clip.visibility, (HEIGHT, WIDTH))
    return flips.choose(clip.image, clip.world, confidence)


def test_a_clean_clip_keeps_every_frame_as_given() -> None:
    assert not chosen_for(make_clip(frames=60)).any()


def test_a_mirrored_stretch_is_found_and_undone() -> None:
    clip = make_clip(frames=60)
    original = clip.image.copy()
    mirror(clip, slice(20, 28), hypothesis=1)
    mirror(clip, slice(40, 44), hypothesis=2)
    confidence = landmark_confidence(clip.image, clip.visibility, (HEIGHT, WIDTH))
    image, _, _, _, chosen = flips.repair(clip.image, clip.world, clip.visibility, confidence)
    expected = np.zeros(60, dtype=int)
    expected[20:28] = 1
    expected[40:44] = 2
    assert np.array_equal(chosen, expected)
    np.testing.assert_allclose(image, original)


def test_a_single_frame_is_kept() -> None:
    clip = make_clip(frames=1)
    assert chosen_for(clip).tolist() == [0]
