"""BVH writer, read back by bvhio: names, hierarchy, offsets, frame time and rotations."""

from __future__ import annotations

from pathlib import Path

import bvhio
import numpy as np
import pytest

from mocapd import skeleton
from mocapd.export.bvh import CENTIMETRES_PER_METRE, write_bvh
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.rotations import angle_between, quaternion_to_matrix
from tests.deepmimic import load_track


@pytest.mark.parametrize(("preset", "fps"), [("mixamo", 29.97), ("unreal", 60.0), ("smpl", None)])
def test_bvhio_reads_what_was_written(tmp_path: Path, preset: str, fps: float | None) -> None:
    motion = prepare(
        load_track("walk", cycles=2), PrepareSettings(fps=fps, preset=preset, tpose_frame=True)
    ).motion
    path = tmp_path / "a.bvh"
    write_bvh(motion, path)
    container = bvhio.readAsBvh(str(path))
    assert container.FrameCount == motion.frame_count
    assert container.FrameTime == 1.0 / motion.fps  # exact, not rounded
    joints = {}

    def collect(joint, parent_name):  # type: ignore[no-untyped-def]
        joints[joint.Name] = (joint, parent_name)
        for child in joint.Children:
            collect(child, joint.Name)

    collect(container.Root, None)
    names = skeleton.PRESETS[preset]
    assert sorted(joints) == sorted(names)
    for index, name in enumerate(names):
        joint, parent_name = joints[name]
        parent = skeleton.PARENTS[index]
        assert parent_name == (names[parent] if parent >= 0 else None)
        if parent >= 0:
            np.testing.assert_allclose(
                list(joint.Offset), motion.offsets[index] * CENTIMETRES_PER_METRE, atol=1e-4
            )
        keys = joint.Keyframes
        assert len(keys) == motion.frame_count
        wxyz = np.array([[key.Rotation.w, key.Rotation.x, key.Rotation.y, key.Rotation.z] for key in keys])
        degrees = np.degrees(angle_between(quaternion_to_matrix(wxyz), motion.rotations[:, index]))
        assert degrees.max() < 0.1, name
    root_keys = container.Root.Keyframes
    positions = np.array([list(key.Position) for key in root_keys]) / CENTIMETRES_PER_METRE
    np.testing.assert_allclose(positions, motion.root_positions, atol=1e-5)
    # The first frame is the rest (T) pose.
    np.testing.assert_allclose(motion.rotations[0], np.broadcast_to(np.eye(3), (24, 3, 3)))
