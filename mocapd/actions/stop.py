"""`mocapd stop`: SIGTERM to the daemon, and wait for it to end."""

from __future__ import annotations

import argparse
import os
import signal
import time

from mocapd.actions.common import CommandError
from mocapd.config import Config
from mocapd.service.daemon import read_pid

HELP = "stop the daemon (a running step may finish first; --now aborts it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now", action="store_true", help="abort the running step (it resumes at the next start)"
    )
    parser.add_argument(
        "--wait", type=float, default=None, help="seconds to wait (default: the stop grace + 30)"
    )


def run(arguments: argparse.Namespace, config: Config) -> int:
    pid = read_pid(config.state_path)
    if pid is None:
        print("mocapd is not running")
        return 3
    if pid <= 0:
        raise CommandError("mocapd is starting and has not written its pid yet: try again in a moment")
    os.kill(pid, signal.SIGTERM)
    if arguments.now:
        time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
    wait = arguments.wait if arguments.wait is not None else config.runner.stop_grace_seconds + 30
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if read_pid(config.state_path) != pid:
            print(f"mocapd (pid {pid}) stopped")
            return 0
        time.sleep(0.1)
    raise CommandError(f"mocapd (pid {pid}) is still running after {wait:g} s")
