"""Each exported person's motion as the preview and the plots draw it: the file's joints in the world."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton, trackfile
from mocapd.export import footlock
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.job import Job
from mocapd.motion.visualization import colour


@dataclass
class PersonMotion:
    """One exported person: the written motion's joints (N, 24, 3) at times t0 + k / fps, and more."""

    tid: int
    colour: tuple[int, int, int]  # RGB
    fps: float
    start: float  # seconds: the video time of the first row
    positions: np.ndarray  # (N, 24, 3) world, metres: what the animation file holds (root motion kept)
    contacts: np.ndarray  # (N, 2) bool, left and right foot on the floor
    raw: trackfile.TrackMotion  # the extracted track (before smoothing)
    smoothed: trackfile.TrackMotion  # the motion the exporter read
    world_from_camera: np.ndarray | None  # (4, 4); None for a track file without it

    @property
    def frame_count(self) -> int:
        return int(self.positions.shape[0])

    @property
    def times(self) -> np.ndarray:
        return self.start + np.arange(self.frame_count) / self.fps

    def row_at(self, time: float) -> int | None:
        """The motion row shown at video time `time`, None outside the person's span."""
        row = int(round((time - self.start) * self.fps))
        return row if 0 <= row < self.frame_count else None


def load(job: Job, tid: int) -> PersonMotion:
    """The person's motion prepared as the export step writes it (foot locking, preset), at the track's rate.

    Root motion is kept even where the job turns it off, so the skeleton stands where the person stood;
    the rest (T) pose frame is left out, so rows follow the video."""
    raw = trackfile.load(job.track_path(tid))
    smoothed = trackfile.load(job.motion_path(tid))
    options = job.options
    settings = PrepareSettings(
        # At the track's own rate (the preview shows at most 30 fps): no resampling to the file's rate.
        fps=min(options.fps or smoothed.fps, smoothed.fps),
        preset=options.skeleton_preset,
        with_root_motion=True,
        foot_locking=options.foot_locking,
        tpose_frame=False,
    )
    written = prepare(smoothed, settings).motion
    positions = skeleton.positions_from_local(written.rotations, smoothed.offsets, written.root_positions)
    contacts = footlock.detect_contacts(footlock.foot_points(positions), written.fps)
    return PersonMotion(
        tid=tid,
        colour=colour(tid),
        fps=written.fps,
        start=float(smoothed.time[0]),
        positions=positions,
        contacts=contacts,
        raw=raw,
        smoothed=smoothed,
        world_from_camera=smoothed.world_from_camera,
    )
