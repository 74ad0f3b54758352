"""`mocapd submit FILE`: copy a video into the inbox (temporary name, then renamed), with a sidecar."""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import typing
import uuid
from pathlib import Path
from typing import Any

from mocapd.actions.common import CommandError
from mocapd.config import Config, parse_value
from mocapd.errors import JobError
from mocapd.options import JobOptions, merge, resolve, sidecar_path
from mocapd.outbox import allocate_name
from mocapd.store import open_configured, store_exists

HELP = "copy a video into the inbox, with options (--option key=value) in its sidecar"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a job option (see `mocapd config --example`, [defaults]); lists as a,b (formats=fbx,bvh)",
    )
    parser.add_argument("--folder", default="", help="a subfolder of the inbox")


def option_value(key: str, text: str) -> Any:
    """A --option value: TOML (numbers, booleans, [lists]); for a list option, `a,b` is the list too."""
    value = parse_value(text)
    hint = typing.get_type_hints(JobOptions).get(key)
    if typing.get_origin(hint) is list and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def expected_name(config: Config, video: Path, sidecar: Path | None) -> str:
    """The output name the daemon will give the job (outbox/<name>/), as ingest chooses it."""
    try:
        base = resolve(config.defaults, config.inbox_path, video, sidecar).output_name or video.stem
    except JobError:
        base = video.stem  # the daemon fails such a job under the video's name
    taken: set[str] = set()
    if store_exists(config):
        taken = open_configured(config).names_in_use(base)
    return allocate_name(config.outbox_path, base, taken)


def inbox_folder(inbox: Path, relative: str) -> Path:
    """`relative` inside the inbox; an absolute path, `..` or a link that leads out is refused."""
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise CommandError(
            f"--folder {relative!r}: must be a subfolder of the inbox (no absolute path, no '..')"
        )
    folder = inbox.joinpath(*parts)
    resolved, root = folder.resolve(), inbox.resolve()
    if resolved != root and root not in resolved.parents:
        raise CommandError(f"--folder {relative!r} leads out of the inbox ({resolved})")
    return folder


def run(arguments: argparse.Namespace, config: Config) -> int:
    source: Path = arguments.file
    if not source.is_file():
        raise CommandError(f"{source} is not a file")
    options: dict[str, object] = {}
    for item in arguments.option:
        key, separator, value = item.partition("=")
        if not separator:
            raise CommandError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = option_value(key.strip(), value)
    try:
        merge(JobOptions(), options, "--option")  # refuse a bad option now, not in the daemon
    except JobError as error:
        raise CommandError(str(error)) from error
    extensions = {extension.lower().lstrip(".") for extension in config.limits.extensions}
    if source.suffix.lower().lstrip(".") not in extensions:
        raise CommandError(
            f"{source.name} is not a video the daemon takes (limits.extensions: {', '.join(sorted(extensions))})"
        )
    folder = inbox_folder(config.inbox_path, arguments.folder)
    if not folder.is_dir():
        raise CommandError(f"inbox folder {folder} is missing")
    target = folder / source.name
    if target.exists():
        if target.samefile(source) or filecmp.cmp(source, target, shallow=False):
            kept = " (its sidecar is kept; --option was not applied)" if options else ""
            print(f"{target} is already in the inbox: nothing to do{kept}")
            return 0
        raise CommandError(f"another {source.name} is already waiting in the inbox ({target})")
    token = uuid.uuid4().hex[:8]
    sidecar: Path | None = None
    if options:
        sidecar = sidecar_path(target)
        staging = sidecar.with_name(f".{sidecar.name}.{token}")
        staging.write_text(json.dumps(options), encoding="utf-8")
        os.replace(staging, sidecar)
    elif sidecar_path(target).is_file():
        sidecar = sidecar_path(target)
    name = expected_name(config, target, sidecar)
    # A hidden name while copying: the daemon ignores dot files, so it never sees a partial video.
    staging = target.with_name(f".{target.name}.{token}")
    shutil.copyfile(source, staging)
    os.replace(staging, target)
    print(f"submitted {target}: output name {name} (results in {config.outbox_path / name})")
    return 0
