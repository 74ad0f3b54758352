"""report.html and index.html: the context each template gets, and the rendering (Jinja2, autoescaped).

Pages are static HTML with relative links and inline CSS: they open from a file share, offline,
with no script. Everything from a job (names, options, messages) goes through autoescaping.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from mocapd import progress, states
from mocapd.report import figures, summary, verdict
from mocapd.report.layout import FILES_DIR, PREVIEW_DIR
from mocapd.service.runner import STEP_LABELS
from mocapd.stats import average_step_seconds
from mocapd.store import JobRecord, Store

INDEX_RECENT = 30
INDEX_QUEUE = 100
# A completed job's index entry changes only when it finishes again (a re-export): kept by (id, finish time).
FINISHED_CACHE = 1000
SPAN_FIGURES = (*summary.SPAN_KEYS, "first_time_s", "last_time_s")
_finished_entries: dict[tuple[int, float | None], dict[str, Any]] = {}


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat(timespec="seconds")


def href(path: str) -> str:
    """A relative link to a file of the outbox: each path segment percent-encoded (newlines, quotes, #)."""
    return "/".join(quote(part, safe="") for part in path.split("/"))


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("mocapd", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.ChainableUndefined,
)
_environment.filters["href"] = href


def size_text(size: int) -> str:
    for unit, factor in (("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def result_files(folder: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's result and per-person files in its outbox folder, with sizes."""
    names = [document["result"]] if document.get("result") else []
    if (folder / FILES_DIR).is_dir():
        names += sorted(
            f"{FILES_DIR}/{path.name}" for path in (folder / FILES_DIR).iterdir() if path.is_file()
        )
    if (folder / PREVIEW_DIR).is_dir():
        names += sorted(
            f"{PREVIEW_DIR}/{path.name}"
            for path in (folder / PREVIEW_DIR).iterdir()
            if path.is_file() and path.suffix == ".mp4"
        )
    listed = []
    for name in names:
        try:
            size = (folder / name).stat().st_size
        except OSError:
            continue
        listed.append({"name": name, "size": size, "size_text": size_text(size)})
    return listed


def problems(document: dict[str, Any]) -> list[str]:
    """Every problem the job's error names (the options checks join theirs with "; ")."""
    error = document.get("error") or ""
    return [part.strip() for part in error.split("; ") if part.strip()]


def next_step(document: dict[str, Any]) -> str:
    """What to do about a failed or cancelled job, in words."""
    error = (document.get("error") or "").lower()
    retry = f"mocapd retry {document['id']}"
    if document["status"] == states.CANCELLED:
        return f"The job was cancelled. To run it again: {retry}"
    if error.startswith("options:") or ".json:" in error:
        return (
            "Fix every option named above in the sidecar or mocapd.json file (keys and allowed values: "
            f"README, Job options), then run: {retry}"
        )
    if "no person" in error:
        return (
            "Film the whole body, well lit and not too far from the camera, and drop the new clip in the "
            "inbox; or, if a person is in the picture, run again with other options and: " + retry
        )
    failed = next(
        (step for step in document.get("steps", []) if step.get("status") == states.STEP_FAILED), None
    )
    logs = f"mocapd logs {document['id']}" + (f" --step {failed['name']}" if failed else "")
    return f"Read the step's log ({logs}), fix the cause, then run: {retry}"


def track_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for track in document.get("tracks", []):
        row = dict(track)
        values = track.get("figures") or track.get("quality") or {}
        # The span is in the table's own columns.
        shown = {key: value for key, value in values.items() if key not in SPAN_FIGURES}
        row["figure_list"] = figures.figures(shown)
        rows.append(row)
    return rows


def render_report(document: dict[str, Any], folder: Path) -> str:
    """report.html for a status document; `folder` is the job's outbox folder (for the file list)."""
    finished = document["status"] in states.FINISHED_JOB_STATES
    failed = document["status"] in (states.FAILED, states.CANCELLED)
    return _environment.get_template("report.html").render(
        job=document,
        states=states,
        tracks=track_rows(document),
        files=result_files(folder, document) if finished else [],
        problems=problems(document) if failed else [],
        next_step=next_step(document) if failed else "",
        verdict_levels=verdict.LEVELS,
        overall=overall_shown(document),
    )


def overall_shown(document: dict[str, Any]) -> dict[str, Any] | None:
    """A running job's overall share (percent) and its line (share, elapsed, time left)."""
    figures = document.get("overall")
    if document["status"] != states.PROCESSING or not figures:
        return None
    running = progress.Overall(**figures)
    return {"percent": round(100 * running.share), "text": progress.describe(running)}


def index_entry(
    record: JobRecord, store: Store, now: float, step_seconds: dict[str, float] | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": record.id,
        "name": record.name or record.source_relative,
        "folder": record.name,
        "source": record.source_relative,
        "state": record.state,
        "step": STEP_LABELS.get(record.current_step or "", record.current_step),
        "error": record.error,
        "created": iso(record.created),
        "finished": iso(record.finished),
        "has_folder": record.name is not None,
    }
    if record.state == states.PROCESSING:
        running = progress.overall(record, store.steps(record.id), step_seconds or {}, now)
        if running is not None:
            entry["percent"] = round(100 * running.share)
            entry["left"] = progress.duration(running.remaining_seconds)
    if record.state == states.COMPLETED:
        key = (record.id, record.finished)
        if key not in _finished_entries:
            if len(_finished_entries) > FINISHED_CACHE:
                _finished_entries.clear()
            _finished_entries[key] = finished_entry(record, store)
        entry |= _finished_entries[key]
    return entry


def finished_entry(record: JobRecord, store: Store) -> dict[str, Any]:
    """A completed job's result, poster and verdict for the index."""
    step_data = record.json("step_data") or {}
    report = summary.report_data(step_data)
    people: dict[str, verdict.Verdict] = {}
    for track in store.tracks(record.id):
        if not track.selected:
            continue
        document = {"tid": track.tid, "quality": _json(track.quality)}
        jitter = ((step_data.get(states.SMOOTHING) or {}).get("jitter") or {}).get(str(track.tid))
        if jitter:
            document["jitter"] = jitter
        people[f"person {track.tid}"] = verdict.person(
            f"person {track.tid}", summary.person_figures(document, step_data), track.frames
        )
    return {
        "result": (step_data.get(states.PACKAGING) or {}).get("result"),
        "poster": report.get("poster"),
        "verdict": verdict.take(people).to_dict(),
    }


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def render_index(store: Store, now: float | None = None) -> str:
    """index.html: running (with overall progress and time left), queue, results newest first, failed, cancelled."""
    now = time.time() if now is None else now
    queue = [
        index_entry(record, store, now)
        for record in store.jobs((states.QUEUED,), limit=INDEX_QUEUE, newest_first=False)
    ]
    step_seconds = average_step_seconds(store)
    running = [index_entry(record, store, now, step_seconds) for record in store.jobs((states.PROCESSING,))]

    def newest(wanted: tuple[str, ...]) -> list[dict[str, Any]]:
        # Jobs finish about in id order (one runs at a time); a retried one may finish later than newer ones.
        records = sorted(
            store.jobs(wanted, limit=3 * INDEX_RECENT),
            key=lambda record: record.finished or 0.0,
            reverse=True,
        )
        return [index_entry(record, store, now) for record in records[:INDEX_RECENT]]

    return _environment.get_template("index.html").render(
        queue=queue,
        queued_total=store.count((states.QUEUED,)),
        running=running,
        completed=newest((states.COMPLETED,)),
        failed=newest((states.FAILED,)),
        cancelled=newest((states.CANCELLED,)),
        updated=iso(now),
    )
