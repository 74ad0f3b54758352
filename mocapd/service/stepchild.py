"""The child process side of a step: runs one stage and writes what happened to a result file.

Started through multiprocessing's forkserver (a clean parent: none of the daemon's threads or locks), in its own session so
the runner can kill it and everything it started (Blender, 4D-Humans) as one process group.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from mocapd.errors import DiskFull, JobError, TransientError
from mocapd.job import Job
from mocapd.logs import FORMAT, EscapingFormatter
from mocapd.steps import load_stage

PR_SET_PDEATHSIG = 1
# glibc's mallopt parameter for the most malloc arenas, and the limit a step runs with. Each thread
# that allocates gets an arena of its own by default; the tracking step's pose model allocates in
# two threads and frees across them, and its resident memory wandered 480-680 MB over 2400 frames
# (one landmarker alone: flat at 364 MB). With two arenas: 464-512 MB.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
OK = "ok"
JOB_ERROR = "job_error"
TRANSIENT = "transient"
ERROR = "error"
DISK_FULL = "disk_full"
# Exit status of a step that ran out of disk space and could not even write its result.
EXIT_DISK_FULL = 75
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (the forkserver, which dies with the daemon) dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: a killed daemon may leave a step running until it ends by itself


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas for this process (no-op elsewhere): memory stays flat over long clips."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass  # not glibc


def release_forkserver() -> None:
    """Close this child's copy of the forkserver's liveness pipe.

    The forkserver exits when every holder of that pipe's write end is gone; a step holding it would
    keep the forkserver (and so itself, through die_with_parent) alive after the daemon was killed.
    """
    from multiprocessing import forkserver

    server = forkserver._forkserver
    descriptor = getattr(server, "_forkserver_alive_fd", None)
    if descriptor is not None:
        try:
            os.close(descriptor)
        except OSError:
            pass
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010 (a private attribute)


def write_result(path: Path, result: dict[str, Any]) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(result, default=str), encoding="utf-8")
    staging.replace(path)


def child_main(
    job: Job, step: str, package: str, log_path: str, result_path: str, sys_path: list[str]
) -> None:
    """Run `step` of `job` with the stage from `package`; output goes to the step's log file."""
    os.setsid()
    die_with_parent()
    release_forkserver()
    limit_malloc_arenas()
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    for entry in sys_path:
        if entry not in sys.path:
            sys.path.append(entry)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(FORMAT))
    logging.basicConfig(level=job.config.log_level, handlers=[handler], force=True)
    result: dict[str, Any]
    try:
        stage = load_stage(step, package)
        outcome = stage(job)
        result = {"kind": OK, "warnings": list(outcome.warnings), "data": outcome.data}
    except DiskFull as error:
        result = {"kind": DISK_FULL, "message": str(error)}
    except OSError as error:
        if error.errno not in DISK_FULL_ERRNOS:
            traceback.print_exc()
            result = {"kind": ERROR, "message": f"internal error: {type(error).__name__}: {error}"}
        else:
            result = {"kind": DISK_FULL, "message": f"the disk is full ({error.strerror})"}
    except TransientError as error:
        logging.getLogger(__name__).warning("%s: %s (retryable)", step, error)
        result = {"kind": TRANSIENT, "message": str(error)}
    except JobError as error:
        logging.getLogger(__name__).error("%s: %s", step, error)
        result = {"kind": JOB_ERROR, "message": str(error)}
    except BaseException as error:  # a bug or an interrupted step: reported, with the traceback in the log
        traceback.print_exc()
        result = {"kind": ERROR, "message": f"internal error: {type(error).__name__}: {error}"}
    try:
        write_result(Path(result_path), result)
    except (TypeError, ValueError) as error:
        write_result(Path(result_path), {"kind": ERROR, "message": f"step data is not JSON: {error}"})
    except OSError as error:
        if error.errno in DISK_FULL_ERRNOS:
            sys.exit(EXIT_DISK_FULL)  # no room for the result itself: the runner reads the exit status
        raise
    sys.stdout.flush()
    sys.stderr.flush()
