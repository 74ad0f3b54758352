"""report.html and index.html opened in a real browser (Debian's headless chromium), on one real job.

The sample clip goes through the real pipeline once for the module, under a hostile name; a second
clip with hostile, invalid options fails. One browser serves every test. Screenshots go under the
module's temporary folder.
"""

from __future__ import annotations

import json
import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import av
import cv2
import numpy as np
import pytest

from mocapd import progress, states
from mocapd.config import load
from mocapd.outbox import Outbox
from mocapd.stats import average_step_seconds
from mocapd.store import open_store
from tests import videofiles
from tests.browser import CHROMIUM, Browser
from tests.jobs import running_job
from tests.stages.harness import Setup, drop, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (make test installs it)"
    ),
]

HOSTILE = "<script>alert(1) \"q\" 'a' \u202eRTL"
GOOD_NAME = f"take {HOSTILE}"
BAD_NAME = "bad\nname <i>x"
BAD_OPTIONS = {"smoothing_strength": "<script>alert(2)</script>\n\u202eevil", "fsp": 1, "formats": ["obj"]}
WIDTHS = ((1280, False), (390, True))


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("report")
    setup = Setup(root)
    daemon = setup.start_real()
    try:
        drop(setup.inbox / f"{BAD_NAME}.json", json.dumps(BAD_OPTIONS).encode())
        drop(setup.inbox / f"{BAD_NAME}.mp4", videofiles.SAMPLE_CLIP.read_bytes())
        drop(setup.inbox / f"{GOOD_NAME}.json", json.dumps({"formats": ["fbx", "bvh"]}).encode())
        drop(setup.inbox / f"{GOOD_NAME}.mp4", videofiles.SAMPLE_CLIP.read_bytes())

        def finished() -> list[dict[str, Any]] | None:
            jobs = [job for job in setup.jobs() if job["state"] in states.FINISHED_JOB_STATES]
            return jobs if len(jobs) == 2 else None

        jobs = wait_for(finished, 600, "both jobs", interval=0.5)
    finally:
        daemon.stop()
    good = next(job for job in jobs if job["source_relative"].startswith("take"))
    bad = next(job for job in jobs if job is not good)
    status = setup.status(good["name"])
    assert status is not None and status["status"] == states.COMPLETED, status
    yield {"setup": setup, "good": good, "bad": bad, "status": status, "shots": root / "screenshots"}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    opened = Browser(tmp_path_factory.mktemp("chromium"))
    yield opened
    opened.close()


def check_page(
    browser: Browser, page: Path, shots: Path, label: str, with_images: bool = True
) -> dict[str, Any]:
    """Open `page` at each width; every image and link loads, nothing scrolls sideways, no error."""
    shots.mkdir(parents=True, exist_ok=True)
    facts: dict[str, Any] = {}
    for width, mobile in WIDTHS:
        browser.open(page, width, mobile=mobile)
        browser.evaluate(
            "Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = r; i.onerror = r; })))"
        )
        images = browser.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert (images or not with_images) and all(natural > 0 for _, natural in images), images
        links = browser.evaluate("[...document.links].map(a => a.href)")
        for link in links:
            url = urlparse(link)
            assert url.scheme == "file", link  # relative links only: nothing from the network
            assert Path(unquote(url.path)).is_file(), f"{label}: the link {link} leads to no file"
        scroll = browser.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll[0] <= scroll[1], f"{label} at {width} px scrolls sideways: {scroll}"
        assert browser.evaluate("document.scripts.length") == 0
        facts[f"text_{width}"] = browser.evaluate("document.body.innerText")
        facts["images"], facts["links"] = images, links
        assert browser.screenshot(shots / f"{label}-{width}.png").stat().st_size > 0
        assert browser.errors() == [], browser.errors()
    return facts


