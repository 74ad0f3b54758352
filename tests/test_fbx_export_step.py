"""The export step on a job folder: one real Blender start for every track's FBX and the scene FBX, plus BVH
and GLB, read back with ufbx and pygltflib: the video's timeline, one armature per person; bad input."""

from __future__ import annotations

import json
import time
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
from tests import ufbx_scenes
from tests.deepmimic import add_noise, load_track
from tests.test_glb import accessor_data
from tests.ufbx_scenes import ufbx_objects_never_collected  # noqa: F401 (a fixture)

ufbx = pytest.importorskip("ufbx")
pygltflib = pytest.importorskip("pygltflib")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ufbx_objects_never_collected")]
# Track 3 enters at this video frame.
ENTERS = 50


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
    run.frame_idx = run.frame_idx + ENTERS
    run.time = run.frame_idx / run.fps
    job = make_job(tmp_path_factory.mktemp("job"), {1: walk, 3: run}, formats=["fbx", "bvh", "glb"])
    return Finished(job, load_stage("fbx_export")(job))


SCENE_FILES = ["animation_scene.fbx", "animation_scene.glb"]


def test_every_track_and_format_is_written_and_a_scene_file(finished: Finished) -> None:
    names = sorted(path.name for path in finished.job.export_dir.iterdir())
    expected = [f"animation_track{tid}.{extension}" for tid in (1, 3) for extension in ("bvh", "fbx", "glb")]
    assert names == sorted(expected + SCENE_FILES + ["manifest.json"])
    assert sorted(finished.outcome.data["files"]) == sorted(expected + SCENE_FILES)


def test_manifest_lists_tracks_frames_fps_formats_and_the_timeline(finished: Finished) -> None:
    manifest = json.loads((finished.job.export_dir / "manifest.json").read_text())
    assert manifest["formats"] == ["fbx", "bvh", "glb"]
    assert [entry["tid"] for entry in manifest["tracks"]] == [1, 3]
    assert manifest["scene"] == {"files": SCENE_FILES, "armatures": {"track1": 1, "track3": 3}}
    for entry in manifest["tracks"]:
        source = trackfile.load(finished.job.track_path(entry["tid"]))
        assert entry["fps"] == pytest.approx(source.fps)
        assert entry["frames"] == source.frame_count
        assert (entry["first_frame"], entry["last_frame"]) == (source.frame_idx[0], source.frame_idx[-1])
        assert (entry["first_time"], entry["last_time"]) == (source.time[0], source.time[-1])
    late = manifest["tracks"][1]
    assert late["first_frame"] == late["start_frame"] == ENTERS
    assert late["start_time"] == pytest.approx(ENTERS / late["fps"])
    # FBX and GLB keep the video's time; BVH starts at 0, so its offset is the person's first time.
    assert late["time_offset_s"] == {"fbx": 0.0, "bvh": pytest.approx(ENTERS / late["fps"]), "glb": 0.0}


def first_key_times(path: Path) -> list[float]:
    """Every bone's first rotation key time in an FBX file (ufbx)."""
    scene = ufbx_scenes.load(path)
    layers = list(list(scene.anim_stacks)[0].anim.layers)
    times = []
    for node in list(scene.nodes):
        if node.bone is not None:
            prop = ufbx.find_anim_prop(layers[0], node, "Lcl Rotation")
            times.append(list(list(prop.anim_value.curves)[0].keyframes)[0].time)
    return times


def test_a_late_entrant_starts_at_the_time_they_appear_in_fbx_and_glb(finished: Finished) -> None:
    export_dir = finished.job.export_dir
    fps = trackfile.load(finished.job.track_path(3)).fps
    assert first_key_times(export_dir / "animation_track3.fbx") == pytest.approx(
        [ENTERS / fps] * 24, abs=1e-6
    )
    assert set(first_key_times(export_dir / "animation_track1.fbx")) == {0.0}
    gltf = pygltflib.GLTF2().load(str(export_dir / "animation_track3.glb"))
    for sampler in gltf.animations[0].samplers:
        assert accessor_data(gltf, sampler.input)[0, 0] == pytest.approx(ENTERS / fps, abs=1e-5)


def world_positions(path: Path, armature: str, time: float) -> dict[str, np.ndarray]:
    """World position of each bone under `armature` in an FBX file at `time` (ufbx)."""
    scene = ufbx_scenes.load(path)
    stacks = list(scene.anim_stacks)
    evaluated = ufbx_scenes.keep(ufbx.evaluate_scene(scene, stacks[0].anim, time))
    nodes = list(evaluated.nodes)
    by_name = {node.name: node for node in nodes}
    positions = {}
    for node in nodes:
        if node.bone is None:
            continue
        ancestor = node.parent
        while ancestor.bone is not None:
            ancestor = ancestor.parent
        if ancestor.name == armature:
            positions[node.name] = np.array(list(node.node_to_world.c3))
    assert by_name[armature].bone is None
    return positions


