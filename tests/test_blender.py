"""Real Blender FBX exports (one Blender start for the module, one more to import them) read back by
ufbx, assimp and Blender's own FBX importer."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mocapd import skeleton, trackfile
from mocapd.config import Config
from mocapd.errors import JobError, TransientError
from mocapd.export import motion as export_motion
from mocapd.export.blender import FbxExport, find_blender, run_blender
from mocapd.export.prepare import Prepared, PrepareSettings, prepare
from mocapd.rotations import angle_between
from tests import ufbx_scenes
from tests.deepmimic import add_noise, load_track
from tests.ufbx_scenes import ufbx_objects_never_collected  # noqa: F401 (a fixture)

ufbx = pytest.importorskip("ufbx")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ufbx_objects_never_collected")]

TIME_MODES = {
    30.0: ufbx.TimeMode.E30_FPS,
    29.97: ufbx.TimeMode.NTSC_FULL_FRAME,
    25.0: ufbx.TimeMode.PAL,
    60.0: ufbx.TimeMode.E60_FPS,
}
VARIANTS = {
    "smpl_30": PrepareSettings(fps=None, preset="smpl"),
    "mixamo_2997_in_place": PrepareSettings(fps=29.97, preset="mixamo", with_root_motion=False),
    "unreal_25_tpose": PrepareSettings(fps=25.0, preset="unreal", tpose_frame=True),
    "smpl_60_unlocked": PrepareSettings(fps=60.0, preset="smpl", foot_locking=False),
    "unreal5_30": PrepareSettings(fps=30.0, preset="unreal5"),
}


@dataclass
class Exported:
    track: trackfile.TrackMotion
    prepared: Prepared
    settings: PrepareSettings
    path: Path


def walking_track(directory: Path) -> trackfile.TrackMotion:
    """A real walk at exactly 30 fps, saved and read back as the track file format."""
    track = load_track("walk", cycles=2)
    add_noise(track)
    track.fps = 30.0
    track.time = np.arange(track.frame_count) / 30.0
    path = directory / "track_1.npz"
    trackfile.save(track, path)
    return trackfile.load(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    directory = tmp_path_factory.mktemp("blender")
    track = walking_track(directory)
    results: dict[str, Exported] = {}
    exports = []
    for name, settings in VARIANTS.items():
        prepared = prepare(track, settings)
        motion_path = directory / f"{name}.npz"
        export_motion.save(prepared.motion, motion_path)
        out = directory / f"{name}.fbx"
        exports.append(FbxExport.single(motion_path, out))
        results[name] = Exported(track, prepared, settings, out)
    run_blender(Config(), exports, directory / "request.json", directory / "fbx_export.log", timeout=300)
    return results


@pytest.fixture(scope="module")
def imported(exported: dict[str, Exported], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    """Every file imported by Blender's FBX importer (one child process): {variant: {armature: {bone: ...}}}."""
    out = tmp_path_factory.mktemp("imported") / "bones.json"
    paths = [str(item.path) for item in exported.values()]
    command = [sys.executable, "-m", "tests.blender_import", str(out), *paths]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    files = json.loads(out.read_text())
    return {name: files[str(item.path)] for name, item in exported.items()}


class FbxFile:
    """A ufbx scene with its node list kept referenced: ufbx frees nodes with the list they came from."""

    def __init__(self, scene) -> None:  # type: ignore[no-untyped-def]
        self.scene = scene
        self.nodes = list(scene.nodes)  # materialised once (iterating a list twice can crash, FACTS)
        self.by_name = {node.name: node for node in self.nodes}
        self.bones = {node.name: node for node in self.nodes if node.bone is not None}

    @classmethod
    def load(cls, path: Path) -> FbxFile:
        return cls(ufbx_scenes.load(path))

    def at(self, time: float) -> FbxFile:
        """The scene evaluated at `time` seconds of its first animation."""
        return FbxFile(ufbx_scenes.keep(ufbx.evaluate_scene(self.scene, self.anim, time)))

    @functools.cached_property
    def anim(self):  # type: ignore[no-untyped-def]
        self.stacks = list(self.scene.anim_stacks)
        return self.stacks[0].anim


def matrix_parts(matrix) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    columns = np.array([list(matrix.c0), list(matrix.c1), list(matrix.c2)]).T
    return columns, np.array(list(matrix.c3))


