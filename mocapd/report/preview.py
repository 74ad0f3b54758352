"""The preview video: the clip with each exported skeleton drawn over its person, beside a 3D view.

Left: the video, downscaled, with the joints of the written motion projected back through the camera
the extraction solved (the track file's world_from_camera and the focal length the backends use).
Right: the skeletons in the world from above and in front of the real camera: a floor grid (0.5 m),
each root's path on the floor, and feet in contact ringed. One colour per person. H.264 MP4, with
a poster image and a thumbnail per person. Drawn with numpy and OpenCV, so its cost stays small
against the job's (bench/bench_report.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mocapd import decode, skeleton
from mocapd.job import Job
from mocapd.motion import rootmotion
from mocapd.motion.visualization import PreviewWriter
from mocapd.report import proxy
from mocapd.report.layout import POSTER_NAME, thumbnail_name
from mocapd.report.motion import PersonMotion

log = logging.getLogger(__name__)

# Height of the preview in pixels: enough to judge a pose, small enough to stream from a share; a
# multiple of 16 (x264's blocks) and of 4 (the planes). Every cost of the preview grows with its
# pixels: a 60 s 1080p clip measured 10.8 % of the job's CPU at 432 px (bench/bench_report.py).
PREVIEW_HEIGHT = 384
GRID_STEP_M = 0.5
VIEW_ELEVATION_DEG = 25.0
BACKGROUND = (32, 34, 38)
GRID = (78, 82, 90)
FOOT_JOINTS = (skeleton.JOINT_INDEX["left_foot"], skeleton.JOINT_INDEX["right_foot"])
BONES = tuple((skeleton.PARENTS[joint], joint) for joint in range(1, skeleton.NUM_JOINTS))
BONE_ENDS = np.array(BONES)  # (23, 2): parent, child
THUMBNAIL_SIZE = 96
# x264's ultrafast on one thread: 2.8 ms a 1200x432 frame (superfast 4.6, veryfast 5.7; x264's own
# threads add a third), for 0.6 Mbit/s, which streams from any share.
ENCODER_PRESET = "ultrafast"
ENCODER_THREADS = 1
# Frames per second of the preview: enough to judge motion; a 60 fps clip costs half as much to draw.
PREVIEW_MAX_FPS = 30.0


@dataclass
class PreviewResult:
    """What was written and where each person was drawn (for thumbnails and the tests)."""

    frames: int = 0
    duration: float = 0.0
    width: int = 0
    height: int = 0
    boxes: dict[int, list[tuple[float, int, int, int, int]]] = field(default_factory=dict)
    from_tracking: bool = False  # drawn on the tracking step's frames (proxy), not the source decoded again


def upright_size(job: Job) -> tuple[int, int]:
    """(width, height) of the video as shown."""
    info = job.video_info
    assert info is not None
    sideways = int(round(info.rotation / 90.0)) % 2 == 1
    return (info.height, info.width) if sideways else (info.width, info.height)


def video_size(job: Job) -> tuple[int, int]:
    """(width, height) of the preview's video part: the upright picture at PREVIEW_HEIGHT, even width."""
    width, height = upright_size(job)
    return max(2, int(round(width * PREVIEW_HEIGHT / height / 2.0)) * 2), PREVIEW_HEIGHT


def frame_keeper(job: Job) -> proxy.Writer | None:
    """A writer for the tracking step's decoded frames at the preview's size (None without a probe)."""
    info = job.video_info
    if info is None or not info.height or not info.width:
        return None
    try:
        return proxy.Writer(proxy.path_for(job.work_dir), video_size(job), PREVIEW_MAX_FPS)
    except OSError as error:  # the preview decodes the source instead
        log.warning("no copy of the frames for the preview: %s", error)
        return None


