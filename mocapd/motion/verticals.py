"""The camera's up from the scene: the vertical edges of walls, doors and furniture meet at the
vertical vanishing point, whose direction from the camera is up (OpenCV's line detector, numpy).

Each image segment and the lens give the plane through the camera centre that holds the 3D edge;
up lies in the plane of every vertical edge. Segments on the tracked people are left out, and with
several sampled frames only those seen again at the same place (a still camera's scene, not a
moving arm or a swaying curtain). Up is found by RANSAC among pairs of segments near the person's
estimate (mocapd.motion.gravity), then refined on the inliers, after leaving out the edges of
horizontal bundles (a floor's parallel edges that look vertical in the image); it is trusted only
with enough inliers, spread across the image, near the person's estimate and found again with any
one sampled frame left out; else the person's estimate is kept, saying why. The lens is taken as
the default pinhole (no distortion, the principal point at the centre): nothing in a video says
better. Measured on the 8 Pose2Sim views: bench/bench_gravity.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mocapd import decode
from mocapd.motion import gravity, landmarks, rootmotion
from mocapd.motion.ik import unit
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.tracklets import Tracklets

# Segments shorter than this share of the image's longest side are mostly texture and noise.
MIN_LENGTH_SHARE = 0.04
# Vertical edges of a camera tilted up to gravity.MAX_TILT_DEGREES lean less than this in the image
# near its middle (the roll of a hand-held camera included); the rest are other directions.
MAX_SLANT_DEGREES = 40.0
# A segment within this many pixels of the left or right border is the frame's own edge (letterbox,
# a crop's dark column), not the scene's.
BORDER_PX = 3.0
# A person's edges lie within this share of their height (their box's) of the bones between their
# image landmarks (half a limb's width, the landmarks' error, loose clothes); without landmarks the
# box is the person. A segment with this share of its length on a person is theirs; a wall's edge
# passing behind a head keeps most of its length.
BODY_RADIUS_SHARE = 0.05
ON_PERSON_SHARE = 0.3
SEGMENT_SAMPLES = 9
# The image landmarks' bones: the skeleton's (landmarks.BONE_INDICES) and the torso's diagonals and the
# head's, so that the whole body's outline is covered.
BODY_BONES = landmarks.BONE_INDICES + tuple(
    (MEDIAPIPE_INDEX[first], MEDIAPIPE_INDEX[second])
    for first, second in (
        ("left_shoulder", "right_hip"),
        ("right_shoulder", "left_hip"),
        ("left_ear", "right_ear"),
        ("nose", "left_shoulder"),
        ("nose", "right_shoulder"),
    )
)
BODY_BONE_PAIRS = np.array(BODY_BONES)
# A segment is static where another sampled frame has one along the same line: at most this far
# (px, its midpoint from the other's line) and this different in direction, overlapping it.
STATIC_PX = 2.0
STATIC_DEGREES = 1.5
# ... in at least this share of the other sampled frames.
STATIC_SHARE = 0.5
# Up is looked for within this angle of the person's estimate (which is 0.6-8.5 degrees off on the
# real clips); the scene's other directions (a floor's edges toward the horizon) lie farther.
PRIOR_WINDOW_DEGREES = 20.0
# A segment is an inlier when up lies within this angle of its plane; residuals count up to it
# (MSAC), so that a direction between the true verticals and a second bundle scores worse than the
# verticals alone.
INLIER_DEGREES = 1.0
RANSAC_ROUNDS = 500
# Horizontal bundles (horizontal_bundle) looked for and left out, of at least this many lines per
# frame (MultiPerson cam02: the force plate's edges and rails; 4.6 -> 2.6 degrees off).
BUNDLES = 2
MIN_BUNDLE = 3
REFINE_ROUNDS = 3
# Trust: at least this many inlier segments (counted once per sampled frame), making up this share
# of the near-vertical segments' length, ... On the Pose2Sim views 9-23 inliers per frame gave
# 0.2-0.7 degrees, save one at 2.6 (MultiPerson cam02: most verticals hidden behind a person, the
# rest bunched at the left border; only the stability below tells it from the others).
MIN_INLIERS = 8
MIN_INLIER_SHARE = 0.2
# ... spread across the image (the standard deviation of their midpoints' x as a share of the width):
# edges in one spot meet at a poorly placed point, ...
MIN_SPREAD = 0.12
# ... within this of the person's estimate, ...
MAX_PRIOR_DISAGREEMENT = 15.0
# ... and stable: found again within this angle with any one of the sampled frames left out (with at
# least MIN_STABILITY_FRAMES). An estimate carried by a few segments moves more: MultiPerson cam02
# moves 0.73 (2.6 off the calibration), the other Pose2Sim views 0.03-0.38 (0.2-0.7 off).
MAX_FRAME_INSTABILITY_DEGREES = 0.6
MIN_STABILITY_FRAMES = 3
SAMPLE_FRAMES = 5


@dataclass
class SceneFrame:
    """One sampled frame: grey image, and the people on it as bones (K, 2, 2) in its pixels (from,
    to) with the radius (K,) px their edges lie within (`people_bones`)."""

    image: np.ndarray
    bones: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))
    radii: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class SceneUp:
    """The scene's up (unit, OpenCV axes; None where none was found), its figures, and why it is not
    trusted ('' where it is)."""

    up: np.ndarray | None
    reason: str
    figures: dict[str, float] = field(default_factory=dict)
    # The static segments off the people (K, 4) x0, y0, x1, y1 in the sampled frames' pixels, the
    # sampled frame of each (K,), and which are up's inliers (K,) and a horizontal bundle's (K,).
    segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    frame_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    inliers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    horizontal: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def trusted(self) -> bool:
        return self.up is not None and not self.reason


def degrees_between(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(unit(first) @ unit(second)), 0.0, 1.0))))


def detect(image: np.ndarray) -> np.ndarray:
    """(M, 4) near-vertical segments x0, y0, x1, y1 of a grey image, long enough to be edges."""
    found = cv2.createLineSegmentDetector().detect(image)[0]
    if found is None:
        return np.zeros((0, 4))
    ends = found.reshape(-1, 4).astype(np.float64)
    dx, dy = ends[:, 2] - ends[:, 0], ends[:, 3] - ends[:, 1]
    height, width = image.shape[:2]
    long_enough = np.hypot(dx, dy) >= MIN_LENGTH_SHARE * max(height, width)
    upright = np.degrees(np.arctan2(np.abs(dx), np.abs(dy))) <= MAX_SLANT_DEGREES
    xs = ends[:, [0, 2]]
    inside = (xs.max(axis=1) > BORDER_PX) & (xs.min(axis=1) < width - 1 - BORDER_PX)
    return ends[long_enough & upright & inside]


def off_people(ends: np.ndarray, bones: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(M,) bool: the segments of which less than ON_PERSON_SHARE lies on a person: within a bone's
    radius of it (bones (K, 2, 2) px, from and to; radii (K,) px)."""
    if bones.shape[0] == 0 or ends.shape[0] == 0:
        return np.ones(ends.shape[0], dtype=bool)
    share = np.linspace(0.0, 1.0, SEGMENT_SAMPLES)[None, :, None]
    points = ends[:, None, :2] + share * (ends[:, None, 2:] - ends[:, None, :2])  # (M, S, 2)
    on_person = (bone_distances(points, bones) <= radii).any(axis=2)  # (M, S)
    return on_person.mean(axis=1) < ON_PERSON_SHARE


