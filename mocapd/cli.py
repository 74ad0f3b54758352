"""The `mocapd` command: argparse over one short module per command in mocapd/actions/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from mocapd.actions.common import CommandError, load_config

COMMANDS = (
    "run",
    "start",
    "stop",
    "status",
    "jobs",
    "show",
    "logs",
    "tracks",
    "retry",
    "cancel",
    "reexport",
    "cleanup",
    "stats",
    "health",
    "submit",
)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="configuration file (default: $MOCAPD_CONFIG)")
    common.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one setting"
    )
    common.add_argument("--inbox", help="inbox folder (overrides the configuration)")
    common.add_argument("--outbox", help="outbox folder (overrides the configuration)")
    common.add_argument("--state-dir", help="state folder (overrides the configuration)")
    main_parser = argparse.ArgumentParser(
        prog="mocapd", description="Motion-capture daemon: videos in, animated skeletons out."
    )
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"mocapd.actions.{name.replace('-', '_')}")
        command = commands.add_parser(name, parents=[common], help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(action=module.run)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        config = load_config(arguments)
        return int(arguments.action(arguments, config))
    except CommandError as error:
        logging.shutdown()
        print(f"mocapd {arguments.command}: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
