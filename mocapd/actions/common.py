"""What the commands share: configuration from the command line, the store, the job argument."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from mocapd import config as config_module
from mocapd.config import Config, ConfigError
from mocapd.progress import Overall, overall
from mocapd.stats import average_step_seconds
from mocapd.store import JobRecord, Store, StoreError, open_configured, store_exists

# Seconds a command waits for a database lock held by another process before it says so.
COMMAND_BUSY_SECONDS = 3.0


class CommandError(Exception):
    """A command cannot do what was asked; the message says why."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def config_path(arguments: argparse.Namespace) -> Path | None:
    path = arguments.config or os.environ.get("MOCAPD_CONFIG")
    return Path(path) if path else None


def overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    """--set section.key=value pairs and the folder shortcuts, as flat dotted keys."""
    values: dict[str, Any] = {}
    for item in arguments.set:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise CommandError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        values[key.strip()] = config_module.parse_value(value)
    for key in ("inbox", "outbox", "state_dir"):
        value = getattr(arguments, key, None)
        if value:
            values[key] = str(Path(value).absolute())
    return values


def load_config(arguments: argparse.Namespace) -> Config:
    try:
        return config_module.load(config_path(arguments), overrides=overrides(arguments))
    except ConfigError as error:
        raise CommandError(str(error)) from error


def open_existing_store(config: Config) -> Store:
    """The store, for commands that only read or change jobs: none yet is an error, not a new database."""
    if not store_exists(config):
        raise CommandError(f"no job database in {config.state_path} (has the daemon ever run there?)")
    try:
        # Commands answer in seconds: a lock held by another process is a clear message, not a hang.
        return open_configured(config, busy_seconds=COMMAND_BUSY_SECONDS)
    except StoreError as error:
        raise CommandError(str(error)) from error


def add_job_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="job id, or its output name")


# Key in a job's step data: the outbox names it had before re-exports moved it to new folders.
EARLIER_NAMES = "earlier_names"


def find_job(store: Store, key: str) -> JobRecord:
    """The job by id, by output name, or by a name it had before a re-export."""
    record = store.job(int(key)) if key.isdigit() else None
    if record is None:
        record = JobRecord.select().where(JobRecord.name == key).order_by(JobRecord.id.desc()).first()
    if record is None:
        candidates = JobRecord.select().where(JobRecord.step_data.contains(json.dumps(key)))
        record = next(
            (
                r
                for r in candidates.order_by(JobRecord.id.desc())
                if key in (r.json("step_data") or {}).get(EARLIER_NAMES, [])
            ),
            None,
        )
    if record is None:
        raise CommandError(f"no job {key!r}")
    return record


def when(timestamp: float | None) -> str:
    """A time as the commands print it: UTC, like status.json, and saying so."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp)) if timestamp else "-"


def running_progress(store: Store, record: JobRecord) -> Overall | None:
    """A processing job's overall progress (None for other states)."""
    return overall(record, store.steps(record.id), average_step_seconds(store))


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