def test_the_report_shows_the_preview_verdict_people_and_files(
    outbox: dict[str, Any], browser: Browser
) -> None:
    setup, status = outbox["setup"], outbox["status"]
    folder = setup.outbox / outbox["good"]["name"]
    facts = check_page(browser, folder / "report.html", outbox["shots"], "report")
    # The video plays (Debian's chromium decodes H.264) and lasts as long as the clip, within a frame.
    browser.open(folder / "report.html", 1280)
    video = browser.evaluate(
        """new Promise(done => { const v = document.getElementById('preview');
        const report = () => done([v.readyState, v.duration, v.videoWidth]);
        if (v.readyState >= 2) report(); else { v.addEventListener('loadeddata', report); v.addEventListener('error', () => done([-1, 0, 0])); } })"""
    )
    assert video[0] >= 2 and video[2] > 0, video
    assert abs(video[1] - status["video"]["duration"]) <= 1.0 / status["video"]["fps"], video
    text = facts["text_1280"]
    assert status["verdict"]["level"] in text and all(
        reason in text for reason in status["verdict"]["reasons"]
    )
    person = next(track for track in status["tracks"] if track["selected"])
    row = browser.evaluate("document.querySelector('#tracks tr:nth-child(2)').innerText")
    assert f"person {person['tid']}" in row and str(person["frames"]) in row
    assert f"{person['first_frame']} ({person['first_time']:.2f} s)" in row
    assert f"{person['last_frame']} ({person['last_time']:.2f} s)" in row
    # Two formats: a zip, and the person's own files linked one by one.
    assert status["result"] == "animations.zip" and len(person["files"]) == 2
    assert all(any(link.endswith(file.split("/")[-1]) for link in facts["links"]) for file in person["files"])
    files = browser.evaluate("document.getElementById('files').innerText")
    size = (folder / "animations.zip").stat().st_size
    assert (
        f"animations.zip ({size / 1024:.1f} kB)" in files
        or f"animations.zip ({size / 1048576:.1f} MB)" in files
    )
    # Figures with units, the same numbers as status.json.
    detected = person["quality"]["detected_share"]
    assert f"seen by the tracker: {detected * 100:.0f} % of frames" in text
    assert f"jitter after smoothing: {person['jitter']['after']:.3g} mm/frame²" in text
    # The hostile name is shown as text, not run.
    assert HOSTILE.split(" ")[0] in text and browser.evaluate("document.title").endswith(HOSTILE)


def test_the_index_lists_the_job_with_poster_verdict_and_result(
    outbox: dict[str, Any], browser: Browser
) -> None:
    setup, status = outbox["setup"], outbox["status"]
    facts = check_page(browser, setup.outbox / "index.html", outbox["shots"], "index")
    completed = browser.evaluate("document.getElementById('completed').innerText")
    assert GOOD_NAME in completed and status["verdict"]["level"] in completed
    assert any(link.endswith("/animations.zip") for link in facts["links"])
    assert any(src.endswith("poster.jpg") for src, _ in facts["images"])
    failed = browser.evaluate("document.getElementById('failed').innerText")
    assert "fsp" in failed


def test_a_failed_job_lists_every_bad_option_and_the_retry(outbox: dict[str, Any], browser: Browser) -> None:
    setup, bad = outbox["setup"], outbox["bad"]
    assert bad["state"] == states.FAILED
    page = setup.outbox / bad["name"] / "report.html"
    browser.open(page, 390, mobile=True)
    problems = browser.evaluate("[...document.querySelectorAll('.problems li')].map(li => li.textContent)")
    joined = "\n".join(problems)
    assert len(problems) >= 3 and "fsp" in joined and "smoothing_strength" in joined and "obj" in joined
    assert "<script>alert(2)</script>" in joined  # the value shown as text
    next_step = browser.evaluate("document.getElementById('next-step').innerText")
    assert f"mocapd retry {bad['id']}" in next_step
    assert browser.evaluate("document.scripts.length") == 0 and browser.errors() == []
    scroll = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll[0] <= scroll[1]


