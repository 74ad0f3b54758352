"""`mocapd show JOB`: everything about one job (as in its status.json)."""

from __future__ import annotations

import argparse

from mocapd.actions.common import add_job_argument, find_job, open_existing_store, print_json
from mocapd.config import Config
from mocapd.outbox import status_document

HELP = "show one job: state, steps, tracks, warnings, timings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    print_json(status_document(find_job(store, arguments.job), store))
    return 0
