"""The camera's up from the scene's vertical edges: synthetic scenes drawn through a tilted pinhole,
and real frames of the Pose2Sim clips against their calibration."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mocapd import decode
from mocapd.motion import gravity, rootmotion, verticals
from mocapd.motion.tracklets import Frame, Tracklets
from mocapd.rotations import rotation_x, rotation_y
from tests.test_gravity import POSE2SIM, camera_rotation, degrees_between, true_up

WIDTH, HEIGHT = 540, 960
FOCAL = rootmotion.default_focal_length(WIDTH, HEIGHT)
CAMERA = np.array([0.0, 1.6, 4.0])  # world (Y up), looking along -Z


def project(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(N, 2) pixels of world points (N, 3) seen by the camera at CAMERA with this world -> camera rotation."""
    camera = (points - CAMERA) @ rotation.T
    return FOCAL * camera[:, :2] / camera[:, 2:] + [WIDTH / 2.0, HEIGHT / 2.0]


def draw(image: np.ndarray, bottoms: np.ndarray, tops: np.ndarray, rotation: np.ndarray, shade: int) -> None:
    for low, high in zip(project(bottoms, rotation), project(tops, rotation), strict=True):
        cv2.line(
            image,
            tuple(int(v) for v in low.round()),
            tuple(int(v) for v in high.round()),
            shade,
            3,
            cv2.LINE_AA,
        )


def scene(rotation: np.ndarray) -> np.ndarray:
    """A grey room: eight vertical edges (door frames, shelves) spread across the view, 0.3-2.2 m."""
    image = np.full((HEIGHT, WIDTH), 120, dtype=np.uint8)
    xs = np.array([-1.3, -0.9, -0.5, -0.15, 0.2, 0.55, 0.9, 1.25])
    bottoms = np.stack([xs, np.full(8, 0.3), np.full(8, -1.0)], axis=1)
    draw(image, bottoms, bottoms + [0.0, 1.9, 0.0], rotation, 30)
    return image


def tilted_camera() -> tuple[np.ndarray, np.ndarray]:
    """A camera pitched 18 degrees down and rolled 3: its world -> camera rotation and up in it."""
    rotation = camera_rotation(18.0, 3.0)
    return rotation, rotation @ np.array([0.0, 1.0, 0.0])


def prior_near(up: np.ndarray, degrees: float) -> np.ndarray:
    """The person's estimate: `up` turned by `degrees` (their cue is several degrees off)."""
    return rotation_x(np.radians(degrees)) @ up


def test_a_tilted_camera_is_read_from_the_rooms_vertical_edges() -> None:
    rotation, up = tilted_camera()
    found = verticals.estimate([verticals.SceneFrame(scene(rotation))], FOCAL, prior_near(up, 6.0))
    assert found.trusted, found.reason
    assert found.up is not None and degrees_between(found.up, up) < 0.5
    fused = verticals.fused(found, gravity.GravityEstimate(prior_near(up, 6.0), 20.0, "balance"))
    assert fused.method == "verticals" and "vertical edges" in fused.reason
    assert degrees_between(fused.up, up) < 0.5 and fused.to_dict()["level_method"] == "verticals"


def test_no_lines_or_blurred_lines_fall_back_to_the_person_with_the_reason() -> None:
    rotation, up = tilted_camera()
    person = gravity.GravityEstimate(prior_near(up, 4.0), 21.0, "balance")
    blank = np.full((HEIGHT, WIDTH), 120, dtype=np.uint8)
    blurred = cv2.GaussianBlur(scene(rotation), (0, 0), 25.0)
    for image in (blank, blurred):
        found = verticals.estimate([verticals.SceneFrame(image)], FOCAL, person.up)
        assert not found.trusted
        fused = verticals.fused(found, person)
        assert fused.method == "balance" and np.allclose(fused.up, person.up)
        assert fused.reason.startswith("the scene's verticals not used: ")
        assert "vertical edges" in fused.reason, fused.reason
        assert fused.to_dict()["level_reason"] == fused.reason


def test_a_persons_edges_are_not_taken_for_the_scenes() -> None:
    """A leaning figure with more edges than the room (loose stripes, 9 degrees from up) pulls the
    vanishing point to itself unless its landmarks' bones leave its edges out."""
    rotation, up = tilted_camera()
    image = scene(rotation)
    lean = rotation @ rotation_x(np.radians(9.0))  # the figure's 'vertical' in the camera
    xs = np.linspace(-0.35, 0.35, 14)
    bottoms = np.stack([xs, np.full(14, 0.1), np.full(14, 1.0)], axis=1)
    draw(image, bottoms, bottoms + [0.0, 1.6, 0.0], lean, 230)
    outline = project(np.array([[0.0, 0.1, 1.0], [0.0, 1.7, 1.0]]), lean)
    bones, radii = outline[None], np.array([0.6 * FOCAL / 3.0])  # half the figure's width in px, 3 m away
    prior = prior_near(up, 5.0)
    unmasked = verticals.estimate([verticals.SceneFrame(image)], FOCAL, prior)
    masked = verticals.estimate([verticals.SceneFrame(image, bones, radii)], FOCAL, prior)
    assert unmasked.up is not None and degrees_between(unmasked.up, up) > 2.0  # the figure's edges won
    assert masked.up is not None and degrees_between(masked.up, up) < 0.5, masked.figures
    inliers = masked.segments[masked.inliers]
    assert inliers.shape[0] > 0 and verticals.off_people(inliers, bones, radii).all()