def image_points(person: PersonMotion, focal: float, size: tuple[int, int]) -> np.ndarray | None:
    """(N, 24, 2) pixel positions in the upright full-size picture; None without the camera pose."""
    if person.world_from_camera is None:
        return None
    rotation, translation = person.world_from_camera[:3, :3], person.world_from_camera[:3, 3]
    in_camera = (person.positions - translation) @ rotation  # R^T (p - t), row vectors
    in_camera[..., 2] = np.maximum(in_camera[..., 2], 1e-3)
    return rootmotion.project(in_camera, focal, (size[0] / 2.0, size[1] / 2.0))


class WorldView:
    """An orthographic view of the world, framed once for the whole clip; its static layer drawn once."""

    def __init__(self, people: list[PersonMotion], size: int) -> None:
        self.size = size
        joints = np.concatenate([person.positions.reshape(-1, 3) for person in people])
        low, high = joints.min(axis=0), joints.max(axis=0)
        self.centre = (low + high) / 2.0
        self.centre[1] = (low[1] + high[1]) / 2.0
        camera = next((p.world_from_camera[:3, 3] for p in people if p.world_from_camera is not None), None)
        towards = (camera - self.centre) if camera is not None else np.array([0.0, 0.0, 1.0])
        azimuth = math.atan2(towards[0], towards[2]) if np.hypot(towards[0], towards[2]) > 1e-6 else 0.0
        elevation = math.radians(VIEW_ELEVATION_DEG)
        back = np.array(
            [
                math.sin(azimuth) * math.cos(elevation),
                math.sin(elevation),
                math.cos(azimuth) * math.cos(elevation),
            ]
        )
        self.right = np.cross(np.array([0.0, 1.0, 0.0]), back)
        self.right /= np.linalg.norm(self.right)
        self.up = np.cross(back, self.right)
        corners = np.array(
            [
                [x, y, z]
                for x in (low[0] - 0.5, high[0] + 0.5)
                for y in (0.0, high[1])
                for z in (low[2] - 0.5, high[2] + 0.5)
            ]
        )
        extent = np.abs(self._plane(corners)).max(axis=0)
        self.scale = 0.45 * size / max(float(extent.max()), 0.5)
        self.background = self._static(people, low, high)
        self.colours = {person.tid: yuv(person.colour) for person in people}
        self.background_planes = proxy.unpack_i420(
            cv2.cvtColor(self.background, cv2.COLOR_RGB2YUV_I420), size
        )

    def _plane(self, points: np.ndarray) -> np.ndarray:
        offset = points - self.centre
        return np.stack([offset @ self.right, offset @ self.up], axis=-1)

    def pixels(self, points: np.ndarray) -> np.ndarray:
        plane = self._plane(points)
        return np.stack(
            [self.size / 2.0 + plane[..., 0] * self.scale, self.size / 2.0 - plane[..., 1] * self.scale],
            axis=-1,
        )

    def _static(self, people: list[PersonMotion], low: np.ndarray, high: np.ndarray) -> np.ndarray:
        image = np.full((self.size, self.size, 3), BACKGROUND, dtype=np.uint8)
        start_x = math.floor((low[0] - 1.0) / GRID_STEP_M) * GRID_STEP_M
        start_z = math.floor((low[2] - 1.0) / GRID_STEP_M) * GRID_STEP_M
        xs = np.arange(start_x, high[0] + 1.0 + 1e-9, GRID_STEP_M)
        zs = np.arange(start_z, high[2] + 1.0 + 1e-9, GRID_STEP_M)
        for x in xs:
            ends = self.pixels(np.array([[x, 0.0, zs[0]], [x, 0.0, zs[-1]]]))
            cv2.line(image, _point(ends[0]), _point(ends[1]), GRID, 1, cv2.LINE_AA)
        for z in zs:
            ends = self.pixels(np.array([[xs[0], 0.0, z], [xs[-1], 0.0, z]]))
            cv2.line(image, _point(ends[0]), _point(ends[1]), GRID, 1, cv2.LINE_AA)
        for person in people:
            path = person.positions[:, 0].copy()
            path[:, 1] = 0.0
            dim = tuple(int(channel * 0.6) for channel in person.colour)
            cv2.polylines(image, [self.pixels(path).round().astype(np.int32)], False, dim, 1, cv2.LINE_AA)
        return image

    def draw(self, planes: Planes, people: list[PersonMotion], time: float) -> None:
        """The view at `time` into `planes` (Y, U, V of a size x size picture)."""
        for target, source in zip(planes, self.background_planes, strict=True):
            target[:] = source
        for person in people:
            row = person.row_at(time)
            if row is None:
                continue
            points = self.pixels(person.positions[row])
            draw_skeleton(planes, points, self.colours[person.tid], 2)
            for side, joint in enumerate(FOOT_JOINTS):
                if person.contacts[row, side]:
                    draw_ring(planes, points[joint], 6, RING, 2)


