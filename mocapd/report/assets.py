"""What the packaging step adds for the report: preview video, poster, thumbnails, plots, per-person files.

Written to job.package_dir/preview/ (and files/ for per-person links where the result is a zip);
the outbox publishes both beside the result. A failure here is a warning: the animation is the result.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from mocapd.errors import JobError
from mocapd.export.packaging import export_file_name
from mocapd.job import Job
from mocapd.report import motion, plots, preview, proxy
from mocapd.report.layout import FILES_DIR, POSTER_NAME, PREVIEW_DIR, PREVIEW_NAME, plot_name, thumbnail_name

log = logging.getLogger(__name__)


def person_files(job: Job, tid: int, single: bool, result: str) -> list[str]:
    """Paths (relative to the job's outbox folder) of the files that hold this person."""
    if single:
        return [result]
    names = []
    for extension in dict.fromkeys(job.options.formats):
        source = job.export_dir / export_file_name(tid, extension)
        if source.is_file():
            target = job.package_dir / FILES_DIR / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            names.append(f"{FILES_DIR}/{source.name}")
    return names


# Where the export step draws the preview ahead, while Blender writes the FBX (work folder), and the
# record of what it was drawn from: the packaging step takes it only where that is still so.
AHEAD_DIR = ".preview-ahead"
AHEAD_RECORD = "drawn.json"


def build(job: Job, result: str, single: bool) -> tuple[dict[str, Any], list[str]]:
    """Write the report's files; (figures for the step's data, warnings). The preview and plots are
    the export step's (draw_ahead) where they were drawn from the same motions, else drawn here."""
    folder = job.package_dir / PREVIEW_DIR
    shutil.rmtree(folder, ignore_errors=True)
    ahead = taken_ahead(job, folder)
    if ahead is not None:
        data, warnings = ahead
    else:
        folder.mkdir(parents=True)
        data, warnings = draw(job, folder)
    for tid, entry in data["people"].items():
        entry["files"] = person_files(job, int(tid), single, result)
    return data, warnings


def draw_ahead(job: Job) -> None:
    """The preview and plots drawn into the work folder for the packaging step (build), with a record
    of the motions they show; a failure leaves nothing, and the packaging step draws them itself."""
    folder = job.work_dir / AHEAD_DIR
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True)
        data, warnings = draw(job, folder)
        record = {"inputs": inputs(job), "data": data, "warnings": warnings}
        staging = folder / f".{AHEAD_RECORD}.partial"
        staging.write_text(json.dumps(record), encoding="utf-8")
        staging.replace(folder / AHEAD_RECORD)
    except Exception:  # the packaging step draws them again, and says what fails there
        log.exception("drawing the preview ahead failed")
        shutil.rmtree(folder, ignore_errors=True)


def taken_ahead(job: Job, folder: Path) -> tuple[dict[str, Any], list[str]] | None:
    """The preview draw_ahead made, moved to `folder`, with its figures and warnings; None where there
    is none or it shows other motions than the job's now (a step run again since)."""
    ahead = job.work_dir / AHEAD_DIR
    try:
        record = json.loads((ahead / AHEAD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        shutil.rmtree(ahead, ignore_errors=True)
        return None
    if not isinstance(record, dict) or record.get("inputs") != inputs(job):
        shutil.rmtree(ahead, ignore_errors=True)
        return None
    (ahead / AHEAD_RECORD).unlink()
    folder.parent.mkdir(parents=True, exist_ok=True)
    ahead.replace(folder)
    return record["data"] | {"drawn_during": "fbx_export"}, list(record["warnings"])


def inputs(job: Job) -> dict[str, Any]:
    """What the preview is drawn from: the options, the people and their motion files (size, mtime)."""
    files = {}
    for tid in job.selected_tracks:
        for path in (job.track_path(tid), job.motion_path(tid)):
            try:
                stat = path.stat()
            except OSError:
                continue
            files[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return {
        "options": json.loads(json.dumps(dataclasses.asdict(job.options), default=str)),
        "tracks": list(job.selected_tracks),
        "files": files,
    }


def draw(job: Job, folder: Path) -> tuple[dict[str, Any], list[str]]:
    """The preview video, poster, thumbnails and plots in `folder`; (figures, warnings)."""
    started, cpu_started = time.monotonic(), time.process_time()
    warnings: list[str] = []
    people = []
    for tid in job.selected_tracks:
        try:
            people.append(motion.load(job, tid))
        except JobError as error:
            warnings.append(f"no preview of track {tid}: {error}")
    data: dict[str, Any] = {"people": {}}
    for person in people:
        raw = person.raw
        data["people"][str(person.tid)] = {
            "first_frame": int(raw.frame_idx[0]),
            "last_frame": int(raw.frame_idx[-1]),
            "first_time": round(float(raw.time[0]), 3),
            "last_time": round(float(raw.time[-1]), 3),
            "airborne_share": round(plots.airborne_share(person), 4),
            "colour": "#{:02x}{:02x}{:02x}".format(*person.colour),
            "files": [],
        }
    if people and job.video_info is not None:
        written = preview.write(job, people, folder, PREVIEW_NAME)
        # Drawn: the tracking step's copy of the frames has done its work (a re-export decodes the source).
        proxy.path_for(job.work_dir).unlink(missing_ok=True)
        data |= {
            "video": f"{PREVIEW_DIR}/{PREVIEW_NAME}",
            "poster": f"{PREVIEW_DIR}/{POSTER_NAME}",
            "duration": round(written.duration, 4),
            "size": [written.width, written.height],
            "frames_from": "tracking" if written.from_tracking else "source",
        }
        if all(person.world_from_camera is None for person in people):
            warnings.append("the preview shows no overlay: the track files have no camera pose")
        for person in people:
            entry = data["people"][str(person.tid)]
            if (folder / thumbnail_name(person.tid)).is_file():
                entry["thumbnail"] = f"{PREVIEW_DIR}/{thumbnail_name(person.tid)}"
    data["preview_seconds"] = round(time.monotonic() - started, 3)
    for person in people:
        plots.write(person, folder / plot_name(person.tid))
        data["people"][str(person.tid)]["plots"] = f"{PREVIEW_DIR}/{plot_name(person.tid)}"
    data["seconds"] = round(time.monotonic() - started, 3)
    # CPU time as well: on a loaded machine the wall time says more about the neighbours.
    data["cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    return data, warnings
