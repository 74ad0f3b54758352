"""The skeleton a naming preset writes: SMPL's 24 joints under the preset's names plus the bones its rig has
and SMPL has not (UE's `root`, UE5's extra spine and neck bones, fingers, Mixamo's end bones).

Added bones carry no measured motion: they keep their rest rotation, at standard proportions scaled to
the actor. numpy only (the Blender child process imports this package).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton
from mocapd.export.motion import ExportMotion

J = skeleton.JOINT_INDEX


@dataclass(frozen=True)
class Added:
    """A static bone: its parent (a preset name), its standard rest offset, and the SMPL joint whose
    offset length scales that offset to the actor (standard length: skeleton.STANDARD_OFFSETS)."""

    name: str
    parent: str
    offset: tuple[float, float, float]
    scaled_by: int


@dataclass(frozen=True)
class Inserted:
    """A static bone placed between an SMPL joint and its parent, at `share` of the joint's offset."""

    name: str
    above: int
    share: float


@dataclass(frozen=True)
class Rig:
    """What a preset's rig adds to the SMPL joints."""

    floor_root: str | None = None  # a bone on the floor under the pelvis, carrying the root motion (UE)
    inserted: tuple[Inserted, ...] = ()
    added: tuple[Added, ...] = ()


# Standard finger segments of the left hand (metres, rest pose: arm along +X, palm down, thumb forward
# +Z): the first from the wrist, each next from the previous. The middle finger's first joint is SMPL's
# hand joint. Mirrored in X for the right hand; scaled by the actor's wrist-to-hand length.
FINGERS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "thumb": ((0.025, -0.012, 0.025), (0.03, -0.005, 0.02), (0.03, 0.0, 0.012), (0.025, 0.0, 0.008)),
    "index": ((0.082, -0.005, 0.012), (0.04, 0.0, 0.0), (0.025, 0.0, 0.0), (0.02, 0.0, 0.0)),
    "middle": ((0.0, 0.0, 0.0), (0.045, 0.0, 0.0), (0.028, 0.0, 0.0), (0.022, 0.0, 0.0)),
    "ring": ((0.078, -0.01, -0.035), (0.04, 0.0, 0.0), (0.026, 0.0, 0.0), (0.02, 0.0, 0.0)),
    "pinky": ((0.07, -0.012, -0.055), (0.03, 0.0, 0.0), (0.02, 0.0, 0.0), (0.018, 0.0, 0.0)),
}
# Where the head's and the toes' ends lie beyond SMPL's head and toe joints, standard metres.
HEAD_TOP = (0.0, 0.17, 0.0)
TOE_END = (0.0, 0.0, 0.06)
SIDES = (("left", "Left", "l", 1.0), ("right", "Right", "r", -1.0))


def mirrored(offset: tuple[float, float, float], sign: float) -> tuple[float, float, float]:
    return (offset[0] * sign, offset[1], offset[2])


def finger_bones(
    name: str, hand: str, wrist: str, side_sign: float, hand_joint: int, count: int
) -> list[Added]:
    """The finger bones of one hand: name(finger, k) for k = 1..count, the middle finger's first excluded."""
    bones = []
    for finger, segments in FINGERS.items():
        parent = wrist
        for k, offset in enumerate(segments[:count], start=1):
            bone = name.format(finger=finger, Finger=finger.capitalize(), k=k)
            if (finger, k) == ("middle", 1):
                bone = hand  # SMPL's hand joint
            else:
                bones.append(Added(bone, parent, mirrored(offset, side_sign), hand_joint))
            parent = bone
    return bones


def mixamo_rig() -> Rig:
    names = skeleton.PRESETS["mixamo"]
    added = [Added("mixamorig:HeadTop_End", names[J["head"]], HEAD_TOP, J["head"])]
    for side, title, _, sign in SIDES:
        added.append(Added(f"mixamorig:{title}Toe_End", names[J[f"{side}_foot"]], TOE_END, J[f"{side}_foot"]))
        added += finger_bones(
            f"mixamorig:{title}Hand{{Finger}}{{k}}",
            names[J[f"{side}_hand"]],
            names[J[f"{side}_wrist"]],
            sign,
            J[f"{side}_hand"],
            4,
        )
    return Rig(added=tuple(added))


def unreal_rig(preset: str) -> Rig:
    names = skeleton.PRESETS[preset]
    added: list[Added] = []
    for side, _, letter, sign in SIDES:
        added += finger_bones(
            f"{{finger}}_0{{k}}_{letter}",
            names[J[f"{side}_hand"]],
            names[J[f"{side}_wrist"]],
            sign,
            J[f"{side}_hand"],
            3,
        )
    inserted: tuple[Inserted, ...] = ()
    if preset == "unreal5":
        inserted = (
            Inserted("spine_02", J["spine2"], 0.5),
            Inserted("spine_04", J["spine3"], 0.5),
            Inserted("neck_02", J["head"], 0.5),
        )
    return Rig(floor_root="root", inserted=inserted, added=tuple(added))


