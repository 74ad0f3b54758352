"""The direction of gravity in the camera frame, estimated from the filmed person (pure numpy).

A tilted camera (a tripod looking down at the actor) makes the actor lean in the camera's axes.
Two cues, both from the joint positions in the camera frame (N, 24, 3):
- the floor: the points where a foot rests (slow frames) lie on the floor plane; its normal is up.
  Only usable when the contacts cover an area (walking around), not a line or a spot.
- balance: a person standing, walking or balancing keeps the body's centre of mass above the foot
  or feet that carry the weight; averaged over the clip, support -> centre of mass is up. This
  holds where the torso-up direction does not (an actor leaning to balance on one leg).
The floor is used when its fit is well conditioned and agrees with balance, else balance; without
enough data, for a person not on their feet (seated), or with an implausible result, the camera is
taken as level and the estimate says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd.rotations import cross_matrix
from mocapd.skeleton import JOINT_INDEX, NUM_JOINTS, forward_kinematics

# The up direction of a level camera in OpenCV axes (y points down in the image).
LEVEL_UP = np.array([0.0, -1.0, 0.0])
# Fewer usable frames than this: too little to say anything about the camera.
MIN_FRAMES = 10
# Frames whose joints are seen with less confidence than this are left out.
MIN_CONFIDENCE = 0.3
# Corrections below this are inside the estimator's noise (about 1 degree on a synthetic walk cut
# mid-stride, several on real clips): the camera is kept level.
MIN_TILT_DEGREES = 2.0
# Beyond this the estimate more likely describes the person (lying, crawling) than the camera.
MAX_TILT_DEGREES = 50.0
# A foot whose speed exceeds the slower foot's by this much (m/s) carries about 1/e of the weight.
SUPPORT_SPEED_SCALE = 0.2
# Balance holds for a person on their feet: at least this share of the usable frames must have a
# leg straight to within STANDING_KNEE_DEGREES (the bearing leg of a stance or a walk); a person
# sitting, crouching or crawling keeps the camera level.
MIN_STANDING_SHARE = 0.5
STANDING_KNEE_DEGREES = 45.0
# Balance: frames whose support -> centre of mass direction is farther than this from the mean
# are misreadings (a walk's stride stays within about 20 degrees); left out over a few rounds.
# Measured on the 8 real Pose2Sim tracks: mean error 6.4 -> 5.2 degrees, the largest 10.6 -> 9.7.
OUTLIER_DEGREES = 30.0
TRIM_ROUNDS = 3
# Floor fit: a foot at rest moves slower than this (m/s) relative to the slower foot of the frame.
CONTACT_SPEED = 0.15
# The contacts must spread at least this far (metres, standard deviation) in both floor directions,
# and the plane's thickness be at most this share of that spread, for the floor fit to be used.
MIN_CONTACT_SPREAD = 0.3
MAX_FLATNESS_RATIO = 0.25
# A floor normal farther than this from the balance estimate is more likely bent by depth noise
# (monocular depth is the weakest axis) than right: balance is kept.
FLOOR_AGREEMENT_DEGREES = 15.0
# Trimming of the plane fit: points farther than this many robust deviations are dropped.
TRIM_DEVIATIONS = 2.5

# Body segments (from joint, to joint) and their share of the body mass (after Dempster's tables,
# rounded): the centre of mass is the mass-weighted mean of the segments' midpoints.
SEGMENT_MASSES: tuple[tuple[str, str, float], ...] = (
    ("pelvis", "neck", 0.50),
    ("neck", "head", 0.08),
    ("left_shoulder", "left_elbow", 0.028),
    ("right_shoulder", "right_elbow", 0.028),
    ("left_elbow", "left_hand", 0.022),
    ("right_elbow", "right_hand", 0.022),
    ("left_hip", "left_knee", 0.10),
    ("right_hip", "right_knee", 0.10),
    ("left_knee", "left_ankle", 0.047),
    ("right_knee", "right_ankle", 0.047),
    ("left_ankle", "left_foot", 0.013),
    ("right_ankle", "right_foot", 0.013),
)
FEET = (
    (JOINT_INDEX["left_ankle"], JOINT_INDEX["left_foot"]),
    (JOINT_INDEX["right_ankle"], JOINT_INDEX["right_foot"]),
)
# Joints whose confidence decides whether a frame is usable for the balance cue.
KEY_JOINTS = tuple(
    JOINT_INDEX[name] for name in ("pelvis", "neck", "left_ankle", "right_ankle", "left_knee", "right_knee")
)


@dataclass
class GravityEstimate:
    """Up in the camera's OpenCV axes (unit), the camera's tilt from level, and how it was found."""

    up: np.ndarray
    tilt_degrees: float
    method: str  # "floor", "balance" or "level"
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        """The figures for a job's report: the tilt levelled out, the method, and why not where level."""
        figures: dict[str, object] = {
            "camera_tilt_deg": round(self.tilt_degrees, 1),
            "level_method": self.method,
        }
        if self.reason:
            figures["level_reason"] = self.reason
        return figures


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def tilt_degrees(up: np.ndarray) -> float:
    """The angle between this up direction (OpenCV axes) and a level camera's."""
    return float(np.degrees(np.arccos(np.clip(_unit(up) @ LEVEL_UP, -1.0, 1.0))))


