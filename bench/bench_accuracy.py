"""Accuracy of the embedded monocular pipeline against a 4-view triangulation of the same real clip.

The Pose2Sim SinglePerson demo was filmed by 4 calibrated cameras. We run the embedded tracking
backend on each view, triangulate the 2D landmarks (DLT, undistorted, confidence-weighted) into a
reference, then compare one view's monocular result with it:
  (a) MediaPipe's raw world landmarks, (b) the joints of our IK'd skeleton (forward kinematics).
Printed: PA-MPJPE (mm, per-frame similarity alignment) over 12 limb joints, and knee/elbow angle errors;
and the IK round trip on the triangulated reference itself (forward kinematics of the rotations solved
from the reference's own landmarks against them).

Run: .venv/bin/python bench/bench_accuracy.py [--view 1] [--max-resolution 1280]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd import skeleton  # noqa: E402
from mocapd.backends.embedded.tracking import track_video  # noqa: E402
from mocapd.config import Config  # noqa: E402
from mocapd.job import Job  # noqa: E402
from mocapd.motion import ik, landmarks, tracklets  # noqa: E402
from mocapd.options import JobOptions  # noqa: E402

DEMO = REPO / "tests" / "data" / "pose2sim" / "SinglePerson"
# QCA intrinsics are in sub-pixel units: sensor 69568 units for 1087 pixels.
SUBPIXELS = 64.0
# Joints compared, by MediaPipe landmark and by SMPL joint.
COMPARED = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
MEDIAPIPE_JOINTS = [
    landmarks.MEDIAPIPE_INDEX[f"{side}_{name}"] for side in ("left", "right") for name in COMPARED
]
SMPL_JOINTS = [skeleton.JOINT_INDEX[f"{side}_{name}"] for side in ("left", "right") for name in COMPARED]
# (first, middle, last) positions in the compared list, per angle.
ANGLES = {
    "left knee": (3, 4, 5),
    "right knee": (9, 10, 11),
    "left elbow": (0, 1, 2),
    "right elbow": (6, 7, 8),
}
MIN_VISIBILITY = 0.5


@dataclass
class Camera:
    name: str
    matrix: np.ndarray  # 3x3 intrinsics, pixels
    distortion: np.ndarray  # k1, k2, p1, p2, k3 (OpenCV)
    rotation: np.ndarray  # world -> camera
    translation: np.ndarray  # world -> camera, metres

    def project(self, points: np.ndarray) -> np.ndarray:
        camera = points @ self.rotation.T + self.translation
        return camera[..., :2] / camera[..., 2:3] * np.diag(self.matrix)[:2] + self.matrix[:2, 2]

    def project_distorted(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) pixel positions of world points (..., 3) through the lens; NaN where a point is."""
        projected, _ = cv2.projectPoints(
            np.nan_to_num(points.reshape(-1, 3)),
            cv2.Rodrigues(self.rotation)[0],
            self.translation,
            self.matrix,
            self.distortion,
        )
        projected = projected.reshape(points.shape[:-1] + (2,))
        projected[~np.isfinite(points).all(axis=-1)] = np.nan
        return projected


def read_qca(path: Path) -> tuple[list[dict[str, float]], list[str]]:
    root = ElementTree.parse(path).getroot()
    cameras, names = [], []
    for element in root.iter("camera"):
        values = {key: float(value) for key, value in element.find("transform").attrib.items()}  # type: ignore[union-attr]
        values.update({key: float(value) for key, value in element.find("intrinsic").attrib.items()})  # type: ignore[union-attr]
        cameras.append(values)
        names.append(element.get("serial", ""))
    return cameras, names


def candidate_cameras(raw: list[dict[str, float]], names: list[str]) -> dict[str, list[Camera]]:
    """Every reading of the QCA transform (camera->world or world->camera, axis conventions)."""
    flips = {
        "none": np.eye(3),
        "yz": np.diag([1.0, -1.0, -1.0]),
        "xy": np.diag([-1.0, -1.0, 1.0]),
        "xz": np.diag([-1.0, 1.0, -1.0]),
    }
    result: dict[str, list[Camera]] = {}
    for transpose, (flip_name, flip), centre in itertools.product(
        (False, True), flips.items(), (True, False)
    ):
        cameras = []
        for values, name in zip(raw, names, strict=True):
            matrix = np.array([[values[f"r{row}{column}"] for column in (1, 2, 3)] for row in (1, 2, 3)])
            rotation = flip @ (matrix.T if transpose else matrix)
            position = np.array([values["x"], values["y"], values["z"]]) / 1000.0
            translation = -rotation @ position if centre else flip @ position
            intrinsics = np.array(
                [
                    [values["focalLengthU"] / SUBPIXELS, 0.0, values["centerPointU"] / SUBPIXELS],
                    [0.0, values["focalLengthV"] / SUBPIXELS, values["centerPointV"] / SUBPIXELS],
                    [0.0, 0.0, 1.0],
                ]
            )
            distortion = np.array(
                [
                    values["radialDistortion1"],
                    values["radialDistortion2"],
                    values["tangentalDistortion1"],
                    values["tangentalDistortion2"],
                    values["radialDistortion3"],
                ]
            )
            cameras.append(Camera(name, intrinsics, distortion, rotation, translation))
        result[f"transpose={transpose} flip={flip_name} centre={centre}"] = cameras
    return result


