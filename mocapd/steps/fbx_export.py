"""Export step: every selected track written as FBX (one Blender start for all), BVH and GLB as asked."""

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
from mocapd.export.packaging import MANIFEST_NAME, export_file_name, exported_files, write_manifest
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.job import Job, StepOutcome

STEP = states.FBX_EXPORT
# Share of the step's timeout that Blender may take, leaving time to report a timeout cleanly.
BLENDER_TIMEOUT_SHARE = 0.9


def clear_export_dir(export_dir: Path) -> None:
    """Remove files an earlier attempt left, so the package holds this attempt's files only."""
    export_dir.mkdir(parents=True, exist_ok=True)
    for path in exported_files(export_dir) + [export_dir / MANIFEST_NAME]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def glb_writer() -> Callable[[ExportMotion, Path], None]:
    """The GLB writer; imported only when a job asks for GLB, so FBX and BVH work without pygltflib."""
    try:
        from mocapd.export.glb import write_glb
    except ImportError as error:
        raise JobError(
            f"GLB export needs the pygltflib package (pip install pygltflib==1.16.5): {error}"
        ) from error
    return write_glb


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
    """Write animation_track<tid>.<ext> for each selected track and format, and the manifest."""
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
    write_glb = glb_writer() if "glb" in formats else None
    with tempfile.TemporaryDirectory(dir=job.work_dir, prefix=".export-") as scratch:
        fbx_exports: list[FbxExport] = []
        for position, tid in enumerate(job.selected_tracks):
            prepared = prepare(trackfile.load(job.motion_path(tid)), settings_for(job))
            motion = prepared.motion
            reports[str(tid)] = prepared.report
            locking = prepared.report.get("foot_locking")
            if locking is not None and not any(locking["contact_share"]):
                outcome.warnings.append(
                    f"track {tid}: no foot contact found, so foot locking changed nothing"
                )
            names = [export_file_name(tid, extension) for extension in formats]
            manifest.append({"tid": tid, "frames": motion.frame_count, "fps": motion.fps, "files": names})
            files += names
            if "bvh" in formats:
                write_bvh(motion, export_dir / export_file_name(tid, "bvh"))
            if write_glb is not None:
                write_glb(motion, export_dir / export_file_name(tid, "glb"))
            if "fbx" in formats:
                motion_path = Path(scratch) / f"track{tid}.npz"
                export_motion.save(motion, motion_path)
                fbx_exports.append(FbxExport(motion_path, export_dir / export_file_name(tid, "fbx")))
            job.report_progress(
                STEP, 0.3 * (position + 1) / len(job.selected_tracks), f"prepared track {tid}"
            )
        if fbx_exports:
            job.report_progress(STEP, 0.3, f"Blender is writing {len(fbx_exports)} FBX file(s)")
            timeout = job.config.timeouts.for_step(STEP) * BLENDER_TIMEOUT_SHARE
            run_blender(job.config, fbx_exports, Path(scratch) / "request.json", job.log_path(STEP), timeout)
    write_manifest(export_dir, manifest, formats)
    job.report_progress(STEP, 1.0, f"wrote {len(files)} file(s)")
    outcome.data = {"files": files, "tracks": reports}
    return outcome
