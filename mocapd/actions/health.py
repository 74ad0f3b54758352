"""`mocapd health`: exit 0 healthy, 1 degraded, 2 unhealthy, with the failing checks."""

from __future__ import annotations

import argparse
import json

from peewee import DatabaseError

from mocapd.actions.common import COMMAND_BUSY_SECONDS, print_json
from mocapd.config import Config
from mocapd.service import health
from mocapd.service.daemon import HOST_STATUS_NAME, read_pid
from mocapd.service.health import OK, UNHEALTHY, Check
from mocapd.store import DATABASE_NAME, StoreError, explain, open_configured, store_exists
from mocapd.store_postgres import redacted

PRINTS_JSON = True
HELP = "check the daemon and its folders: exit 0 healthy, 1 degraded, 2 unhealthy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own (--json is common to every command)."""


def run(arguments: argparse.Namespace, config: Config) -> int:
    checks = [
        health.check_inbox(config),
        health.check_outbox(config),
        health.check_state_dir(config),
        health.check_disk(config),
        health.check_blender(config),
        health.check_backend(config),
    ]
    pid = read_pid(config.state_path)
    heartbeat, detail = None, None
    if store_exists(config):
        where = redacted(config.store.url) if config.farm_mode else str(config.state_path / DATABASE_NAME)
        try:
            store = open_configured(config, busy_seconds=COMMAND_BUSY_SECONDS)
            record = store.daemon_record(config.host_name) if pid is not None else None
            busy = store.lock_problem()
        except (StoreError, DatabaseError) as error:
            record, busy = None, str(explain(error, where))
            if pid is not None:
                # The daemon's own view, written beside its lock at every heartbeat.
                detail = local_status(config)
                stamp = detail.get("time") if detail else None
                heartbeat = float(stamp) if isinstance(stamp, (int, float)) else None
        checks.append(Check("database", UNHEALTHY, busy) if busy else Check("database", OK, "usable"))
        if record is not None:
            heartbeat, detail = record.heartbeat, json.loads(record.detail)
    checks += health.check_daemon(pid, heartbeat, detail)
    level = health.overall(checks)
    if arguments.json:
        print_json({"status": level, "checks": [check.__dict__ for check in checks]})
    else:
        print(level)
        for check in checks:
            print(f"  {check.level:<11} {check.name}: {check.message}")
    return health.EXIT_CODES[level]


def local_status(config: Config) -> dict[str, object] | None:
    """state_dir/host.json, what the daemon wrote last without the database; None when unreadable."""
    try:
        data = json.loads((config.state_path / HOST_STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
