"""`mocapd reexport JOB --track N`: export a job again with another track or export options."""

from __future__ import annotations

import argparse
import dataclasses
import json

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store
from mocapd.config import Config
from mocapd.errors import JobError
from mocapd.options import FORMATS, SKELETON_PRESETS, merge
from mocapd.runner import job_from_record, job_options

HELP = "export a finished job again: another track (re-runs track extraction) or other export options"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)
    parser.add_argument("--track", type=int, help="the track id to export (see `mocapd tracks JOB`)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS)
    parser.add_argument("--skeleton-preset", choices=SKELETON_PRESETS)
    parser.add_argument("--fps", type=float)
    parser.add_argument("--root-motion", choices=("on", "off"))
    parser.add_argument("--foot-locking", choices=("on", "off"))
    parser.add_argument("--tpose-frame", choices=("on", "off"))


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    if record.state not in (states.COMPLETED, states.FAILED, states.CANCELLED):
        raise CommandError(f"job {record.id} is {record.state}: wait until it finishes")
    changes: dict[str, object] = {}
    if arguments.track is not None:
        known = {track.tid for track in store.tracks(record.id)}
        if known and arguments.track not in known:
            raise CommandError(f"job {record.id} has no track {arguments.track} (tracks: {sorted(known)})")
        changes |= {"track_mode": "single", "track_id": arguments.track}
    if arguments.formats:
        changes["formats"] = arguments.formats
    if arguments.skeleton_preset:
        changes["skeleton_preset"] = arguments.skeleton_preset
    if arguments.fps is not None:
        changes["fps"] = arguments.fps
    for flag, key in (
        ("root_motion", "with_root_motion"),
        ("foot_locking", "foot_locking"),
        ("tpose_frame", "tpose_frame"),
    ):
        value = getattr(arguments, flag)
        if value is not None:
            changes[key] = value == "on"
    if not changes:
        raise CommandError("nothing to change: give --track or export options")
    try:
        options = merge(job_options(record), changes, "command line")
    except JobError as error:
        raise CommandError(str(error)) from error
    start = states.TRACK_EXTRACTION if arguments.track is not None else states.FBX_EXPORT
    job = job_from_record(record, config)
    needed = job.tracklets_path if start == states.TRACK_EXTRACTION else job.tracks_dir
    if not needed.exists():
        raise CommandError(
            f"job {record.id}'s work files were cleaned up ({needed.name} is missing): drop the video again"
        )
    store.requeue(record.id, start, options=dataclasses.asdict(options))
    print(f"job {record.id} queued again from {start} with {json.dumps(changes)}")
    return 0
