"""The jitter of the embedded pose model, as a noise model to add to real motion (tests and bench).

bench/bench_smoothing.py re-measures the figures below. Held-out split of the DeepMimic clips
(tests/deepmimic.py): the smoother's constants were tuned on TUNING_CLIPS (walk, run) only; every
other clip is held out from tuning and used for the assertions.
"""

from __future__ import annotations

import numpy as np

from mocapd.rotations import axis_angle_to_matrix
from mocapd.skeleton import NUM_JOINTS
from mocapd.trackfile import TrackMotion

TUNING_CLIPS = ("walk", "run")
HELD_OUT_CLIPS = (
    "backflip",
    "cartwheel",
    "crawl",
    "dance_a",
    "getup_facedown",
    "jump",
    "kick",
    "punch",
    "roll",
    "spin",
)

# Jitter of the embedded pose model on the stillest 30 frames (32-62, 60 fps) of
# tests/data/pose2sim/SinglePerson/videos/cam01.mp4, measured twice (bench/bench_smoothing.py):
# - mediapipe 0.10.21 legacy Pose (model_complexity=1, landmark smoothing off): bone directions shake by
#   0.66-1.29 degrees per axis (about 1.0), from the second difference of each bone's direction;
# - mocapd's own tracks (tracking + track_extraction steps, embedded backend): joint rotations relative
#   to their parent shake by 1.1 degrees per axis (median; 0.2-2.7 by joint). The other three views of
#   the same moment show 1.1-1.7 (cam03, cam04) and 8.2 (cam02, a harder view). We model the quieter
#   views: less noise makes an 80 % reduction harder, since the smoother's own error stays the same.
JOINT_NOISE_DEG = 1.5
# Occluded or fast frames: the model's visibility drops and its error grows; 5 % of frames per joint.
OUTLIER_SHARE = 0.05
OUTLIER_FACTOR = 4.0
OUTLIER_CONFIDENCE = 0.2
# Root path noise (metres per frame; sideways, up, depth) of mocapd's own track on the same frames.
ROOT_NOISE_M = np.array([0.008, 0.0025, 0.024])


def add_jitter(motion: TrackMotion, seed: int = 0, scale: float = 1.0) -> TrackMotion:
    """A copy of `motion` with the pose model's jitter: per-joint rotation noise, outliers, root noise."""
    generator = np.random.default_rng(seed)
    count = motion.frame_count
    sigma = np.full((count, NUM_JOINTS), np.radians(JOINT_NOISE_DEG) * scale)
    outliers = generator.random((count, NUM_JOINTS)) < OUTLIER_SHARE
    sigma[outliers] *= OUTLIER_FACTOR
    confidence = generator.uniform(0.7, 1.0, (count, NUM_JOINTS))
    confidence[outliers] = OUTLIER_CONFIDENCE
    noise = axis_angle_to_matrix(generator.normal(size=(count, NUM_JOINTS, 3)) * sigma[..., None])
    local = motion.local_rotations() @ noise
    trans = motion.trans + generator.normal(size=(count, 3)) * ROOT_NOISE_M * scale
    return TrackMotion(
        tid=motion.tid,
        fps=motion.fps,
        frame_idx=motion.frame_idx.copy(),
        time=motion.time.copy(),
        R_root=local[:, 0],
        R_body=local[:, 1:],
        camera=motion.camera + (trans - motion.trans),
        betas=motion.betas.copy(),
        trans=trans,
        offsets=motion.offsets.copy(),
        confidence=confidence,
    )