@pytest.mark.parametrize("variant", VARIANTS)
def test_bones_have_preset_names_and_smpl_parents(exported: dict[str, Exported], variant: str) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    assert sorted(fbx.bones) == sorted(motion.names)
    names = skeleton.PRESETS[item.settings.preset]
    assert [motion.names[joint] for joint in motion.smpl_joints] == list(names)
    for joint, name in enumerate(motion.names):
        parent = motion.parents[joint]
        if parent >= 0:
            assert fbx.bones[name].parent.name == motion.names[parent]
        else:
            assert fbx.bones[name].parent.bone is None  # the root bone hangs under the armature node
    # Each SMPL joint's bone descends from its SMPL parent's (bones added between them are static).
    for joint, parent in enumerate(skeleton.PARENTS):
        if parent >= 0:
            ancestor = fbx.bones[names[joint]].parent
            while ancestor.name != names[parent]:
                assert ancestor.name not in names
                ancestor = ancestor.parent


def test_unreal_root_carries_the_root_motion_with_the_pelvis_under_it(exported: dict[str, Exported]) -> None:
    for variant in ("unreal_25_tpose", "unreal5_30"):
        item = exported[variant]
        motion = item.prepared.motion
        fbx = FbxFile.load(item.path)
        assert fbx.bones["root"].parent.bone is None
        assert fbx.bones["pelvis"].parent.name == "root"
        scenes = [fbx.at(time) for time in motion.times[[1, -1]]]
        root = [matrix_parts(scene.by_name["root"].node_to_world)[1] for scene in scenes]
        pelvis = [matrix_parts(scene.by_name["pelvis"].node_to_world)[1] for scene in scenes]
        # The root travels with the pelvis over the floor and stays on it; the pelvis keeps its height.
        assert np.linalg.norm((root[1] - root[0])[[0, 2]]) > 1.0
        assert abs(root[0][1]) < 1e-6 and abs(root[1][1]) < 1e-6
        for root_at, pelvis_at in zip(root, pelvis, strict=True):
            np.testing.assert_allclose(pelvis_at[[0, 2]], root_at[[0, 2]], atol=1e-4)
            assert 0.7 < pelvis_at[1] < 1.1
        layers = list(fbx.anim.layers)
        translation = ufbx.find_anim_prop(layers[0], fbx.bones["root"], "Lcl Translation")
        assert translation is not None
        counts = {len(list(curve.keyframes)) for curve in list(translation.anim_value.curves)}
        assert counts == {motion.frame_count}


def test_unreal5_has_five_spine_and_two_neck_bones(exported: dict[str, Exported]) -> None:
    fbx = FbxFile.load(exported["unreal5_30"].path)
    chain = [
        "pelvis",
        "spine_01",
        "spine_02",
        "spine_03",
        "spine_04",
        "spine_05",
        "neck_01",
        "neck_02",
        "head",
    ]
    for child, parent in zip(chain[1:], chain[:-1], strict=True):
        assert fbx.bones[child].parent.name == parent
    assert fbx.bones["clavicle_l"].parent.name == "spine_05"
    assert fbx.bones["index_03_l"].parent.name == "index_02_l"


