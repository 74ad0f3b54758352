"""`mocapd reexport JOB --track N [N ...|all]`: export a job again with other tracks or export options.

The earlier results stay where they are: the new ones go into a new outbox folder (`take-2`, the way
a second drop of the same name is numbered) unless --replace asks for the job's own folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

from mocapd import states
from mocapd.actions.common import (
    EARLIER_NAMES,
    CommandError,
    add_job_argument,
    find_job,
    open_existing_store,
)
from mocapd.config import Config
from mocapd.errors import JobError
from mocapd.job import Job
from mocapd.options import FORMATS, SKELETON_PRESETS, merge
from mocapd.outbox import Outbox, allocate_name
from mocapd.service.runner import job_from_record, job_options
from mocapd.store import JobRecord, Store

HELP = "export a finished job again: other tracks (re-runs track extraction) or other export options"
ALL_TRACKS = "all"


def track_choice(text: str) -> int | str:
    if text == ALL_TRACKS:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a track id or '{ALL_TRACKS}', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)
    parser.add_argument(
        "--track",
        nargs="+",
        type=track_choice,
        metavar="N",
        help=f"the track ids to export (see `mocapd tracks JOB`), or '{ALL_TRACKS}': every track of at least"
        " min_track_frames",
    )
    parser.add_argument("--formats", nargs="+", choices=FORMATS)
    parser.add_argument("--skeleton-preset", choices=SKELETON_PRESETS)
    parser.add_argument("--fps", type=float)
    parser.add_argument("--root-motion", choices=("on", "off"))
    parser.add_argument("--foot-locking", choices=("on", "off"))
    parser.add_argument("--tpose-frame", choices=("on", "off"))
    parser.add_argument("--keep-intermediate", choices=("on", "off"), help="also publish intermediate/")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace the results in the job's outbox folder (default: a new folder, the earlier results stay)",
    )


def track_changes(store: Store, record: JobRecord, chosen: list[int | str]) -> dict[str, object]:
    """The options that select `chosen`: one id, several, or every track (`all`)."""
    if ALL_TRACKS in chosen:
        if len(chosen) > 1:
            raise CommandError(f"--track {ALL_TRACKS} cannot be given with track ids")
        return {"track_mode": "all", "track_id": None, "track_ids": None}
    ids = sorted({int(tid) for tid in chosen})
    known = {track.tid for track in store.tracks(record.id)}
    missing = [tid for tid in ids if known and tid not in known]
    if missing:
        names = ", ".join(map(str, missing))
        raise CommandError(f"job {record.id} has no track {names} (tracks: {sorted(known)})")
    if len(ids) == 1:
        return {"track_mode": "single", "track_id": ids[0], "track_ids": None}
    return {"track_mode": "single", "track_id": None, "track_ids": ids}


def export_changes(arguments: argparse.Namespace) -> dict[str, object]:
    changes: dict[str, object] = {}
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
        ("keep_intermediate", "keep_intermediate"),
    ):
        value = getattr(arguments, flag)
        if value is not None:
            changes[key] = value == "on"
    return changes


def clear_track_files(job: Job) -> None:
    """Track files of the earlier export: gone before extraction writes the new selection, so that the
    export and intermediate/ hold exactly the tracks asked for."""
    for folder in (job.tracks_dir, job.smoothed_dir, job.export_dir, job.package_dir):
        shutil.rmtree(folder, ignore_errors=True)


def new_name(store: Store, record: JobRecord, config: Config) -> str:
    """A new outbox folder for the re-export, numbered from the job's base name; reserved at once."""
    options = job_options(record)
    base = options.output_name or Path(record.source_relative).stem
    name = allocate_name(config.outbox_path, base, store.names_in_use(base))
    (config.outbox_path / name).mkdir(parents=True, exist_ok=True)
    return name


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    if record.state not in (states.COMPLETED, states.FAILED, states.CANCELLED):
        raise CommandError(f"job {record.id} is {record.state}: wait until it finishes")
    changes: dict[str, object] = {}
    if arguments.track:
        changes |= track_changes(store, record, arguments.track)
    changes |= export_changes(arguments)
    if not changes:
        raise CommandError("nothing to change: give --track or export options")
    try:
        options = merge(job_options(record), changes, "command line")
    except JobError as error:
        raise CommandError(str(error)) from error
    start = states.TRACK_EXTRACTION if arguments.track else states.FBX_EXPORT
    job = job_from_record(record, config)
    needed = job.tracklets_path if start == states.TRACK_EXTRACTION else job.tracks_dir
    if not needed.exists():
        raise CommandError(
            f"job {record.id}'s work files were cleaned up ({needed.name} is missing): drop the video again"
        )
    earlier = record.name or str(record.id)
    name = earlier if arguments.replace else new_name(store, record, config)
    step_data = record.json("step_data") or {}
    if name != earlier:
        step_data[EARLIER_NAMES] = [*step_data.get(EARLIER_NAMES, []), earlier]
    # Renamed while still finished, so the daemon never writes the new run's status into the old folder;
    # started cleared: the new run's progress and total time do not count the earlier one.
    store.update_job(record.id, name=name, started=None, step_data=json.dumps(step_data))
    if start == states.TRACK_EXTRACTION:
        clear_track_files(job)
    store.requeue(record.id, start, options=dataclasses.asdict(options))
    Outbox(store, config).job_changed(record.id)
    kept = (
        "replacing the earlier results"
        if name == earlier
        else f"the earlier results stay in {config.outbox_path / earlier}"
    )
    print(
        f"job {record.id} queued again from {start} with {json.dumps(changes)}: "
        f"results in {config.outbox_path / name} ({kept})"
    )
    return 0
