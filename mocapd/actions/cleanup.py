"""`mocapd cleanup`: remove finished jobs' work files older than cleanup.retention_hours."""

from __future__ import annotations

import argparse
import time

from mocapd.actions.common import open_existing_store
from mocapd.config import Config
from mocapd.service.cleanup import cleanup

HELP = "remove finished jobs' work files and inputs after cleanup.retention_hours (outbox results stay)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    removals = cleanup(store, config, time.time(), dry_run=arguments.dry_run)
    verb = "would remove" if arguments.dry_run else "removed"
    for removal in removals:
        print(f"{verb} {removal.path} ({removal.bytes / 1e6:.1f} MB, job {removal.job_id})")
    print(f"{verb} {len(removals)} item(s), {sum(r.bytes for r in removals) / 1e6:.1f} MB")
    return 0