MIXAMO_CHAINS = [
    ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End"],
    ["Spine2", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand"],
    ["Spine2", "RightShoulder", "RightArm", "RightForeArm", "RightHand"],
    ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End"],
    ["Hips", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightToe_End"],
] + [
    [f"{side}Hand"] + [f"{side}Hand{finger}{k}" for k in range(1, 5)]
    for side in ("Left", "Right")
    for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky")
]


def test_mixamo_hierarchy_is_complete(exported: dict[str, Exported]) -> None:
    fbx = FbxFile.load(exported["mixamo_2997_in_place"].path)
    for chain in MIXAMO_CHAINS:
        for child, parent in zip(chain[1:], chain[:-1], strict=True):
            assert fbx.bones["mixamorig:" + child].parent.name == "mixamorig:" + parent
    assert len(fbx.bones) == 65  # Mixamo's rig with fingers
    # The bones without data stay in their rest pose all clip long.
    motion = exported["mixamo_2997_in_place"].prepared.motion
    evaluated = fbx.at(motion.times[-1])
    for name in ("mixamorig:LeftHandIndex2", "mixamorig:HeadTop_End", "mixamorig:RightToe_End"):
        np.testing.assert_allclose(
            list(evaluated.by_name[name].local_transform.rotation),
            list(fbx.bones[name].local_transform.rotation),
            atol=1e-6,
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_key_per_frame_from_time_zero_at_the_asked_rate(
    exported: dict[str, Exported], variant: str
) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    asked = item.settings.fps or item.track.fps
    fps = motion.fps  # 29.97 is written as NTSC's 30000 / 1001
    assert fps == pytest.approx(asked, abs=1e-3)
    assert fbx.scene.settings.frames_per_second == pytest.approx(asked, rel=1e-6)
    assert fbx.scene.settings.time_mode == TIME_MODES[asked]
    layers = list(fbx.anim.layers)
    for name, node in fbx.bones.items():
        rotation = ufbx.find_anim_prop(layers[0], node, "Lcl Rotation")
        assert rotation is not None, name
        curves = list(rotation.anim_value.curves)
        for curve in curves:
            keys = list(curve.keyframes)
            times = np.array([key.time for key in keys])
            assert len(times) == motion.frame_count, name
            np.testing.assert_allclose(times, motion.times, atol=1e-6)
    for joint in motion.moving:
        translation = ufbx.find_anim_prop(layers[0], fbx.bones[motion.names[joint]], "Lcl Translation")
        curves = list(translation.anim_value.curves)
        assert [len(list(curve.keyframes)) for curve in curves] == [motion.frame_count] * 3


@pytest.mark.parametrize("variant", VARIANTS)
def test_rest_pose_is_the_skeleton_in_metres_with_bones_aimed_at_their_child(
    exported: dict[str, Exported], variant: str
) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    assert fbx.scene.settings.unit_meters == pytest.approx(1.0)
    armature = fbx.bones[motion.names[0]].parent
    armature_rotation, armature_translation = matrix_parts(armature.node_to_world)
    np.testing.assert_allclose(armature_rotation, np.eye(3), atol=1e-6)  # no -90 degrees, no 100x
    np.testing.assert_allclose(armature_translation, 0.0, atol=1e-6)
    rest = motion.rest_positions()
    for joint, name in enumerate(motion.names):
        rotation, position = matrix_parts(fbx.bones[name].node_to_world)
        np.testing.assert_allclose(position, rest[joint], atol=1e-5)
        np.testing.assert_allclose(list(fbx.bones[name].local_transform.scale), [1.0, 1.0, 1.0], atol=1e-6)
        # The bone's Y axis (Blender's bone axis) points at the joint it aims at.
        aim = motion.aims[joint]
        if aim >= 0:
            direction = rest[aim] - rest[joint]
            cosine = rotation[:, 1] @ direction / np.linalg.norm(direction)
            assert np.degrees(np.arccos(min(cosine, 1.0))) < 0.1, name
    # The actor stands about 1.6 m tall in the file's metres (head joint above the floor).
    head = rest[motion.smpl_joints[skeleton.JOINT_INDEX["head"]]]
    assert 1.3 < head[1] < 1.9


@pytest.mark.parametrize("variant", VARIANTS)
def test_blender_imports_bones_pointing_at_their_child(
    exported: dict[str, Exported],
    imported: dict[str, dict],  # type: ignore[type-arg]
    variant: str,
) -> None:
    motion = exported[variant].prepared.motion
    armatures = imported[variant]
    assert list(armatures) == ["Armature"]
    bones = armatures["Armature"]
    assert sorted(bones) == sorted(motion.names)
    directions = []
    for joint, name in enumerate(motion.names):
        aim = motion.aims[joint]
        if aim < 0:
            continue
        head, tail = np.array(bones[name]["head"]), np.array(bones[name]["tail"])
        child = np.array(bones[motion.names[aim]]["head"])
        along, towards = tail - head, child - head
        cosine = along @ towards / np.linalg.norm(along) / np.linalg.norm(towards)
        assert np.degrees(np.arccos(min(cosine, 1.0))) < 1.0, name
        # Blender's importer chooses the length itself (here 77-101 % of the distance to the child).
        assert 0.5 < np.linalg.norm(along) / np.linalg.norm(towards) < 1.5, name
        directions.append(along / np.linalg.norm(along))
    # Not a hedgehog: the bones point many ways (legs down, arms out, spine up; Blender is Z up).
    spread = np.array(directions)
    assert spread[:, 2].min() < -0.9 and spread[:, 2].max() > 0.9
    assert spread[:, 0].min() < -0.9 and spread[:, 0].max() > 0.9


@pytest.mark.parametrize("variant", VARIANTS)
def test_world_joints_of_every_frame_match_the_motion(exported: dict[str, Exported], variant: str) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    global_rotations, positions = motion.world_transforms()
    # The SMPL joints are where the 24-joint motion puts them, whatever bones the preset adds.
    smpl = list(motion.smpl_joints)
    local = motion.rotations[:, smpl].copy()
    local[:, 0] = global_rotations[:, smpl[0]]
    expected_smpl = skeleton.positions_from_local(local, item.track.offsets, positions[:, smpl[0]])
    np.testing.assert_allclose(positions[:, smpl], expected_smpl, atol=1e-9)
    rest = {name: matrix_parts(fbx.bones[name].node_to_world)[0] for name in motion.names}
    worst_degrees, worst_metres = 0.0, 0.0
    for frame in range(motion.frame_count):
        evaluated = fbx.at(motion.times[frame])
        for joint, name in enumerate(motion.names):
            rotation, position = matrix_parts(evaluated.by_name[name].node_to_world)
            # A bone's rest orientation turned by its joint's rotation.
            expected = global_rotations[frame, joint] @ rest[name]
            worst_degrees = max(worst_degrees, float(np.degrees(angle_between(rotation, expected))))
            worst_metres = max(worst_metres, float(np.linalg.norm(position - positions[frame, joint])))
    assert worst_degrees < 0.1  # arccos of float32 keys: 0.02-0.08 degrees of noise at zero
    assert worst_metres < 1e-4  # 0.1 mm


def test_rotations_are_the_track_files_at_its_own_rate(exported: dict[str, Exported]) -> None:
    # At the track's own rate the written local rotations are the NPZ's, untouched.
    item = exported["smpl_30"]
    motion = item.prepared.motion
    np.testing.assert_allclose(motion.rotations[:, list(motion.smpl_joints)], item.track.local_rotations())


def test_tpose_frame_comes_first_and_the_clip_follows(exported: dict[str, Exported]) -> None:
    item = exported["unreal_25_tpose"]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    evaluated = fbx.at(motion.times[0])
    for name in motion.names:
        np.testing.assert_allclose(
            list(evaluated.by_name[name].local_transform.rotation),
            list(fbx.bones[name].local_transform.rotation),
            atol=1e-6,
        )
    unposed = prepare(item.track, PrepareSettings(fps=25.0, preset="unreal"))
    assert motion.frame_count == unposed.motion.frame_count + 1
    np.testing.assert_allclose(motion.rotations[1:], unposed.motion.rotations)
    # Every file's timeline runs one frame late, so the T-pose of a person seen from frame 0 is at t = 0.
    assert motion.start_frame == unposed.motion.start_frame == 0


def test_root_motion_on_travels_and_off_stays_at_the_origin(exported: dict[str, Exported]) -> None:
    for variant, travels in (("smpl_30", True), ("mixamo_2997_in_place", False)):
        item = exported[variant]
        fbx = FbxFile.load(item.path)
        motion = item.prepared.motion
        root = motion.names[motion.smpl_joints[0]]
        ends = [matrix_parts(fbx.at(time).by_name[root].node_to_world)[1] for time in motion.times[[0, -1]]]
        horizontal = np.linalg.norm((ends[1] - ends[0])[[0, 2]])
        if travels:
            assert horizontal > 1.0
        else:
            assert horizontal < 1e-6
            assert abs(ends[1][0]) < 1e-6 and abs(ends[1][2]) < 1e-6


@pytest.mark.parametrize("variant", VARIANTS)
def test_assimp_opens_the_file(exported: dict[str, Exported], variant: str, tmp_path: Path) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    result = subprocess.run(["assimp", "info", str(item.path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Animations:         1" in result.stdout
    assert f"Nodes:              {motion.joint_count + 2}" in result.stdout  # bones, the armature, the root
    # Its JSON export: the same hierarchy and one key per frame at the asked rate.
    json_path = tmp_path / "scene.json"
    command = ["assimp", "export", str(item.path), str(json_path), "-fassjson"]
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    scene = json.loads(json_path.read_text())
    parents: dict[str, str] = {}

    def walk(node: dict, parent: str) -> None:  # type: ignore[type-arg]
        parents[node["name"]] = parent
        for child in node.get("children", []):
            walk(child, node["name"])

    walk(scene["rootnode"], "")
    for joint, name in enumerate(motion.names):
        parent = motion.parents[joint]
        assert parents[name] == (motion.names[parent] if parent >= 0 else "Armature")
    animation = scene["animations"][0]
    assert animation["tickspersecond"] == pytest.approx(item.settings.fps or item.track.fps, rel=1e-4)
    channels = {channel["name"]: channel for channel in animation["channels"]}
    assert all(len(channels[name]["rotationkeys"]) == motion.frame_count for name in motion.names)


def test_blender_log_holds_blenders_output(exported: dict[str, Exported]) -> None:
    log = next(iter(exported.values())).path.parent / "fbx_export.log"
    text = log.read_text()
    assert text.count("wrote ") == len(VARIANTS)


def test_find_blender_reports_a_missing_executable(tmp_path: Path) -> None:
    config = Config()
    config.blender.executable = str(tmp_path / "no-such-blender")
    usable, message = find_blender(config)
    assert not usable
    assert message.startswith("Blender not found: ")
    assert "install" in message
    assert find_blender(Config())[0]  # bpy is installed in the project's environment


def test_missing_blender_is_a_job_error(tmp_path: Path) -> None:
    config = Config()
    config.blender.executable = str(tmp_path / "no-such-blender")
    with pytest.raises(JobError, match="Blender not found: install"):
        run_blender(config, [], tmp_path / "request.json", tmp_path / "log.txt", timeout=10)


def test_a_hanging_blender_is_killed_at_the_timeout(tmp_path: Path) -> None:
    # A stand-in executable (test-only) that never finishes, as a stuck Blender would.
    executable = tmp_path / "blender"
    executable.write_text("#!/bin/sh\nexec sleep 60\n")
    executable.chmod(0o755)
    config = Config()
    config.blender.executable = str(executable)
    out = tmp_path / "a.fbx"
    with pytest.raises(TransientError, match="did not finish"):
        run_blender(
            config,
            [FbxExport.single(tmp_path / "m.npz", out)],
            tmp_path / "request.json",
            tmp_path / "log.txt",
            timeout=1,
        )
    assert not out.exists()


def test_blender_starts_before_its_motions_are_written_and_waits_for_them(tmp_path: Path) -> None:
    import time

    # A stand-in executable (test-only): says it started, then writes the file once told to go.
    started, told = tmp_path / "started", tmp_path / "told"
    out = tmp_path / "out.fbx"
    executable = tmp_path / "blender"
    executable.write_text(f'#!/bin/sh\ntouch {started}\nread line\necho "$line" > {told}\ntouch {out}\n')
    executable.chmod(0o755)
    config = Config()
    config.blender.executable = str(executable)
    seen: list[bool] = []

    def write_motions() -> None:
        for _ in range(200):
            if started.exists():
                break
            time.sleep(0.05)
        seen.append(started.exists() and not told.exists())

    exports = [FbxExport.single(tmp_path / "m.npz", out)]
    run_blender(config, exports, tmp_path / "request.json", tmp_path / "log.txt", 60.0, before=write_motions)
    assert seen == [True]  # Blender ran while the motions were being written, and had not gone on
    assert told.read_text().strip() == export_motion.GO_AHEAD and out.is_file()


def test_a_waiting_blender_told_nothing_exports_nothing(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"exports": [{"out": str(tmp_path / "a.fbx"), "armatures": []}]}))
    command = [sys.executable, "-m", "mocapd.export.blender_scene", "--request", str(request), "--wait"]
    finished = subprocess.run(command, input=b"", capture_output=True, timeout=120, check=False)
    assert finished.returncode == 2 and b"nothing exported" in finished.stdout
    assert not (tmp_path / "a.fbx").exists()
