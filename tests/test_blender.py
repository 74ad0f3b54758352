"""Real Blender FBX exports (one Blender start for the module) read back by ufbx and assimp."""

from __future__ import annotations

import functools
import json
import subprocess
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
        exports.append(FbxExport(motion_path, out))
        results[name] = Exported(track, prepared, settings, out)
    run_blender(Config(), exports, directory / "request.json", directory / "fbx_export.log", timeout=300)
    return results


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
    fbx = FbxFile.load(item.path)
    names = skeleton.PRESETS[item.settings.preset]
    assert sorted(fbx.bones) == sorted(names)
    for joint, name in enumerate(names):
        parent = skeleton.PARENTS[joint]
        if parent >= 0:
            assert fbx.bones[name].parent.name == names[parent]
        else:
            assert fbx.bones[name].parent.bone is None  # the root bone hangs under the armature node


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
            np.testing.assert_allclose(times, np.arange(motion.frame_count) / fps, atol=1e-6)
    translation = ufbx.find_anim_prop(layers[0], fbx.bones[motion.names[0]], "Lcl Translation")
    curves = list(translation.anim_value.curves)
    assert [len(list(curve.keyframes)) for curve in curves] == [motion.frame_count] * 3


@pytest.mark.parametrize("variant", VARIANTS)
def test_rest_pose_is_the_skeleton_in_metres(exported: dict[str, Exported], variant: str) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    assert fbx.scene.settings.unit_meters == pytest.approx(1.0)
    armature = fbx.bones[motion.names[0]].parent
    armature_rotation, armature_translation = matrix_parts(armature.node_to_world)
    np.testing.assert_allclose(armature_rotation, np.eye(3), atol=1e-6)  # no -90 degrees, no 100x
    np.testing.assert_allclose(armature_translation, 0.0, atol=1e-6)
    np.testing.assert_allclose(motion.offsets[1:], item.track.offsets[1:])
    for joint, name in enumerate(motion.names):
        transform = fbx.bones[name].local_transform
        np.testing.assert_allclose(list(transform.translation), motion.offsets[joint], atol=1e-5)
        np.testing.assert_allclose(list(transform.rotation), [0.0, 0.0, 0.0, 1.0], atol=1e-6)
        np.testing.assert_allclose(list(transform.scale), [1.0, 1.0, 1.0], atol=1e-6)
    # The actor stands about 1.6 m tall in the file's metres (head joint above the floor).
    head = matrix_parts(fbx.bones[motion.names[skeleton.JOINT_INDEX["head"]]].node_to_world)[1]
    assert 1.3 < head[1] < 1.9


@pytest.mark.parametrize("variant", VARIANTS)
def test_sampled_rotations_match_the_motion(exported: dict[str, Exported], variant: str) -> None:
    item = exported[variant]
    motion = item.prepared.motion
    fbx = FbxFile.load(item.path)
    global_rotations = skeleton.local_to_global(motion.rotations)
    positions = skeleton.forward_kinematics(global_rotations, motion.offsets, motion.root_positions)
    worst_degrees, worst_metres = 0.0, 0.0
    for frame in range(0, motion.frame_count, 3):
        evaluated = fbx.at(frame / motion.fps)
        for joint, name in enumerate(motion.names):
            rotation, position = matrix_parts(evaluated.by_name[name].node_to_world)
            worst_degrees = max(
                worst_degrees, float(np.degrees(angle_between(rotation, global_rotations[frame, joint])))
            )
            worst_metres = max(worst_metres, float(np.linalg.norm(position - positions[frame, joint])))
    assert worst_degrees < 0.1
    assert worst_metres < 1e-3


def test_rotations_are_the_track_files_at_its_own_rate(exported: dict[str, Exported]) -> None:
    # At the track's own rate the written local rotations are the NPZ's, untouched.
    item = exported["smpl_30"]
    np.testing.assert_allclose(item.prepared.motion.rotations, item.track.local_rotations())


def test_tpose_frame_comes_first_and_the_clip_follows(exported: dict[str, Exported]) -> None:
    item = exported["unreal_25_tpose"]
    motion = item.prepared.motion
    evaluated = FbxFile.load(item.path).at(0.0)
    for name in motion.names:
        np.testing.assert_allclose(
            list(evaluated.by_name[name].local_transform.rotation), [0.0, 0.0, 0.0, 1.0], atol=1e-6
        )
    unposed = prepare(item.track, PrepareSettings(fps=25.0, preset="unreal"))
    assert motion.frame_count == unposed.motion.frame_count + 1
    np.testing.assert_allclose(motion.rotations[1:], unposed.motion.rotations)


def test_root_motion_on_travels_and_off_stays_at_the_origin(exported: dict[str, Exported]) -> None:
    for variant, travels in (("smpl_30", True), ("mixamo_2997_in_place", False)):
        item = exported[variant]
        fbx = FbxFile.load(item.path)
        root = item.prepared.motion.names[0]
        end_time = (item.prepared.motion.frame_count - 1) / item.prepared.motion.fps
        ends = [matrix_parts(fbx.at(time).by_name[root].node_to_world)[1] for time in (0.0, end_time)]
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
    assert "Nodes:              26" in result.stdout  # 24 bones, the armature and the scene root
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
        parent = skeleton.PARENTS[joint]
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
            [FbxExport(tmp_path / "m.npz", out)],
            tmp_path / "request.json",
            tmp_path / "log.txt",
            timeout=1,
        )
    assert not out.exists()
