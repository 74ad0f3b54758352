"""`mocapd config`: the configuration in effect (after file, environment and command line), or the example."""

from __future__ import annotations

import argparse
import sys

from mocapd.actions.common import CommandError, print_json
from mocapd.config import Config
from mocapd.example import example_config
from mocapd.settings import to_dict

PRINTS_JSON = True
HELP = "print the configuration in effect, or (--example) the documented example configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--example",
        action="store_true",
        help="print the example configuration, every key documented at its default (TOML)",
    )


def run(arguments: argparse.Namespace, config: Config) -> int:
    if arguments.example:
        try:
            sys.stdout.write(example_config())
        except OSError as error:
            raise CommandError(str(error)) from error
        return 0
    settings = to_dict(config)
    if arguments.json:
        print_json(settings)
        return 0
    for section, value in settings.items():
        if isinstance(value, dict):
            for key, item in value.items():
                print(f"{section}.{key} = {item!r}")
        else:
            print(f"{section} = {value!r}")
    return 0
