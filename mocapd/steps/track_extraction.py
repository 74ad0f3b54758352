"""Step 3: join the tracker's fragments into people, choose per the job's options, and write one
motion file per chosen person, every one in the clip's one world."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from mocapd import trackfile
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.motion import (
    association,
    extraction,
    occlusion,
    quality,
    sharedfloor,
    smplmodel,
    tracklets,
    verticals,
)

log = logging.getLogger(__name__)
# A chosen track detected in fewer of its frames than this gets a warning in the report.
LOW_DETECTION_SHARE = 0.7


def gaps(frame_idx: np.ndarray, measured: np.ndarray) -> list[list[int]]:
    """[first, last] video frames of each run of rows without a measurement (filled by interpolation)."""
    result: list[list[int]] = []
    for row in np.flatnonzero(~measured):
        if result and result[-1][2] == row - 1:
            result[-1][1:] = [int(frame_idx[row]), int(row)]
        else:
            result.append([int(frame_idx[row]), int(frame_idx[row]), int(row)])
    return [run[:2] for run in result]


def left_out_reason(summary: extraction.TrackSummary, selected: list[int], job: Job) -> str | None:
    """Why a person is not exported; None for the exported ones."""
    if summary.tid in selected:
        return None
    if summary.frames < job.options.min_track_frames:
        return (
            f"detected in {summary.frames} frames, fewer than min_track_frames "
            f"({job.options.min_track_frames}): too short to tell from a false detection"
        )
    if job.options.track_mode == "all":
        return "not chosen"
    return f"track_mode {job.options.track_mode}: only {'track_id' if job.options.track_id else 'the main person'}"


def run(job: Job) -> StepOutcome:
    """Extract the chosen people of job.tracklets_path into job.track_path(pid)."""
    if job.video_info is None or not job.video_info.fps:
        raise JobError("the video's frame rate is unknown: the video step did not record it")
    fps = job.video_info.fps
    raw = tracklets.read(job.tracklets_path, own_folder=job.work_dir)  # a pickle: only the job's own
    people = association.associate(raw, fps)
    data = association.relabel(raw, people)
    summaries = extraction.summarise(data, job.video_info.frame_count)
    selected = extraction.select(summaries, job.options)
    warnings: list[str] = []
    short = [tid for tid in selected if extraction_frames(summaries, tid) < job.options.min_track_frames]
    if short and job.options.track_id is None:
        longest = summaries[0]
        raise JobError(
            f"only fragments shorter than min_track_frames ({job.options.min_track_frames}) were found: "
            f"the longest, person {longest.tid}, is detected in {longest.frames} frames; nothing exported"
        )
    if short:
        warnings.append(
            f"track {short[0]} is detected in only {extraction_frames(summaries, short[0])} frames "
            f"(min_track_frames {job.options.min_track_frames}): exported as asked, it may be noise"
        )
    model = None if data.embedded else smplmodel.load_or_explain(job.config.fourdhumans.smpl_model, warnings)
    for stale in job.tracks_dir.glob("track_*.npz"):  # from an earlier attempt with other options
        stale.unlink()
    focal = job.video_info.focal_length_px
    # One world: anchored on the main actor (the chosen person detected in most frames), so that
    # everyone keeps their place and heading relative to them (docs/export.md).
    main = next(summary.tid for summary in summaries if summary.tid in selected)
    per_frame = per_frame_tracks(job, data, model, [summary.tid for summary in summaries])
    data, per_frame, masks = behind_others(job, data, model, per_frame)
    scene = scene_up(job, data, list(per_frame.values()))
    observed: dict[int, extraction.CameraTrack] = {}
    errors: dict[int, JobError] = {}
    for summary in summaries:
        try:
            observed[summary.tid] = extraction.observe(
                data,
                summary.tid,
                fps,
                model,
                focal,
                solve=solves(data, summary.tid, selected),
                up=scene.up if scene.trusted else None,
                track=per_frame.get(summary.tid),
            )
        except JobError as error:
            if summary.tid in selected:
                raise
            errors[summary.tid] = error
    # One camera films everyone: its tilt is estimated once from all of them, and every track is
    # levelled by it (MultiPerson cam01-04, 7 tracks: each alone 0.6-9.7 degrees off the calibration,
    # together 2.0-4.6); the scene's vertical edges, where trusted, are better still (0.2-0.7 on 7 of
    # the 8 Pose2Sim views) and the solver was given them.
    up = extraction.clip_up(list(observed.values())) if len(observed) > 1 else None
    if up is None:
        up = extraction.level(observed[main]).camera_tilt
    up = verticals.fused(scene, up)
    # One floor under everyone: each chosen person's monocular size (and so depth) set by it.
    floor = sharedfloor.estimate([observed[tid] for tid in selected if tid in observed], up.up)
    observed = {tid: sharedfloor.scaled(track, floor.scales.get(tid, 1.0)) for tid, track in observed.items()}
    world = extraction.clip_world(observed[main], up)
    extracted = {tid: extraction.level(track, up, world) for tid, track in observed.items()}
    fragments_of = {person.pid: person for person in people.people}
    tracks: list[dict[str, Any]] = []
    for summary in summaries:
        entry: dict[str, Any] = summary.to_dict() | {"selected": summary.tid in selected, "quality": {}}
        person = fragments_of.get(summary.tid)
        facts: dict[str, Any] = {
            "first_frame": summary.first_frame,
            "last_frame": summary.last_frame,
            "fragments": person.fragments if person is not None else [summary.tid],
        }
        if person is not None and person.joins:
            facts["joins"] = [join.to_dict() for join in person.joins]
        reason = left_out_reason(summary, selected, job)
        if reason is not None:
            facts["left_out"] = reason
        if summary.tid in errors:
            entry["quality"] = facts | {
                "error": str(errors[summary.tid]),
                "left_out": str(errors[summary.tid]),
            }
            tracks.append(entry)
            continue
        track = extracted[summary.tid]
        motion = track.motion
        facts |= {
            "first_time_s": round(float(motion.time[0]), 4),
            "last_time_s": round(float(motion.time[-1]), 4),
            # Rows of the motion file, and the video frames it spans (what the export writes at the video's rate).
            "motion_frames": motion.frame_count,
            "video_frames": int(motion.frame_idx[-1] - motion.frame_idx[0]) + int(round(fps / motion.fps)),
            "gaps": gaps(motion.frame_idx, track.measured),
            "start_position_m": [round(float(value), 3) for value in motion.trans[0]],
        }
        entry["first_time"], entry["last_time"] = facts["first_time_s"], facts["last_time_s"]
        entry["quality"] = facts | quality.track_quality(track)
        if summary.tid in selected:
            trackfile.save(motion, job.track_path(summary.tid))
            warnings.extend(track.warnings)
            share = entry["quality"]["detected_share"]
            if share < LOW_DETECTION_SHARE:
                warnings.append(
                    f"track {summary.tid}: detected in {share:.0%} of its frames; the rest is interpolated"
                )
        tracks.append(entry)
    job.selected_tracks = selected
    log.info("job %d: %d people, extracted %s", job.id, len(summaries), selected)
    return StepOutcome(
        warnings=warnings,
        data={
            "tracks": tracks,
            "selected": selected,
            "world": {"anchor_track": main} | world.to_dict() | {"floor": floor.to_dict()},
            "swaps_split": people.splits,
            # Detections behind a nearer person (mocapd.motion.occlusion), per track.
            "behind_others": occlusion.figures(masks),
            # Detections that did not fit their track, read as not measured: [frame, tracker's tid].
            "strays": [list(stray) for stray in people.strays],
        },
    )


def solves(data: tracklets.Tracklets, tid: int, selected: list[int]) -> bool:
    """Whether track `tid` goes through the clip-level solver: every 4D-Humans track (its solved root
    path is what the camera's up is estimated from), only the exported embedded ones (the up is
    estimated from the per-frame fit either way, so a track left out needs none of the solver)."""
    return tid in selected or not data.embedded


def per_frame_tracks(
    job: Job, data: tracklets.Tracklets, model: smplmodel.SmplModel | None, tids: list[int]
) -> dict[int, extraction.CameraTrack]:
    """Each track as the tracker fitted it (extraction.camera_track), computed once for the scene's up
    and the solver; a track it refuses is left out (its error is reported with the track)."""
    assert job.video_info is not None
    tracks = {}
    for tid in tids:
        try:
            tracks[tid] = extraction.camera_track(
                data, tid, job.video_info.fps, model, job.video_info.focal_length_px
            )
        except JobError:
            continue
    return tracks


def behind_others(
    job: Job,
    data: tracklets.Tracklets,
    model: smplmodel.SmplModel | None,
    per_frame: dict[int, extraction.CameraTrack],
) -> tuple[tracklets.Tracklets, dict[int, extraction.CameraTrack], dict[tuple[int, int], np.ndarray]]:
    """The tracklets with the landmarks behind a nearer person read as unseen (mocapd.motion.occlusion),
    the per-frame tracks of them (those of the people hidden computed again) and the landmarks hidden.
    The camera's up is still read from the people as the tracker fitted them (their tilt_person): the
    gravity cue was measured so, and reading it from the lowered confidences moved it (MultiPerson
    cam02, the people's cue fused: 0.96 -> 1.39 degrees off the calibration)."""
    masks = occlusion.hidden(data, per_frame)
    if not masks:
        return data, per_frame, masks
    data = occlusion.lowered(data, masks)
    again = per_frame_tracks(job, data, model, sorted({tid for _, tid in masks}))
    again = {tid: replace(track, tilt_person=per_frame[tid].person()) for tid, track in again.items()}
    return data, per_frame | again, masks


def scene_up(job: Job, data: tracklets.Tracklets, tracks: list[extraction.CameraTrack]) -> verticals.SceneUp:
    """The camera's up from the scene's vertical edges (mocapd.motion.verticals), looked for near the
    people's (the tracker's own fit, before the solver, which is then given the scene's where trusted)."""
    assert job.video_info is not None
    if not job.video_path.is_file():
        return verticals.SceneUp(None, "the video is not there to read")
    if not tracks:
        return verticals.SceneUp(None, "no track to look near")
    prior = extraction.clip_up(tracks)
    try:
        scene = verticals.from_video(
            job.video_path, data, prior.up, job.video_info.focal_length_px, job.video_info.rotation
        )
    except (JobError, cv2.error) as error:  # the scene is a refinement: without it, the person's cue
        return verticals.SceneUp(None, f"the video's frames could not be read: {error}")
    log.info("job %d: scene verticals %s %s", job.id, scene.figures, scene.reason or "trusted")
    return scene


def extraction_frames(summaries: list[extraction.TrackSummary], tid: int) -> int:
    return next(summary.frames for summary in summaries if summary.tid == tid)
