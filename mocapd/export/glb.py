"""GLB writer (pygltflib): per armature a joint hierarchy, a skin, a skinned bone-shaped mesh (so ordinary
viewers show something), and one animation whose keys lie on the video's timeline, (start_frame + k) / fps.

glTF is metres, Y up, facing +Z: the motion's own frame, so nothing is converted.
Blender's glTF exporter is not used because it writes wrong key times at fractional rates (29.97).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygltflib

from mocapd.export.motion import ARMATURE_NAME, ExportMotion
from mocapd.rotations import continuous_quaternions, matrix_to_quaternion

ANIMATION_NAME = "Take 001"
# The bone mesh: an octahedron from head to tail, widest at this share of its length, this wide.
BULGE_AT = 0.15
WIDTH_SHARE = 0.12
BONE_COLOUR = [0.8, 0.8, 0.78, 1.0]


class BufferBuilder:
    """Collects arrays into one binary buffer, with a buffer view and an accessor each."""

    def __init__(self, gltf: pygltflib.GLTF2) -> None:
        self.gltf = gltf
        self.blob = bytearray()

    def add(
        self,
        array: np.ndarray,
        accessor_type: str,
        with_bounds: bool = False,
        dtype: type = np.float32,
        target: int | None = None,
    ) -> int:
        data: np.ndarray = np.ascontiguousarray(array, dtype=dtype)
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=data.nbytes, target=target)
        )
        self.blob.extend(data.tobytes())
        components = data.reshape(data.shape[0], -1)
        accessor = pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1,
            componentType=pygltflib.UNSIGNED_SHORT if dtype == np.uint16 else pygltflib.FLOAT,
            count=int(data.shape[0]),
            type=accessor_type,
        )
        if with_bounds:
            accessor.min = [float(value) for value in components.min(axis=0)]
            accessor.max = [float(value) for value in components.max(axis=0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def bone_mesh(heads: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An octahedral bone per joint, flat-shaded: positions (V, 3), normals (V, 3), joint of each vertex (V,)."""
    positions, normals, joints = [], [], []
    for joint, (head, tail) in enumerate(zip(heads, tails, strict=True)):
        axis = tail - head
        length = float(np.linalg.norm(axis))
        direction = axis / length
        helper = np.array([1.0, 0.0, 0.0]) if abs(direction[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
        side = np.cross(direction, helper)
        side /= np.linalg.norm(side)
        other = np.cross(direction, side)
        centre = head + axis * BULGE_AT
        ring = [centre + length * WIDTH_SHARE * vector for vector in (side, other, -side, -other)]
        for k in range(4):
            a, b = ring[k], ring[(k + 1) % 4]
            for triangle in ((head, b, a), (a, b, tail)):
                normal = np.cross(triangle[1] - triangle[0], triangle[2] - triangle[0])
                normal /= np.linalg.norm(normal)
                positions += list(triangle)
                normals += [normal] * 3
                joints += [joint] * 3
    return np.array(positions), np.array(normals), np.array(joints)


def add_armature(
    gltf: pygltflib.GLTF2,
    buffers: BufferBuilder,
    animation: pygltflib.Animation,
    name: str,
    motion: ExportMotion,
) -> int:
    """Add one armature's nodes, skin, mesh and channels; return its top node."""
    first = len(gltf.nodes)
    for joint, joint_name in enumerate(motion.names):
        children = [first + child for child, parent in enumerate(motion.parents) if parent == joint]
        gltf.nodes.append(
            pygltflib.Node(
                name=joint_name,
                translation=[float(value) for value in motion.offsets[joint]],
                children=children or None,
            )
        )
    root = first + motion.root

    # Inverse bind matrices (column-major): the inverse of each joint's rest transform, a pure translation.
    heads = motion.rest_positions()
    inverse_bind = np.tile(np.eye(4), (motion.joint_count, 1, 1))
    inverse_bind[:, :3, 3] = -heads
    matrices = buffers.add(inverse_bind.transpose(0, 2, 1).reshape(motion.joint_count, 16), pygltflib.MAT4)
    gltf.skins.append(
        pygltflib.Skin(
            name=name,
            joints=list(range(first, first + motion.joint_count)),
            skeleton=root,
            inverseBindMatrices=matrices,
        )
    )
    # Each bone's mesh follows its joint only (weight 1), drawn in the rest pose (the bind pose).
    positions, normals, joints = bone_mesh(heads, motion.bone_tails())
    influences = np.zeros((len(joints), 4), dtype=np.uint16)
    influences[:, 0] = joints
    weights = np.zeros((len(joints), 4))
    weights[:, 0] = 1.0
    attributes = pygltflib.Attributes(
        POSITION=buffers.add(positions, pygltflib.VEC3, with_bounds=True, target=pygltflib.ARRAY_BUFFER),
        NORMAL=buffers.add(normals, pygltflib.VEC3, target=pygltflib.ARRAY_BUFFER),
        JOINTS_0=buffers.add(influences, pygltflib.VEC4, dtype=np.uint16, target=pygltflib.ARRAY_BUFFER),
        WEIGHTS_0=buffers.add(weights, pygltflib.VEC4, target=pygltflib.ARRAY_BUFFER),
    )
    gltf.meshes.append(
        pygltflib.Mesh(
            name=f"{name}_bones", primitives=[pygltflib.Primitive(attributes=attributes, material=0)]
        )
    )
    gltf.nodes.append(
        pygltflib.Node(name=f"{name}_bones", mesh=len(gltf.meshes) - 1, skin=len(gltf.skins) - 1)
    )
    gltf.nodes.append(pygltflib.Node(name=name, children=[root, len(gltf.nodes) - 1]))

    times = buffers.add(motion.times, pygltflib.SCALAR, with_bounds=True)
    quaternions = continuous_quaternions(matrix_to_quaternion(motion.rotations))  # (N, J, 4) w, x, y, z
    channels = [
        (joint, "rotation", quaternions[:, joint][:, [1, 2, 3, 0]], pygltflib.VEC4)
        for joint in range(motion.joint_count)
    ]
    channels += [
        (joint, "translation", motion.translations[:, joint], pygltflib.VEC3) for joint in motion.moving
    ]
    for joint, path, values, kind in channels:
        animation.samplers.append(
            pygltflib.AnimationSampler(input=times, output=buffers.add(values, kind), interpolation="LINEAR")
        )
        animation.channels.append(
            pygltflib.AnimationChannel(
                sampler=len(animation.samplers) - 1,
                target=pygltflib.AnimationChannelTarget(node=first + joint, path=path),
            )
        )
    return len(gltf.nodes) - 1


def build_gltf(armatures: list[tuple[str, ExportMotion]]) -> pygltflib.GLTF2:
    """The glTF document of one armature per (name, motion), on one timeline, its binary data attached."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="mocapd", version="2.0"))
    gltf.materials.append(
        pygltflib.Material(
            name="bone",
            pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                baseColorFactor=BONE_COLOUR, metallicFactor=0.0, roughnessFactor=0.8
            ),
        )
    )
    buffers = BufferBuilder(gltf)
    animation = pygltflib.Animation(name=ANIMATION_NAME, samplers=[], channels=[])
    tops = [add_armature(gltf, buffers, animation, name, motion) for name, motion in armatures]
    gltf.scenes.append(pygltflib.Scene(nodes=tops))
    gltf.scene = 0
    gltf.animations.append(animation)
    gltf.buffers.append(pygltflib.Buffer(byteLength=len(buffers.blob)))
    gltf.set_binary_blob(bytes(buffers.blob))
    return gltf


def write_glb(motion: ExportMotion, path: Path) -> None:
    """Write one person's motion as a binary glTF file."""
    write_glb_scene([(ARMATURE_NAME, motion)], path)


def write_glb_scene(armatures: list[tuple[str, ExportMotion]], path: Path) -> None:
    """Write one armature per (name, motion) as a binary glTF file (under a temporary name, renamed into place)."""
    staging = path.with_name(path.name + ".partial")
    build_gltf(armatures).save_binary(str(staging))
    staging.replace(path)
