"""GLB writer, read back by pygltflib and assimp: node hierarchy, skin, bone mesh, key times and rotations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from mocapd import skeleton
from mocapd.export.glb import write_glb
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.rotations import angle_between, quaternion_to_matrix
from tests.deepmimic import load_track

COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def accessor_data(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    """An accessor's float values, shaped (count, components)."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    blob = gltf.binary_blob()
    start = view.byteOffset + (accessor.byteOffset or 0)
    size = COMPONENTS[accessor.type]
    values = np.frombuffer(blob, dtype=np.float32, count=accessor.count * size, offset=start)
    return values.reshape(accessor.count, size).astype(np.float64)


def accessor_values(gltf: pygltflib.GLTF2, index: int, dtype: type) -> np.ndarray:
    """An accessor's values of another component type, shaped (count, components)."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    size = COMPONENTS[accessor.type]
    values = np.frombuffer(
        gltf.binary_blob(),
        dtype=dtype,
        count=accessor.count * size,
        offset=view.byteOffset + (accessor.byteOffset or 0),
    )
    return values.reshape(accessor.count, size)


@pytest.mark.parametrize(("preset", "fps"), [("smpl", 29.97), ("mixamo", 25.0), ("unreal", 60.0)])
def test_pygltflib_reads_what_was_written(tmp_path: Path, preset: str, fps: float) -> None:
    motion = prepare(load_track("walk", cycles=3), PrepareSettings(fps=fps, preset=preset)).motion
    path = tmp_path / "a.glb"
    write_glb(motion, path)
    gltf = pygltflib.GLTF2().load(str(path))
    joints = gltf.skins[0].joints
    assert [gltf.nodes[node].name for node in joints] == list(motion.names)
    assert [motion.names[joint] for joint in motion.smpl_joints] == list(skeleton.PRESETS[preset])
    for index, node in enumerate(joints):
        for child in gltf.nodes[node].children or []:
            assert motion.parents[joints.index(child)] == index
        np.testing.assert_allclose(gltf.nodes[node].translation, motion.offsets[index], atol=1e-12)
    top = gltf.nodes[gltf.scenes[gltf.scene].nodes[0]]
    assert top.name == "Armature" and joints[motion.root] in top.children

    animation = gltf.animations[0]
    rotations = {}
    translations = {}
    for channel in animation.channels:
        sampler = animation.samplers[channel.sampler]
        times = accessor_data(gltf, sampler.input)[:, 0]
        # Key times are frame / fps (float32 in the file), even at 29.97.
        np.testing.assert_allclose(times, np.arange(motion.frame_count) / motion.fps, rtol=0, atol=2e-6)
        values = accessor_data(gltf, sampler.output)
        joint = joints.index(channel.target.node)
        if channel.target.path == "rotation":
            rotations[joint] = quaternion_to_matrix(values[:, [3, 0, 1, 2]])
        else:
            translations[joint] = values
    assert sorted(rotations) == list(range(motion.joint_count))
    for joint, matrices in rotations.items():
        assert np.degrees(angle_between(matrices, motion.rotations[:, joint])).max() < 0.1
    assert sorted(translations) == sorted(motion.moving)
    for joint, values in translations.items():
        np.testing.assert_allclose(values, motion.translations[:, joint], atol=1e-5)


def test_a_skinned_bone_mesh_makes_it_visible(tmp_path: Path) -> None:
    motion = prepare(load_track("walk"), PrepareSettings(preset="mixamo")).motion
    path = tmp_path / "a.glb"
    write_glb(motion, path)
    gltf = pygltflib.GLTF2().load(str(path))
    meshes = [node for node in gltf.nodes if node.mesh is not None]
    assert len(meshes) == 1 and meshes[0].skin == 0
    primitive = gltf.meshes[meshes[0].mesh].primitives[0]
    positions = accessor_data(gltf, primitive.attributes.POSITION)
    influences = accessor_values(gltf, primitive.attributes.JOINTS_0, np.uint16)
    weights = accessor_data(gltf, primitive.attributes.WEIGHTS_0)
    assert len(positions) == 24 * motion.joint_count  # an octahedron (8 flat triangles) per bone
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert set(influences[:, 0]) == set(range(motion.joint_count))
    # Each bone's mesh spans its joint's head to the joint it aims at, in the rest (bind) pose.
    rest = motion.rest_positions()
    for joint, aim in enumerate(motion.aims):
        own = positions[influences[:, 0] == joint]
        assert np.linalg.norm(own - rest[joint], axis=1).min() < 1e-6
        if aim >= 0:
            assert np.linalg.norm(own - rest[aim], axis=1).min() < 1e-6
    # assimp, as ordinary viewers do, opens it and finds the mesh.
    result = subprocess.run(["assimp", "info", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Meshes:             1" in result.stdout
    assert f"Bones:              {motion.joint_count}" in result.stdout


def test_a_late_entrant_keeps_the_videos_time(tmp_path: Path) -> None:
    track = load_track("walk")
    track.frame_idx = track.frame_idx + 50
    track.time = track.frame_idx / track.fps
    motion = prepare(track, PrepareSettings()).motion
    write_glb(motion, tmp_path / "a.glb")
    gltf = pygltflib.GLTF2().load(str(tmp_path / "a.glb"))
    times = accessor_data(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert times[0] == pytest.approx(50 / motion.fps, abs=1e-6)
    assert len(times) == track.frame_count


def test_gltf_fps_29_97_keys_are_not_those_of_30(tmp_path: Path) -> None:
    motion = prepare(load_track("walk", cycles=3), PrepareSettings(fps=29.97)).motion
    write_glb(motion, tmp_path / "a.glb")
    gltf = pygltflib.GLTF2().load(str(tmp_path / "a.glb"))
    times = accessor_data(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert times[-1] == pytest.approx((motion.frame_count - 1) * 1.001 / 30.0, abs=1e-5)
    assert abs(times[-1] - (motion.frame_count - 1) / 30.0) > 1e-4
