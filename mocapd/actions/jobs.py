"""`mocapd jobs`: the jobs, newest first, under column headers."""

from __future__ import annotations

import argparse
from typing import Any

from mocapd import states
from mocapd.actions.common import open_existing_store, print_json, running_progress, when
from mocapd.config import Config
from mocapd.names import shown
from mocapd.progress import describe
from mocapd.service.runner import STEP_LABELS
from mocapd.store import Store

PRINTS_JSON = True
HELP = "list jobs, newest first"
HEADERS = ("ID", "STATE", "CREATED", "NAME", "DETAIL")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=states.JOB_STATES, help="only jobs in this state")
    parser.add_argument("--limit", type=int, default=50)


def run(arguments: argparse.Namespace, config: Config) -> int:
    store = open_existing_store(config)
    wanted = (arguments.state,) if arguments.state else None
    rows: list[dict[str, Any]] = []
    for r in store.jobs(wanted, limit=arguments.limit):
        progress = running_progress(store, r)
        rows.append(
            {
                "id": r.id,
                "name": r.name,
                "source": r.source_relative,
                "state": r.state,
                "step": r.current_step if r.state == states.PROCESSING else None,
                "step_progress": round(r.progress, 3) if r.state == states.PROCESSING else None,
                "progress": progress.to_dict() if progress else None,
                "created": when(r.created),
                "error": r.error,
                "hosts": step_hosts(store, r.id),
            }
        )
        rows[-1]["detail"] = (
            f"{STEP_LABELS.get(r.current_step or '', r.current_step)} {r.progress * 100:.0f} %; {describe(progress)}"
            if progress
            else (r.error or "")
        )
        if rows[-1]["hosts"]:  # which host ran which steps (a farm; one host alone: its name)
            rows[-1]["detail"] += f"  [{ran_on(rows[-1]['hosts'])}]"
    if arguments.json:
        print_json([{key: value for key, value in row.items() if key != "detail"} for row in rows])
        return 0
    table = [HEADERS] + [
        # Names and reasons from a share: ESC and newline shown escaped, never sent to the terminal raw.
        (
            str(row["id"]),
            row["state"],
            row["created"],
            shown(row["name"] or row["source"]),
            shown(row["detail"]),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADERS) - 1)]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
            + "  "
            + line[-1]
        )
    return 0


def step_hosts(store: Store, job_id: int) -> dict[str, str]:
    """Step name -> the host that ran it (steps not started are left out)."""
    return {step.name: step.host for step in store.steps(job_id) if step.host}


def ran_on(hosts: dict[str, str]) -> str:
    """Which host ran which steps, in step order: "a: video_upload, tracking; b: track_extraction"."""
    groups: list[tuple[str, list[str]]] = []
    for step in states.STEPS:
        host = hosts.get(step)
        if host is None:
            continue
        if groups and groups[-1][0] == host:
            groups[-1][1].append(step)
        else:
            groups.append((host, [step]))
    return "; ".join(f"{host}: {', '.join(steps)}" for host, steps in groups)
