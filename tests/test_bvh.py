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
    assert sorted(joints) == sorted(motion.names)
    assert [motion.names[joint] for joint in motion.smpl_joints] == list(skeleton.PRESETS[preset])
    for index, name in enumerate(motion.names):
        joint, parent_name = joints[name]
        parent = motion.parents[index]
        assert parent_name == (motion.names[parent] if parent >= 0 else None)
        keys = joint.Keyframes
        if index in motion.moving:
            # Its position channels carry the whole local position (its OFFSET is zero).
            positions = np.array([list(key.Position) for key in keys]) / CENTIMETRES_PER_METRE
            np.testing.assert_allclose(positions, motion.translations[:, index], atol=1e-5)
        else:
            np.testing.assert_allclose(
                list(joint.Offset), motion.offsets[index] * CENTIMETRES_PER_METRE, atol=1e-4
            )
        assert len(keys) == motion.frame_count
        wxyz = np.array([[key.Rotation.w, key.Rotation.x, key.Rotation.y, key.Rotation.z] for key in keys])
        degrees = np.degrees(angle_between(quaternion_to_matrix(wxyz), motion.rotations[:, index]))
        assert degrees.max() < 0.1, name
    # The first frame is the rest (T) pose.
    np.testing.assert_allclose(motion.rotations[0], np.broadcast_to(np.eye(3), (motion.joint_count, 3, 3)))


@pytest.mark.parametrize("preset", ["unreal5", "mixamo"])
def test_world_joint_positions_match_the_motion(tmp_path: Path, preset: str) -> None:
    motion = prepare(load_track("walk", cycles=2), PrepareSettings(preset=preset)).motion
    write_bvh(motion, tmp_path / "a.bvh")
    root = bvhio.readAsHierarchy(str(tmp_path / "a.bvh"))
    _, expected = motion.world_transforms()
    for frame in (0, motion.frame_count // 2, motion.frame_count - 1):
        root.loadPose(frame)
        for index, name in enumerate(motion.names):
            position = np.array(list(root.filter(name)[0].PositionWorld)) / CENTIMETRES_PER_METRE
            np.testing.assert_allclose(position, expected[frame, index], atol=1e-5)
