"""The outbox: outbox/<name>/ with the results, report.html and status.json, and outbox/index.html.

Every file is written under a hidden staging name and renamed into place, so nobody opening a file in
the outbox ever sees it half written. status.json is rewritten at every state change of a job.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jinja2

from mocapd import states
from mocapd.config import Config
from mocapd.job import Job
from mocapd.runner import STEP_LABELS, Listener
from mocapd.store import JobRecord, Store

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
REPORT_NAME = "report.html"
INDEX_NAME = "index.html"
INTERMEDIATE_NAME = "intermediate"
RESULT_NAMES = ("animation.", "animations.zip")
# Seconds between rewrites of index.html (it lists many jobs; status.json is per job and immediate).
INDEX_WRITE_SECONDS = 1.0
INDEX_RECENT = 30
INDEX_QUEUE = 100

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("mocapd", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.ChainableUndefined,
)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat(timespec="seconds")


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
    return {
        "id": record.id,
        "name": record.name,
        "source": record.source_relative,
        "status": record.state,
        "step": record.current_step if record.state == states.PROCESSING else None,
        "progress": round(record.progress, 3) if record.state == states.PROCESSING else None,
        "progress_message": record.progress_message if record.state == states.PROCESSING else None,
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

    def job_changed(self, job_id: int) -> None:
        """Rewrite the job's status.json and report.html; best effort (an unreachable share is logged)."""
        self._index_dirty = True
        record = self.store.job(job_id)
        if record is None or record.name is None:
            return
        try:
            self.write_status(record)
        except OSError as error:
            log.warning("cannot write the status of job %d to the outbox: %s", job_id, error)
        except Exception:  # a report that cannot be rendered must not stop the job
            log.exception("cannot write the status of job %d", job_id)

    def write_status(self, record: JobRecord) -> None:
        folder = self.folder(record.name or str(record.id))
        folder.mkdir(parents=True, exist_ok=True)
        document = status_document(record, self.store)
        write_atomic(folder / REPORT_NAME, render_report(document).encode("utf-8"))
        # status.json last: once it says "completed", everything it names is in place.
        write_atomic(
            folder / STATUS_NAME, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        )

    def publish(self, job: Job) -> None:
        """Copy the package (and intermediate files when asked) into outbox/<name>/, file by file, atomically."""
        folder = self.folder(job.name)
        folder.mkdir(parents=True, exist_ok=True)
        results = sorted(
            path for path in job.package_dir.iterdir() if path.is_file() and not path.name.startswith(".")
        )
        if not results:
            raise OSError(f"the package folder {job.package_dir} is empty")
        for path in results:
            copy_atomic(path, folder / path.name)
        names = {path.name for path in results}
        for stale in folder.iterdir():  # a re-export may change animation.fbx into animations.zip
            if stale.name.startswith(RESULT_NAMES) and stale.name not in names:
                stale.unlink(missing_ok=True)
        if job.options.keep_intermediate:
            self.publish_intermediate(job, folder)

    def publish_intermediate(self, job: Job, folder: Path) -> None:
        """intermediate/ built under a hidden name, then renamed into place."""
        staging = folder / f".{INTERMEDIATE_NAME}.tmp-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        sources = [job.tracklets_path, job.visualization_path]
        sources += sorted(job.tracks_dir.glob("*.npz")) if job.tracks_dir.is_dir() else []
        for path in sources:
            if path.is_file():
                shutil.copyfile(path, staging / path.name)
        if job.smoothed_dir.is_dir():
            (staging / "smoothed").mkdir()
            for path in sorted(job.smoothed_dir.glob("*.npz")):
                shutil.copyfile(path, staging / "smoothed" / path.name)
        target = folder / INTERMEDIATE_NAME
        old = folder / f".{INTERMEDIATE_NAME}.old-{uuid.uuid4().hex[:8]}"
        if target.exists():
            os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)

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
                write_atomic(self.root / INDEX_NAME, render_index(self.store).encode("utf-8"))
            except OSError as error:
                self._index_dirty = True
                log.warning("cannot write %s: %s", self.root / INDEX_NAME, error)


def render_report(document: dict[str, Any]) -> str:
    return _environment.get_template("report.html").render(job=document, states=states)


def index_entry(record: JobRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name or record.source_relative,
        "source": record.source_relative,
        "state": record.state,
        "step": STEP_LABELS.get(record.current_step or "", record.current_step),
        "percent": round(100 * record.progress),
        "error": record.error,
        "created": iso(record.created),
        "finished": iso(record.finished),
        "has_folder": record.name is not None,
    }


def render_index(store: Store) -> str:
    queue = [
        index_entry(record) for record in store.jobs((states.QUEUED,), limit=INDEX_QUEUE, newest_first=False)
    ]
    queued_total = store.count((states.QUEUED,))
    running = [index_entry(record) for record in store.jobs((states.PROCESSING,))]
    completed = [index_entry(record) for record in store.jobs((states.COMPLETED,), limit=INDEX_RECENT)]
    failed = [
        index_entry(record) for record in store.jobs((states.FAILED, states.CANCELLED), limit=INDEX_RECENT)
    ]
    return _environment.get_template("index.html").render(
        queue=queue,
        queued_total=queued_total,
        running=running,
        completed=completed,
        failed=failed,
        updated=iso(time.time()),
    )
