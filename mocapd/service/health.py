"""Health checks for `mocapd health` and the daemon: what is wrong, and how badly.

Unhealthy: nothing can be processed (inbox missing, outbox not writable, state dir unusable, daemon
down). Degraded: jobs run but something needs attention (disk low, Blender missing).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mocapd.config import Config

OK = "ok"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"
NOT_CHECKED = "not checked"
LEVELS = (OK, NOT_CHECKED, DEGRADED, UNHEALTHY)
EXIT_CODES = {OK: 0, DEGRADED: 1, UNHEALTHY: 2}
BYTES_PER_MB = 1024 * 1024
# A heartbeat older than this many seconds means the daemon is stuck.
HEARTBEAT_STALE_SECONDS = 60.0
# Below this many megabytes free the state disk counts as full, whatever limits.min_free_disk_mb says.
FULL_DISK_MB = 1.0


@dataclass
class Check:
    name: str
    level: str
    message: str


def free_mb(folder: Path) -> float | None:
    """Free megabytes on the disk holding `folder` (or its nearest existing parent)."""
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free / BYTES_PER_MB
    except OSError:
        return None


def disk_problem(config: Config) -> str | None:
    """Why the state disk is too full to take jobs, or None."""
    free = free_mb(config.state_path)
    minimum = config.limits.min_free_disk_mb
    if free is not None and free < FULL_DISK_MB:
        return f"the state disk is full: {free:.1f} MB free on {config.state_path}"
    if free is not None and free < minimum:
        return f"only {free:.0f} MB free on the state disk ({config.state_path}), below limits.min_free_disk_mb = {minimum:g}"
    return None


def writable(folder: Path) -> str | None:
    """Why a file cannot be created in `folder`, or None."""
    if not folder.is_dir():
        return f"{folder} is missing"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mocapd-health-"):
            pass
    except OSError as error:
        return f"{folder} is not writable: {error.strerror or error}"
    return None


def check_inbox(config: Config) -> Check:
    inbox = config.inbox_path
    if not inbox.is_dir():
        return Check("inbox", UNHEALTHY, f"inbox {inbox} is missing")
    if not os.access(inbox, os.R_OK | os.X_OK):
        return Check("inbox", UNHEALTHY, f"inbox {inbox} is not readable")
    return Check("inbox", OK, str(inbox))


def check_outbox(config: Config) -> Check:
    problem = writable(config.outbox_path)
    return Check("outbox", UNHEALTHY, problem) if problem else Check("outbox", OK, str(config.outbox_path))


def check_state_dir(config: Config) -> Check:
    problem = writable(config.state_path)
    return (
        Check("state dir", UNHEALTHY, problem) if problem else Check("state dir", OK, str(config.state_path))
    )


def check_disk(config: Config) -> Check:
    problem = disk_problem(config)
    if problem:
        return Check("disk", DEGRADED, problem)
    free = free_mb(config.state_path)
    return Check("disk", OK, f"{free:.0f} MB free" if free is not None else "unknown")


def check_blender(config: Config) -> Check:
    try:
        from mocapd.export.blender import find_blender
    except ImportError as error:
        return Check("blender", NOT_CHECKED, f"the export module is not available ({error})")
    usable, message = find_blender(config)
    return Check("blender", OK if usable else DEGRADED, message)


def check_backend(config: Config) -> Check:
    """Which tracking backend a job would get now and why; a forced 4D-Humans that is not installed is degraded."""
    from mocapd.backends import fourdhumans, selection

    choice = selection.current_choice(config)
    message = f"{choice.name} ({choice.reason})"
    if choice.name == selection.FOURDHUMANS:
        problem = fourdhumans.installation_problem(config.fourdhumans)
        if problem is not None:
            return Check("backend", DEGRADED, f"{message}, but 4D-Humans is not installed: {problem}")
    return Check("backend", OK, message)


def check_daemon(pid: int | None, heartbeat: float | None, detail: dict[str, object] | None) -> list[Check]:
    if pid is None:
        return [Check("daemon", UNHEALTHY, "the daemon is not running")]
    checks = [Check("daemon", OK, f"running, pid {pid}")]
    if heartbeat is not None and time.time() - heartbeat > HEARTBEAT_STALE_SECONDS:
        checks = [
            Check(
                "daemon",
                DEGRADED,
                f"pid {pid} has not written a heartbeat for {time.time() - heartbeat:.0f} s",
            )
        ]
    if detail and detail.get("inbox_problem"):
        checks.append(Check("inbox watch", UNHEALTHY, str(detail["inbox_problem"])))
    if detail and detail.get("paused"):
        checks.append(Check("paused", DEGRADED, str(detail["paused"])))
    return checks


def overall(checks: list[Check]) -> str:
    """The worst level among the checks (not-checked counts as ok)."""
    worst = OK
    for check in checks:
        if check.level == UNHEALTHY:
            return UNHEALTHY
        if check.level == DEGRADED:
            worst = DEGRADED
    return worst
