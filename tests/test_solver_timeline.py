"""The solver's real time between rows: a person hidden for a while is that long away, not one frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mocapd.motion.solver import timeline
from tests.solver_clips import make_clip, solve


def test_second_differences_weigh_unequal_steps_exactly() -> None:
    uniform = timeline.second_difference(np.arange(5) / 30.0)
    np.testing.assert_allclose(uniform, np.tile([900.0, -1800.0, 900.0], (3, 1)))
    times = np.array([0.0, 0.1, 0.15, 0.9, 1.0])
    acceleration = (
        timeline.second_difference(times) * (3.0 * times**2)[np.arange(3)[:, None] + np.arange(3)]
    ).sum(axis=1)
    np.testing.assert_allclose(acceleration, 6.0)  # d2/dt2 of 3 t^2 at every inner row
    assert timeline.adjacent(times).tolist() == [True, True, False, True]  # median step 0.1 s


def test_a_walker_hidden_for_forty_frames_is_placed_on_both_sides_of_the_gap() -> None:
    clip = make_clip(frames=120, cycles=4)
    kept = np.r_[0:40, 80:120]  # 1.3 s unseen, about a metre and a half walked meanwhile
    seen = replace(
        clip,
        image=clip.image[kept],
        world=clip.world[kept],
        visibility=clip.visibility[kept],
        times=clip.times[kept],
        truth=clip.truth[kept],
        true_joints=clip.true_joints[kept],
    )
    solved = solve(seen, known_up=True)
    error = np.linalg.norm(solved.pelvis - seen.true_joints[:, 0], axis=-1)
    # The rows on either side of the gap: as well placed as the rest, not pulled towards each other.
    edges = np.r_[34:46]
    assert error[edges].max() < 0.1, np.round(error[edges], 3)
    assert error.mean() < 0.06
