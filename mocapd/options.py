"""Job options: what an artist may set per clip (sidecar JSON, folder mocapd.json, config defaults)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocapd.errors import JobError
from mocapd.joints import PRESETS
from mocapd.names import MAX_FOLDER_BYTES, is_clean, shown
from mocapd.settings import SettingsError, build

FOLDER_OPTIONS_NAME = "mocapd.json"
# An options file is a few hundred bytes; anything far larger is not one (and is not read into memory).
MAX_OPTIONS_BYTES = 64 * 1024
# Options are flat (a list of formats at most); deeper nesting is refused before it is looked at.
MAX_OPTIONS_DEPTH = 8
TRACK_MODES = ("auto", "single", "all")
FORMATS = ("fbx", "bvh", "glb")
SKELETON_PRESETS = tuple(PRESETS)
# A tracking backend a job may ask for (mocapd.config.CAPABILITIES: in a farm, only hosts with it take the job).
JOB_BACKENDS = ("4dhumans", "mediapipe")


@dataclass
class JobOptions:
    """Per-job options; defaults here are the product's defaults."""

    # auto/single: the track seen in most frames (or track_id); all: every track above the minimum length.
    track_mode: str = field(default="auto", metadata={"choices": TRACK_MODES})
    track_id: int | None = None
    # Several tracks by id (`mocapd reexport --track 1 3`); wins over track_id unless track_mode is all.
    track_ids: list[int] | None = None
    min_track_frames: int = field(default=15, metadata={"range": (1, 100000)})
    enable_smoothing: bool = True
    smoothing_strength: float = field(default=0.5, metadata={"range": (0.0, 1.0)})
    smoothing_window: int = field(default=9, metadata={"range": (3, 129)})
    # None keeps the source video's frame rate.
    fps: float | None = field(default=None, metadata={"range": (1.0, 240.0)})
    with_root_motion: bool = True
    foot_locking: bool = True
    keep_intermediate: bool = False
    formats: list[str] = field(default_factory=lambda: ["fbx"], metadata={"choices": FORMATS})
    skeleton_preset: str = field(default="smpl", metadata={"choices": SKELETON_PRESETS})
    tpose_frame: bool = False
    # None: the video's file name without its extension.
    output_name: str | None = None
    # None: the configured backend (any farm host); else this backend, on a host that has it.
    backend: str | None = field(default=None, metadata={"choices": JOB_BACKENDS})


def merge(base: JobOptions, data: dict[str, Any], source: str) -> JobOptions:
    """`base` updated by `data`; a bad key or value is a JobError naming the key and its source."""
    try:
        options = build(JobOptions, data, base=base)
    except SettingsError as error:
        raise JobError(f"{shown(source)}: {shown(str(error))}") from error
    if not options.formats:
        raise JobError(f"{source}: 'formats' must name at least one format")
    if options.output_name is not None:
        check_output_name(options.output_name, source)
    return options


def check_output_name(name: str, source: str) -> None:
    """Refuse an output name that is empty, a path, hidden or has control characters."""
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise JobError(f"{source}: 'output_name' {shown(repr(name))} is not a plain file name")
    if not is_clean(name) or len(name.encode("utf-8", "surrogatepass")) > MAX_FOLDER_BYTES:
        raise JobError(f"{source}: 'output_name' {shown(repr(name))} has control characters or is too long")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; anything else (too big, too deep, not JSON, a link) is a JobError naming the file."""
    name = shown(path.name)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(descriptor, "rb") as reader:
            data_bytes = reader.read(MAX_OPTIONS_BYTES + 1)
    except OSError as error:
        raise JobError(f"{name}: cannot be read ({error.strerror or error})") from error
    if len(data_bytes) > MAX_OPTIONS_BYTES:
        raise JobError(f"{name}: larger than {MAX_OPTIONS_BYTES // 1024} KB; an options file is a few lines")
    try:
        data = json.loads(data_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise JobError(f"{name}: not valid JSON ({error})") from error
    except RecursionError as error:
        raise JobError(f"{name}: nested too deeply to be job options") from error
    if not isinstance(data, dict):
        raise JobError(f"{name}: must hold a JSON object, got {type(data).__name__}")
    if depth(data) > MAX_OPTIONS_DEPTH:
        raise JobError(f"{name}: nested too deeply to be job options (over {MAX_OPTIONS_DEPTH} levels)")
    return data


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_OPTIONS_DEPTH:
            return level
        pending.extend((child, level + 1) for child in children)
    return deepest


def sidecar_path(video: Path) -> Path:
    """The sidecar options file of a video: same name, .json extension."""
    return video.with_suffix(".json")


def resolve(defaults: JobOptions, inbox: Path, video: Path, sidecar: Path | None) -> JobOptions:
    """Options for `video`: config defaults < each folder's mocapd.json from the inbox down < sidecar.

    A bad file does not hide the next one: the JobError names every bad key of every file.
    """
    options = defaults
    sources: list[tuple[Path, str]] = []
    relative_parent = video.parent.relative_to(inbox)
    folder = inbox
    for part in ("",) + relative_parent.parts:
        folder = folder / part if part else folder
        folder_file = folder / FOLDER_OPTIONS_NAME
        if os.path.lexists(folder_file):  # a link is read (and refused) by read_json, never followed
            sources.append((folder_file, str(folder_file.relative_to(inbox))))
    if sidecar is not None:
        sources.append((sidecar, sidecar.name))
    errors: list[str] = []
    for path, name in sources:
        try:
            options = merge(options, read_json(path), name)
        except JobError as error:
            errors.append(str(error))
    if errors:
        raise JobError("; ".join(errors))
    return options
