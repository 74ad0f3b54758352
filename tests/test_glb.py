"""GLB writer, read back by pygltflib: node hierarchy, skin, key times k / fps and rotations."""

from __future__ import annotations

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


@pytest.mark.parametrize(("preset", "fps"), [("smpl", 29.97), ("mixamo", 25.0), ("unreal", 60.0)])
def test_pygltflib_reads_what_was_written(tmp_path: Path, preset: str, fps: float) -> None:
    motion = prepare(load_track("walk", cycles=3), PrepareSettings(fps=fps, preset=preset)).motion
    path = tmp_path / "a.glb"
    write_glb(motion, path)
    gltf = pygltflib.GLTF2().load(str(path))
    names = skeleton.PRESETS[preset]
    assert [node.name for node in gltf.nodes] == list(names)
    for index, node in enumerate(gltf.nodes):
        for child in node.children or []:
            assert skeleton.PARENTS[child] == index
        np.testing.assert_allclose(node.translation, motion.offsets[index], atol=1e-12)
    assert gltf.scenes[gltf.scene].nodes == [0]
    assert gltf.skins[0].joints == list(range(24))

    animation = gltf.animations[0]
    rotations = {}
    translation = None
    for channel in animation.channels:
        sampler = animation.samplers[channel.sampler]
        times = accessor_data(gltf, sampler.input)[:, 0]
        # Key times are frame / fps (float32 in the file), even at 29.97.
        np.testing.assert_allclose(times, np.arange(motion.frame_count) / motion.fps, rtol=0, atol=2e-6)
        values = accessor_data(gltf, sampler.output)
        if channel.target.path == "rotation":
            rotations[channel.target.node] = quaternion_to_matrix(values[:, [3, 0, 1, 2]])
        else:
            translation = values
    assert sorted(rotations) == list(range(24))
    for joint, matrices in rotations.items():
        assert np.degrees(angle_between(matrices, motion.rotations[:, joint])).max() < 0.1
    assert translation is not None
    np.testing.assert_allclose(translation, motion.root_positions, atol=1e-5)


def test_gltf_fps_29_97_keys_are_not_those_of_30(tmp_path: Path) -> None:
    motion = prepare(load_track("walk", cycles=3), PrepareSettings(fps=29.97)).motion
    write_glb(motion, tmp_path / "a.glb")
    gltf = pygltflib.GLTF2().load(str(tmp_path / "a.glb"))
    times = accessor_data(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert times[-1] == pytest.approx((motion.frame_count - 1) * 1.001 / 30.0, abs=1e-5)
    assert abs(times[-1] - (motion.frame_count - 1) / 30.0) > 1e-4
