"""Reading tracklets files in PHALP's per-frame layout, from 4D-Humans or from the embedded backend.

The file is a joblib dict keyed by frame (a path, or a (video, pts) tuple); each frame holds `time`
and lists aligned with `tid`. Per-person lists are indexed by position in `tid`, never through
`tracked_ids` (which lists real detections only and is not aligned with `smpl`/`camera`). An entry
with `tracked_time > 0` is a ghost repeating a track's last detection: it is not a measurement.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import joblib
import numpy as np

from mocapd.errors import JobError
from mocapd.rotations import orthonormalize

# PHALP confirms a track after n_init = 5 hits and then writes the 4 earlier detections back into
# their frames: a track's first real entries are back-filled (real detections, but assigned to the
# track before its identity was confirmed).
PHALP_BACKFILLED_FRAMES = 4
# Keys the embedded backend adds per person; their presence marks a file written by mocapd itself.
EMBEDDED_KEYS = ("landmarks_world", "landmarks_image", "landmarks_visibility", "joint_confidence")
NUMBER_PATTERN = re.compile(r"\d+")


@dataclass
class Frame:
    """One frame of the tracklets file: its index in the video and its per-person lists."""

    index: int
    key: str
    data: dict[str, Any]

    @property
    def tids(self) -> list[int]:
        return [int(tid) for tid in self.data.get("tid", [])]

    def is_measured(self, position: int) -> bool:
        """Whether the person at `position` in `tid` was detected in this frame (not a ghost)."""
        tracked_time = self.data.get("tracked_time")
        if tracked_time is None or position >= len(tracked_time):
            return True
        return int(tracked_time[position]) == 0


@dataclass
class Tracklets:
    """All frames of a tracklets file, ordered by their index in the video."""

    frames: list[Frame]
    embedded: bool  # written by the embedded backend (carries landmarks and joint confidences)

    @property
    def frame_count(self) -> int:
        """Frames of the clip the file covers: up to the last frame it lists."""
        return self.frames[-1].index + 1 if self.frames else 0

    def track_ids(self) -> list[int]:
        return sorted({tid for frame in self.frames for tid in frame.tids})

    def timestamps(self, frame_idx: np.ndarray) -> np.ndarray | None:
        """Seconds from the clip's start of these frames, where the file records them for every one
        (the embedded backend's `timestamp`, VFR-safe); None where it does not (PHALP's files)."""
        recorded = {frame.index: frame.data.get("timestamp") for frame in self.frames}
        values = [recorded.get(int(index)) for index in frame_idx]
        if any(value is None for value in values):
            return None
        return np.array(values, dtype=np.float64)


@dataclass
class TrackObservations:
    """Everything the file holds on one track, one row per frame the track is listed in."""

    tid: int
    frame_idx: np.ndarray  # (M,) frame index in the video, increasing
    measured: np.ndarray  # (M,) bool: a real detection (not a ghost)
    backfilled: np.ndarray  # (M,) bool: a real detection written back by PHALP at confirmation
    global_orient: np.ndarray  # (M, 3, 3) OpenCV camera frame
    body_pose: np.ndarray  # (M, 23, 3, 3)
    betas: np.ndarray  # (M, 10)
    camera: np.ndarray  # (M, 3) SMPL model origin in the camera frame
    bbox: np.ndarray  # (M, 4) x0, y0, w, h in pixels
    image_size: np.ndarray  # (M, 2) height, width in pixels
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # embedded keys, (M, ...) where present

    @property
    def real_frame_count(self) -> int:
        return int(np.count_nonzero(self.measured))


def normalise_frame_key(key: Any) -> str:
    """A frame key as text: a path as given, a (video, pts) tuple as 'video#pts'."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, tuple):
        return "#".join(normalise_frame_key(part) for part in key)
    return str(key)


def _natural_order(key: Any) -> tuple[Any, ...]:
    """Sort key for frames without `time`: numbers inside a path or a tuple compare as numbers."""
    parts = key if isinstance(key, tuple) else (key,)
    result: list[Any] = []
    for part in parts:
        if isinstance(part, (int, float, np.integer, np.floating)):
            result.append((1, float(part), ""))
        else:
            text = normalise_frame_key(part)
            numbers = [int(number) for number in NUMBER_PATTERN.findall(Path(text).name)]
            result.append((0, float(numbers[-1]) if numbers else 0.0, text))
    return tuple(result)


