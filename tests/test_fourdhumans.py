"""The 4D-Humans child process, run against the stand-in track.py in tests/fake_4dhumans."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mocapd.backends import fourdhumans
from mocapd.config import Config, FourDHumansSettings
from mocapd.errors import JobError, TransientError
from mocapd.job import Job, VideoInfo
from mocapd.motion import tracklets
from mocapd.options import JobOptions

REPOSITORY = Path(__file__).resolve().parents[1]
FAKE_CHECKOUT = REPOSITORY / "tests" / "fake_4dhumans"
SAMPLE = REPOSITORY / "examples" / "sample.mp4"
SAMPLE_FRAMES = 100


def make_job(
    tmp_path: Path, source: Path = SAMPLE, device: int = 0, timeout_s: float = 120.0, **options: object
) -> Job:
    config = Config()
    config.fourdhumans = FourDHumansSettings(python=sys.executable, checkout=str(FAKE_CHECKOUT))
    config.gpu = dataclasses.replace(config.gpu, device=device)
    config.timeouts = dataclasses.replace(config.timeouts, tracking=timeout_s)
    job = Job(
        id=1,
        name="clip",
        work_dir=tmp_path / "job with space",
        source_name=source.name,
        options=dataclasses.replace(JobOptions(), **options),
        config=config,
        video_info=VideoInfo(
            width=1088, height=1920, fps=60.0, duration=100 / 60, frame_count=SAMPLE_FRAMES, codec="h264"
        ),
    )
    job.video_path.parent.mkdir(parents=True)
    shutil.copyfile(source, job.video_path)
    return job


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The stand-in's record file; its mode is set per test."""
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_4DHUMANS_RECORD", str(record))
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "ok")
    return record


def test_a_run_passes_the_right_arguments_and_leaves_the_tracklets(tmp_path: Path, fake: Path) -> None:
    job = make_job(tmp_path, device=3)
    outcome = fourdhumans.track(job)
    record = json.loads(fake.read_text())
    arguments = dict(argument.split("=", 1) for argument in record["argv"])
    source = arguments["video.source"].strip("'")
    assert source.endswith("/clip.mp4") and source.startswith(str(job.work_dir))
    assert arguments["video.output_dir"].strip("'").startswith(str(job.work_dir / fourdhumans.WORK_FOLDER))
    assert int(arguments["video.end_frame"]) > SAMPLE_FRAMES
    assert arguments["render.enable"] == "False"
    assert record["cuda_visible_devices"] == "3"
    assert record["cwd"] == str(job.work_dir / fourdhumans.WORK_FOLDER)
    loaded = tracklets.read(job.tracklets_path)
    assert loaded.frame_count == SAMPLE_FRAMES and loaded.track_ids() == [1]
    assert outcome.data["frames"] == SAMPLE_FRAMES and not outcome.warnings
    progress = json.loads(job.progress_path("tracking").read_text())
    assert progress["fraction"] == 1.0
    log = job.log_path("tracking").read_text()
    assert "Tracking : clip" in log and "\x1b" not in log
    assert not (job.work_dir / fourdhumans.WORK_FOLDER).exists()  # frames removed without keep_intermediate
    assert not job.visualization_path.exists()


def test_keep_intermediate_asks_for_the_rendering_and_keeps_it(tmp_path: Path, fake: Path) -> None:
    job = make_job(tmp_path, keep_intermediate=True)
    fourdhumans.track(job)
    record = json.loads(fake.read_text())
    assert "render.enable=True" in record["argv"]
    assert job.visualization_path.read_bytes() == b"rendered"


def test_progress_is_read_from_the_output() -> None:
    assert fourdhumans.parse_progress("Tracking : clip ━━━━━╸━━━━ 45% 0:00:12") == 0.45
    assert fourdhumans.parse_progress(" 30%|███       | 30/120 [00:03<00:09, 9.8it/s]") == 0.25
    assert fourdhumans.parse_progress("Number of frames: 100") is None


def test_a_crash_says_why(tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "crash")
    with pytest.raises(JobError, match="exit status 1.*detectron2 checkpoint not found") as caught:
        fourdhumans.track(make_job(tmp_path))
    assert not isinstance(caught.value, TransientError)


