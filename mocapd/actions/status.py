"""`mocapd status`: the daemon, the queue, the running job and step, GPU, disk and recent failures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mocapd import states
from mocapd.actions import hosts
from mocapd.actions.common import open_existing_store, print_json, running_progress, when
from mocapd.config import Config
from mocapd.names import shown
from mocapd.progress import Overall, describe
from mocapd.service import gpu, health
from mocapd.service.daemon import read_pid
from mocapd.service.runner import STEP_LABELS
from mocapd.store import store_exists

PRINTS_JSON = True
HELP = "show the daemon, the queue, the running job, GPU, disk and recent failures (exit 3: not running)"
NOT_RUNNING = 3
RECENT_FAILURES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own (--json is common to every command)."""


def collect(config: Config) -> dict[str, Any]:
    pid = read_pid(config.state_path)
    status: dict[str, Any] = {"running": pid is not None, "pid": pid}
    free = health.free_mb(config.state_path)
    status["disk"] = {
        "state_dir": str(config.state_path),
        "free_mb": round(free) if free is not None else None,
        "min_free_mb": config.limits.min_free_disk_mb,
        "problem": health.disk_problem(config),
    }
    gpus = gpu.query_gpus()
    status["gpu"] = {
        "available": gpus.available,
        "reason": gpus.reason,
        "devices": [device.__dict__ for device in gpus.devices],
    }
    status["queue"] = 0
    status["current"] = None
    status["failures"] = []
    if not store_exists(config):
        return status
    store = open_existing_store(config)
    status["database_problem"] = store.lock_problem()
    daemon = store.daemon_record(config.host_name)
    if daemon is not None and pid is not None:
        status["daemon"] = {
            "state": daemon.state,
            "heartbeat": when(daemon.heartbeat),
            "since": when(daemon.started),
            **json.loads(daemon.detail),
        }
    if config.farm_mode:
        status["hosts"] = hosts.collect(store, config)
    status["counts"] = {state: store.count((state,)) for state in states.JOB_STATES}
    status["queue"] = status["counts"][states.QUEUED]
    running = store.jobs((states.PROCESSING,))
    if config.farm_mode:  # this host's job; the others' are in status["hosts"]
        running = [r for r in running if (r.lease_owner or "").startswith(f"{config.host_name}:")]
    if running:
        record = running[0]
        overall = running_progress(store, record)
        status["current"] = {
            "id": record.id,
            "name": record.name,
            "step": record.current_step,
            "progress": round(record.progress, 3),
            "message": record.progress_message,
            "overall": overall.to_dict() if overall else None,
        }
    status["failures"] = [
        {
            "id": record.id,
            "name": record.name,
            "source": record.source_relative,
            "error": record.error,
            "finished": when(record.finished),
        }
        for record in store.jobs((states.FAILED,), limit=RECENT_FAILURES)
    ]
    return status


def run(arguments: argparse.Namespace, config: Config) -> int:
    status = collect(config)
    if arguments.json:
        print_json(status)
        return 0 if status["running"] else NOT_RUNNING
    if status["running"]:
        daemon = status.get("daemon", {})
        print(f"mocapd is running (pid {status['pid']}, {daemon.get('state', 'starting')})")
        if daemon.get("inbox_problem"):
            print(f"  inbox problem: {daemon['inbox_problem']}")
        if daemon.get("paused"):
            print(f"  paused: {daemon['paused']}")
    else:
        print("mocapd is not running")
    if status.get("database_problem"):
        print(f"  database: {status['database_problem']}")
    current = status["current"]
    if current:
        label = STEP_LABELS.get(current["step"] or "", current["step"])
        print(f"running: job {current['id']} {current['name']}: {label} {current['progress'] * 100:.0f} %")
        if current["overall"]:
            print(f"  {describe(Overall(**current['overall']))}")
    print(f"queue: {status['queue']} job(s)")
    if "hosts" in status:
        print("hosts:")
        for row in status["hosts"]:
            print(f"  {hosts.describe(row)}")
    disk = status["disk"]
    print(f"disk: {disk['free_mb']} MB free in {disk['state_dir']} (minimum {disk['min_free_mb']:g})")
    if disk.get("problem"):
        print(f"  disk problem: {disk['problem']}")
    print(f"GPU: {status['gpu']['reason']}")
    if status["failures"]:
        print("recent failures:")
        for failure in status["failures"]:
            line = f"{failure['name']} ({failure['source']}): {failure['error']}"
            print(f"  {failure['id']} {shown(line)}")
    return 0 if status["running"] else NOT_RUNNING
