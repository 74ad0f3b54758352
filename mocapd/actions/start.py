"""`mocapd start`: the daemon in the background (hosts without systemd), logging to state_dir/mocapd.log."""

from __future__ import annotations

import argparse
import os
import sys
import time

import daemon as python_daemon

from mocapd.actions.common import CommandError, config_path, overrides
from mocapd.config import Config
from mocapd.logs import LOG_NAME, log_to_file
from mocapd.service.daemon import AlreadyRunning, Daemon, read_pid
from mocapd.service.runner import DEFAULT_STAGE_PACKAGE

HELP = "start the daemon in the background (without systemd)"
START_WAIT_SECONDS = 15.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage-package", default=DEFAULT_STAGE_PACKAGE, help=argparse.SUPPRESS)


def run(arguments: argparse.Namespace, config: Config) -> int:
    state_dir = config.state_path
    running = read_pid(state_dir)
    if running is not None:
        raise CommandError(f"mocapd is already running (pid {running})")
    state_dir.mkdir(parents=True, exist_ok=True)
    path = config_path(arguments)
    absolute_config = path.absolute() if path is not None else None
    child = os.fork()
    if child:
        deadline = time.monotonic() + START_WAIT_SECONDS
        while time.monotonic() < deadline:
            pid = read_pid(state_dir)
            if pid is not None and pid > 0:
                print(f"mocapd started, pid {pid}, log {state_dir / LOG_NAME}")
                return 0
            time.sleep(0.1)
        raise CommandError(f"mocapd did not start: see {state_dir / LOG_NAME}")
    handler = log_to_file(state_dir / LOG_NAME, config.log_level)
    assert handler.stream is not None
    context = python_daemon.DaemonContext(
        working_directory=os.getcwd(),
        umask=0o002,
        files_preserve=[handler.stream.fileno()],
        stdout=handler.stream,
        stderr=handler.stream,
        detach_process=True,
    )
    with context:
        daemon = Daemon(config, absolute_config, overrides(arguments), arguments.stage_package)
        daemon.install_signal_handlers()
        try:
            code = daemon.run()
        except AlreadyRunning as error:
            print(error, file=sys.stderr)
            code = 1
    os._exit(code)