@pytest.mark.parametrize("mode", ["oom", "oom_caught"])
def test_out_of_gpu_memory_is_retryable(
    tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", mode)
    with pytest.raises(TransientError, match="out of GPU memory on GPU 0"):
        fourdhumans.track(make_job(tmp_path))


def test_a_timeout_stops_the_whole_process_group(
    tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(TransientError, match="did not finish within"):
        fourdhumans.track(make_job(tmp_path, timeout_s=3.0))
    assert time.monotonic() - started < 3.0 + fourdhumans.TERMINATE_GRACE_S
    for pid_file in (fake, Path(str(fake) + ".child")):
        pid = json.loads(pid_file.read_text())["pid"] if pid_file == fake else int(pid_file.read_text())
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.05)
        assert not process_alive(pid), f"process {pid} outlived the timeout"


def process_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return status != "Z"


def test_partial_output_is_not_used(tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "partial")
    job = make_job(tmp_path)
    with pytest.raises(JobError, match="exit status 137 \\(it left a partial results file, not used\\)"):
        fourdhumans.track(job)
    assert not job.tracklets_path.exists()


def test_exit_zero_without_results_and_a_stale_file_is_an_error(
    tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "silent")
    job = make_job(tmp_path)
    stale = job.work_dir / fourdhumans.WORK_FOLDER / "output" / fourdhumans.RESULTS_NAME
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from an earlier attempt")
    with pytest.raises(JobError, match="without writing results/demo_clip.pkl.*illegal memory access"):
        fourdhumans.track(job)


def test_a_clip_covered_in_part_is_reported(
    tmp_path: Path, fake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "short")
    outcome = fourdhumans.track(make_job(tmp_path))
    assert outcome.warnings == [f"4D-Humans covered 50 of the video's {SAMPLE_FRAMES} frames"]


def test_not_installed_is_a_clear_error(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.config.fourdhumans = FourDHumansSettings(python=sys.executable, checkout=str(tmp_path))
    with pytest.raises(JobError, match="track.py does not exist"):
        fourdhumans.track(job)
    assert fourdhumans.installation_problem(FourDHumansSettings()) is not None
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    problem = fourdhumans.installation_problem(FourDHumansSettings(str(not_executable), str(FAKE_CHECKOUT)))
    assert problem is not None and "not an executable" in problem


def test_an_mkv_is_remuxed_and_mjpeg_is_re_encoded_for_phalp(tmp_path: Path) -> None:
    mkv = tmp_path / "in.mkv"
    with av.open(str(SAMPLE)) as source, av.open(str(mkv), "w") as output:
        stream = output.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                packet.stream = stream
                output.mux(packet)
    remuxed = fourdhumans.prepare_input(mkv, tmp_path / "a")
    with av.open(str(remuxed)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for packet in container.demux(video=0) if packet.size) == SAMPLE_FRAMES
    avi = tmp_path / "in.avi"
    with av.open(str(avi), "w") as output:
        stream = output.add_stream("mjpeg", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for index in range(10):
            image = np.full((48, 64, 3), index * 20, dtype=np.uint8)
            output.mux(
                stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuvj420p"))
            )
        output.mux(stream.encode(None))
    encoded = fourdhumans.prepare_input(avi, tmp_path / "b")
    with av.open(str(encoded)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 10
    with pytest.raises(JobError, match="cannot convert"):
        broken = tmp_path / "broken.mov"
        broken.write_bytes(b"not a video")
        fourdhumans.prepare_input(broken, tmp_path / "c")
    upper_case = tmp_path / "in.MP4"
    shutil.copyfile(SAMPLE, upper_case)
    linked = fourdhumans.prepare_input(upper_case, tmp_path / "d")
    assert linked.name == "clip.mp4" and os.path.samefile(linked, upper_case)


def test_the_child_dies_with_a_killed_step_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    sleeper = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    step = (
        "import os, sys; from pathlib import Path; from mocapd.backends.fourdhumans import run_process; "
        f"run_process([sys.executable, '-c', {sleeper!r}], Path({str(tmp_path)!r}), dict(os.environ), 60.0, "
        f"Path({str(tmp_path / 'log.txt')!r}))"
    )
    parent = subprocess.Popen([sys.executable, "-c", step])
    deadline = time.monotonic() + 30.0
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None, "the child never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and process_alive(child):
        time.sleep(0.05)
    assert not process_alive(child)
