"""The embedded multi-person pose model: a PoseLandmarker .task built from the mediapipe wheel's own models.

mediapipe 0.10.21 bundles a person detector and a landmark model as bare .tflite files; the tasks API
(which follows several people) needs them with image-normalisation metadata, zipped into a .task file.
We write that metadata with mediapipe's own MetadataWriter, once, and cache the result; nothing is
downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any

from mocapd.errors import JobError

# Members of the .task bundle, named as the PoseLandmarker graph expects them.
DETECTOR_MEMBER = "pose_detector.tflite"
LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"
# Input normalisation of the two networks: the detector takes [-1, 1], the landmark model [0, 1].
DETECTOR_NORMALISATION = (127.5, 127.5)
LANDMARKS_NORMALISATION = (0.0, 255.0)
# Bumped when the way the bundle is built changes, so old cached bundles are rebuilt.
BUNDLE_VERSION = 1
CACHE_ENVIRONMENT = "MOCAPD_MODEL_CACHE"
# MediaPipe's executor type that runs a graph's calculators on the thread calling it.
CALLING_THREAD_EXECUTOR = "ApplicationThreadExecutor"


def bundled_model_paths() -> tuple[Path, Path]:
    """The detector and landmark .tflite files inside the installed mediapipe wheel."""
    try:
        import mediapipe
    except ImportError as error:  # pragma: no cover - mediapipe is a dependency
        raise JobError(f"the embedded pose model needs the mediapipe package: {error}") from error
    root = Path(mediapipe.__file__).parent / "modules"
    detector = root / "pose_detection" / "pose_detection.tflite"
    landmarks = root / "pose_landmark" / "pose_landmark_full.tflite"
    for path in (detector, landmarks):
        if not path.is_file():
            raise JobError(f"the mediapipe installation lacks {path.name}; reinstall mediapipe==0.10.21")
    return detector, landmarks


def default_cache_dir() -> Path:
    """Where the built bundle is kept: $MOCAPD_MODEL_CACHE, else the user's cache folder."""
    if os.environ.get(CACHE_ENVIRONMENT):
        return Path(os.environ[CACHE_ENVIRONMENT])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mocapd" / "models"


def with_metadata(model: bytes, normalisation: tuple[float, float]) -> bytes:
    """The model with image-input metadata and one feature output per output tensor."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_image_input(norm_mean=[normalisation[0]], norm_std=[normalisation[1]])
    for _ in writer_utils.get_output_tensor_types(bytearray(model)):
        writer.add_feature_output()
    content, _ = writer.populate()
    return bytes(content)


def source_fingerprint(detector: Path, landmarks: Path) -> str:
    """A short hash of the source models and the build version: names the cached bundle."""
    digest = hashlib.sha256(str(BUNDLE_VERSION).encode())
    for path in (detector, landmarks):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_valid_bundle(path: Path) -> bool:
    """True when `path` is a readable zip holding both members."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            return {DETECTOR_MEMBER, LANDMARKS_MEMBER} <= names and archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def ensure_task_file(cache_dir: Path | None = None) -> Path:
    """The path of the .task bundle, built from the installed wheel's models if missing or corrupt."""
    detector, landmarks = bundled_model_paths()
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    path = folder / f"pose_landmarker_{source_fingerprint(detector, landmarks)}.task"
    if path.is_file() and is_valid_bundle(path):
        return path
    folder.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    # Stored, not deflated: the tasks runtime maps the members straight from the file.
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(DETECTOR_MEMBER, with_metadata(detector.read_bytes(), DETECTOR_NORMALISATION))
        archive.writestr(LANDMARKS_MEMBER, with_metadata(landmarks.read_bytes(), LANDMARKS_NORMALISATION))
    staging.replace(path)
    return path


@functools.cache
def landmarker_class() -> Any:
    """PoseLandmarker running its graph on the calling thread: its default pool (one thread per core)
    hands each frame from thread to thread (~5 wake-ups a frame, each waiting for a core while the
    decoder and the other landmarkers keep both busy); the same calculators, the same results."""
    from mediapipe.tasks.python.vision import pose_landmarker

    class CallingThreadLandmarker(pose_landmarker.PoseLandmarker):  # type: ignore[misc]
        def __init__(self, graph_config: Any, running_mode: Any, packet_callback: Any = None) -> None:
            # Executor name "" is the graph's default one; create_from_options builds through cls().
            graph_config.executor.add(name="", type=CALLING_THREAD_EXECUTOR)
            super().__init__(graph_config, running_mode, packet_callback)

    return CallingThreadLandmarker


def create_landmarker(
    max_people: int = 4,
    cache_dir: Path | None = None,
    min_detection_confidence: float = 0.5,
    min_presence_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
) -> Any:
    """A PoseLandmarker in VIDEO mode on the bundled models (call `close()` when done)."""
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import pose_landmarker
    from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

    options = pose_landmarker.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(ensure_task_file(cache_dir))),
        running_mode=VisionTaskRunningMode.VIDEO,
        num_poses=max_people,
        min_pose_detection_confidence=min_detection_confidence,
        min_pose_presence_confidence=min_presence_confidence,
        min_tracking_confidence=min_tracking_confidence,
    )
    return landmarker_class().create_from_options(options)
