"""The track-extraction step on a job folder holding PHALP-layout tracklets."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd import trackfile
from mocapd.errors import JobError
from mocapd.job import Job
from mocapd.options import JobOptions
from mocapd.steps import track_extraction
from tests.fake_4dhumans.layout import LayoutBuilder, Person, camera_from_world
from tests.jobs import folder_job

FRAMES = 60


def write_two_people(job: Job) -> None:
    """Track 1: frames 0..59 with a gap of ghosts; track 2: a short track (frames 30..39)."""
    builder = LayoutBuilder(FRAMES)
    for frame in range(FRAMES):
        ghost = 40 <= frame < 50
        builder.add(
            frame, Person(tid=1, tracked_time=int(ghost), camera=camera_from_world([0.01 * frame, 0, -7]))
        )
        if 30 <= frame < 40:
            builder.add(frame, Person(tid=2, camera=camera_from_world([-1.0, 0.0, -9.0])))
    joblib.dump(builder.build(), job.tracklets_path, compress=3)


def test_auto_extracts_the_longest_track_and_reports_every_track(tmp_path: Path) -> None:
    job = folder_job(tmp_path, FRAMES)
    write_two_people(job)
    outcome = track_extraction.run(job)
    tracks = {entry["tid"]: entry for entry in outcome.data["tracks"]}
    assert outcome.data["selected"] == [1] and job.selected_tracks == [1]
    assert tracks[1]["frames"] == 50 and tracks[1]["share"] == round(50 / 60, 4) and tracks[1]["selected"]
    assert (tracks[2]["first_frame"], tracks[2]["last_frame"], tracks[2]["selected"]) == (30, 39, False)
    assert tracks[1]["quality"]["interpolated_frames"] == 10
    assert set(tracks[2]["quality"]) >= {
        "detected_share",
        "jitter_m_s2",
        "frames_out_of_image",
        "bone_length_cv",
    }
    motion = trackfile.load(job.track_path(1))
    assert motion.fps == 30.0 and motion.frame_count == 60 and not job.track_path(2).exists()
    assert np.allclose(motion.confidence[40:50], 0.0)


def test_all_mode_keeps_tracks_above_the_minimum_and_clears_stale_files(tmp_path: Path) -> None:
    job = folder_job(tmp_path, FRAMES, track_mode="all", min_track_frames=10)
    write_two_people(job)
    job.tracks_dir.mkdir()
    job.track_path(9).write_bytes(b"from an earlier attempt")
    outcome = track_extraction.run(job)
    assert outcome.data["selected"] == [1, 2]
    assert sorted(path.name for path in job.tracks_dir.iterdir()) == ["track_1.npz", "track_2.npz"]
    assert outcome.warnings == []


def test_a_chosen_track_id_and_an_unknown_one(tmp_path: Path) -> None:
    job = folder_job(tmp_path, FRAMES, track_id=2)
    write_two_people(job)
    assert track_extraction.run(job).data["selected"] == [2]
    job.options = JobOptions(track_id=5)
    with pytest.raises(JobError, match="track_id 5 is not in this video; known tracks: 1, 2"):
        track_extraction.run(job)


def test_no_person_and_an_unreadable_smpl_model(tmp_path: Path) -> None:
    job = folder_job(tmp_path, FRAMES)
    joblib.dump(LayoutBuilder(10).build(), job.tracklets_path)
    with pytest.raises(JobError, match="no person found"):
        track_extraction.run(job)
    write_two_people(job)
    job.config.fourdhumans.smpl_model = str(tmp_path / "missing.pkl")
    outcome = track_extraction.run(job)
    assert any("fourdhumans.smpl_model: cannot read" in warning for warning in outcome.warnings)


def write_embedded_pair(job: Job) -> None:
    """The solver clips' walk as the embedded backend writes it (track 1), and a second person beside
    them in 12 of its frames (track 2)."""
    from tests.solver_clips import embedded_file

    raw = embedded_file(45)
    for frame in list(raw.values())[10:22]:
        for values in frame.values():
            if isinstance(values, list) and values:
                values.append(values[0].copy() if hasattr(values[0], "copy") else values[0])
        frame["tid"][1] = 2
        frame["tracked_ids"][1] = 2
        frame["landmarks_image"][1] = frame["landmarks_image"][1] + np.float32(500.0)
    joblib.dump(raw, job.tracklets_path)


def test_only_the_exported_embedded_tracks_go_through_the_solver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mocapd.motion import extraction

    solved: list[int] = []
    original = extraction.solved_track

    def spy(track: extraction.CameraTrack, *arguments: object, **keywords: object) -> extraction.CameraTrack:
        solved.append(track.tid)
        return original(track, *arguments, **keywords)  # type: ignore[arg-type]

    monkeypatch.setattr(extraction, "solved_track", spy)
    job = folder_job(tmp_path, 45)
    write_embedded_pair(job)
    outcome = track_extraction.run(job)
    tracks = {entry["tid"]: entry for entry in outcome.data["tracks"]}
    assert outcome.data["selected"] == [1] and sorted(tracks) == [1, 2]
    assert solved == [1]
    assert "reprojection_error_px" in tracks[1]["quality"]
    assert "reprojection_error_px" not in tracks[2]["quality"] and "bone_length_cv" in tracks[2]["quality"]
    # Chosen, the second person is solved as well.
    solved.clear()
    job.options = JobOptions(track_mode="all", min_track_frames=10)
    assert track_extraction.run(job).data["selected"] == [1, 2]
    assert sorted(solved) == [1, 2]
