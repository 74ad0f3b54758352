"""tests/fbx_hinges (the bench's knee and elbow bends about their own hinge): on made-up bone axes with
known bends, and on real DeepMimic motions written by Blender and read back with ufbx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.config import Config
from mocapd.export import motion as export_motion
from mocapd.export import prepare as prepare_module
from mocapd.export.blender import FbxExport, run_blender
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.trackfile import TrackMotion
from tests import fbx_hinges, ufbx_scenes
from tests.deepmimic import FIELDS, load_track, read_frames
from tests.ufbx_scenes import ufbx_objects_never_collected  # noqa: F401 (a fixture)

NAMES = skeleton.JOINT_NAMES
JOINT = skeleton.JOINT_INDEX


def straight_offsets() -> np.ndarray:
    """The standard skeleton with straight limbs (arms out along x, legs straight down) and an upright
    spine, so that the rest pose faces +z exactly."""
    offsets = skeleton.STANDARD_OFFSETS.copy()
    for joint in ("spine1", "spine2", "spine3", "neck"):
        offsets[JOINT[joint], 2] = 0.0
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for joint in ("elbow", "wrist"):
            offsets[JOINT[f"{side}_{joint}"]] = [sign * 0.26, 0.0, 0.0]
        for joint in ("knee", "ankle"):
            offsets[JOINT[f"{side}_{joint}"]] = [0.0, -0.4, 0.0]
    return offsets


def random_rotations(count: int, seed: int) -> np.ndarray:
    """(count, 3, 3) random rotations (a file's own bone axes)."""
    matrices = np.random.default_rng(seed).normal(size=(count, 3, 3))
    left, _, right = np.linalg.svd(matrices)
    result = left @ right
    result[np.linalg.det(result) < 0] *= -1.0
    return result


def about(axis: np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about the unit `axis`."""
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    angle = np.radians(degrees)
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross


def as_file(
    global_rotations: np.ndarray, offsets: np.ndarray, bone_axes: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The rest world matrices and each frame's node-to-parent matrices a file with these bone axes
    (J, 3, 3) holds for global joint rotations (F, J, 3, 3) (relative to the rest pose)."""
    frames = len(global_rotations)
    positions = skeleton.forward_kinematics(global_rotations, offsets, np.zeros((frames, 3)))
    rest_positions = skeleton.forward_kinematics(np.eye(3)[None].repeat(24, 0), offsets, np.zeros(3))
    world = np.tile(np.eye(4), (frames, len(NAMES), 1, 1))
    world[..., :3, :3] = global_rotations @ bone_axes
    world[..., :3, 3] = positions
    rest = np.tile(np.eye(4), (len(NAMES), 1, 1))
    rest[:, :3, :3] = bone_axes
    rest[:, :3, 3] = rest_positions
    local = world.copy()
    for joint in range(1, len(NAMES)):
        local[:, joint] = np.linalg.inv(world[:, skeleton.PARENTS[joint]]) @ world[:, joint]
    return {name: rest[j] for j, name in enumerate(NAMES)}, {
        name: local[:, j] for j, name in enumerate(NAMES)
    }


def posed(upper_arm_twist: float, elbow: float, knee: float) -> np.ndarray:
    """(1, 24, 3, 3) global rotations: both upper arms raised forwards and twisted `upper_arm_twist`
    degrees about their own line, elbows turned `elbow` degrees about their own hinge (positive
    towards the front in the rest pose), knees `knee` degrees (positive towards the back)."""
    rotations = np.tile(np.eye(3), (1, len(NAMES), 1, 1))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        along = np.array([sign, 0.0, 0.0])
        # Twist about the rest upper arm's line, then swing it forwards: the hinge turns with both.
        shoulder = about(np.array([0.0, -sign, 0.0]), 60.0) @ about(along, upper_arm_twist)
        hinge = np.array([0.0, -sign, 0.0])  # turns +x towards +z (forwards) for the left arm
        elbow_global = shoulder @ about(hinge, elbow)
        for joint, rotation in (("shoulder", shoulder), ("elbow", elbow_global), ("wrist", elbow_global)):
            rotations[0, JOINT[f"{side}_{joint}"]] = rotation
        rotations[0, JOINT[f"{side}_hand"]] = elbow_global
        shank = about(np.array([1.0, 0.0, 0.0]), knee)  # turns -y towards -z (backwards)
        for joint in ("knee", "ankle", "foot"):
            rotations[0, JOINT[f"{side}_{joint}"]] = shank
    return rotations


@pytest.mark.parametrize("twist", [0.0, 90.0, -90.0])
@pytest.mark.parametrize(("elbow", "knee"), [(110.0, 60.0), (-20.0, -12.0), (4.0, 150.0)])
def test_bends_are_each_hinge_own_turn_whatever_the_twist_and_bone_axes(
    twist: float, elbow: float, knee: float
) -> None:
    offsets = straight_offsets()
    for seed in (1, 2):
        rest, local = as_file(posed(twist, elbow, knee), offsets, random_rotations(len(NAMES), seed))
        bends = fbx_hinges.bends(rest, local)
        for side in ("left", "right"):
            assert bends[f"{side}_elbow"][0] == pytest.approx(elbow, abs=1e-6)
            assert bends[f"{side}_knee"][0] == pytest.approx(knee, abs=1e-6)


def test_a_sideways_bend_is_left_out() -> None:
    rotations = posed(90.0, 40.0, 0.0)
    # The left forearm then tilted 30 degrees towards the hinge's axis, out of its flexion plane.
    bend = np.radians(40.0)
    tilt = about(np.array([np.sin(bend), 0.0, -np.cos(bend)]), 30.0)
    forearm = rotations[0, JOINT["left_shoulder"]] @ tilt @ about(np.array([0.0, -1.0, 0.0]), 40.0)
    for joint in ("elbow", "wrist", "hand"):
        rotations[0, JOINT[f"left_{joint}"]] = forearm
    rest, local = as_file(rotations, straight_offsets(), random_rotations(len(NAMES), 3))
    assert fbx_hinges.bends(rest, local)["left_elbow"][0] == pytest.approx(40.0, abs=1e-6)


def test_rest_pose_bends_are_the_rest_skeletons_own() -> None:
    # The standard skeleton's rest knees and elbows are a little flexed, none bent backwards.
    rest, local = as_file(
        np.eye(3)[None, None].repeat(24, 1), skeleton.STANDARD_OFFSETS, random_rotations(24, 4)
    )
    for name, bend in fbx_hinges.bends(rest, local).items():
        assert 0.0 < bend[0] < 10.0, name


def backwards_left_elbow(clip: str) -> tuple[TrackMotion, np.ndarray]:
    """A DeepMimic clip with its left elbow bent backwards as far as it bent forwards (its hinge angle
    negated), and that angle (degrees)."""
    track = load_track(clip)
    angle = read_frames(clip, 1)[0][:, FIELDS["left_elbow"][0]]
    # load_track's left elbow turns about -y of the upper arm's axes (the SMPL rest arm's hinge).
    turn = np.stack([about(np.array([0.0, -1.0, 0.0]), -2.0 * np.degrees(value)) for value in angle])
    track.R_body[:, JOINT["left_elbow"] - 1] = track.R_body[:, JOINT["left_elbow"] - 1] @ turn
    return track, -np.degrees(angle)


@pytest.mark.slow
@pytest.mark.usefixtures("ufbx_objects_never_collected")
def test_real_motions_read_back_from_blenders_fbx_bend_as_their_own_hinges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ufbx")
    # The file as the motion made it: no hinge limit (the exporter's own would mend the backwards elbow).
    monkeypatch.setattr(prepare_module.hinges, "limit", lambda rotations, offsets: rotations)
    clips = {name: (load_track(name), None) for name in ("punch", "getup_facedown", "run")}
    clips["punch backwards"] = backwards_left_elbow("punch")
    exports, motions = [], {}
    for clip, (track, _) in clips.items():
        prepared = prepare(track, PrepareSettings())
        path = tmp_path / f"{clip.replace(' ', '_')}.npz"
        export_motion.save(prepared.motion, path)
        motions[clip] = prepared.motion
        exports.append(FbxExport.single(path, path.with_suffix(".fbx")))
    run_blender(Config(), exports, tmp_path / "request.json", tmp_path / "blender.log", timeout=600)
    for clip, (_, backwards) in clips.items():
        scene = ufbx_scenes.load(tmp_path / f"{clip.replace(' ', '_')}.fbx")
        motion = motions[clip]
        _, local = fbx_hinges.sample(scene, [float(time) for time in motion.times], NAMES)
        rest = fbx_hinges.rest(scene, NAMES)
        bends = fbx_hinges.bends(rest, {name: local[:, joint] for joint, name in enumerate(NAMES)})
        rest_bends = fbx_hinges.bends(
            rest,
            {
                name: np.linalg.inv(rest[NAMES[skeleton.PARENTS[j]]])[None] @ rest[name]
                for j, name in enumerate(NAMES)
                if j
            },
        )
        frames, _ = read_frames(clip.split()[0], 1)
        for name, bend in bends.items():
            # DeepMimic's own hinge angle (its knees flex negative), from the rest skeleton's own bend.
            own = np.degrees(frames[:, FIELDS[name][0]]) * (-1.0 if name.endswith("knee") else 1.0)
            if backwards is not None and name == "left_elbow":
                own = backwards
            assert len(bend) == len(frames)
            np.testing.assert_allclose(bend - rest_bends[name][0], own, atol=1.5, err_msg=f"{clip} {name}")
            if backwards is not None and name == "left_elbow":
                assert np.all(bend < -5.0), clip
            else:
                assert np.all(bend > -5.0), f"{clip} {name}"
