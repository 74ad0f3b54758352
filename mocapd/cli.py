"""The `mocapd` command: argparse over one short module per command in mocapd/actions/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from peewee import DatabaseError

from mocapd import __version__, store
from mocapd.actions.common import CommandError, load_config
from mocapd.store import StoreError

COMMANDS = (
    "run",
    "start",
    "stop",
    "status",
    "hosts",
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
    "config",
)
# Options every command takes, before or after its name (`mocapd --config F status` = `mocapd status --config F`).
COMMON = ("config", "set", "inbox", "outbox", "state_dir", "json")
# Given after the command, a common option lands here first, then wins over (or, for --set, adds to) the one before.
LATE = "late_"


def add_common(parser: argparse.ArgumentParser, late: bool) -> None:
    """The common options; after the command they default to nothing so as not to hide those before it."""

    def dest(name: str) -> dict[str, Any]:
        return {"dest": LATE + name, "default": argparse.SUPPRESS} if late else {"dest": name}

    parser.add_argument("--config", help="configuration file (default: $MOCAPD_CONFIG)", **dest("config"))
    parser.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override one setting",
        **dest("set"),
    )
    parser.add_argument("--inbox", help="inbox folder (overrides the configuration)", **dest("inbox"))
    parser.add_argument("--outbox", help="outbox folder (overrides the configuration)", **dest("outbox"))
    parser.add_argument("--state-dir", help="state folder (overrides the configuration)", **dest("state_dir"))
    parser.add_argument(
        "--json", action="store_true", help="print JSON (commands that print data)", **dest("json")
    )


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, late=True)
    main_parser = argparse.ArgumentParser(
        prog="mocapd", description="Motion-capture daemon: videos in, animated skeletons out."
    )
    main_parser.add_argument("--version", action="version", version=f"mocapd {__version__}")
    add_common(main_parser, late=False)
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"mocapd.actions.{name.replace('-', '_')}")
        command = commands.add_parser(name, parents=[common], help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(action=module.run, prints_json=getattr(module, "PRINTS_JSON", False))
    return main_parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the common options given after the command merged into those before it."""
    arguments = parser().parse_args(argv)
    arguments.set = list(arguments.set or [])
    for name in COMMON:
        late = vars(arguments).pop(LATE + name, None)
        if late is None:
            continue
        if name == "set":
            arguments.set += late
        elif late:
            setattr(arguments, name, late)
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    try:
        if arguments.json and not arguments.prints_json:
            raise CommandError("--json: this command prints no data", exit_code=2)
        config = load_config(arguments)
        return int(arguments.action(arguments, config))
    except CommandError as error:
        logging.shutdown()
        print(f"mocapd {arguments.command}: {error}", file=sys.stderr)
        return error.exit_code
    except (StoreError, DatabaseError) as error:  # busy or damaged database: one line, what to do
        logging.shutdown()
        print(f"mocapd {arguments.command}: {store.explain(error, store.database_path())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
