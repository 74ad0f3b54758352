"""`mocapd retry JOB`: a failed (or cancelled) job back in the queue, from its failed step.

A job whose options were refused at ingest reads them again first, the way ingest does (config
defaults < the inbox folders' mocapd.json < the job's sidecar, or a corrected one given with
--sidecar), and stays failed, naming every bad key, until they are fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store
from mocapd.config import Config
from mocapd.errors import JobError
from mocapd.options import FOLDER_OPTIONS_NAME, read_json, resolve, sidecar_path
from mocapd.outbox import Outbox
from mocapd.service.runner import job_from_record
from mocapd.store import JobRecord, Store

HELP = "queue a failed job again, from the step that failed (options refused at ingest are read again)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)
    parser.add_argument(
        "--sidecar",
        type=Path,
        help="a corrected options file (JSON) to replace the job's sidecar before its options are read again",
    )


def job_sidecar(record: JobRecord, config: Config) -> Path:
    """Where the job's sidecar lies in its folder (ingest copies it beside the video)."""
    source = json.loads(record.source or "{}")
    video = job_from_record(record, config).video_path
    return video.parent / Path(source["sidecar"]).name if source.get("sidecar") else sidecar_path(video)


def replace_sidecar(corrected: Path, target: Path) -> None:
    """The job's sidecar replaced by `corrected`, once it is known to hold a JSON object."""
    try:
        read_json(corrected)
    except JobError as error:
        raise CommandError(f"--sidecar {corrected}: {error}") from error
    staging = target.with_name(f".{target.name}.retry")
    shutil.copyfile(corrected, staging)
    os.replace(staging, target)


def read_options_again(
    record: JobRecord, store: Store, config: Config, corrected: Path | None
) -> dict[str, Any] | None:
    """The job's options read again, as ingest reads them; None when they were not refused at ingest."""
    if json.loads(record.options or "{}") and corrected is None:
        return None  # resolved at ingest (perhaps changed by a re-export since): kept as they are
    sidecar = job_sidecar(record, config)
    if corrected is not None:
        replace_sidecar(corrected, sidecar)
    video = config.inbox_path / record.source_relative  # where it was dropped: its folders' mocapd.json
    try:
        options = resolve(config.defaults, config.inbox_path, video, sidecar if sidecar.is_file() else None)
    except JobError as error:
        reason = f"options: {error}"
        store.fail_job(record.id, reason, time.time())
        Outbox(store, config).job_changed(record.id)
        raise CommandError(
            f"job {record.id} still fails: {reason} (fix the folder's {FOLDER_OPTIONS_NAME} or the config's"
            f" [defaults], or give a corrected sidecar: mocapd retry {record.id} --sidecar FILE)"
        ) from error
    return asdict(options)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    if record.state not in (states.FAILED, states.CANCELLED):
        raise CommandError(f"job {record.id} is {record.state}: only failed or cancelled jobs are retried")
    refusal = json.loads(record.source or "{}").get("refusal")
    if refusal:
        raise CommandError(f"job {record.id} was refused at the inbox ({refusal}): drop a video file again")
    if not record.ingested or not job_from_record(record, config).video_path.is_file():
        raise CommandError(
            f"job {record.id} has no input video any more (refused, or cleaned up): drop the video again"
        )
    options = read_options_again(record, store, config, arguments.sidecar)
    steps = store.steps(record.id)
    # Every step done: only publishing failed, so packaging (then publishing) runs again, not the whole job.
    first = next(
        (step.name for step in steps if step.status not in states.FINISHED_STEP_STATES), states.PACKAGING
    )
    store.update_job(record.id, started=None)  # the new run's elapsed time and progress are its own
    store.requeue(record.id, first, options=options)
    print(f"job {record.id} queued again from {first}" + (" with its options read again" if options else ""))
    return 0
