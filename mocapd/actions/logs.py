"""`mocapd logs JOB [--step S]`: a job's step logs."""

from __future__ import annotations

import argparse

from mocapd import states
from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store
from mocapd.config import Config
from mocapd.logs import tail
from mocapd.service.runner import job_from_record

HELP = "print a job's step logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)
    parser.add_argument("--step", choices=states.STEPS, help="only this step's log")
    parser.add_argument("--lines", type=int, default=0, help="only the last N lines of each log")


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    job = job_from_record(find_job(store, arguments.job), config)
    steps = [arguments.step] if arguments.step else list(states.STEPS)
    shown = 0
    for step in steps:
        path = job.log_path(step)
        if not path.is_file():
            continue
        print(f"===== {step} ({path})")
        print(tail(path, arguments.lines), end="")
        shown += 1
    if not shown:
        raise CommandError(f"job {job.id} has no log{' for ' + arguments.step if arguments.step else ''} yet")
    return 0