def from_dict(raw: dict[Any, Any], source: str = "tracklets") -> Tracklets:
    """Frames ordered by `time` (or by the numbers in their keys where a file has no `time`)."""
    if not isinstance(raw, dict):
        raise JobError(f"{source}: expected a dict keyed by frame, got {type(raw).__name__}")
    entries = [(key, value) for key, value in raw.items() if isinstance(value, dict)]
    if entries and all("time" in value for _, value in entries):
        entries.sort(key=lambda item: int(item[1]["time"]))
        frames = [Frame(int(value["time"]), normalise_frame_key(key), value) for key, value in entries]
    else:
        entries.sort(key=lambda item: _natural_order(item[0]))
        frames = [Frame(rank, normalise_frame_key(key), value) for rank, (key, value) in enumerate(entries)]
    indices = [frame.index for frame in frames]
    if len(set(indices)) != len(indices):
        raise JobError(f"{source}: several frames carry the same 'time'; the file is not one clip")
    embedded = any(
        key in frame.data and len(frame.data[key]) > 0 for frame in frames[:50] for key in EMBEDDED_KEYS
    )
    return Tracklets(frames, embedded)


def read(path: Path, own_folder: Path | None = None) -> Tracklets:
    """Load a tracklets file (joblib, compressed or not); an unreadable file is a JobError.

    With `own_folder` (a job's folder) the file is a pickle the daemon made: it is only loaded as a
    regular file directly in that folder, neither of them a link (a pickle runs code when loaded).
    """
    try:
        if own_folder is None:
            with open(path, "rb") as handle:
                raw = load(handle)
        else:
            with open_own_file(path, own_folder) as handle:
                raw = load(handle)
    except JobError:
        raise
    except FileNotFoundError as error:
        raise JobError(f"tracklets file {path.name} does not exist") from error
    except Exception as error:  # joblib raises many kinds of error on a truncated or foreign file
        raise JobError(f"cannot read tracklets file {path.name}: {type(error).__name__}: {error}") from error
    return from_dict(raw, path.name)


class JoblibPickle(Exception):
    """The stream holds joblib's own objects (its array wrappers): joblib must read it."""


