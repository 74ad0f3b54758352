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

# Jitter of the embedded pose model (mediapipe 0.10.21 legacy Pose, model_complexity=1, landmark
# smoothing off) on the stillest 30 frames of tests/data/pose2sim/SinglePerson/videos/cam01.mp4
# (frames 32-62, 60 fps): bone directions shake by 0.66-1.62 degrees per axis, about 1.0 on average,
# from the second difference of each bone's direction. A joint's rotation relative to its parent
# combines two bones: sqrt(2) x 1.0, rounded up to 1.5 degrees per axis.
JOINT_NOISE_DEG = 1.5
# Occluded or fast frames: the model's visibility drops and its error grows; 5 % of frames per joint.
OUTLIER_SHARE = 0.05
OUTLIER_FACTOR = 4.0
OUTLIER_CONFIDENCE = 0.2
# Root path noise (metres, per frame, x y depth): the hip midpoint's image position shakes by 0.9 px
# (second difference, same clip and model) on a body 556 px tall, about 2.6 mm; depth is not seen by
# one camera and is assumed 4 times worse.
ROOT_NOISE_M = np.array([0.003, 0.003, 0.010])


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