def bone_distances(points: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(..., K) each image point's (..., 2) distance from each bone (K, 2, 2: from and to, px)."""
    start, axis = bones[:, 0], bones[:, 1] - bones[:, 0]  # (K, 2)
    squared = np.maximum((axis**2).sum(axis=1), 1e-9)
    relative = points[..., None, :] - start  # (..., K, 2)
    along = np.clip((relative * axis).sum(axis=-1) / squared, 0.0, 1.0)
    return np.linalg.norm(relative - along[..., None] * axis, axis=-1)


def body_bones(points: np.ndarray) -> np.ndarray:
    """(K, 2, 2) the BODY_BONES of a person's (33, 2) image landmarks, from and to."""
    return points[BODY_BONE_PAIRS]


def static(segments: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame (M, ) bool: the segments seen again along the same line in at least STATIC_SHARE
    of the other frames; all of them where there is only one frame."""
    if len(segments) < 2:
        return [np.ones(ends.shape[0], dtype=bool) for ends in segments]
    needed = max(1, int(np.ceil(STATIC_SHARE * (len(segments) - 1))))
    result = []
    for index, ends in enumerate(segments):
        seen = np.zeros(ends.shape[0], dtype=int)
        middle = (ends[:, :2] + ends[:, 2:]) / 2.0
        direction = unit(ends[:, 2:] - ends[:, :2])
        for other_index, other in enumerate(segments):
            if other_index == index or other.shape[0] == 0 or ends.shape[0] == 0:
                continue
            other_direction = unit(other[:, 2:] - other[:, :2])
            other_middle = (other[:, :2] + other[:, 2:]) / 2.0
            offset = middle[:, None] - other[None, :, :2]  # (M, O, 2) from the other's start
            along = (offset * other_direction[None]).sum(axis=-1)
            across = np.abs(
                offset[..., 0] * other_direction[None, :, 1] - offset[..., 1] * other_direction[None, :, 0]
            )
            parallel = np.abs(direction @ other_direction.T) >= np.cos(np.radians(STATIC_DEGREES))
            length = np.linalg.norm(other[:, 2:] - other[:, :2], axis=1)
            overlap = (along >= 0.0) & (along <= length[None]) | (
                np.linalg.norm(middle[:, None] - other_middle[None], axis=-1) <= STATIC_PX
            )
            seen += ((across <= STATIC_PX) & parallel & overlap).any(axis=1)
        result.append(seen >= needed)
    return result


def plane_normals(ends: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """(M, 3) unit normals of the planes through the camera centre and each segment (OpenCV axes)."""
    rays = [
        np.stack(
            [
                (ends[:, column] - centre[0]) / focal,
                (ends[:, column + 1] - centre[1]) / focal,
                np.ones(len(ends)),
            ],
            axis=1,
        )
        for column in (0, 2)
    ]
    return unit(np.cross(rays[0], rays[1]))


def vanishing_up(
    normals: np.ndarray, weights: np.ndarray, prior: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Up (unit, on the prior's side) and the inlier mask: the direction in most segments' planes,
    within PRIOR_WINDOW_DEGREES of `prior`, by MSAC over pairs then weighted least squares."""
    count = normals.shape[0]
    if count < 2:
        return None
    threshold = np.sin(np.radians(INLIER_DEGREES))
    window = np.cos(np.radians(PRIOR_WINDOW_DEGREES))
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, count, size=(RANSAC_ROUNDS, 2))
    candidates = np.cross(normals[pairs[:, 0]], normals[pairs[:, 1]])
    sizes = np.linalg.norm(candidates, axis=1)
    usable = sizes > 1e-6
    candidates = candidates[usable] / sizes[usable, None]
    candidates = candidates[np.abs(candidates @ prior) >= window]
    if candidates.shape[0] == 0:
        return None
    residuals = np.minimum((normals @ candidates.T) ** 2, threshold**2)  # (M, C)
    best = candidates[int(np.argmin(weights @ residuals))]
    inliers = np.abs(normals @ best) < threshold
    for _ in range(REFINE_ROUNDS):
        if np.count_nonzero(inliers) < 2:
            return None
        kept = normals[inliers]
        best = np.linalg.eigh((kept * weights[inliers, None]).T @ kept)[1][:, 0]
        inliers = np.abs(normals @ best) < threshold
    return (best if best @ prior > 0 else -best), inliers


def horizontal_bundle(normals: np.ndarray, weights: np.ndarray, up: np.ndarray, frames: int) -> np.ndarray:
    """(M,) bool: the segments along the strongest bundle of horizontal lines (a floor's or a table's
    parallel edges, meeting on the horizon) that are not themselves up's: all False where no bundle
    has MIN_BUNDLE such lines per frame. A floor edge running away from the camera looks vertical in
    the image and can pass within a degree of up; the bundle's other edges say it is horizontal."""
    threshold = np.sin(np.radians(INLIER_DEGREES))
    others = np.abs(normals @ up) >= threshold
    if np.count_nonzero(others) < MIN_BUNDLE * frames:
        return np.zeros(normals.shape[0], dtype=bool)
    candidates = np.cross(normals[others], up)  # each other line's direction, were it horizontal
    sizes = np.linalg.norm(candidates, axis=1)
    candidates = np.where(sizes[:, None] > 1e-9, candidates / np.maximum(sizes, 1e-9)[:, None], 0.0)
    support = weights[others] @ (np.abs(normals[others] @ candidates.T) < threshold)
    best = candidates[int(np.argmax(support))]
    along = np.abs(normals @ best) < threshold
    if np.count_nonzero(along & others) < MIN_BUNDLE * frames:
        return np.zeros(normals.shape[0], dtype=bool)
    return along


@dataclass
class _Fit:
    """Up (None where no vertical edges were found) from one set of sampled frames' segments."""

    up: np.ndarray | None
    ends: np.ndarray  # (K, 4) the static segments
    frame_of: np.ndarray  # (K,)
    inliers: np.ndarray  # (K,) bool
    horizontal: np.ndarray  # (K,) bool


def _fit(kept: list[np.ndarray], focal: float, centre: tuple[float, float], prior: np.ndarray) -> _Fit:
    """Up from each frame's segments off the people: the static ones, MSAC, horizontal bundles out."""
    still = static(kept)
    ends = np.concatenate(
        [segment[mask] for segment, mask in zip(kept, still, strict=True)] or [np.zeros((0, 4))]
    )
    frame_of = np.concatenate([np.full(np.count_nonzero(mask), index) for index, mask in enumerate(still)])
    lengths = np.linalg.norm(ends[:, 2:] - ends[:, :2], axis=1)
    normals = plane_normals(ends, focal, centre)
    found = vanishing_up(normals, lengths, prior)
    dropped = np.zeros(ends.shape[0], dtype=bool)
    for _ in range(BUNDLES if found is not None else 0):
        assert found is not None
        bundle = horizontal_bundle(normals[~dropped], lengths[~dropped], found[0], len(kept))
        if not bundle.any():
            break
        dropped[np.flatnonzero(~dropped)[bundle]] = True
        again = vanishing_up(normals[~dropped], lengths[~dropped], prior)
        if again is None:
            break
        inliers = np.zeros(ends.shape[0], dtype=bool)
        inliers[np.flatnonzero(~dropped)] = again[1]
        found = again[0], inliers
    if found is None:
        return _Fit(None, ends, frame_of.astype(int), np.zeros(ends.shape[0], dtype=bool), dropped)
    return _Fit(found[0], ends, frame_of.astype(int), found[1], dropped)


def estimate(frames: list[SceneFrame], focal: float, prior: np.ndarray) -> SceneUp:
    """The scene's up from sampled frames of one still camera (focal in the frames' pixels, the
    principal point at their centre) near `prior`, the person's up; with why it is not trusted."""
    if not frames:
        return SceneUp(None, "no frame could be read")
    height, width = frames[0].image.shape[:2]
    centre = (width / 2.0, height / 2.0)
    detected = [detect(frame.image) for frame in frames]
    kept = [
        ends[off_people(ends, frame.bones, frame.radii)] for ends, frame in zip(detected, frames, strict=True)
    ]
    prior = unit(np.asarray(prior, dtype=np.float64))
    fit = _fit(kept, focal, centre, prior)
    figures: dict[str, float] = {
        "frames": len(frames),
        "segments_per_frame": int(np.mean([ends.shape[0] for ends in detected])),
        "static_segments_per_frame": round(fit.ends.shape[0] / len(frames), 1),
    }
    if fit.up is None:
        return SceneUp(
            None,
            f"no vertical edges in the scene ({fit.ends.shape[0]} static near-vertical segments)",
            figures,
            fit.ends,
            fit.frame_of,
            fit.inliers,
            fit.horizontal,
        )
    up, inliers = fit.up, fit.inliers
    lengths = np.linalg.norm(fit.ends[:, 2:] - fit.ends[:, :2], axis=1)
    middles = (fit.ends[inliers, 0] + fit.ends[inliers, 2]) / 2.0
    figures |= {
        "inliers": round(np.count_nonzero(inliers) / len(frames), 1),
        "inlier_share": round(float(lengths[inliers].sum() / lengths.sum()), 3),
        "spread": round(float(np.std(middles) / width), 3),
        "from_person_deg": round(degrees_between(up, prior), 2),
    }
    if len(frames) >= MIN_STABILITY_FRAMES:
        others = [
            _fit(kept[:index] + kept[index + 1 :], focal, centre, prior).up for index in range(len(frames))
        ]
        figures["frame_stability_deg"] = round(
            max(degrees_between(up, other) if other is not None else 90.0 for other in others), 2
        )
    problems = []
    if figures["inliers"] < MIN_INLIERS:
        problems.append(f"{figures['inliers']:g} vertical edges per frame, fewer than {MIN_INLIERS}")
    if figures["inlier_share"] < MIN_INLIER_SHARE:
        problems.append(
            f"they are {figures['inlier_share']:.0%} of the near-vertical segments, under {MIN_INLIER_SHARE:.0%}"
        )
    if figures["spread"] < MIN_SPREAD:
        problems.append(f"they are bunched in {figures['spread']:.2f} of the width, under {MIN_SPREAD:g}")
    if figures["from_person_deg"] > MAX_PRIOR_DISAGREEMENT:
        problems.append(f"{figures['from_person_deg']:.1f} degrees from the person's estimate")
    if figures.get("frame_stability_deg", 0.0) > MAX_FRAME_INSTABILITY_DEGREES:
        problems.append(
            f"leaving out one sampled frame moves it {figures['frame_stability_deg']:.2f} degrees, "
            f"more than {MAX_FRAME_INSTABILITY_DEGREES:g}"
        )
    return SceneUp(up, "; ".join(problems), figures, fit.ends, fit.frame_of, inliers, fit.horizontal)


def fused(scene: SceneUp, person: gravity.GravityEstimate) -> gravity.GravityEstimate:
    """The camera's up: the scene's where it is trusted (a fraction of a degree against the person's
    several: even a small tilt is kept, unlike gravity.MIN_TILT_DEGREES), else the person's, its
    reason saying why the scene's was not used."""
    if scene.trusted and scene.up is not None:
        tilt = gravity.tilt_degrees(scene.up)
        summary = (
            f"{scene.figures['inliers']:g} vertical edges per frame meet {scene.figures['from_person_deg']:.1f} "
            f"degrees from the {person.method} estimate"
        )
        return gravity.GravityEstimate(scene.up, tilt, "verticals", f"the scene's {summary}")
    note = f"the scene's verticals not used: {scene.reason}"
    return gravity.GravityEstimate(
        person.up, person.tilt_degrees, person.method, f"{person.reason}; {note}" if person.reason else note
    )


def people_bones(tracklets: Tracklets, frame_index: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Everyone in the tracklets' frame nearest `frame_index` as bones (K, 2, 2) and radii (K,), in the
    pixels of a frame sampled at `scale`: their image landmarks' BODY_BONES, else their box as one
    bone down its middle as wide as the box."""
    if not tracklets.frames:
        return np.zeros((0, 2, 2)), np.zeros(0)
    nearest = min(tracklets.frames, key=lambda frame: abs(frame.index - frame_index))
    boxes = nearest.data.get("bbox", [])
    marks = nearest.data.get("landmarks_image", [])
    bones, radii = [], []
    for position, box in enumerate(boxes):
        x0, y0, width, height = np.asarray(box, dtype=np.float64).reshape(4) * scale
        if not np.isfinite([x0, y0, width, height]).all():
            continue
        points = np.asarray(marks[position], dtype=np.float64) * scale if position < len(marks) else None
        if points is not None and points.shape == (len(MEDIAPIPE_INDEX), 2) and np.isfinite(points).all():
            bones.append(body_bones(points))
            radii.append(np.full(len(BODY_BONES), BODY_RADIUS_SHARE * height))
        else:
            middle = x0 + width / 2.0
            bones.append(np.array([[[middle, y0], [middle, y0 + height]]]))
            radii.append(np.array([width / 2.0]))
    if not bones:
        return np.zeros((0, 2, 2)), np.zeros(0)
    return np.concatenate(bones), np.concatenate(radii)


def from_video(
    path: Path, tracklets: Tracklets, prior: np.ndarray, focal_length_px: float | None, rotation: int = 0
) -> SceneUp:
    """The scene's up from SAMPLE_FRAMES frames spread over the clip (mocapd.decode.sample_frames),
    the tracked people's boxes left out; its cost in seconds among the figures."""
    start = time.perf_counter()
    sampled = decode.sample_frames(path, SAMPLE_FRAMES, rotation=rotation)
    if not sampled:
        return SceneUp(None, "no frame could be read")
    height, width = sampled[0].image.shape[:2]
    scale = sampled[0].scale
    focal = rootmotion.focal_length(round(width / scale), round(height / scale), focal_length_px) * scale
    frames = [
        SceneFrame(frame.image, *people_bones(tracklets, frame.frame_index, frame.scale)) for frame in sampled
    ]
    scene = estimate(frames, focal, prior)
    scene.figures["seconds"] = round(time.perf_counter() - start, 3)
    return scene
