"""The inbox scanner and watcher on a real filesystem with real watchdog events."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from mocapd.config import Config, WatchSettings
from mocapd.inbox.watcher import Candidate, InboxScanner, InboxWatcher, is_ignored_name


class FakeClock:
    """A monotonic clock the test moves by hand, so the settle logic needs no sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_config(tmp_path: Path, **watch: float) -> Config:
    settings = {"poll_interval": 1.0, "settle_time": 5.0, "stable_polls": 3, "sidecar_grace": 0.0} | watch
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return Config(inbox=str(inbox), watch=WatchSettings(**settings))  # type: ignore[arg-type]


def scan_at(scanner: InboxScanner, clock: FakeClock, *times: float) -> list[list[Candidate]]:
    """Scan once at each clock time (seconds after the start)."""
    start = 1000.0
    results = []
    for moment in times:
        clock.now = start + moment
        results.append(scanner.scan())
    return results


def names(candidates: list[Candidate]) -> list[str]:
    return [candidate.relative for candidate in candidates]


@pytest.mark.parametrize(
    "name",
    [".hidden.mp4", "._clip.mp4", ".DS_Store", "Thumbs.db", "~$clip.mp4", "clip.mp4.part", "clip.mp4.tmp",
     "clip.mp4.crdownload", "clip.mp4.partial", "clip.mp4.download", ".clip.mp4.Xa81Qz", "CLIP.MP4.PART"],
)  # fmt: skip
def test_temporary_and_hidden_names_are_ignored(name: str) -> None:
    assert is_ignored_name(name)


@pytest.mark.parametrize("name", ["clip.mp4", "take 2.MOV", "-dash.mkv", "ünï.avi", "a.b.mp4"])
def test_ordinary_names_are_not_ignored(name: str) -> None:
    assert not is_ignored_name(name)


def test_a_file_is_returned_once_after_stable_polls_and_settle_time(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=5.0, stable_polls=3)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    video = config.inbox_path / "clip.mp4"
    video.write_bytes(b"x" * 1000)
    # 3 polls reached at t=2 but the settle time (5 s since the file stopped changing) is not.
    assert scan_at(scanner, clock, 0, 1, 2, 4.9) == [[], [], [], []]
    (ready,) = scan_at(scanner, clock, 5.0)
    assert names(ready) == ["clip.mp4"]
    assert ready[0].path == video and ready[0].size == 1000 and ready[0].refusal is None
    assert ready[0].sidecar is None
    assert scan_at(scanner, clock, 6, 20) == [[], []]


def test_stable_polls_are_needed_even_when_the_settle_time_passed(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=1.0, stable_polls=4)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    (config.inbox_path / "clip.mp4").write_bytes(b"x")
    assert scan_at(scanner, clock, 0, 100, 200) == [[], [], []]
    assert names(scan_at(scanner, clock, 300)[0]) == ["clip.mp4"]


def test_a_file_still_being_copied_is_not_returned(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=2.0, stable_polls=2)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    video = config.inbox_path / "clip.mp4"
    with open(video, "wb") as copy:
        for second in range(10):
            copy.write(b"y" * 4096)
            copy.flush()
            # mtime granularity can hide a same-second write on some filesystems; size always moves.
            assert scan_at(scanner, clock, second * 3.0) == [[]]
    # The last write was seen at t=27: two polls and 2 s later it is taken.
    ready = scan_at(scanner, clock, 28, 29, 30)
    assert [names(batch) for batch in ready] == [[], ["clip.mp4"], []]
    assert ready[1][0].size == 10 * 4096


def test_a_slow_real_copy_is_returned_once_after_it_ends(tmp_path: Path) -> None:
    """Real time: a chunked copy in a thread while the scanner polls; taken once, only after the copy."""
    # The settle time is several times the pause between chunks, so a loaded machine does not flake.
    config = make_config(tmp_path, settle_time=0.5, stable_polls=2)
    scanner = InboxScanner(config)
    video = config.inbox_path / "slow.mp4"
    copy_finished = threading.Event()
    last_write: list[float] = []

    def slow_copy() -> None:
        with open(video, "wb") as copy:
            for _ in range(8):
                copy.write(os.urandom(8192))
                copy.flush()
                last_write[:] = [time.monotonic()]
                time.sleep(0.06)
        copy_finished.set()

    writer = threading.Thread(target=slow_copy)
    writer.start()
    returned: list[tuple[float, Candidate]] = []
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and not (copy_finished.is_set() and returned):
        returned.extend((time.monotonic(), candidate) for candidate in scanner.scan())
        time.sleep(0.02)
    writer.join()
    for _ in range(5):
        returned.extend((time.monotonic(), candidate) for candidate in scanner.scan())
    assert len(returned) == 1
    taken_at, candidate = returned[0]
    assert candidate.size == 8 * 8192
    assert taken_at >= last_write[0] + 0.5


