"""Removing finished jobs' work files and inputs after cleanup.retention_hours; logs and outbox results stay."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from mocapd import states
from mocapd.config import Config
from mocapd.service.runner import work_dir_for
from mocapd.store import Store

log = logging.getLogger(__name__)

KEPT_NAMES = ("logs",)


@dataclass
class Removal:
    job_id: int
    path: Path
    bytes: int


def size_of(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(child.lstat().st_size for child in path.rglob("*") if not child.is_dir() or child.is_symlink())


def cleanup(store: Store, config: Config, now: float, dry_run: bool = False) -> list[Removal]:
    """Remove the work files of jobs finished more than retention_hours ago; what was (or would be) removed."""
    cutoff = now - config.cleanup.retention_hours * 3600.0
    removals: list[Removal] = []
    for record in store.jobs(states.FINISHED_JOB_STATES, newest_first=False):
        if record.finished is None or record.finished > cutoff:
            continue
        work_dir = work_dir_for(config, record.id)
        if not work_dir.is_dir():
            continue
        for entry in sorted(work_dir.iterdir()):
            if entry.name in KEPT_NAMES:
                continue
            removals.append(Removal(record.id, entry, size_of(entry)))
            if dry_run:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    if removals and not dry_run:
        log.info(
            "cleanup: removed %d work file(s), %.1f MB", len(removals), sum(r.bytes for r in removals) / 1e6
        )
    return removals
