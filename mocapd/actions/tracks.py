"""`mocapd tracks JOB`: the people found in a job's video, for choosing one to re-export."""

from __future__ import annotations

import argparse
import json

from mocapd.actions.common import CommandError, add_job_argument, find_job, open_existing_store, print_json
from mocapd.config import Config

PRINTS_JSON = True
HELP = "list the tracks (people) found in a job's video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_argument(parser)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    record = find_job(store, arguments.job)
    tracks = store.tracks(record.id)
    if not tracks:
        raise CommandError(f"job {record.id} has no tracks (yet)")
    rows = [
        {
            "tid": t.tid,
            "frames": t.frames,
            "share": t.share,
            "selected": t.selected,
            "quality": json.loads(t.quality),
        }
        for t in tracks
    ]
    if arguments.json:
        print_json(rows)
        return 0
    print(f"{'track':>5}  {'frames':>6}  {'share':>5}  exported")
    for row in rows:
        print(
            f"{row['tid']:>5}  {row['frames']:>6}  {row['share']:>5.2f}  {'yes' if row['selected'] else 'no'}"
        )
    return 0