def test_temporary_hidden_and_other_names_are_never_returned(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    inbox = config.inbox_path
    for name in [".hidden.mp4", "._clip.mp4", "clip.mp4.part", "~$clip.mp4", ".clip.mp4.Xa81Qz", "notes.txt",
                 "options.json", "mocapd.json", "clip.mp4.crdownload"]:  # fmt: skip
        (inbox / name).write_bytes(b"data")
    (inbox / ".Trash").mkdir()
    (inbox / ".Trash" / "old.mp4").write_bytes(b"data")
    scanner = InboxScanner(config, FakeClock())
    assert scanner.scan() == [] and scanner.scan() == []
    assert scanner.healthy


def test_links_special_files_and_folders_named_like_videos_are_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1, sidecar_grace=100.0)
    inbox = config.inbox_path
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "real.mp4").write_bytes(b"video")
    (inbox / "link.mp4").symlink_to(outside / "real.mp4")
    (inbox / "linked-folder").symlink_to(outside)  # not followed: real.mp4 inside must not show up
    os.mkfifo(inbox / "pipe.mp4")
    (inbox / "folder.mp4").mkdir()
    (inbox / "folder.mp4" / "inside.mp4").write_bytes(b"video")  # a refused folder is not walked
    ready = {candidate.relative: candidate for candidate in InboxScanner(config, FakeClock()).scan()}
    assert sorted(ready) == ["folder.mp4", "link.mp4", "pipe.mp4"]
    assert "symbolic link" in (ready["link.mp4"].refusal or "")
    assert "special file" in (ready["pipe.mp4"].refusal or "")
    assert "folder named like a video" in (ready["folder.mp4"].refusal or "")