def _point(xy: np.ndarray) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y (h, w), U and V (h/2, w/2) of one picture


def yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """The colour in YUV (BT.601, limited range: OpenCV's I420 conversion, as the frames')."""
    packed = cv2.cvtColor(np.full((4, 4, 3), rgb, dtype=np.uint8), cv2.COLOR_RGB2YUV_I420)
    return int(packed[0, 0]), int(packed[4, 0]), int(packed[5, 0])


RING = yuv((255, 255, 255))


def draw_skeleton(planes: Planes, points: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    """Bones of the SMPL skeleton between (24, 2) pixel positions, in place on YUV 4:2:0 planes:
    drawn there directly, the frames need no conversion to RGB and back."""
    # Each bone a two-point polyline, all in one call per plane; chroma at half the size.
    ends = points[BONE_ENDS]
    cv2.polylines(
        planes[0], list(np.rint(ends).astype(np.int32)), False, (colour[0],), thickness, cv2.LINE_AA
    )
    half = list(np.rint(ends / 2.0).astype(np.int32))
    for plane, value in zip(planes[1:], colour[1:], strict=True):
        cv2.polylines(plane, half, False, (value,), max(1, thickness // 2), cv2.LINE_AA)


def draw_ring(
    planes: Planes, centre: np.ndarray, radius: int, colour: tuple[int, int, int], thickness: int
) -> None:
    """A circle on YUV 4:2:0 planes, in place."""
    cv2.circle(planes[0], _point(centre), radius, (colour[0],), thickness, cv2.LINE_AA)
    for plane, value in zip(planes[1:], colour[1:], strict=True):
        cv2.circle(plane, _point(centre / 2.0), radius // 2, (value,), max(1, thickness // 2), cv2.LINE_AA)


def source_frames(job: Job, width: int, height: int) -> Iterator[tuple[float, np.ndarray]]:
    """(time, upright stacked planes of width x height, as proxy.planes) for every frame drawn,
    from the source decoded again."""
    assert job.video_info is not None
    with decode.open_video(job.video_path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # No deblocking: a third less decoding, and its blocks vanish in the downscaled picture.
        stream.codec_context.options = {"skip_loop_filter": "all"}
        time_base = float(stream.time_base) if stream.time_base else 0.0
        rate = float(stream.average_rate or stream.guessed_rate or 30.0)
        first_pts: int | None = None
        sampler = decode.FrameSampler(PREVIEW_MAX_FPS)
        for index, frame in enumerate(container.decode(stream)):
            if frame.pts is not None and time_base:
                first_pts = frame.pts if first_pts is None else first_pts
                seconds = (frame.pts - first_pts) * time_base
            else:
                seconds = index / rate
            if not sampler.take(float(seconds)):  # decoded (later frames need it) but not drawn
                continue
            turns = decode.frame_rotation(frame, job.video_info.rotation)
            yield float(seconds), proxy.planes(frame, (width, height), turns)


def write(job: Job, people: list[PersonMotion], folder: Path, name: str) -> PreviewResult:
    """Write folder/<name>: every frame of the clip, with its real timestamps."""
    width, height = upright_size(job)
    assert job.video_info is not None
    focal = rootmotion.focal_length(width, height, job.video_info.focal_length_px)
    video_width = video_size(job)[0]
    projected = {person.tid: image_points(person, focal, (width, height)) for person in people}
    colours = {person.tid: yuv(person.colour) for person in people}
    world = WorldView(people, PREVIEW_HEIGHT)
    result = PreviewResult(width=video_width + PREVIEW_HEIGHT, height=PREVIEW_HEIGHT)
    result.boxes = {person.tid: [] for person in people}
    rate = min(job.video_info.fps or PREVIEW_MAX_FPS, PREVIEW_MAX_FPS)
    frame_time = 1.0 / rate
    thickness = max(2, round(PREVIEW_HEIGHT / 200))
    folder.mkdir(parents=True, exist_ok=True)
    poster_time = job.video_info.duration / 2.0
    middles = {person.tid: person.start + person.frame_count / person.fps / 2.0 for person in people}
    with PreviewWriter(
        folder / name, result.width, PREVIEW_HEIGHT, rate, frame_time, ENCODER_PRESET, ENCODER_THREADS
    ) as writer:
        # Drawn straight into the encoder's frame: the video on the left, the world on the right.
        whole = writer.planes()
        left = (whole[0][:, :video_width], whole[1][:, : video_width // 2], whole[2][:, : video_width // 2])
        right = (whole[0][:, video_width:], whole[1][:, video_width // 2 :], whole[2][:, video_width // 2 :])
        kept = proxy.read(proxy.path_for(job.work_dir), (video_width, PREVIEW_HEIGHT))
        result.from_tracking = kept is not None
        # Frames are read (JPEG or H.264 decoding) in a thread ahead of the drawing and encoding here.
        frames = decode.prefetch(
            kept if kept is not None else source_frames(job, video_width, PREVIEW_HEIGHT)
        )
        with closing(frames):  # its thread stops if drawing fails
            for time, stacked in frames:
                for target, source in zip(left, proxy.unstack(stacked), strict=True):
                    target[:] = source
                thumbnails: list[tuple[int, tuple[int, int, int, int]]] = []
                for person in people:
                    row = person.row_at(time)
                    points = projected[person.tid]
                    if row is None or points is None:
                        continue
                    pixels = points[row] * (video_width / width)
                    draw_skeleton(left, pixels, colours[person.tid], thickness)
                    low, high = pixels.min(axis=0), pixels.max(axis=0)
                    box = (time, int(low[0]), int(low[1]), int(high[0]), int(high[1]))
                    result.boxes[person.tid].append(box)
                    if abs(time - middles[person.tid]) < frame_time / 2.0 + 1e-9:
                        thumbnails.append((person.tid, (box[1], box[2], box[3], box[4])))
                world.draw(right, people, time)
                writer.write_planes(time)
                # The few pictures kept as JPEG are converted to RGB; the frames themselves never are.
                for tid, crop in thumbnails:
                    save_thumbnail(rgb(whole)[:, :video_width], crop, folder / thumbnail_name(tid))
                if not (folder / POSTER_NAME).exists() and time >= poster_time - frame_time / 2.0:
                    save_image(rgb(whole), folder / POSTER_NAME)
                result.frames += 1
                result.duration = time + frame_time
        if not (folder / POSTER_NAME).exists():
            save_image(rgb(whole), folder / POSTER_NAME)
    return result


def rgb(planes: Planes) -> np.ndarray:
    """A picture's Y, U and V planes in RGB."""
    luma, blue, red = planes
    width = luma.shape[1]
    packed = np.vstack([luma, blue.reshape(-1, width), red.reshape(-1, width)])
    return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420)


def save_image(image: np.ndarray, path: Path, quality: int = 85) -> None:
    """An RGB image as JPEG."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    path.write_bytes(data.tobytes())


def save_thumbnail(image: np.ndarray, box: tuple[int, int, int, int], path: Path) -> None:
    """A square crop around the person's drawn skeleton, THUMBNAIL_SIZE pixels."""
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * 1.2) + 4
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    height, width = image.shape[:2]
    side = min(side, height, width)
    left = min(max(cx - side // 2, 0), width - side)
    top = min(max(cy - side // 2, 0), height - side)
    crop = image[top : top + side, left : left + side]
    save_image(cv2.resize(crop, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA), path)