def test_scene_fbx_holds_one_armature_per_person_as_in_their_own_files(finished: Finished) -> None:
    export_dir = finished.job.export_dir
    scene = ufbx_scenes.load(export_dir / "animation_scene.fbx")
    tops = [node.name for node in list(scene.nodes) if node.parent is not None and node.parent.is_root]
    assert sorted(tops) == ["track1", "track3"]
    fps = trackfile.load(finished.job.track_path(3)).fps
    shared = (ENTERS + 10) / fps  # both people are in the video then
    for tid in (1, 3):
        alone = world_positions(export_dir / f"animation_track{tid}.fbx", "Armature", shared)
        together = world_positions(export_dir / "animation_scene.fbx", f"track{tid}", shared)
        assert sorted(alone) == sorted(together) and len(alone) == 24
        for name, position in alone.items():
            np.testing.assert_allclose(together[name], position, atol=1e-4)
    # The two are apart in the shared world, as their tracks are.
    assert (
        np.linalg.norm(
            world_positions(export_dir / "animation_scene.fbx", "track1", shared)["pelvis"]
            - world_positions(export_dir / "animation_scene.fbx", "track3", shared)["pelvis"]
        )
        > 0.1
    )


def test_scene_glb_holds_one_skinned_armature_per_person(finished: Finished) -> None:
    gltf = pygltflib.GLTF2().load(str(finished.job.export_dir / "animation_scene.glb"))
    tops = [gltf.nodes[node].name for node in gltf.scenes[gltf.scene].nodes]
    assert tops == ["track1", "track3"]
    assert len(gltf.skins) == 2 and len(gltf.meshes) == 2 and len(gltf.animations) == 1
    fps = trackfile.load(finished.job.track_path(3)).fps
    starts = {
        round(float(accessor_data(gltf, sampler.input)[0, 0]), 4) for sampler in gltf.animations[0].samplers
    }
    assert sorted(starts) == pytest.approx([0.0, ENTERS / fps], abs=1e-4)


def test_report_figures_show_foot_locking(finished: Finished) -> None:
    locking = finished.outcome.data["tracks"]["1"]["foot_locking"]
    assert locking["sliding_after_cm"] < locking["sliding_before_cm"]
    assert locking["below_floor_after"] == 0.0


def test_blender_output_goes_to_the_step_log(finished: Finished) -> None:
    log = finished.job.log_path("fbx_export").read_text()
    assert log.count("wrote ") == 3  # two people's files and the scene, in one Blender start
    assert "2 armature(s)" in log
    progress = json.loads(finished.job.progress_path("fbx_export").read_text())
    assert progress["fraction"] == 1.0


def test_packaging_step_zips_files_and_manifest(finished: Finished) -> None:
    outcome = packaging_step.run(finished.job)
    assert outcome.data["result"] == "animations.zip"
    with zipfile.ZipFile(finished.job.package_dir / "animations.zip") as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert "animation_track3.fbx" in names and "animation_track1.glb" in names
    assert "animation_scene.fbx" in names
    assert len(names) == 9
    assert manifest["tracks"][1]["tid"] == 3


def test_one_track_gets_no_scene_file(tmp_path: Path) -> None:
    job = make_job(tmp_path, {2: load_track("walk")}, formats=["bvh", "glb"])
    outcome = fbx_export.run(job)
    assert outcome.data["files"] == ["animation_track2.bvh", "animation_track2.glb"]
    assert "scene" not in json.loads((job.export_dir / "manifest.json").read_text())


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
    fields = {key: value for key, value in fields.items() if value is not None}  # optional keys left out
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


def test_the_report_is_drawn_while_blender_writes_and_taken_by_packaging(tmp_path: Path) -> None:
    from mocapd.report import assets
    from mocapd.report.layout import plot_name

    job = make_job(tmp_path, {2: load_track("walk")}, formats=["fbx"])
    fbx_export.run(job)
    ahead = job.work_dir / assets.AHEAD_DIR
    assert (ahead / assets.AHEAD_RECORD).is_file() and (ahead / plot_name(2)).is_file()
    report = packaging_step.run(job).data["report"]
    assert report["drawn_during"] == "fbx_export" and not ahead.exists()
    assert report["people"]["2"]["files"] == ["animation.fbx"]
    assert (job.package_dir / report["people"]["2"]["plots"]).is_file()
    # A motion written again since (smoothing run again) is drawn again by the packaging step.
    fbx_export.run(job)
    trackfile.save(load_track("run"), job.track_path(2))
    report = packaging_step.run(job).data["report"]
    assert "drawn_during" not in report and not ahead.exists()
    assert (job.package_dir / report["people"]["2"]["plots"]).is_file()


def test_blender_is_stopped_when_the_work_done_meanwhile_fails(tmp_path: Path) -> None:
    import os

    from mocapd.export.blender import FbxExport, run_blender

    config = Config()
    config.blender.executable = fake_blender(tmp_path, f"echo $$ > {tmp_path / 'pid'}; sleep 60")
    exports = [FbxExport.single(tmp_path / "m.npz", tmp_path / "out.fbx")]

    def failing() -> None:
        for _ in range(200):
            if (tmp_path / "pid").is_file() and (tmp_path / "pid").read_text().strip():
                break
            time.sleep(0.05)
        raise RuntimeError("drawing failed")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="drawing failed"):
        run_blender(config, exports, tmp_path / "request.json", tmp_path / "log", 120.0, meanwhile=failing)
    assert time.monotonic() - started < 30.0
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
