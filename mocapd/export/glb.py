"""GLB writer (pygltflib): a joint node hierarchy with a skin and one animation, key times exactly k / fps.

glTF is metres, Y up, facing +Z: the motion's own frame, so nothing is converted.
Blender's glTF exporter is not used because it writes wrong key times at fractional rates (29.97).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygltflib

from mocapd.export.motion import ExportMotion
from mocapd.rotations import continuous_quaternions, matrix_to_quaternion

ANIMATION_NAME = "Take 001"


class BufferBuilder:
    """Collects arrays into one binary buffer, with a buffer view and an accessor each."""

    def __init__(self, gltf: pygltflib.GLTF2) -> None:
        self.gltf = gltf
        self.blob = bytearray()

    def add(self, array: np.ndarray, accessor_type: str, with_bounds: bool = False) -> int:
        data = np.ascontiguousarray(array, dtype=np.float32)
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=data.nbytes)
        )
        self.blob.extend(data.tobytes())
        components = data.reshape(data.shape[0], -1)
        accessor = pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1,
            componentType=pygltflib.FLOAT,
            count=int(data.shape[0]),
            type=accessor_type,
        )
        if with_bounds:
            accessor.min = [float(value) for value in components.min(axis=0)]
            accessor.max = [float(value) for value in components.max(axis=0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def rest_world_positions(motion: ExportMotion) -> np.ndarray:
    """Joint positions in the rest pose (rest rotations are the identity)."""
    positions = np.zeros((motion.joint_count, 3))
    for joint, parent in enumerate(motion.parents):
        positions[joint] = (positions[parent] if parent >= 0 else 0.0) + motion.offsets[joint]
    return positions


def build_gltf(motion: ExportMotion) -> pygltflib.GLTF2:
    """The glTF document of a motion, its binary data attached."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="mocapd", version="2.0"))
    buffers = BufferBuilder(gltf)
    for joint, name in enumerate(motion.names):
        children = [child for child, parent in enumerate(motion.parents) if parent == joint]
        gltf.nodes.append(
            pygltflib.Node(
                name=name,
                translation=[float(value) for value in motion.offsets[joint]],
                children=children or None,
            )
        )
    root = motion.parents.index(-1)
    gltf.scenes.append(pygltflib.Scene(nodes=[root]))
    gltf.scene = 0

    # Inverse bind matrices (column-major): the inverse of each joint's rest transform, a pure translation.
    inverse_bind = np.tile(np.eye(4), (motion.joint_count, 1, 1))
    inverse_bind[:, :3, 3] = -rest_world_positions(motion)
    matrices = buffers.add(inverse_bind.transpose(0, 2, 1).reshape(motion.joint_count, 16), pygltflib.MAT4)
    gltf.skins.append(
        pygltflib.Skin(
            name="Armature",
            joints=list(range(motion.joint_count)),
            skeleton=root,
            inverseBindMatrices=matrices,
        )
    )

    times = buffers.add(np.arange(motion.frame_count) / motion.fps, pygltflib.SCALAR, with_bounds=True)
    quaternions = continuous_quaternions(matrix_to_quaternion(motion.rotations))  # (N, J, 4) w, x, y, z
    animation = pygltflib.Animation(name=ANIMATION_NAME, samplers=[], channels=[])
    for joint in range(motion.joint_count):
        xyzw = quaternions[:, joint][:, [1, 2, 3, 0]]
        animation.samplers.append(
            pygltflib.AnimationSampler(
                input=times, output=buffers.add(xyzw, pygltflib.VEC4), interpolation="LINEAR"
            )
        )
        animation.channels.append(
            pygltflib.AnimationChannel(
                sampler=len(animation.samplers) - 1,
                target=pygltflib.AnimationChannelTarget(node=joint, path="rotation"),
            )
        )
    animation.samplers.append(
        pygltflib.AnimationSampler(
            input=times, output=buffers.add(motion.root_positions, pygltflib.VEC3), interpolation="LINEAR"
        )
    )
    animation.channels.append(
        pygltflib.AnimationChannel(
            sampler=len(animation.samplers) - 1,
            target=pygltflib.AnimationChannelTarget(node=root, path="translation"),
        )
    )
    gltf.animations.append(animation)
    gltf.buffers.append(pygltflib.Buffer(byteLength=len(buffers.blob)))
    gltf.set_binary_blob(bytes(buffers.blob))
    return gltf


def write_glb(motion: ExportMotion, path: Path) -> None:
    """Write the motion as a binary glTF file (written under a temporary name and renamed into place)."""
    staging = path.with_name(path.name + ".partial")
    build_gltf(motion).save_binary(str(staging))
    staging.replace(path)