def level(reason: str) -> GravityEstimate:
    """The level-camera answer, saying why nothing better was possible."""
    return GravityEstimate(LEVEL_UP.copy(), 0.0, "level", reason)


def centre_of_mass(positions: np.ndarray) -> np.ndarray:
    """(N, 3): the body's centre of mass from joint positions (N, 24, 3)."""
    total = np.zeros(positions.shape[:-2] + (3,))
    for start, end, mass in SEGMENT_MASSES:
        total += mass * (positions[..., JOINT_INDEX[start], :] + positions[..., JOINT_INDEX[end], :]) / 2.0
    return total / sum(mass for _, _, mass in SEGMENT_MASSES)


def support_points(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(N, 2, 3): where each foot bears weight, left then right.

    The point on the line heel-to-toe (ankle -> foot joint) that, in the actor's rest pose with
    both feet down, lies below the centre of mass: so that standing still reads exactly upright.
    """
    rest = forward_kinematics(np.tile(np.eye(3), (NUM_JOINTS, 1, 1)), offsets, np.zeros(3))
    ankle_z = np.mean([rest[ankle, 2] for ankle, _ in FEET])
    foot_z = np.mean([rest[foot, 2] for _, foot in FEET])
    share = (centre_of_mass(rest)[2] - ankle_z) / (foot_z - ankle_z) if abs(foot_z - ankle_z) > 1e-6 else 0.0
    return np.stack(
        [positions[:, ankle] + share * (positions[:, foot] - positions[:, ankle]) for ankle, foot in FEET],
        axis=1,
    )


def foot_speeds(points: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(N, 2) speed of each support point (m/s), by central differences."""
    if points.shape[0] < 2:
        return np.zeros(points.shape[:2])
    with np.errstate(divide="ignore", invalid="ignore"):  # a repeated time: not finite, left out
        velocity = np.gradient(points, times, axis=0)
        return np.linalg.norm(velocity, axis=-1)


def standing_share(positions: np.ndarray) -> float:
    """The share of frames (N, 24, 3) with at least one leg nearly straight at the knee."""
    bends = []
    for hip, knee, ankle in (
        ("left_hip", "left_knee", "left_ankle"),
        ("right_hip", "right_knee", "right_ankle"),
    ):
        thigh = _unit(positions[:, JOINT_INDEX[knee]] - positions[:, JOINT_INDEX[hip]])
        shank = _unit(positions[:, JOINT_INDEX[ankle]] - positions[:, JOINT_INDEX[knee]])
        bends.append(np.degrees(np.arccos(np.clip((thigh * shank).sum(axis=-1), -1.0, 1.0))))
    return float(np.mean(np.minimum(*bends) < STANDING_KNEE_DEGREES))


def balance_up(
    positions: np.ndarray, supports: np.ndarray, speeds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Up (unit): the weighted mean direction from the bearing foot (or feet) to the centre of mass.

    The slower foot bears the weight; both when they are equally still (standing). Frames far
    from the mean (a misread foot, a jump) are left out and the mean taken again.
    """
    relative = speeds - speeds.min(axis=1, keepdims=True)
    bearing = np.exp(-relative / SUPPORT_SPEED_SCALE)
    support = (bearing[..., None] * supports).sum(axis=1) / bearing.sum(axis=1)[:, None]
    directions = _unit(centre_of_mass(positions) - support)
    up = _unit((weights[:, None] * directions).sum(axis=0))
    for _ in range(TRIM_ROUNDS):
        kept = directions @ up >= np.cos(np.radians(OUTLIER_DEGREES))
        if weights[kept].sum() <= 0.0:
            break
        up = _unit((weights[kept, None] * directions[kept]).sum(axis=0))
    return up


def floor_normal(contacts: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """The floor's normal through contact points (M, 3), robustly; with the contacts' smaller spread
    along the floor and the plane's thickness (metres). None with too few points."""
    kept = contacts
    for _ in range(3):
        if kept.shape[0] < MIN_FRAMES:
            return None
        centred = kept - kept.mean(axis=0)
        values, vectors = np.linalg.eigh(centred.T @ centred / kept.shape[0])
        normal = vectors[:, 0]
        residual = np.abs((contacts - kept.mean(axis=0)) @ normal)
        deviation = 1.4826 * np.median(residual) + 1e-4
        kept = contacts[residual <= TRIM_DEVIATIONS * deviation]
    spreads = np.sqrt(np.clip(values, 0.0, None))
    return normal, float(spreads[1]), float(spreads[0])


@dataclass
class Person:
    """One person's joints in the camera frame, as `estimate_from_people` takes them."""

    positions: np.ndarray  # (N, 24, 3) OpenCV axes
    confidence: np.ndarray  # (N, 24); 0 for rows that were not measured (they are left out)
    times: np.ndarray  # (N,) seconds
    offsets: np.ndarray  # (24, 3) the actor's bone offsets (for the feet's bearing points)


def estimate_from_people(people: list[Person]) -> GravityEstimate:
    """Up in the camera frame from everyone filmed by one still camera: one floor, one gravity.

    Each person's frames count by their confidence; the floor fit takes every person's contacts,
    so several people walking in different places spread them wider than one alone.
    """
    usable_parts, positions_parts, supports_parts, speeds_parts, weights_parts = [], [], [], [], []
    clear_frames, standing = 0, 0.0
    for person in people:
        usable = (person.confidence[:, KEY_JOINTS].min(axis=1) >= MIN_CONFIDENCE) & np.isfinite(
            person.positions
        ).all(axis=(1, 2))
        clear_frames += int(np.count_nonzero(usable))
        if np.count_nonzero(usable) < MIN_FRAMES:
            continue
        # Balance holds for people on their feet: a seated one says nothing about gravity.
        share = standing_share(person.positions[usable])
        standing = max(standing, share)
        if share < MIN_STANDING_SHARE:
            continue
        supports = support_points(person.positions, person.offsets)
        usable_parts.append(usable)
        positions_parts.append(person.positions)
        supports_parts.append(supports)
        speeds_parts.append(foot_speeds(supports, person.times))
        weights_parts.append(person.confidence[:, KEY_JOINTS].min(axis=1))
    if clear_frames < MIN_FRAMES:
        return level(f"only {clear_frames} frames seen clearly enough to find the floor")
    if not usable_parts:
        return level(
            f"the person stands on a straight leg in only {standing:.0%} of the frames (sitting, crouching?)"
        )
    usable = np.concatenate(usable_parts)
    positions = np.concatenate(positions_parts)
    supports, speeds = np.concatenate(supports_parts), np.concatenate(speeds_parts)
    usable &= np.isfinite(speeds).all(axis=1)
    weights = np.concatenate(weights_parts) * usable
    up = balance_up(positions[usable], supports[usable], speeds[usable], weights[usable])
    method = "balance"
    slow = (speeds - speeds.min(axis=1, keepdims=True) < CONTACT_SPEED) & usable[:, None]
    fit = floor_normal(supports[slow])
    if fit is not None:
        normal, spread, thickness = fit
        normal = normal if normal @ up > 0 else -normal  # the head's side of the floor
        agrees = normal @ up >= np.cos(np.radians(FLOOR_AGREEMENT_DEGREES))
        if spread >= MIN_CONTACT_SPREAD and thickness <= MAX_FLATNESS_RATIO * spread and agrees:
            up, method = normal, "floor"
    if not np.isfinite(up).all():
        return level("the frame times do not allow foot speeds")
    tilt = tilt_degrees(up)
    if tilt > MAX_TILT_DEGREES:
        return level(
            f"the {method} estimate tilts {tilt:.0f} degrees, more than the {MAX_TILT_DEGREES:.0f} trusted"
        )
    if tilt < MIN_TILT_DEGREES:
        return level(f"the {method} estimate is within {MIN_TILT_DEGREES:g} degrees of level")
    return GravityEstimate(up, tilt, method)


def leveling_rotation(up: np.ndarray) -> np.ndarray:
    """(3, 3) the smallest rotation of the camera frame that turns `up` onto a level camera's up."""
    source, target = _unit(np.asarray(up, dtype=np.float64)), LEVEL_UP
    axis = np.cross(source, target)
    cosine = float(source @ target)
    if np.linalg.norm(axis) < 1e-12:
        return np.eye(3) if cosine > 0 else np.diag([1.0, -1.0, -1.0])
    skew = cross_matrix(axis)
    return np.eye(3) + skew + skew @ skew / (1.0 + cosine)
