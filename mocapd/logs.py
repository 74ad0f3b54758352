"""The daemon's logging: stderr (journald) for `mocapd run`, state_dir/mocapd.log for `mocapd start`."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from mocapd.names import shown

LOG_NAME = "mocapd.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# journald adds its own time stamps.
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"


class EscapingFormatter(logging.Formatter):
    """Control characters and undecodable bytes of a message (names from a share) shown escaped.

    One log record stays one line: a file named with a newline or ESC cannot forge lines or colour a
    terminal. Tracebacks, appended after the message, keep their lines. Times in UTC, as everywhere.
    """

    default_msec_format = "%s.%03d UTC"

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.converter = time.gmtime

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = shown(record.message)
        return super().formatMessage(record)


def log_to_stderr(level: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(STDERR_FORMAT))
    _install(handler, level)
    return handler


def log_to_file(path: Path, level: str) -> logging.FileHandler:
    """A handler appending to `path`; its descriptor must survive daemonising (files_preserve)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(EscapingFormatter(FORMAT))
    _install(handler, level)
    return handler


def _install(handler: logging.Handler, level: str) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that log every run, query or filesystem event: only their warnings.
    for name in ("apscheduler", "peewee", "watchdog"):
        logging.getLogger(name).setLevel(logging.WARNING)


def step_header(step: str, job_id: int) -> str:
    """The line that opens a step's run in its log."""
    return f"== {step} started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} (job {job_id})\n"


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a log file."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        content = handle.readlines()
    return "".join(content[-lines:]) if lines > 0 else "".join(content)