RIGS: dict[str, Rig] = {
    "smpl": Rig(),
    "mixamo": mixamo_rig(),
    "unreal": unreal_rig("unreal"),
    "unreal5": unreal_rig("unreal5"),
}
# Where a joint with several children points: up the spine, not into a hip or a collar.
PREFERRED_CHILD = {J["pelvis"]: J["spine1"], J["spine3"]: J["neck"]}


@dataclass
class Skeleton:
    """A preset's bones: names, parents, rest offsets, and which bone carries each SMPL joint."""

    names: list[str]
    parents: list[int]
    offsets: list[np.ndarray]
    smpl_joints: list[int]


def build_skeleton(preset: str, offsets: np.ndarray) -> Skeleton:
    """The preset's bones in an order where every parent comes before its children."""
    rig = RIGS[preset]
    names = skeleton.PRESETS[preset]
    built = Skeleton([], [], [], [-1] * skeleton.NUM_JOINTS)

    def add(name: str, parent: int, offset: np.ndarray) -> int:
        built.names.append(name)
        built.parents.append(parent)
        built.offsets.append(np.asarray(offset, dtype=np.float64))
        return len(built.names) - 1

    floor_root = add(rig.floor_root, -1, np.zeros(3)) if rig.floor_root else -1
    inserted = {item.above: item for item in rig.inserted}
    for joint, name in enumerate(names):
        parent = skeleton.PARENTS[joint]
        parent_bone = built.smpl_joints[parent] if parent >= 0 else floor_root
        offset = offsets[joint]
        if joint in inserted:
            share = inserted[joint].share
            parent_bone = add(inserted[joint].name, parent_bone, offset * share)
            offset = offset * (1.0 - share)
        built.smpl_joints[joint] = add(name, parent_bone, offset)
    for bone in rig.added:
        standard = np.linalg.norm(skeleton.STANDARD_OFFSETS[bone.scaled_by])
        scale = np.linalg.norm(offsets[bone.scaled_by]) / standard
        add(bone.name, built.names.index(bone.parent), np.array(bone.offset) * scale)
    return built


def aims(parents: list[int], smpl_joints: list[int]) -> tuple[int, ...]:
    """The child each bone points to: the preferred one, else one leading to an SMPL joint, else the first."""
    children: dict[int, list[int]] = {bone: [] for bone in range(len(parents))}
    for bone, parent in enumerate(parents):
        if parent >= 0:
            children[parent].append(bone)
    carries = set(smpl_joints)

    def subtree(bone: int) -> set[int]:
        found = {bone}
        for child in children[bone]:
            found |= subtree(child)
        return found

    preferred = {smpl_joints[joint]: smpl_joints[child] for joint, child in PREFERRED_CHILD.items()}
    result = []
    for bone in range(len(parents)):
        options = children[bone]
        if not options:
            result.append(-1)
            continue
        wanted = [child for child in options if preferred.get(bone, -1) in subtree(child)]
        wanted = wanted or [child for child in options if subtree(child) & carries]
        result.append((wanted or options)[0])
    return tuple(result)


def rig_motion(
    preset: str,
    offsets: np.ndarray,
    rotations: np.ndarray,
    root_positions: np.ndarray,
    fps: float,
    start_frame: int,
) -> ExportMotion:
    """The SMPL motion (offsets (24, 3), local rotations (N, 24, 3, 3), root positions (N, 3)) on the preset's rig."""
    built = build_skeleton(preset, offsets)
    count, bones = rotations.shape[0], len(built.names)
    local = np.broadcast_to(np.eye(3), (count, bones, 3, 3)).copy()
    local[:, built.smpl_joints] = rotations
    translations = np.broadcast_to(np.array(built.offsets), (count, bones, 3)).copy()
    pelvis = built.smpl_joints[J["pelvis"]]
    moving: tuple[int, ...] = (pelvis,)
    if RIGS[preset].floor_root:
        # The root follows the pelvis over the floor; the pelvis keeps its height (and all rotation) under it.
        root = built.parents[pelvis]
        translations[:, root] = root_positions * np.array([1.0, 0.0, 1.0])
        translations[:, pelvis] = root_positions * np.array([0.0, 1.0, 0.0])
        moving = (root, pelvis)
    else:
        translations[:, pelvis] = root_positions
    return ExportMotion(
        names=tuple(built.names),
        parents=tuple(built.parents),
        offsets=np.array(built.offsets),
        rotations=local,
        translations=translations,
        fps=fps,
        moving=moving,
        aims=aims(built.parents, built.smpl_joints),
        smpl_joints=tuple(built.smpl_joints),
        start_frame=start_frame,
    )
