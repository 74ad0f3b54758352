"""`mocapd submit FILE`: copy a video into the inbox (temporary name, then renamed), with a sidecar."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import uuid
from pathlib import Path

from mocapd.actions.common import CommandError
from mocapd.config import Config, parse_value
from mocapd.errors import JobError
from mocapd.options import JobOptions, merge, sidecar_path

HELP = "copy a video into the inbox, with options (--option key=value) in its sidecar"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a job option (see etc/mocapd.toml [defaults])",
    )
    parser.add_argument("--folder", default="", help="a subfolder of the inbox")


def run(arguments: argparse.Namespace, config: Config) -> int:
    source: Path = arguments.file
    if not source.is_file():
        raise CommandError(f"{source} is not a file")
    options: dict[str, object] = {}
    for item in arguments.option:
        key, separator, value = item.partition("=")
        if not separator:
            raise CommandError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = parse_value(value)
    try:
        merge(JobOptions(), options, "--option")  # refuse a bad option now, not in the daemon
    except JobError as error:
        raise CommandError(str(error)) from error
    folder = config.inbox_path / arguments.folder
    if not folder.is_dir():
        raise CommandError(f"inbox folder {folder} is missing")
    target = folder / source.name
    if target.exists():
        raise CommandError(f"{target} is already in the inbox")
    token = uuid.uuid4().hex[:8]
    if options:
        sidecar = sidecar_path(target)
        staging = sidecar.with_name(f".{sidecar.name}.{token}")
        staging.write_text(json.dumps(options), encoding="utf-8")
        os.replace(staging, sidecar)
    # A hidden name while copying: the daemon ignores dot files, so it never sees a partial video.
    staging = target.with_name(f".{target.name}.{token}")
    shutil.copyfile(source, staging)
    os.replace(staging, target)
    print(f"submitted {target}")
    return 0
