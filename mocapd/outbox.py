"""The outbox: outbox/<name>/ with the results, report.html and status.json, and outbox/index.html.

Every file is written under a hidden staging name and renamed into place, so nobody opening a file in
the outbox ever sees it half written. status.json is rewritten at every state change of a job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mocapd import progress, safefs, states
from mocapd.config import Config
from mocapd.job import Job
from mocapd.report import layout, summary
from mocapd.report.pages import iso, render_index, render_report
from mocapd.service.runner import STEP_LABELS, Listener
from mocapd.stats import average_step_seconds
from mocapd.store import JobRecord, Store

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
REPORT_NAME = "report.html"
INDEX_NAME = "index.html"
INTERMEDIATE_NAME = "intermediate"
# Folders of the package published beside the result: the report's preview and per-person files.
PACKAGE_FOLDERS = (layout.PREVIEW_DIR, layout.FILES_DIR)
RESULT_NAMES = ("animation.", "animations.zip")
# Seconds between rewrites of index.html (it lists many jobs; status.json is per job and immediate).
INDEX_WRITE_SECONDS = 1.0


def write_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    """Write `data` to `path` through a hidden staging name in the same folder, then rename it into place."""
    staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(staging, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def copy_atomic(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copyfile(source, staging)
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def allocate_name(outbox: Path, base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`... : the first name no outbox folder and no unfinished job uses."""
    candidate, number = base, 1
    while candidate in taken or os.path.lexists(outbox / candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def status_document(record: JobRecord, store: Store) -> dict[str, Any]:
    """What status.json holds for a job (documented field by field in docs/operations.md)."""
    steps = store.steps(record.id)
    step_data = record.json("step_data") or {}
    smoothing = step_data.get(states.SMOOTHING, {})
    jitter = smoothing.get("jitter", {}) if isinstance(smoothing, dict) else {}
    tracks = []
    for track in store.tracks(record.id):
        entry: dict[str, Any] = {
            "tid": track.tid,
            "frames": track.frames,
            "share": track.share,
            "selected": track.selected,
            "quality": json.loads(track.quality or "{}"),
        }
        if str(track.tid) in jitter:
            entry["jitter"] = jitter[str(track.tid)]
        tracks.append(entry)
    finished = record.finished if record.state in states.FINISHED_JOB_STATES else None
    total = (finished - record.started) if finished is not None and record.started is not None else None
    result = step_data.get(states.PACKAGING, {}).get("result") if record.state == states.COMPLETED else None
    running = (
        progress.overall(record, steps, average_step_seconds(store))
        if record.state == states.PROCESSING
        else None
    )
    document: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "source": record.source_relative,
        "status": record.state,
        "step": record.current_step if record.state == states.PROCESSING else None,
        "progress": round(record.progress, 3) if record.state == states.PROCESSING else None,
        "progress_message": record.progress_message if record.state == states.PROCESSING else None,
        "overall": running.to_dict() if running is not None else None,
        "error": record.error if record.state in (states.FAILED, states.CANCELLED) else None,
        "retrying_after": record.error if record.state == states.QUEUED and record.error else None,
        "attempts": record.attempts,
        "backend": record.backend or None,
        "backend_reason": record.backend_reason or None,
        "video": record.json("video_info"),
        "warnings": record.json("warnings") or [],
        "result": result,
        "steps": [
            {
                "name": step.name,
                "label": STEP_LABELS.get(step.name, step.name),
                "status": step.status,
                "started": iso(step.started),
                "finished": iso(step.finished) if step.status != states.RUNNING else None,
                "duration_seconds": round(step.duration, 3) if step.duration is not None else None,
                "error": step.error,
            }
            for step in steps
        ],
        "tracks": tracks,
        "smoothing": {key: value for key, value in smoothing.items() if key != "jitter"}
        if isinstance(smoothing, dict)
        else None,
        "options": json.loads(record.options or "{}"),
        "timings": {
            "created": iso(record.created),
            "started": iso(record.started),
            "finished": iso(finished),
            "total_seconds": round(total, 3) if total is not None else None,
        },
        "updated": iso(time.time()),
    }
    summary.enrich(document, step_data)
    return document


