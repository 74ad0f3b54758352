"""`mocapd cancel JOB`: a queued job is cancelled at once; a running one at its next check."""

from __future__ import annotations

import argparse
import time

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store
from mocapd.config import Config

HELP = "cancel a queued or running job"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    if record.state in states.FINISHED_JOB_STATES:
        raise CommandError(f"job {record.id} is already {record.state}")
    if record.state == states.QUEUED:
        store.update_job(
            record.id, state=states.CANCELLED, error="cancelled", finished=time.time(), cancel_requested=True
        )
        print(f"job {record.id} cancelled")
    else:
        store.update_job(record.id, cancel_requested=True)
        print(f"job {record.id} will stop at the runner's next check (within runner.heartbeat_seconds)")
    return 0
