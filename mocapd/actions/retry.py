"""`mocapd retry JOB`: a failed (or cancelled) job back in the queue, from its failed step."""

from __future__ import annotations

import argparse

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store
from mocapd.config import Config
from mocapd.runner import job_from_record

HELP = "queue a failed job again, from the step that failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    if record.state not in (states.FAILED, states.CANCELLED):
        raise CommandError(f"job {record.id} is {record.state}: only failed or cancelled jobs are retried")
    if not record.ingested or not job_from_record(record, config).video_path.is_file():
        raise CommandError(
            f"job {record.id} has no input video any more (refused, or cleaned up): drop the video again"
        )
    steps = store.steps(record.id)
    first = next(
        (step.name for step in steps if step.status not in states.FINISHED_STEP_STATES), states.STEPS[0]
    )
    store.requeue(record.id, first)
    print(f"job {record.id} queued again from {first}")
    return 0
