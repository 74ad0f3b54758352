"""The multi-person pose model bundle: built from the installed wheel, cached, rebuilt when damaged, and it runs."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import mediapipe
import numpy as np
import pytest
from mediapipe.tasks.python.metadata import metadata

from mocapd.backends.embedded import posemodel
from mocapd.decode import iter_frames

DATA = Path(__file__).parent / "data" / "pose2sim"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_bundle_holds_both_models_with_metadata(cache_dir: Path) -> None:
    path = posemodel.ensure_task_file(cache_dir)
    assert path.parent == cache_dir and path.suffix == ".task"
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {posemodel.DETECTOR_MEMBER, posemodel.LANDMARKS_MEMBER}
        assert all(member.compress_type == zipfile.ZIP_STORED for member in archive.infolist())
        detector = normalisation(archive.read(posemodel.DETECTOR_MEMBER))
        landmarks = normalisation(archive.read(posemodel.LANDMARKS_MEMBER))
    assert detector == {"mean": [127.5], "std": [127.5]}
    assert landmarks == {"mean": [0.0], "std": [255.0]}
    _, original = posemodel.bundled_model_paths()
    # The wheel's landmark model has no metadata at all: that is why the tasks API refuses it as it is.
    with pytest.raises(ValueError, match="metadata"):
        normalisation(original.read_bytes())


def normalisation(model: bytes) -> dict[str, list[float]] | None:
    """The input image's normalisation options in a model's metadata (None: none; ValueError: no metadata)."""
    displayed = metadata.MetadataDisplayer.with_model_buffer(model).get_metadata_json()
    tensor = json.loads(displayed)["subgraph_metadata"][0]["input_tensor_metadata"][0]
    for unit in tensor.get("process_units", []):
        if unit.get("options_type") == "NormalizationOptions":
            return dict(unit["options"])
    return None


def test_bundle_is_cached_and_rebuilt_when_damaged(cache_dir: Path) -> None:
    path = posemodel.ensure_task_file(cache_dir)
    stamp = path.stat().st_mtime_ns
    assert posemodel.ensure_task_file(cache_dir) == path
    assert path.stat().st_mtime_ns == stamp
    path.write_bytes(path.read_bytes()[:100000])  # a crash mid-write, a full disk
    assert not posemodel.is_valid_bundle(path)
    assert posemodel.ensure_task_file(cache_dir) == path
    assert posemodel.is_valid_bundle(path)


def test_landmarker_finds_both_people_on_a_real_frame(cache_dir: Path) -> None:
    frames = list(iter_frames(DATA / "MultiPerson" / "videos" / "cam01.mp4", max_resolution=640, limit=10))
    landmarker = posemodel.create_landmarker(max_people=4, cache_dir=cache_dir)
    try:
        counts = []
        for frame in frames:
            image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image)
            result = landmarker.detect_for_video(image, int(frame.time * 1000))
            counts.append(len(result.pose_landmarks))
    finally:
        landmarker.close()
    assert max(counts) >= 2
    assert len(result.pose_world_landmarks[0]) == 33
    hips = np.array([[mark.x, mark.y, mark.z] for mark in result.pose_world_landmarks[0]])[23:25]
    # World landmarks are metric with the origin between the hips.
    assert np.linalg.norm(hips.mean(axis=0)) < 0.05
    assert 0.1 < np.linalg.norm(hips[0] - hips[1]) < 0.5


def test_landmarker_runs_on_the_calling_thread_with_the_default_pools_results(cache_dir: Path) -> None:
    from mediapipe.tasks.python.vision import pose_landmarker

    frames = list(iter_frames(DATA / "MultiPerson" / "videos" / "cam02.mp4", max_resolution=640, limit=8))

    def landmarks(landmarker: object) -> tuple[list[list[tuple[float, ...]]], int]:
        threads = len(os.listdir("/proc/self/task"))
        found = []
        try:
            for frame in frames:
                image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image)
                result = landmarker.detect_for_video(image, int(frame.time * 1000))  # type: ignore[attr-defined]
                found.append(
                    [(mark.x, mark.y, mark.z) for person in result.pose_landmarks for mark in person]
                )
            extra = len(os.listdir("/proc/self/task")) - threads
        finally:
            landmarker.close()  # type: ignore[attr-defined]
        return found, extra

    original = posemodel.landmarker_class
    try:
        posemodel.landmarker_class = lambda: pose_landmarker.PoseLandmarker  # type: ignore[assignment]
        pooled, _ = landmarks(posemodel.create_landmarker(max_people=4, cache_dir=cache_dir))
    finally:
        posemodel.landmarker_class = original  # type: ignore[assignment]
    before = len(os.listdir("/proc/self/task"))
    landmarker = posemodel.create_landmarker(max_people=4, cache_dir=cache_dir)
    assert len(os.listdir("/proc/self/task")) == before  # no graph threads of its own
    own, extra = landmarks(landmarker)
    assert extra == 0
    assert any(own) and own == pooled  # the same calculators: bit-identical landmarks
