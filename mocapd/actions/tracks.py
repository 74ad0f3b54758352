"""`mocapd tracks JOB`: the people found in a job's video, where they appear, for choosing one to re-export."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store, print_json
from mocapd.config import Config
from mocapd.store import JobRecord

PRINTS_JSON = True
HELP = "list the tracks (people) found in a job's video: frames, first and last frame and time, exported"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def spans(record: JobRecord) -> dict[int, dict[str, Any]]:
    """Each track's first and last frame (0-based, in the video) and time, from the extraction step's data."""
    step_data = record.json("step_data") or {}
    listed = step_data.get(states.TRACK_EXTRACTION, {}).get("tracks", [])
    video = record.json("video_info") or {}
    fps = float(video.get("fps") or 0.0)
    found: dict[int, dict[str, Any]] = {}
    for entry in listed:
        if "first_frame" not in entry or "last_frame" not in entry:
            continue
        span: dict[str, Any] = {
            "first_frame": int(entry["first_frame"]),
            "last_frame": int(entry["last_frame"]),
        }
        for edge in ("first", "last"):
            seconds = entry.get(f"{edge}_time")
            if seconds is None and fps > 0:
                seconds = span[f"{edge}_frame"] / fps
            span[f"{edge}_time"] = round(float(seconds), 3) if seconds is not None else None
        found[int(entry["tid"])] = span
    return found


def seconds_text(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "-"


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    tracks = store.tracks(record.id)
    if not tracks:
        raise CommandError(f"job {record.id} has no tracks (yet)")
    where = spans(record)
    empty = {"first_frame": None, "last_frame": None, "first_time": None, "last_time": None}
    rows = [
        {
            "tid": t.tid,
            "frames": t.frames,
            "share": t.share,
            **where.get(t.tid, empty),
            "selected": t.selected,
            "quality": json.loads(t.quality),
        }
        for t in tracks
    ]
    if arguments.json:
        print_json(rows)
        return 0
    print(
        f"{'track':>5}  {'frames':>6}  {'share':>5}  {'first':>6}  {'last':>6}  {'from':>9}  {'to':>9}  exported"
    )
    for row in rows:
        first = "-" if row["first_frame"] is None else str(row["first_frame"])
        last = "-" if row["last_frame"] is None else str(row["last_frame"])
        # The extraction step's choices: fragments of one person joined, and why a person is not exported.
        facts, detail = row["quality"], []
        if len(facts.get("fragments", [])) > 1:
            detail.append("joined from tracks " + ", ".join(map(str, facts["fragments"])))
        if facts.get("left_out"):
            detail.append(f"left out: {facts['left_out']}")
        print(
            f"{row['tid']:>5}  {row['frames']:>6}  {row['share']:>5.2f}  {first:>6}  {last:>6}  "
            f"{seconds_text(row['first_time']):>9}  {seconds_text(row['last_time']):>9}  {'yes' if row['selected'] else 'no'}"
            + ("  " + "; ".join(detail) if detail else "")
        )
    return 0
