"""Figures for `mocapd stats`: job totals, success rate, average time per step, storage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from peewee import fn

from mocapd import states
from mocapd.config import Config
from mocapd.store import StepRecord, Store

BYTES_PER_MB = 1024 * 1024


def folder_mb(folder: Path) -> float:
    """Megabytes of the files below `folder` (links not followed)."""
    total = 0
    for root, _folders, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / BYTES_PER_MB


def average_step_seconds(store: Store) -> dict[str, float]:
    """Seconds each step took on average when it finished, in pipeline order (steps never finished left out)."""
    query = (
        StepRecord.select(StepRecord.name, fn.AVG(StepRecord.duration))
        .where(StepRecord.status.in_((states.DONE, states.WARNING)) & StepRecord.duration.is_null(False))
        .group_by(StepRecord.name)
        .tuples()
    )
    rows: list[tuple[str, float]] = list(query)  # type: ignore[arg-type]
    averages = {str(name): round(float(average), 3) for name, average in rows}
    return {step: averages[step] for step in states.STEPS if step in averages}


def collect(store: Store, config: Config) -> dict[str, Any]:
    jobs = {state: store.count((state,)) for state in states.JOB_STATES}
    finished = jobs[states.COMPLETED] + jobs[states.FAILED]
    return {
        "jobs": jobs,
        "total": sum(jobs.values()),
        "success_rate": jobs[states.COMPLETED] / finished if finished else None,
        "average_step_seconds": average_step_seconds(store),
        "storage_mb": {"state_dir": folder_mb(config.state_path), "outbox": folder_mb(config.outbox_path)},
    }
