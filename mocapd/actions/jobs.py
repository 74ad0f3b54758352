"""`mocapd jobs`: the jobs, newest first."""

from __future__ import annotations

import argparse

from mocapd import states
from mocapd.actions.common import open_existing_store, print_json, when
from mocapd.config import Config

PRINTS_JSON = True
HELP = "list jobs, newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=states.JOB_STATES, help="only jobs in this state")
    parser.add_argument("--limit", type=int, default=50)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    wanted = (arguments.state,) if arguments.state else None
    records = store.jobs(wanted, limit=arguments.limit)
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "source": r.source_relative,
            "state": r.state,
            "step": r.current_step,
            "created": when(r.created),
            "error": r.error,
        }
        for r in records
    ]
    if arguments.json:
        print_json(rows)
        return 0
    for row in rows:
        detail = (
            f" ({row['step']})"
            if row["state"] == states.PROCESSING
            else (f": {row['error']}" if row["error"] else "")
        )
        print(f"{row['id']:>6}  {row['state']:<10}  {row['created']}  {row['name'] or row['source']}{detail}")
    return 0