def test_a_sidecar_that_is_a_link_refuses_its_video(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    (tmp_path / "options.json").write_text("{}")
    (config.inbox_path / "clip.mp4").write_bytes(b"video")
    (config.inbox_path / "clip.json").symlink_to(tmp_path / "options.json")
    (candidate,) = InboxScanner(config, FakeClock()).scan()
    assert candidate.refusal is not None and "clip.json" in candidate.refusal


def test_a_sidecar_written_before_its_video_comes_with_it_without_waiting_for_the_grace(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, settle_time=2.0, stable_polls=2, sidecar_grace=60.0)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    (config.inbox_path / "take.json").write_text('{"track_mode": "all"}')
    assert scan_at(scanner, clock, 0) == [[]]
    (config.inbox_path / "take.mp4").write_bytes(b"video")
    (first, second) = scan_at(scanner, clock, 1, 3)
    assert first == []
    assert names(second) == ["take.mp4"]
    assert second[0].sidecar == config.inbox_path / "take.json"


def test_a_sidecar_arriving_within_the_grace_period_comes_with_its_video(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=2.0, stable_polls=2, sidecar_grace=10.0)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    (config.inbox_path / "take.mp4").write_bytes(b"video")
    # The video is stable at t=2 but waits for a possible sidecar.
    assert scan_at(scanner, clock, 0, 2, 6) == [[], [], []]
    (config.inbox_path / "take.json").write_text('{"fps": 30}')
    assert scan_at(scanner, clock, 7) == [[]]  # the sidecar itself must settle
    (ready,) = scan_at(scanner, clock, 9)
    assert names(ready) == ["take.mp4"] and ready[0].sidecar == config.inbox_path / "take.json"


def test_without_a_sidecar_the_video_is_taken_when_the_grace_period_ends(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=2.0, stable_polls=2, sidecar_grace=10.0)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    (config.inbox_path / "take.mp4").write_bytes(b"video")
    results = scan_at(scanner, clock, 0, 2, 9.9, 10.0)
    assert [names(batch) for batch in results] == [[], [], [], ["take.mp4"]]
    assert results[3][0].sidecar is None


def test_a_sidecar_still_being_written_holds_its_video_back(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=2.0, stable_polls=2)
    clock = FakeClock()
    scanner = InboxScanner(config, clock)
    (config.inbox_path / "take.mp4").write_bytes(b"video")
    sidecar = config.inbox_path / "take.json"
    sidecar.write_text('{"fps":')
    assert scan_at(scanner, clock, 0) == [[]]
    sidecar.write_text('{"fps": 24}')
    # The video alone would be ready at t=2; the sidecar changed at t=1 and settles at t=3.
    assert scan_at(scanner, clock, 1, 2) == [[], []]
    (ready,) = scan_at(scanner, clock, 3)
    assert names(ready) == ["take.mp4"] and ready[0].sidecar == sidecar


def test_subfolders_are_walked_and_results_are_oldest_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    inbox = config.inbox_path
    (inbox / "shoot" / "day 2").mkdir(parents=True)
    (inbox / "shoot" / "mocapd.json").write_text('{"formats": ["bvh"]}')
    files = {"b.mp4": 300, "a.mp4": 300, "shoot/day 2/c.MOV": 100, "shoot/d.mkv": 200}
    for relative, seconds in files.items():
        (inbox / relative).write_bytes(b"v")
        os.utime(inbox / relative, ns=(seconds * 10**9, seconds * 10**9))
    ready = InboxScanner(config, FakeClock()).scan()
    assert names(ready) == ["shoot/day 2/c.MOV", "shoot/d.mkv", "a.mp4", "b.mp4"]
    assert ready[0].path == inbox / "shoot" / "day 2" / "c.MOV"


def test_identity_is_stable_across_scanners_and_new_for_a_redropped_file(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    video = config.inbox_path / "clip.mp4"
    video.write_bytes(b"first take")
    first_scanner = InboxScanner(config, FakeClock())
    (first,) = first_scanner.scan()
    assert first_scanner.scan() == []  # the same file over two scans: once
    (after_restart,) = InboxScanner(config, FakeClock()).scan()  # a restart sees it again...
    assert after_restart.identity == first.identity  # ...with the same key, so the store dedupes it
    video.unlink()
    video.write_bytes(b"second take, longer")
    (redropped,) = first_scanner.scan()
    assert redropped.relative == first.relative and redropped.identity != first.identity


def test_forget_lets_a_candidate_be_returned_again(tmp_path: Path) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    (config.inbox_path / "clip.mp4").write_bytes(b"v")
    scanner = InboxScanner(config, FakeClock())
    (candidate,) = scanner.scan()
    scanner.forget(candidate.identity)
    assert scanner.scan() == [candidate]


def test_a_missing_inbox_is_unhealthy_then_healthy_when_it_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, settle_time=0.0, stable_polls=1)
    inbox = config.inbox_path
    scanner = InboxScanner(config, FakeClock())
    assert scanner.scan() == [] and scanner.healthy and scanner.problem is None
    shutil.rmtree(inbox)
    with caplog.at_level(logging.INFO, logger="mocapd.inbox.watcher"):
        assert scanner.scan() == [] and scanner.scan() == []
        assert not scanner.healthy
        assert scanner.problem == f"inbox {inbox} is missing"
        inbox.mkdir()
        (inbox / "clip.mp4").write_bytes(b"v")
        assert names(scanner.scan()) == ["clip.mp4"]
        assert scanner.healthy and scanner.problem is None
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [f"inbox {inbox} is missing", f"inbox {inbox} is back: watching it again"]


def test_an_inbox_that_is_a_file_is_unhealthy(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config.inbox_path.rmdir()
    config.inbox_path.write_text("not a folder")
    scanner = InboxScanner(config, FakeClock())
    assert scanner.scan() == []
    assert scanner.problem == f"inbox {config.inbox_path} is not a folder"


def test_the_watcher_wakes_on_a_new_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wake = threading.Event()
    watcher = InboxWatcher(inbox, wake)
    watcher.start()
    try:
        wake.clear()
        (inbox / "sub").mkdir()
        (inbox / "sub" / "clip.mp4").write_bytes(b"v")
        assert wake.wait(5.0)
    finally:
        watcher.stop()
    assert not watcher.watching


def test_the_watcher_rearms_after_the_inbox_disappears_and_comes_back(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    wake = threading.Event()
    watcher = InboxWatcher(inbox, wake)
    watcher.start()  # missing at start: no error, watched once it appears
    try:
        assert not watcher.watching
        inbox.mkdir()
        watcher.ensure_watching()
        assert watcher.watching and wake.is_set()  # re-arming asks for a scan
        shutil.rmtree(inbox)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            watcher.ensure_watching()
            if not watcher.watching:
                break
            time.sleep(0.02)
        assert not watcher.watching
        inbox.mkdir()
        watcher.ensure_watching()
        assert watcher.watching
        wake.clear()
        (inbox / "clip.mp4").write_bytes(b"v")
        assert wake.wait(5.0)
    finally:
        watcher.stop()
