"""`mocapd hosts`: every host on the job database, its heartbeat, what it runs, its job and step, GPU."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from mocapd.actions.common import open_existing_store, print_json, when
from mocapd.config import Config
from mocapd.service import farm
from mocapd.service.runner import STEP_LABELS
from mocapd.store import Store

PRINTS_JSON = True
HELP = "list the hosts sharing the job queue: heartbeat, capabilities, job and step, GPU"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own (--json is common to every command)."""


def collect(store: Store, config: Config) -> list[dict[str, Any]]:
    """One entry per host row; a host whose heartbeat is older than a lease is shown as gone."""
    now = time.time()
    leader = store.leader()
    rows = []
    for record in store.hosts():
        detail = json.loads(record.detail or "{}")
        state = farm.host_state(record.state, record.heartbeat, now, config.runner.lease_seconds)
        gone = state == farm.GONE
        rows.append(
            {
                "name": record.host,
                "pid": record.pid,
                "state": state,
                "heartbeat": when(record.heartbeat),
                "heartbeat_age_s": round(now - record.heartbeat, 1),
                "since": when(record.started),
                "capabilities": json.loads(record.capabilities or "[]"),
                "job": None if gone else detail.get("current_job"),
                "step": None if gone else detail.get("current_step"),
                "paused": detail.get("paused"),
                "gpu": detail.get("gpu") or {},
                "leader": bool(
                    leader is not None
                    and leader.owner == f"{record.host}:{record.pid}"
                    and leader.expires > now
                ),
            }
        )
    return rows


def describe(row: dict[str, Any]) -> str:
    """One line for a host."""
    work = "idle"
    if row["job"] is not None:
        step = STEP_LABELS.get(row["step"] or "", row["step"] or "")
        work = f"job {row['job']}" + (f" {step}" if step else "")
    gpu = row["gpu"].get("summary") or "GPU not reported"
    leader = ", leader" if row["leader"] else ""
    paused = f" (paused: {row['paused']})" if row["paused"] and row["state"] != farm.GONE else ""
    return (
        f"{row['name']:<16} {row['state']:<8} heartbeat {row['heartbeat']} ({row['heartbeat_age_s']:g} s ago)"
        f"  runs {', '.join(row['capabilities']) or '-'}  {work}  {gpu}{leader}{paused}"
    )


def run(arguments: argparse.Namespace, config: Config) -> int:
    rows = collect(open_existing_store(config), config)
    if arguments.json:
        print_json(rows)
        return 0
    if not rows:
        print("no host has written a heartbeat")
    for row in rows:
        print(describe(row))
    return 0
