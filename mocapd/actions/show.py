"""`mocapd show JOB`: one job in a readable summary, or (--json) everything, as in its status.json."""

from __future__ import annotations

import argparse
from typing import Any

from mocapd import states
from mocapd.actions.common import (
    add_job_argument,
    find_job,
    open_existing_store,
    print_json,
)
from mocapd.config import Config
from mocapd.options import JobOptions
from mocapd.outbox import status_document
from mocapd.progress import Overall, describe, duration

PRINTS_JSON = True
HELP = "show one job: state, progress, steps, tracks, warnings, timings (--json: its status.json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def utc(iso: str | None) -> str:
    """status.json's ISO time (UTC) as the other commands print it."""
    return iso.replace("T", " ").replace("+00:00", " UTC") if iso else "-"


def summary(document: dict[str, Any], config: Config) -> list[str]:
    """The lines of the readable summary."""
    lines = [f"job {document['id']} {document['name']} ({document['source']}): {document['status']}"]
    if document["status"] == states.PROCESSING:
        step = next(
            (s["label"] for s in document["steps"] if s["name"] == document["step"]), document["step"]
        )
        lines.append(
            f"  running: {step} {(document['progress'] or 0) * 100:.0f} % {document['progress_message'] or ''}".rstrip()
        )
        if document.get("overall"):
            lines.append(f"  progress: {describe(Overall(**document['overall']))}")
    for key in ("error", "retrying_after"):
        if document.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {document[key]}")
    timings = document["timings"]
    took = f", took {duration(timings['total_seconds'])}" if timings["total_seconds"] is not None else ""
    lines.append(
        f"  created {utc(timings['created'])}, started {utc(timings['started'])}, finished {utc(timings['finished'])}{took}"
    )
    if document["backend"]:
        lines.append(
            f"  backend: {document['backend']}"
            + (f" ({document['backend_reason']})" if document["backend_reason"] else "")
        )
    video = document.get("video")
    if video:
        lines.append(
            f"  video: {video['width']}x{video['height']}, {video['fps']:g} fps, {video['frame_count']} frames, "
            f"{video['duration']:.1f} s, {video['codec']}"
        )
    defaults = JobOptions().__dict__
    changed = {
        key: value for key, value in document["options"].items() if defaults.get(key, object()) != value
    }
    lines.append(
        "  options: " + (", ".join(f"{key}={value}" for key, value in changed.items()) or "the defaults")
    )
    lines.append("  steps:")
    for step in document["steps"]:
        took = f"{step['duration_seconds']:.1f} s" if step["duration_seconds"] is not None else ""
        error = f"  {step['error']}" if step["error"] else ""
        lines.append(f"    {step['label']:<17} {step['status']:<8} {took:>9}{error}".rstrip())
    if document["tracks"]:
        listed = ", ".join(f"{t['tid']}{' (exported)' if t['selected'] else ''}" for t in document["tracks"])
        lines.append(f"  tracks: {listed}  (details: mocapd tracks {document['id']})")
    for warning in document["warnings"]:
        lines.append(f"  warning: {warning}")
    result = document.get("result")
    if result:
        lines.append(f"  result: {config.outbox_path / document['name'] / str(result)}")
    return lines


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    document = status_document(record, store)  # with the overall progress of a running job
    if arguments.json:
        print_json(document)
        return 0
    print("\n".join(summary(document, config)))
    return 0
