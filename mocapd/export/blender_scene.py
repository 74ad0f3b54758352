"""Inside Blender: build an armature per motion, key it, and write the FBX files one request lists.

Runs as `python -m mocapd.export.blender_scene --request R.json` (bpy from PyPI) or as
`blender -b --factory-startup --python-exit-code 1 --python blender_scene.py -- --request R.json`;
it needs only bpy and numpy. The request:
{"exports": [{"out": "a.fbx", "armatures": [{"name": "Armature", "motion": "m.npz"}, ...]}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run by a Blender executable as a plain script: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from bpy_extras import anim_utils  # noqa: E402

from mocapd.export import motion as export_motion  # noqa: E402

ARMATURE_NAME = export_motion.ARMATURE_NAME
GO = export_motion.GO_AHEAD


def frame_rate(fps: float) -> tuple[int, float]:
    """Blender's (fps, fps_base) for a rate: 29.97 is 30 / 1.001 so the FBX gets the NTSC time mode."""
    for base in (1.0, 1.001):
        scaled = fps * base
        if abs(scaled - round(scaled)) < 1e-3:
            return int(round(scaled)), base
    integer = max(1, int(round(fps)))
    return integer, integer / fps


def clear_scene() -> None:
    """Remove every object, armature and action so each export starts from nothing."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)
    for armature in list(bpy.data.armatures):
        bpy.data.armatures.remove(armature)
    for action in list(bpy.data.actions):
        bpy.data.actions.remove(action)


def build_armature(motion: export_motion.ExportMotion, name: str) -> tuple[bpy.types.Object, np.ndarray]:
    """An armature whose bones point at their child joint (Mixamo's and UE's habit), and each bone's
    rest orientation in armature space (J, 3, 3), which turns the motion's rotations into Blender's keys."""
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    bpy.context.scene.collection.objects.link(obj)
    # The motion is Y up; Blender is Z up. The FBX exporter turns Z up back into Y up, so the
    # armature node arrives in the file with an identity transform.
    obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    heads = motion.rest_positions()
    tails = motion.bone_tails()
    edit_bones: list[bpy.types.EditBone] = []
    for joint, bone_name in enumerate(motion.names):
        bone = armature.edit_bones.new(bone_name)
        bone.head = tuple(heads[joint])
        bone.tail = tuple(tails[joint])
        bone.roll = 0.0
        parent = motion.parents[joint]
        if parent >= 0:
            bone.parent = edit_bones[parent]
            bone.use_connect = False
        edit_bones.append(bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    # Blender's own rest orientation of each bone (Y along it, its roll convention), read back.
    orientations = np.array(
        [np.array(armature.bones[bone_name].matrix_local)[:3, :3] for bone_name in motion.names]
    )
    # mathutils is float32: made exactly orthonormal again, or the keys' quaternions (computed with square
    # roots of small differences) would be off by a milliradian.
    left, _, right = np.linalg.svd(orientations.astype(np.float64))
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj, left @ right


def continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    """(N, 3, 3) -> (N, 4) quaternions (w, x, y, z) without sign flips between frames.

    numpy only (Blender's Python has no scipy, and mathutils one matrix at a time is slow).
    """
    m = rotations
    w = 0.5 * np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]))
    x = 0.5 * np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2]))
    y = 0.5 * np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2]))
    z = 0.5 * np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2]))
    x = np.copysign(x, m[:, 2, 1] - m[:, 1, 2])
    y = np.copysign(y, m[:, 0, 2] - m[:, 2, 0])
    z = np.copysign(z, m[:, 1, 0] - m[:, 0, 1])
    result = np.stack([w, x, y, z], axis=1)
    result /= np.linalg.norm(result, axis=1, keepdims=True)
    # Flip each frame into the hemisphere of the previous one.
    dots = np.sum(result[1:] * result[:-1], axis=1)
    signs = np.concatenate([[1.0], np.cumprod(np.where(dots < 0.0, -1.0, 1.0))])
    return result * signs[:, None]


def curve_owner(obj: bpy.types.Object, action: bpy.types.Action) -> object:
    """Where F-curves are made: the slot's channel bag (Blender 4.4+; 5.0 has no Action.fcurves), else the action."""
    obj.animation_data_create()
    obj.animation_data.action = action
    if not hasattr(action, "slots"):  # Blender before 4.4 (e.g. Debian's 3.4)
        return action
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    obj.animation_data.action_slot = slot
    return anim_utils.action_ensure_channelbag_for_slot(action, slot)


def add_curve(
    owner: object, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray
) -> None:
    """Key `values` on `frames`."""
    if isinstance(owner, bpy.types.Action):
        curve = owner.fcurves.new(data_path, index=index, action_group=group)
    else:
        curve = owner.fcurves.new(data_path, index=index, group_name=group)  # type: ignore[attr-defined]
    curve.keyframe_points.add(values.shape[0])
    curve.keyframe_points.foreach_set("co", np.column_stack([frames, values]).astype(np.float32).ravel())
    curve.update()


def key_frames(motion: export_motion.ExportMotion, rest_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """The frames keyed: the rest pose on `rest_frame`, the first pose held from just after it (a scene's
    later entrant), then the motion's own frames; and the motion's row shown on each."""
    first = motion.start_frame
    frames = [rest_frame] + ([rest_frame + 1] if rest_frame + 1 < first else [])
    frames += list(range(first, first + motion.frame_count))
    rows = [-1] + [0] * (len(frames) - 1 - motion.frame_count) + list(range(motion.frame_count))
    return np.array(frames, dtype=np.float64), np.array(rows)


def key_motion(
    obj: bpy.types.Object, orientations: np.ndarray, motion: export_motion.ExportMotion, rest_frame: int
) -> None:
    """One key per frame per joint (rotation; moving joints also location), plus the rest pose on rest_frame.

    A pose bone's keys are relative to its rest, in its own axes B: rotation B^T R B, location B^T (t - offset).
    """
    channelbag = curve_owner(obj, bpy.data.actions.new(obj.name + "Action"))
    frames, rows = key_frames(motion, rest_frame)
    shown = rows >= 0
    for joint, name in enumerate(motion.names):
        basis = orientations[joint]
        local = np.swapaxes(basis, 0, 1) @ motion.rotations[:, joint] @ basis
        quaternions = np.zeros((len(rows), 4))
        quaternions[~shown] = (1.0, 0.0, 0.0, 0.0)
        quaternions[shown] = continuous_quaternions(local[rows[shown]])
        path = f'pose.bones["{name}"].rotation_quaternion'
        for index in range(4):
            add_curve(channelbag, path, index, name, frames, quaternions[:, index])
    for joint in motion.moving:
        name = motion.names[joint]
        locations = np.zeros((len(rows), 3))
        moved = motion.translations[rows[shown], joint] - motion.offsets[joint]
        locations[shown] = moved @ orientations[joint]
        for index in range(3):
            add_curve(channelbag, f'pose.bones["{name}"].location', index, name, frames, locations[:, index])


def export_fbx(motion: export_motion.ExportMotion, out: Path, name: str = ARMATURE_NAME) -> None:
    """Build, key and write one motion as an FBX file."""
    export_scene([(name, motion)], out)


def export_scene(armatures: list[tuple[str, export_motion.ExportMotion]], out: Path) -> None:
    """Build, key and write one armature per (name, motion), on one timeline, as an FBX file."""
    clear_scene()
    scene = bpy.context.scene
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = 1.0
    first = min(motion.start_frame for _, motion in armatures)
    last = max(motion.start_frame + motion.frame_count - 1 for _, motion in armatures)
    # The rest pose is keyed on this frame and shown while exporting: Blender writes the current pose
    # as the rest pose. It lies before every key exported.
    rest_frame = first - 1
    for name, motion in armatures:
        obj, orientations = build_armature(motion, name)
        key_motion(obj, orientations, motion, rest_frame)
    scene.render.fps, scene.render.fps_base = frame_rate(armatures[0][1].fps)
    scene.frame_start = first
    scene.frame_end = last
    scene.frame_set(rest_frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = bpy.ops.export_scene.fbx(
        filepath=str(out),
        use_selection=False,
        object_types={"ARMATURE"},
        axis_forward="-Z",
        axis_up="Y",
        global_scale=1.0,
        apply_unit_scale=True,
        # Units into the file's UnitScaleFactor, node scales 1: metres stay metres in Unity and Unreal.
        apply_scale_options="FBX_SCALE_ALL",
        add_leaf_bones=False,
        primary_bone_axis="Y",
        secondary_bone_axis="X",
        armature_nodetype="NULL",
        bake_anim=True,
        bake_anim_use_all_bones=True,
        bake_anim_use_nla_strips=False,
        bake_anim_use_all_actions=False,
        bake_anim_force_startend_keying=True,
        bake_anim_step=1.0,
        bake_anim_simplify_factor=0.0,
    )
    if "FINISHED" not in result:
        raise RuntimeError(f"Blender's FBX exporter did not finish for {out.name}: {result}")


def run_request(request_path: Path) -> None:
    """Export every file the request lists, printing one line per file."""
    request = json.loads(request_path.read_text(encoding="utf-8"))
    for entry in request["exports"]:
        started = time.perf_counter()
        armatures = [(item["name"], export_motion.load(Path(item["motion"]))) for item in entry["armatures"]]
        export_scene(armatures, Path(entry["out"]))
        frames = max(motion.frame_count for _, motion in armatures)
        print(
            f"wrote {entry['out']}: {len(armatures)} armature(s), {frames} frames at {armatures[0][1].fps:g} fps "
            f"in {time.perf_counter() - started:.2f} s",
            flush=True,
        )


def script_arguments(argv: list[str]) -> list[str]:
    """The arguments after `--` when run by a Blender executable, else all of them."""
    return argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the FBX files a request lists (runs inside Blender).")
    parser.add_argument("--request", type=Path, required=True, help="request JSON written by mocapd")
    parser.add_argument(
        "--wait", action="store_true", help=f"read {GO!r} from stdin first: the motions are being written"
    )
    arguments = parser.parse_args(script_arguments(sys.argv if argv is None else argv))
    # Started before its motions were written (Blender's start overlaps their preparation).
    if arguments.wait and sys.stdin.readline().strip() != GO:
        print("mocapd stopped before the motions were written; nothing exported", flush=True)
        return 2
    run_request(arguments.request)
    return 0


if __name__ == "__main__":
    sys.exit(main())
