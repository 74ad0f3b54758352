"""The presets' rigs: SMPL joints where the 24-joint motion puts them, added bones static, UE's root on the floor."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.export import rig
from mocapd.export.prepare import PrepareSettings, prepare
from tests.deepmimic import load_track


@pytest.mark.parametrize("preset", list(skeleton.PRESETS))
def test_smpl_joints_keep_their_world_positions_and_added_bones_stay_still(preset: str) -> None:
    track = load_track("walk", cycles=2)
    smpl = prepare(track, PrepareSettings(preset="smpl")).motion
    motion = prepare(track, PrepareSettings(preset=preset)).motion
    expected_rotations, expected = smpl.world_transforms()
    rotations, positions = motion.world_transforms()
    np.testing.assert_allclose(positions[:, list(motion.smpl_joints)], expected, atol=1e-9)
    np.testing.assert_allclose(rotations[:, list(motion.smpl_joints)], expected_rotations, atol=1e-9)
    added = [joint for joint in range(motion.joint_count) if joint not in motion.smpl_joints]
    np.testing.assert_allclose(
        motion.rotations[:, added], np.broadcast_to(np.eye(3), (motion.frame_count, len(added), 3, 3))
    )
    assert all(parent < joint for joint, parent in enumerate(motion.parents))  # parents first
    assert len(set(motion.names)) == motion.joint_count


def test_bones_aim_up_the_spine_and_at_the_fingers() -> None:
    motion = prepare(load_track("walk"), PrepareSettings(preset="mixamo")).motion
    aim = {
        motion.names[joint]: motion.names[target] for joint, target in enumerate(motion.aims) if target >= 0
    }
    assert aim["mixamorig:Hips"] == "mixamorig:Spine"
    assert aim["mixamorig:Spine2"] == "mixamorig:Neck"
    assert aim["mixamorig:LeftHand"] == "mixamorig:LeftHandMiddle1"
    assert aim["mixamorig:Head"] == "mixamorig:HeadTop_End"
    assert aim["mixamorig:LeftLeg"] == "mixamorig:LeftFoot"
    assert motion.aims[motion.names.index("mixamorig:LeftHandIndex4")] == -1


def test_unreal_root_is_on_the_floor_under_the_pelvis() -> None:
    motion = prepare(load_track("walk", cycles=2), PrepareSettings(preset="unreal")).motion
    assert motion.names[0] == "root" and motion.parents[motion.names.index("pelvis")] == 0
    _, positions = motion.world_transforms()
    pelvis = motion.names.index("pelvis")
    np.testing.assert_allclose(positions[:, 0, 1], 0.0)
    np.testing.assert_allclose(positions[:, 0, [0, 2]], positions[:, pelvis, [0, 2]], atol=1e-12)
    assert motion.moving == (0, pelvis)
    still = prepare(
        load_track("walk", cycles=2), PrepareSettings(preset="unreal", with_root_motion=False)
    ).motion
    np.testing.assert_allclose(still.translations[:, 0], 0.0)


def test_fingers_scale_with_the_actors_hand() -> None:
    offsets = skeleton.STANDARD_OFFSETS.copy()
    small = rig.build_skeleton("mixamo", offsets)
    offsets[skeleton.JOINT_INDEX["left_hand"]] *= 2.0
    large = rig.build_skeleton("mixamo", offsets)
    index = small.names.index("mixamorig:LeftHandIndex2")
    np.testing.assert_allclose(large.offsets[index], 2.0 * small.offsets[index])
    right = small.names.index("mixamorig:RightHandIndex2")
    np.testing.assert_allclose(small.offsets[right], small.offsets[index] * np.array([-1.0, 1.0, 1.0]))
