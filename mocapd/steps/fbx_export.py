"""Export step: every selected track written as FBX (one Blender start for all), BVH and GLB as asked, and
one scene file (FBX, GLB) with every person when there are several."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocapd import states, trackfile
from mocapd.errors import JobError
from mocapd.export import motion as export_motion
from mocapd.export.blender import FbxExport, run_blender
from mocapd.export.bvh import write_bvh
from mocapd.export.motion import ExportMotion
from mocapd.export.packaging import (
    MANIFEST_NAME,
    armature_name,
    export_file_name,
    exported_files,
    scene_file_name,
    write_manifest,
)
from mocapd.export.prepare import TPOSE_SHIFT, PrepareSettings, prepare
from mocapd.job import Job, StepOutcome
from mocapd.report import assets

STEP = states.FBX_EXPORT
# Share of the step's timeout that Blender may take, leaving time to report a timeout cleanly.
BLENDER_TIMEOUT_SHARE = 0.9
# Formats whose files cannot start late: their first frame is the person's first (the manifest says when).
STARTS_AT_ZERO = ("bvh",)
# Formats that also get one file with every person.
SCENE_FORMATS = ("fbx", "glb")


def clear_export_dir(export_dir: Path) -> None:
    """Remove files an earlier attempt left, so the package holds this attempt's files only."""
    export_dir.mkdir(parents=True, exist_ok=True)
    for path in exported_files(export_dir) + [export_dir / MANIFEST_NAME]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def glb_writers() -> tuple[
    Callable[[ExportMotion, Path], None], Callable[[list[tuple[str, ExportMotion]], Path], None]
]:
    """The GLB writers; imported only when a job asks for GLB, so FBX and BVH work without pygltflib."""
    try:
        from mocapd.export.glb import write_glb, write_glb_scene
    except ImportError as error:
        raise JobError(
            f"GLB export needs the pygltflib package (pip install pygltflib==1.16.5): {error}"
        ) from error
    return write_glb, write_glb_scene


def timeline(
    track: trackfile.TrackMotion, motion: ExportMotion, formats: list[str], shift: int
) -> dict[str, Any]:
    """Manifest figures: when the person is in the video, and where each format's time lies on it."""
    start_time = motion.start_frame / motion.fps
    offsets = {fmt: (start_time if fmt in STARTS_AT_ZERO else 0.0) - shift / motion.fps for fmt in formats}
    return {
        "first_frame": int(track.frame_idx[0]),
        "last_frame": int(track.frame_idx[-1]),
        "first_time": float(track.time[0]),
        "last_time": float(track.time[-1]),
        "start_frame": motion.start_frame,
        "start_time": start_time,
        "time_offset_s": offsets,
    }


def settings_for(job: Job) -> PrepareSettings:
    """The preparation settings the job's options ask for."""
    options = job.options
    return PrepareSettings(
        fps=options.fps,
        preset=options.skeleton_preset,
        with_root_motion=options.with_root_motion,
        foot_locking=options.foot_locking,
        tpose_frame=options.tpose_frame,
    )


def run(job: Job) -> StepOutcome:
    """Write animation_track<tid>.<ext> for each selected track and format, the scene files, and the manifest."""
    if not job.selected_tracks:
        raise JobError("no track was selected for export")
    formats = list(dict.fromkeys(job.options.formats))
    export_dir = job.export_dir
    clear_export_dir(export_dir)
    outcome = StepOutcome()
    manifest: list[dict[str, Any]] = []
    reports: dict[str, Any] = {}
    files: list[str] = []
    job.report_progress(STEP, 0.0, "preparing motion")
    write_glb, write_glb_scene = glb_writers() if "glb" in formats else (None, None)
    settings = settings_for(job)
    shift = TPOSE_SHIFT if settings.tpose_frame else 0
    # Every person in one file as well, when there are several (one person's file is already that).
    scene_formats = [fmt for fmt in SCENE_FORMATS if fmt in formats] if len(job.selected_tracks) > 1 else []
    armatures: list[tuple[str, ExportMotion]] = []
    scene_files = [scene_file_name(extension) for extension in scene_formats]
    with tempfile.TemporaryDirectory(dir=job.work_dir, prefix=".export-") as scratch:
        # Known before any motion is prepared, so that Blender starts (about a second) meanwhile.
        motion_paths = {tid: Path(scratch) / f"track{tid}.npz" for tid in job.selected_tracks}
        fbx_exports = [
            FbxExport.single(motion_paths[tid], export_dir / export_file_name(tid, "fbx"))
            for tid in job.selected_tracks
            if "fbx" in formats
        ]
        if "fbx" in scene_formats:
            scene_armatures = [(armature_name(tid), motion_paths[tid]) for tid in job.selected_tracks]
            fbx_exports.append(FbxExport(export_dir / scene_file_name("fbx"), scene_armatures))

        def prepare_all() -> None:
            """Every track prepared and written: BVH, GLB, and the motion files Blender reads."""
            for position, tid in enumerate(job.selected_tracks):
                track = trackfile.load(job.motion_path(tid))
                prepared = prepare(track, settings)
                motion = prepared.motion
                reports[str(tid)] = prepared.report
                locking = prepared.report.get("foot_locking")
                if locking is not None and not any(locking["contact_share"]):
                    outcome.warnings.append(
                        f"track {tid}: no foot contact found, so foot locking changed nothing"
                    )
                names = [export_file_name(tid, extension) for extension in formats]
                entry = {"tid": tid, "frames": motion.frame_count, "fps": motion.fps, "files": names}
                manifest.append(entry | timeline(track, motion, formats, shift))
                files.extend(names)
                armatures.append((armature_name(tid), motion))
                if "bvh" in formats:
                    write_bvh(motion, export_dir / export_file_name(tid, "bvh"))
                if write_glb is not None:
                    write_glb(motion, export_dir / export_file_name(tid, "glb"))
                if "fbx" in formats:
                    export_motion.save(motion, motion_paths[tid])
                job.report_progress(
                    STEP, 0.3 * (position + 1) / len(job.selected_tracks), f"prepared track {tid}"
                )
            if write_glb_scene is not None and "glb" in scene_formats:
                write_glb_scene(armatures, export_dir / scene_file_name("glb"))
            if fbx_exports:
                job.report_progress(STEP, 0.3, f"Blender is writing {len(fbx_exports)} FBX file(s)")

        if fbx_exports:
            timeout = job.config.timeouts.for_step(STEP) * BLENDER_TIMEOUT_SHARE
            # Blender starts while the motions are prepared, and writes while the report's preview and
            # plots (the packaging step's) are drawn.
            run_blender(
                job.config,
                fbx_exports,
                Path(scratch) / "request.json",
                job.log_path(STEP),
                timeout,
                meanwhile=lambda: assets.draw_ahead(job),
                before=prepare_all,
            )
        else:
            prepare_all()
    files += scene_files
    scene = {
        "files": scene_files,
        "armatures": {armature_name(tid): tid for tid in job.selected_tracks},
    }
    write_manifest(export_dir, manifest, formats, scene if scene_files else None)
    job.report_progress(STEP, 1.0, f"wrote {len(files)} file(s)")
    outcome.data = {"files": files, "tracks": reports}
    return outcome