def frame_at(path: Path, time: float, size: tuple[int, int] | None = None) -> np.ndarray:
    """The RGB frame shown at `time` seconds (the nearest by timestamp)."""
    with av.open(str(path)) as container:
        frames = [(abs(float(frame.time or 0.0) - time), frame) for frame in container.decode(video=0)]
    image = min(frames, key=lambda pair: pair[0])[1].to_ndarray(format="rgb24")
    return image if size is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def test_the_overlay_skeleton_is_drawn_on_the_person(outbox: dict[str, Any]) -> None:
    setup, status, good = outbox["setup"], outbox["status"], outbox["good"]
    folder = setup.outbox / good["name"]
    width, height = status["preview"]["size"]
    video_width = width - height  # the 3D view on the right is square
    index = 50  # a frame the tracker posed (it takes every other frame of this 60 fps clip)
    time = index / status["video"]["fps"]
    data = (folder / status["preview"]["video"]).read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: plays while it streams from a share
    preview = frame_at(folder / status["preview"]["video"], time)[:, :video_width].astype(int)
    source = frame_at(videofiles.SAMPLE_CLIP, time, (video_width, height)).astype(int)
    drawn = (np.abs(preview - source).max(axis=2) > 80).astype(np.uint8)
    drawn = cv2.morphologyEx(drawn, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    ys, xs = np.nonzero(drawn)
    assert xs.size > 150, f"only {xs.size} overlay pixels"
    # The person's box as the tracker found it (independent of the projection), in preview pixels.
    with open(setup.state / "jobs" / str(good["id"]) / "tracklets.pkl", "rb") as handle:
        frames = pickle.load(handle)
    entry = next(frame for frame in frames.values() if frame["time"] == index)
    x0, y0, box_width, box_height = np.asarray(entry["bbox"][0], dtype=float) * (
        video_width / status["video"]["width"]
    )
    margin_x, margin_y = 0.15 * box_width + 4, 0.1 * box_height + 4
    inside = (xs >= x0 - margin_x) & (xs <= x0 + box_width + margin_x)
    inside &= (ys >= y0 - margin_y) & (ys <= y0 + box_height + margin_y)
    assert inside.mean() > 0.95, f"{inside.mean():.0%} of the overlay inside the person's box"


# What a running job's line says: "42 % overall, 1 min 00 s elapsed, about 1 min 23 s left".
RUNNING_LINE = re.compile(
    r"(\d+) % overall, .+ elapsed, about ((?:\d+ h )?(?:\d+ min )?\d+ s|\d+ h \d+ min) left"
)


def seconds_of(text: str) -> int:
    """Seconds in progress.duration's wording ("1 h 02 min", "3 min 05 s", "45 s")."""
    units = {"h": 3600, "min": 60, "s": 1}
    parts = text.split()
    return sum(int(number) * units[unit] for number, unit in zip(parts[::2], parts[1::2], strict=True))


def test_a_running_job_shows_its_overall_progress_and_time_left(tmp_path: Path, browser: Browser) -> None:
    """A job in the middle of tracking in a real store; index.html and its report.html as the outbox writes them."""
    config = load(overrides={"state_dir": str(tmp_path / "state"), "outbox": str(tmp_path / "outbox")})
    store = open_store(config.state_path)
    now = time.time()
    job_id = running_job(store, GOOD_NAME, now)
    record = store.job(job_id)
    assert record is not None
    expected = progress.overall(record, store.steps(job_id), average_step_seconds(store), now)
    assert expected is not None and expected.remaining_seconds is not None
    outbox = Outbox(store, config)
    outbox.job_changed(job_id)
    outbox.flush_index(force=True)
    shots = tmp_path / "screenshots"
    check_page(browser, config.outbox_path / "index.html", shots, "running-index", with_images=False)
    running = browser.evaluate("document.getElementById('running').innerText")
    percent = round(100 * expected.share)
    assert GOOD_NAME in running and f"{percent} %" in running, running
    assert browser.evaluate("document.querySelector('#running progress').value") == percent
    left = browser.evaluate(
        "document.querySelector('#running tr:last-child td:last-child').innerText"
    ).strip()
    assert abs(seconds_of(left) - expected.remaining_seconds) <= 5, (left, expected)
    page = config.outbox_path / GOOD_NAME / "report.html"
    check_page(browser, page, shots, "running-report", with_images=False)
    line = browser.evaluate("document.getElementById('overall').innerText")
    match = RUNNING_LINE.search(line)
    assert match is not None and int(match.group(1)) == percent, line
    assert abs(seconds_of(match.group(2)) - expected.remaining_seconds) <= 5, (line, expected)
    assert browser.evaluate("document.querySelector('#overall progress').value") == percent
