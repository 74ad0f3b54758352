"""The export step on a job folder: one real Blender start for every track's FBX, plus BVH and GLB; bad input."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mocapd import trackfile
from mocapd.config import Config
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.options import JobOptions
from mocapd.steps import fbx_export, load_stage
from mocapd.steps import packaging as packaging_step
from tests.deepmimic import add_noise, load_track

pytestmark = pytest.mark.slow


def make_job(work_dir: Path, tracks: dict[int, trackfile.TrackMotion], **options: object) -> Job:
    """A job folder holding the given track files."""
    job = Job(
        id=1,
        name="clip",
        work_dir=work_dir,
        source_name="clip.mp4",
        options=JobOptions(**options),  # type: ignore[arg-type]
        config=Config(),
        selected_tracks=sorted(tracks),
    )
    for tid, track in tracks.items():
        track.tid = tid
        trackfile.save(track, job.track_path(tid))
    return job


def fake_blender(directory: Path, body: str) -> str:
    """A test-only stand-in for a Blender executable that misbehaves as `body` says."""
    path = directory / "blender"
    path.write_text(f"#!/bin/sh\necho 'Blender 4.0 (fake)'\n{body}\n")
    path.chmod(0o755)
    return str(path)


@dataclass
class Finished:
    job: Job
    outcome: StepOutcome


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    walk = load_track("walk", cycles=2)
    add_noise(walk)
    run = load_track("run", cycles=2)
    job = make_job(tmp_path_factory.mktemp("job"), {1: walk, 3: run}, formats=["fbx", "bvh", "glb"], fps=25.0)
    return Finished(job, load_stage("fbx_export")(job))


def test_every_track_and_format_is_written(finished: Finished) -> None:
    names = sorted(path.name for path in finished.job.export_dir.iterdir())
    expected = [f"animation_track{tid}.{extension}" for tid in (1, 3) for extension in ("bvh", "fbx", "glb")]
    assert names == sorted(expected + ["manifest.json"])
    assert sorted(finished.outcome.data["files"]) == sorted(expected)


def test_manifest_lists_tracks_frames_fps_and_formats(finished: Finished) -> None:
    manifest = json.loads((finished.job.export_dir / "manifest.json").read_text())
    assert manifest["formats"] == ["fbx", "bvh", "glb"]
    assert [entry["tid"] for entry in manifest["tracks"]] == [1, 3]
    for entry in manifest["tracks"]:
        assert entry["fps"] == 25.0
        source = trackfile.load(finished.job.track_path(entry["tid"]))
        # Resampled from 30 to 25 fps over the same duration.
        assert entry["frames"] == int(np.floor((source.time[-1] - source.time[0]) * 25.0 + 1e-6)) + 1


def test_report_figures_show_foot_locking(finished: Finished) -> None:
    locking = finished.outcome.data["tracks"]["1"]["foot_locking"]
    assert locking["sliding_after_cm"] < locking["sliding_before_cm"]
    assert locking["below_floor_after"] == 0.0


def test_blender_output_goes_to_the_step_log(finished: Finished) -> None:
    log = finished.job.log_path("fbx_export").read_text()
    assert log.count("wrote ") == 2
    progress = json.loads(finished.job.progress_path("fbx_export").read_text())
    assert progress["fraction"] == 1.0


def test_packaging_step_zips_files_and_manifest(finished: Finished) -> None:
    outcome = packaging_step.run(finished.job)
    assert outcome.data["result"] == "animations.zip"
    with zipfile.ZipFile(finished.job.package_dir / "animations.zip") as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert "animation_track3.fbx" in names and "animation_track1.glb" in names
    assert len(names) == 7
    assert manifest["tracks"][1]["tid"] == 3


def test_missing_blender_fails_with_its_reason(tmp_path: Path) -> None:
    job = make_job(tmp_path, {1: load_track("walk")})
    job.config.blender.executable = str(tmp_path / "no-such-blender")
    with pytest.raises(JobError, match="Blender not found: install"):
        fbx_export.run(job)


def test_bvh_only_needs_no_blender(tmp_path: Path) -> None:
    job = make_job(tmp_path, {2: load_track("walk")}, formats=["bvh"])
    job.config.blender.executable = str(tmp_path / "no-such-blender")
    outcome = fbx_export.run(job)
    assert outcome.data["files"] == ["animation_track2.bvh"]


def write_raw_track(job: Job, tid: int, motion: trackfile.TrackMotion) -> None:
    """Write a track file without the checks trackfile.save makes, as a buggy producer might."""
    job.tracks_dir.mkdir(parents=True, exist_ok=True)
    fields = {key: getattr(motion, key) for key in trackfile.TrackMotion.__dataclass_fields__}
    np.savez(job.track_path(tid), version=np.int64(trackfile.FORMAT_VERSION), **fields)


def test_track_with_nans_fails_with_its_reason(tmp_path: Path) -> None:
    job = make_job(tmp_path, {})
    job.selected_tracks = [4]
    motion = load_track("walk")
    motion.R_body[5, 3, 0, 0] = np.nan
    write_raw_track(job, 4, motion)
    with pytest.raises(JobError, match="'R_body' contains NaN"):
        fbx_export.run(job)


def test_track_without_frames_fails_with_its_reason(tmp_path: Path) -> None:
    job = make_job(tmp_path, {})
    job.selected_tracks = [4]
    motion = load_track("walk")
    for key in ("frame_idx", "time", "R_root", "R_body", "camera", "betas", "trans", "confidence"):
        setattr(motion, key, getattr(motion, key)[:0])
    write_raw_track(job, 4, motion)
    with pytest.raises(JobError, match="no frames"):
        fbx_export.run(job)


def test_no_selected_track_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="no track"):
        fbx_export.run(make_job(tmp_path, {}))


@pytest.mark.parametrize(
    ("body", "reason"),
    [("echo 'Error: EXCEPTION_ACCESS_VIOLATION' >&2; exit 3", "exit code 3"), ("kill -SEGV $$", "SIGSEGV")],
)
def test_a_blender_crash_fails_the_step_with_its_output(tmp_path: Path, body: str, reason: str) -> None:
    job = make_job(tmp_path, {1: load_track("walk")})
    job.config.blender.executable = fake_blender(tmp_path, body)
    with pytest.raises(JobError, match=reason) as raised:
        fbx_export.run(job)
    if "exit" in reason:
        assert "EXCEPTION_ACCESS_VIOLATION" in str(raised.value)  # the log's tail is in the message
    assert "Blender 4.0 (fake)" in job.log_path("fbx_export").read_text()
    assert not (job.export_dir / "animation_track1.fbx").exists()
