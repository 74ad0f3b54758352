"""Test helper run in a child process: import FBX files with Blender (bpy) as an artist would, and print
each armature's bones (head, tail and parent, in world space) as JSON.

python -m tests.blender_import OUT.json A.fbx [B.fbx ...]
"""

from __future__ import annotations

import json
import sys

import bpy


def armatures_of(path: str) -> dict[str, dict[str, dict[str, object]]]:
    """{armature object name: {bone name: {"head", "tail", "parent"}}} of one imported file."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=path)
    result: dict[str, dict[str, dict[str, object]]] = {}
    for obj in bpy.data.objects:
        if obj.type != "ARMATURE":
            continue
        world = obj.matrix_world
        result[obj.name] = {
            bone.name: {
                "head": list(world @ bone.head_local),
                "tail": list(world @ bone.tail_local),
                "parent": bone.parent.name if bone.parent else None,
            }
            for bone in obj.data.bones
        }
    return result


def main(argv: list[str]) -> int:
    out, paths = argv[0], argv[1:]
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({path: armatures_of(path) for path in paths}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