class PlainUnpickler(pickle.Unpickler):
    """Python's C unpickler, refusing joblib's classes (their arrays follow the pickle, unframed)."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "joblib":
            raise JoblibPickle(f"{module}.{name}")
        return super().find_class(module, name)


def load(handle: BinaryIO) -> Any:
    """The object in a joblib file or a plain pickle (the embedded backend's): a plain one with the C
    unpickler (a 20 s clip's 600 frames: 0.014 CPU s; joblib.load's pure-Python unpickler 0.08)."""
    try:
        return PlainUnpickler(handle).load()
    except Exception:  # joblib's layout, compressed, or damaged: joblib reads it or says why not
        handle.seek(0)
        return joblib.load(handle)


def open_own_file(path: Path, own_folder: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file right in `own_folder`, no link on the way."""
    if path.parent != own_folder:
        raise JobError(f"tracklets file {path} is not in the job's own folder {own_folder}")
    try:
        folder = os.open(own_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise JobError(
                f"the job folder {own_folder} is a symbolic link: its tracklets are not loaded"
            ) from error
        raise
    try:
        try:
            descriptor = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise JobError(f"tracklets file {path.name} is a symbolic link: it is not loaded") from error
            raise
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise JobError(f"tracklets file {path.name} is not a regular file")
    return open(descriptor, "rb")


def _person_value(frame: Frame, key: str, position: int) -> Any:
    values = frame.data.get(key)
    if values is None or position >= len(values):
        return None
    return values[position]


def _smpl_arrays(smpl: Any, tid: int, frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(smpl, dict) or "global_orient" not in smpl or "body_pose" not in smpl:
        raise JobError(f"frame {frame.key}: track {tid} has no SMPL parameters (smpl dict)")
    global_orient = np.asarray(smpl["global_orient"], dtype=np.float64).reshape(3, 3)
    body_pose = np.asarray(smpl["body_pose"], dtype=np.float64).reshape(23, 3, 3)
    betas = np.zeros(10)
    if smpl.get("betas") is not None:
        given = np.asarray(smpl["betas"], dtype=np.float64).reshape(-1)[:10]
        betas[: given.shape[0]] = given
    return global_orient, body_pose, betas


def observations(tracklets: Tracklets, tid: int) -> TrackObservations:
    """One track's rows, in frame order; where a frame lists the tid twice, its real detection wins."""
    rows: dict[int, tuple[Frame, int, bool]] = {}
    for frame in tracklets.frames:
        for position, frame_tid in enumerate(frame.tids):
            if frame_tid != tid:
                continue
            real = frame.is_measured(position)
            previous = rows.get(frame.index)
            if previous is None or (real and not previous[2]):
                rows[frame.index] = (frame, position, real)
    if not rows:
        known = ", ".join(str(known_tid) for known_tid in tracklets.track_ids()) or "none"
        raise JobError(f"track {tid} is not in the tracklets (known tracks: {known})")
    ordered = [rows[index] for index in sorted(rows)]
    count = len(ordered)
    # Ghost rows are never used as measurements; where one lacks data it keeps these placeholders.
    global_orient = np.tile(np.eye(3), (count, 1, 1))
    body_pose = np.tile(np.eye(3), (count, 23, 1, 1))
    betas = np.zeros((count, 10))
    camera = np.full((count, 3), np.nan)
    bbox = np.full((count, 4), np.nan)
    image_size = np.full((count, 2), np.nan)
    measured = np.array([row[2] for row in ordered], dtype=bool)
    extras: dict[str, list[Any]] = {key: [] for key in EMBEDDED_KEYS}
    for row, (frame, position, real) in enumerate(ordered):
        smpl = _person_value(frame, "smpl", position)
        camera_value = _person_value(frame, "camera", position)
        if real or (isinstance(smpl, dict) and camera_value is not None):
            global_orient[row], body_pose[row], betas[row] = _smpl_arrays(smpl, tid, frame)
            if camera_value is None:
                raise JobError(f"frame {frame.key}: track {tid} has no 'camera' translation")
            camera[row] = np.asarray(camera_value, dtype=np.float64).reshape(3)
        box = _person_value(frame, "bbox", position)
        if box is not None:
            bbox[row] = np.asarray(box, dtype=np.float64).reshape(4)
        size = _person_value(frame, "size", position)
        if size is not None:
            image_size[row] = np.asarray(size, dtype=np.float64).reshape(-1)[:2]
        for key in EMBEDDED_KEYS:
            extras[key].append(_person_value(frame, key, position))
    backfilled = np.zeros(count, dtype=bool)
    if not tracklets.embedded:
        backfilled[np.flatnonzero(measured)[:PHALP_BACKFILLED_FRAMES]] = True
    extra_arrays = {
        key: _stack_with_gaps(values)
        for key, values in extras.items()
        if any(value is not None for value in values)
    }
    return TrackObservations(
        tid=tid,
        frame_idx=np.array(sorted(rows), dtype=np.int64),
        measured=measured,
        backfilled=backfilled,
        # Stored as float32: re-orthonormalised so that products of many rotations stay rotations.
        global_orient=orthonormalize(global_orient),
        body_pose=orthonormalize(body_pose),
        betas=betas,
        camera=camera,
        bbox=bbox,
        image_size=image_size,
        extras=extra_arrays,
    )


def _stack_with_gaps(values: list[Any]) -> np.ndarray:
    """Rows of one per-person key; rows where a frame lacks it (ghosts) are NaN."""
    shape = next(np.asarray(value).shape for value in values if value is not None)
    result = np.full((len(values),) + shape, np.nan)
    for row, value in enumerate(values):
        if value is not None:
            result[row] = np.asarray(value, dtype=np.float64).reshape(shape)
    return result


def real_frame_counts(tracklets: Tracklets) -> dict[int, tuple[int, int, int]]:
    """Per tid: (real detections, first real frame, last real frame); tracks with no detection are absent."""
    seen: dict[int, set[int]] = {}
    for frame in tracklets.frames:
        for position, tid in enumerate(frame.tids):
            if frame.is_measured(position):
                seen.setdefault(tid, set()).add(frame.index)
    return {tid: (len(indices), min(indices), max(indices)) for tid, indices in seen.items()}
