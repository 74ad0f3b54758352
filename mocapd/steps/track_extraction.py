"""Step 3: list the tracks, choose per the job's options, and write one motion file per chosen track."""

from __future__ import annotations

import logging
from typing import Any

from mocapd import trackfile
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.motion import extraction, quality, smplmodel, tracklets

log = logging.getLogger(__name__)
# A chosen track detected in fewer of its frames than this gets a warning in the report.
LOW_DETECTION_SHARE = 0.7


def run(job: Job) -> StepOutcome:
    """Extract the chosen tracks of job.tracklets_path into job.track_path(tid)."""
    if job.video_info is None or not job.video_info.fps:
        raise JobError("the video's frame rate is unknown: the video step did not record it")
    data = tracklets.read(job.tracklets_path, own_folder=job.work_dir)  # a pickle: only the job's own
    summaries = extraction.summarise(data, job.video_info.frame_count)
    selected = extraction.select(summaries, job.options)
    warnings: list[str] = []
    model = None if data.embedded else smplmodel.load_or_explain(job.config.fourdhumans.smpl_model, warnings)
    for stale in job.tracks_dir.glob("track_*.npz"):  # from an earlier attempt with other options
        stale.unlink()
    observed: dict[int, extraction.CameraTrack] = {}
    errors: dict[int, JobError] = {}
    for summary in summaries:
        try:
            observed[summary.tid] = extraction.observe(
                data, summary.tid, job.video_info.fps, model, job.video_info.focal_length_px
            )
        except JobError as error:
            if summary.tid in selected:
                raise
            errors[summary.tid] = error
    # One camera films everyone: its tilt is estimated once from all of them, and every track is
    # levelled by it (MultiPerson cam01-04, 7 tracks: each alone 0.6-9.7 degrees off the calibration,
    # together 2.0-4.6).
    up = extraction.clip_up(list(observed.values())) if len(observed) > 1 else None
    extracted = {tid: extraction.level(track, up) for tid, track in observed.items()}
    tracks: list[dict[str, Any]] = []
    for summary in summaries:
        entry: dict[str, Any] = summary.to_dict() | {"selected": summary.tid in selected, "quality": {}}
        if summary.tid in errors:
            entry["quality"] = {"error": str(errors[summary.tid])}
            tracks.append(entry)
            continue
        track = extracted[summary.tid]
        entry["quality"] = quality.track_quality(track)
        if summary.tid in selected:
            trackfile.save(track.motion, job.track_path(summary.tid))
            warnings.extend(track.warnings)
            share = entry["quality"]["detected_share"]
            if share < LOW_DETECTION_SHARE:
                warnings.append(
                    f"track {summary.tid}: detected in {share:.0%} of its frames; the rest is interpolated"
                )
        tracks.append(entry)
    job.selected_tracks = selected
    log.info("job %d: %d tracks, extracted %s", job.id, len(summaries), selected)
    return StepOutcome(warnings=warnings, data={"tracks": tracks, "selected": selected})