def test_only_segments_seen_again_at_the_same_place_are_static() -> None:
    wall = np.array([[100.0, 100.0, 102.0, 400.0]])
    arm = np.array([[300.0, 200.0, 310.0, 320.0]])
    frames = [np.concatenate([wall, arm + [shift, 0.0, shift, 0.0]]) for shift in (0.0, 40.0, 80.0)]
    assert [mask.tolist() for mask in verticals.static(frames)] == [[True, False]] * 3
    assert verticals.static(frames[:1])[0].all()  # one frame: nothing to compare with


@pytest.mark.parametrize(
    ("person", "camera", "tolerance"),
    # Measured with the person's estimate 6 degrees off: 0.2 and 0.5 (their cue: 8.5 and 3.7).
    [("SinglePerson", "cam04", 1.0), ("MultiPerson", "cam01", 1.5)],
)
def test_real_frames_against_the_calibration(person: str, camera: str, tolerance: float) -> None:
    truth = true_up(person, camera)
    found = verticals.from_video(
        POSE2SIM / person / "videos" / f"{camera}.mp4", Tracklets([], True), prior_near(truth, 6.0), None
    )
    assert found.trusted, found.reason
    assert found.up is not None and degrees_between(found.up, truth) < tolerance, found.figures
    assert found.figures["frames"] == verticals.SAMPLE_FRAMES


def test_sampled_frames_spread_over_a_short_clip_cheaply() -> None:
    frames = decode.sample_frames(POSE2SIM / "SinglePerson" / "videos" / "cam01.mp4", 5)
    assert [frame.frame_index for frame in frames] == [0, 8, 16, 24, 32]  # one keyframe: the first 40
    assert frames[0].image.ndim == 2 and max(frames[0].image.shape) == 960


def test_a_panning_camera_gives_no_static_edges_and_the_person_is_kept() -> None:
    rotation, up = tilted_camera()
    frames = [
        verticals.SceneFrame(scene(rotation @ rotation_y(np.radians(yaw))))
        for yaw in (0.0, 0.5, 1.0, 1.5, 2.0)  # 7-29 px a frame: less than the edges are apart
    ]
    found = verticals.estimate(frames, FOCAL, prior_near(up, 4.0))
    assert not found.trusted and found.figures["static_segments_per_frame"] < 1.0, found.figures
    still = verticals.estimate([frames[0]] * 5, FOCAL, prior_near(up, 4.0))
    assert still.trusted and still.up is not None and degrees_between(still.up, up) < 0.5


def test_people_are_their_landmarks_bones_else_their_box() -> None:
    marks = np.zeros((33, 2))
    marks[:, 0], marks[:, 1] = 400.0, np.linspace(200.0, 900.0, 33)
    frame = Frame(
        10,
        "frame_000010",
        {
            "tid": [1, 2],
            "bbox": [[380.0, 180.0, 60.0, 740.0], [100.0, 300.0, 80.0, 400.0]],
            "landmarks_image": [marks],
        },
    )
    bones, radii = verticals.people_bones(Tracklets([frame], True), 11, 0.5)
    assert bones.shape == (len(verticals.BODY_BONES) + 1, 2, 2)
    assert np.allclose(radii[:-1], verticals.BODY_RADIUS_SHARE * 370.0)  # of the box's height, halved
    assert np.allclose(bones[-1], [[70.0, 150.0], [70.0, 350.0]]) and radii[-1] == 20.0  # the box alone


def test_a_clip_with_keyframes_is_sampled_at_them(tmp_path: Path) -> None:
    """One seek and one decoded frame per sample: a long clip costs what a short one does."""
    path = tmp_path / "keyframes.mp4"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 96, "yuv420p"
        stream.options = {"g": "10", "preset": "ultrafast"}
        for index in range(60):
            image = np.full((96, 64, 3), 4 * index, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    assert decode.keyframe_times(path) == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3])
    frames = decode.sample_frames(path, 4)
    assert [frame.frame_index for frame in frames] == [0, 20, 30, 50]  # keyframes spread over the clip
    assert [int(frame.image.mean() // 4) for frame in frames] == pytest.approx([0, 20, 30, 50], abs=1)
