"""`mocapd run`: the daemon in the foreground (for systemd), logging to stderr."""

from __future__ import annotations

import argparse

from mocapd.actions.common import CommandError, config_path, overrides
from mocapd.config import Config
from mocapd.logs import log_to_stderr
from mocapd.service.daemon import AlreadyRunning, Daemon
from mocapd.service.runner import DEFAULT_STAGE_PACKAGE
from mocapd.store import StoreError

HELP = "run the daemon in the foreground (systemd: Type=notify)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Hidden: tests run the daemon on their own stages (tests/stages); nothing fake ships in mocapd.
    parser.add_argument("--stage-package", default=DEFAULT_STAGE_PACKAGE, help=argparse.SUPPRESS)


def run(arguments: argparse.Namespace, config: Config) -> int:
    log_to_stderr(config.log_level)
    daemon = Daemon(config, config_path(arguments), overrides(arguments), arguments.stage_package)
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    except (AlreadyRunning, StoreError) as error:
        raise CommandError(str(error)) from error