class Outbox(Listener):
    """Writes each job's status files and results, and the outbox's index page."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._index_lock = threading.Lock()
        self._index_dirty = True
        self._index_written = 0.0

    @property
    def root(self) -> Path:
        return self.config.outbox_path

    def folder(self, name: str) -> Path:
        return self.root / name

    def job_changed(self, job_id: int, paused: str | None = None) -> None:
        """Rewrite the job's status.json and report.html; best effort (an unreachable share is logged).

        `paused`: why the machine holds the job now, shown even when the database cannot record it.
        """
        self._index_dirty = True
        record = self.store.job(job_id)
        if record is None or record.name is None:
            return
        try:
            self.write_status(record, paused)
        except OSError as error:
            log.warning("cannot write the status of job %d to the outbox: %s", job_id, error)
        except Exception:  # a report that cannot be rendered must not stop the job
            log.exception("cannot write the status of job %d", job_id)

    def write_status(self, record: JobRecord, paused: str | None = None) -> None:
        document = status_document(record, self.store)
        if paused is not None:
            document["progress_message"] = f"paused: {paused}"
        # backslashreplace: a lone surrogate (an undecodable byte) that slipped through is shown, not fatal.
        report = render_report(document, self.folder(record.name or str(record.id))).encode(
            "utf-8", "backslashreplace"
        )
        with self.job_folder(record.name or str(record.id)) as folder:
            safefs.write_file(folder, REPORT_NAME, report)
            # status.json last: once it says "completed", everything it names is in place.
            safefs.write_file(
                folder,
                STATUS_NAME,
                (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
            )

    @contextmanager
    def job_folder(self, name: str) -> Iterator[int]:
        """outbox/<name> as a descriptor; a link (or file) put in its place is renamed aside, never followed."""
        self.root.mkdir(parents=True, exist_ok=True)
        parts = [part for part in name.split("/") if part]
        with safefs.folder(self.root) as root:
            if safefs.is_link_or_not_folder(root, parts[0]):
                moved = safefs.move_aside(root, parts[0])
                log.warning(
                    "outbox/%s was a symbolic link or a file: renamed to %s and not followed", parts[0], moved
                )
        with safefs.folder(self.root, *parts, create=True) as folder:
            yield folder

    def publish(self, job: Job) -> None:
        """Copy the package (and intermediate files when asked) into outbox/<name>/, file by file, atomically.

        The job folder and the outbox folder are opened without following links (safefs).
        """
        root = job.config.work_root
        work_parts = job.work_dir.relative_to(root).parts
        with safefs.folder(root, *work_parts) as work, self.job_folder(job.name) as folder:
            with safefs.folder(root, *work_parts, job.package_dir.name) as package:
                results = safefs.regular_files(package)
                if not results:
                    raise OSError(f"the package folder {job.package_dir} is empty")
                for name in results:
                    safefs.copy_file(package, name, folder, name)
            names = set(results)
            for stale in safefs.regular_files(
                folder
            ):  # a re-export may change animation.fbx into animations.zip
                if stale.startswith(RESULT_NAMES) and stale not in names:
                    os.unlink(stale, dir_fd=folder)
            with safefs.folder(root, *work_parts, job.package_dir.name) as package:
                for name in PACKAGE_FOLDERS:
                    self.publish_folder(package, folder, name)
            if job.options.keep_intermediate:
                self.publish_intermediate(job, work, folder)
            else:  # one from an earlier export (re-exported with --replace) would not match these results
                safefs.remove_tree(folder, INTERMEDIATE_NAME)

    def publish_folder(self, package: int, folder: int, name: str) -> None:
        """package/<name>/ copied to outbox/<name>/ under a hidden name, renamed into place; removed when
        the package has none (a re-export to a single file)."""
        staging = f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            source = safefs.folder_at(package, name)
            with source as source_folder:
                os.mkdir(staging, safefs.FOLDER_MODE, dir_fd=folder)
                with safefs.folder_at(folder, staging) as target:
                    for file_name in safefs.regular_files(source_folder):
                        safefs.copy_file(source_folder, file_name, target, file_name)
        except FileNotFoundError:
            staging = ""
        old = f".{name}.old-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(name, old, src_dir_fd=folder, dst_dir_fd=folder)
        except FileNotFoundError:
            old = ""
        if staging:
            os.rename(staging, name, src_dir_fd=folder, dst_dir_fd=folder)
        if old:
            safefs.remove_tree(folder, old)

    def publish_intermediate(self, job: Job, work: int, folder: int) -> None:
        """intermediate/ built under a hidden name, then renamed into place (all within open folders)."""
        staging = f".{INTERMEDIATE_NAME}.tmp-{uuid.uuid4().hex[:8]}"
        os.mkdir(staging, safefs.FOLDER_MODE, dir_fd=folder)
        with safefs.folder_at(folder, staging) as target:
            for path in (job.tracklets_path, job.visualization_path):
                if path.name in safefs.regular_files(work):
                    safefs.copy_file(work, path.name, target, path.name)
            for source, into in ((job.tracks_dir, None), (job.smoothed_dir, "smoothed")):
                try:
                    opened = safefs.folder_at(work, source.name)
                    with opened as source_folder:
                        names = [
                            name for name in safefs.regular_files(source_folder) if name.endswith(".npz")
                        ]
                        if into is None:
                            for name in names:
                                safefs.copy_file(source_folder, name, target, name)
                        else:
                            os.mkdir(into, safefs.FOLDER_MODE, dir_fd=target)
                            with safefs.folder_at(target, into) as inner:
                                for name in names:
                                    safefs.copy_file(source_folder, name, inner, name)
                except FileNotFoundError:
                    continue
        old = f".{INTERMEDIATE_NAME}.old-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(INTERMEDIATE_NAME, old, src_dir_fd=folder, dst_dir_fd=folder)
        except FileNotFoundError:
            old = ""
        os.rename(staging, INTERMEDIATE_NAME, src_dir_fd=folder, dst_dir_fd=folder)
        if old:
            safefs.remove_tree(folder, old)

    def mark_index_dirty(self) -> None:
        """Rewrite index.html at the next flush (a farm's leader: other hosts' changes are not signalled)."""
        self._index_dirty = True

    def flush_index(self, force: bool = False) -> None:
        """Rewrite index.html when something changed, at most every INDEX_WRITE_SECONDS."""
        if not self._index_dirty and not force:
            return
        if not force and time.monotonic() - self._index_written < INDEX_WRITE_SECONDS:
            return
        with self._index_lock:
            self._index_dirty = False
            self._index_written = time.monotonic()
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                write_atomic(
                    self.root / INDEX_NAME, render_index(self.store).encode("utf-8", "backslashreplace")
                )
            except OSError as error:
                self._index_dirty = True
                log.warning("cannot write %s: %s", self.root / INDEX_NAME, error)