def triangulate(cameras: list[Camera], points: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """(F, L, 3) weighted DLT from per-view pixel positions (F, L, 2) and weights (F, L); NaN with < 2 views."""
    frames, count = points[0].shape[:2]
    normalised = [
        cv2.undistortPoints(
            view.reshape(-1, 1, 2).astype(np.float64), camera.matrix, camera.distortion
        ).reshape(frames, count, 2)
        for camera, view in zip(cameras, points, strict=True)
    ]
    result = np.full((frames, count, 3), np.nan)
    for frame, landmark in itertools.product(range(frames), range(count)):
        rows = []
        for camera, view, weight in zip(cameras, normalised, weights, strict=True):
            w = weight[frame, landmark]
            if not np.isfinite(w) or w < MIN_VISIBILITY or not np.all(np.isfinite(view[frame, landmark])):
                continue
            projection = np.hstack([camera.rotation, camera.translation[:, None]])
            x, y = view[frame, landmark]
            rows.append(w * (x * projection[2] - projection[0]))
            rows.append(w * (y * projection[2] - projection[1]))
        if len(rows) >= 4:
            _, _, vt = np.linalg.svd(np.array(rows))
            if abs(vt[-1, 3]) > 1e-12:
                result[frame, landmark] = vt[-1, :3] / vt[-1, 3]
    return result


def mirrored_order() -> np.ndarray:
    """(33,) MediaPipe landmark order with every left landmark exchanged for its right one."""
    order = np.arange(len(landmarks.MEDIAPIPE_NAMES))
    for name in landmarks.MEDIAPIPE_NAMES:
        if name.startswith("left_"):
            left, right = landmarks.MEDIAPIPE_INDEX[name], landmarks.MEDIAPIPE_INDEX["right_" + name[5:]]
            order[left], order[right] = right, left
    return order


# A view's labels are exchanged in a frame where that cuts the frame's reprojection error by this factor.
RELABEL_GAIN = 0.8


def triangulate_consistent(
    cameras: list[Camera], points: list[np.ndarray], weights: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(F, 33, 3) as triangulate, with each frame's views labelled alike first, and (F, V) which views'
    left and right were exchanged. A pose model mirrors a person in one view now and then; its left
    landmarks then triangulate with the others' right ones into a body a few centimetres wide."""
    frames, views = points[0].shape[0], len(points)
    order = mirrored_order()
    result = np.full((frames, points[0].shape[1], 3), np.nan)
    swapped = np.zeros((frames, views), dtype=bool)
    for frame in range(frames):

        def error(flags: list[bool], frame: int = frame) -> tuple[float, np.ndarray]:
            chosen = [
                view[frame : frame + 1][:, order] if flag else view[frame : frame + 1]
                for view, flag in zip(points, flags, strict=True)
            ]
            weight = [
                view[frame : frame + 1][:, order] if flag else view[frame : frame + 1]
                for view, flag in zip(weights, flags, strict=True)
            ]
            tri = triangulate(cameras, chosen, weight)
            if not np.isfinite(tri).any():
                return float("inf"), tri
            return reprojection_error(cameras, tri, chosen, weight), tri

        flags = [False] * views
        best, tri = error(flags)
        improved = True
        while improved:
            improved = False
            for view in range(views):
                trial = list(flags)
                trial[view] = not trial[view]
                if sum(trial) > views // 2:
                    continue  # the majority's labels say which side is left
                score, candidate = error(trial)
                if score < best * RELABEL_GAIN:
                    flags, best, tri, improved = trial, score, candidate, True
        result[frame] = tri[0]
        swapped[frame] = flags
    return result, swapped


def reprojection_error(
    cameras: list[Camera], reference: np.ndarray, points: list[np.ndarray], weights: list[np.ndarray]
) -> float:
    errors = []
    for camera, view, weight in zip(cameras, points, weights, strict=True):
        camera_points = reference @ camera.rotation.T + camera.translation
        if np.nanmedian(camera_points[..., 2]) <= 0:
            return float("inf")
        distance = np.linalg.norm(camera.project_distorted(reference) - view, axis=-1)
        usable = (weight >= MIN_VISIBILITY) & np.isfinite(reference).all(axis=-1)
        errors.append(distance[usable])
    return float(np.median(np.concatenate(errors)))


def procrustes_error(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Mean joint distance after the best similarity transform of `predicted` onto `reference`."""
    return float(np.mean(procrustes_distances(predicted, reference)))


def procrustes_distances(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(J,) each joint's distance after the best similarity transform of `predicted` onto `reference`."""
    mean_p, mean_r = predicted.mean(axis=0), reference.mean(axis=0)
    p, r = predicted - mean_p, reference - mean_r
    u, s, vt = np.linalg.svd(p.T @ r)
    sign = np.sign(np.linalg.det(u @ vt))
    correction = np.diag([1.0, 1.0, sign])
    rotation = u @ correction @ vt
    scale = np.sum(s * np.diag(correction)) / np.sum(p**2)
    aligned = scale * p @ rotation + mean_r
    return np.linalg.norm(aligned - reference, axis=-1)


def joint_angles(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Flexion angles (degrees) per frame from (F, 12, 3) compared joints."""
    result = {}
    for name, (first, middle, last) in ANGLES.items():
        upper = joints[:, middle] - joints[:, first]
        lower = joints[:, last] - joints[:, middle]
        cosine = np.sum(ik.unit(upper) * ik.unit(lower), axis=-1)
        result[name] = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    return result


def track_view(video: Path, root: Path, max_resolution: int) -> tracklets.TrackObservations:
    work = root / video.stem
    (work / "input").mkdir(parents=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(root / "state"))
    config.limits.max_resolution = max_resolution
    job = Job(1, video.stem, work, video.name, JobOptions(), config)
    track_video(job)
    data = tracklets.read(job.tracklets_path)
    counts = tracklets.real_frame_counts(data)
    longest = max(counts, key=lambda tid: counts[tid][0])
    return tracklets.observations(data, longest)


def dense(observed: tracklets.TrackObservations, key: str, frames: int) -> np.ndarray:
    values = observed.extras[key]
    result = np.full((frames,) + values.shape[1:], np.nan)
    result[observed.frame_idx] = values
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", type=int, default=1, help="the camera (1-4) the monocular pipeline sees")
    parser.add_argument("--max-resolution", type=int, default=1280)
    arguments = parser.parse_args()
    started = time.perf_counter()
    raw, names = read_qca(DEMO / "calibration" / "Calib.qca.txt")
    with tempfile.TemporaryDirectory() as folder:
        observed = {
            name: track_view(DEMO / "videos" / f"{name}.mp4", Path(folder), arguments.max_resolution)
            for name in names
        }
    frames = max(int(track.frame_idx.max()) + 1 for track in observed.values())
    points = [dense(observed[name], "landmarks_image", frames) for name in names]
    weights = [np.nan_to_num(dense(observed[name], "landmarks_visibility", frames)) for name in names]

    # Which reading of the QCA transform is right: the one whose triangulation reprojects best.
    sample = slice(0, frames, 10)
    scores = {}
    for label, cameras in candidate_cameras(raw, names).items():
        reference = triangulate(
            cameras, [view[sample] for view in points], [weight[sample] for weight in weights]
        )
        scores[label] = reprojection_error(
            cameras, reference, [view[sample] for view in points], [weight[sample] for weight in weights]
        )
    best = min(scores, key=lambda label: scores[label])
    cameras = candidate_cameras(raw, names)[best]
    print(
        f"calibration reading: {best} (median reprojection error {scores[best]:.2f} px; next best "
        f"{sorted(scores.values())[1]:.2f} px)"
    )
    reference = triangulate(cameras, points, weights)
    print(
        f"triangulation median reprojection error: {reprojection_error(cameras, reference, points, weights):.2f} px"
    )

    view = observed[names[arguments.view - 1]]
    world = dense(view, "landmarks_world", frames)
    visibility = dense(view, "landmarks_visibility", frames)
    keypoints = landmarks.from_mediapipe(world)
    measured = np.isfinite(world).all(axis=(1, 2))
    keypoint_confidence = landmarks.confidence_from_mediapipe(visibility[measured])
    offsets = ik.estimate_offsets(keypoints[measured], keypoint_confidence)
    global_rotations, _, root = ik.solve(keypoints[measured], offsets, keypoint_confidence)
    skeleton_joints = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    skeleton_joints[measured] = skeleton.forward_kinematics(global_rotations, offsets, root)

    reference_joints = reference[:, MEDIAPIPE_JOINTS]
    raw_joints = world[:, MEDIAPIPE_JOINTS]
    ik_joints = skeleton_joints[:, SMPL_JOINTS]
    usable = np.isfinite(reference_joints).all(axis=(1, 2)) & measured
    print(f"frames compared: {int(usable.sum())} of {frames}, view {names[arguments.view - 1]}")
    reference_angles = joint_angles(reference_joints[usable])
    for label, joints in (
        ("(a) raw MediaPipe world landmarks", raw_joints),
        ("(b) IK skeleton joints (FK)", ik_joints),
    ):
        errors = [
            procrustes_error(joints[frame], reference_joints[frame]) for frame in np.flatnonzero(usable)
        ]
        angles = joint_angles(joints[usable])
        print(f"{label}: PA-MPJPE {1000 * np.mean(errors):.1f} mm")
        for name in ANGLES:
            difference = angles[name] - reference_angles[name]
            correlation = np.corrcoef(angles[name], reference_angles[name])[0, 1]
            print(
                f"    {name:12s} angle RMSE {np.sqrt(np.mean(difference**2)):5.1f} deg, "
                f"mean abs {np.mean(np.abs(difference)):5.1f} deg, r {correlation:+.2f}"
            )
    round_trip(reference)
    print(f"wall time {time.perf_counter() - started:.1f} s")


def round_trip(reference: np.ndarray) -> None:
    """Print how closely the skeleton solved from the triangulated landmarks reproduces them."""
    complete = np.isfinite(reference[:, MEDIAPIPE_JOINTS]).all(axis=(1, 2))
    keypoints = landmarks.from_mediapipe(reference[complete])
    offsets = ik.estimate_offsets(keypoints)
    solution = ik.solve(keypoints, offsets)
    _, targets = ik.pose(keypoints, offsets, ik.available(keypoints))
    errors = np.linalg.norm(
        skeleton.forward_kinematics(solution.global_rotations, offsets, solution.root) - targets, axis=-1
    )[:, SMPL_JOINTS]
    thigh = np.linalg.norm(
        keypoints[:, landmarks.KEYPOINT_INDEX["left_knee"]]
        - keypoints[:, landmarks.KEYPOINT_INDEX["left_hip"]],
        axis=-1,
    )
    print(
        f"IK round trip on the triangulated reference ({int(complete.sum())} frames, 12 limb joints): mean "
        f"{1000 * np.nanmean(errors):.1f} mm, 95th percentile {1000 * np.nanpercentile(errors, 95):.1f} mm "
        f"(left thigh length {1000 * np.nanmin(thigh):.0f}-{1000 * np.nanmax(thigh):.0f} mm over those frames)"
    )


if __name__ == "__main__":
    main()


def time_shifted(values: np.ndarray, shift: float, posed: np.ndarray) -> np.ndarray:
    """(F, ...) samples at the video frames `posed` (NaN elsewhere) moved `shift` posed frames earlier:
    the value at posed[k] becomes the one at posed[k] + shift steps, linear between samples (NaN past
    the ends or next to a missing one)."""
    result = np.full_like(values, np.nan)
    if shift == 0.0:
        result[posed] = values[posed]
        return result
    position = np.arange(len(posed)) + shift
    lower = np.floor(position).astype(int)
    inside = (lower >= 0) & (lower + 1 < len(posed))
    weight = (position - lower)[inside].reshape((-1,) + (1,) * (values.ndim - 1))
    below, above = values[posed[lower[inside]]], values[posed[lower[inside] + 1]]
    result[posed[inside]] = (1.0 - weight) * below + weight * above
    return result


def view_offsets(
    cameras: list[Camera], points: list[np.ndarray], weights: list[np.ndarray], posed: np.ndarray
) -> np.ndarray:
    """(V,) how many posed frames late each view's video runs against the views' mean clock.

    Each view's image landmarks against the triangulation of the others reprojected into it, at shifts
    of -3..3 posed frames; the best shift d_i (parabola through the lowest error and its neighbours) is
    o_i - mean of the others' o, so o_i = d_i (V - 1) / V with the offsets summing to 0."""
    views = len(cameras)
    found = np.zeros(views)
    for view in range(views):
        others = [index for index in range(views) if index != view]
        triangulated, _ = triangulate_consistent(
            [cameras[index] for index in others],
            [points[index][posed] for index in others],
            [weights[index][posed] for index in others],
        )
        camera = cameras[view]
        projected = camera.project_distorted(triangulated)
        own, weight = points[view][posed], weights[view][posed]
        errors = {}
        for shift in range(-3, 4):
            frames = np.arange(max(0, -shift), min(len(posed), len(posed) - shift))
            distance = np.linalg.norm(own[frames + shift] - projected[frames], axis=-1)
            kept = (weight[frames + shift] >= MIN_VISIBILITY) & np.isfinite(distance)
            errors[shift] = float(np.median(distance[kept])) if kept.any() else float("inf")
        best = min(errors, key=lambda shift: errors[shift])
        found[view] = best
        if -3 < best < 3:
            before, at, after = errors[best - 1], errors[best], errors[best + 1]
            curvature = before - 2.0 * at + after
            if curvature > 0:
                found[view] = best + 0.5 * (before - after) / curvature
    return found * (views - 1) / views
