"""Write one track file (NPZ) as an FBX: `mocapd-npz-to-fbx --npz F --out F.fbx --fps 30` (bpy module).

Blender runs it through tools/blender/smplx_npz_to_fbx.py (`blender -b -P ... -- --npz F ...`). The work
is done by mocapd.export (the same code as the daemon's export step); this module only reads the arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mocapd import skeleton, trackfile
from mocapd.export.blender_scene import export_fbx, script_arguments
from mocapd.export.prepare import PrepareSettings, prepare, root_from_camera


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a mocapd track file (NPZ) as an FBX animation.")
    parser.add_argument("--npz", type=Path, required=True, help="track file written by mocapd")
    parser.add_argument("--out", type=Path, required=True, help="FBX file to write")
    parser.add_argument(
        "--fps", type=float, default=None, help="frame rate of the FBX (default: the track's)"
    )
    parser.add_argument(
        "--with-root-motion", action="store_true", help="keep the root's travel (default: in place)"
    )
    parser.add_argument(
        "--cam-scale",
        type=float,
        default=None,
        help="take the root's travel from the backend's camera translation times this scale instead of 'trans'",
    )
    parser.add_argument("--preset", choices=tuple(skeleton.PRESETS), default="smpl", help="bone names")
    parser.add_argument("--tpose-frame", action="store_true", help="add a rest (T) pose frame at the start")
    parser.add_argument("--no-foot-locking", action="store_true", help="leave the root as the track has it")
    arguments = parser.parse_args(script_arguments(sys.argv if argv is None else argv))
    track = trackfile.load(arguments.npz)
    if arguments.cam_scale is not None:
        track.trans = root_from_camera(track, arguments.cam_scale)
    settings = PrepareSettings(
        fps=arguments.fps,
        preset=arguments.preset,
        with_root_motion=arguments.with_root_motion,
        foot_locking=not arguments.no_foot_locking,
        tpose_frame=arguments.tpose_frame,
    )
    prepared = prepare(track, settings)
    export_fbx(prepared.motion, arguments.out)
    print(f"wrote {arguments.out}: {prepared.motion.frame_count} frames at {prepared.motion.fps:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
