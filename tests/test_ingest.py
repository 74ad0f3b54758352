"""Ingest on a real filesystem: copy, verify, and only then remove from the inbox."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from mocapd.errors import TransientError
from mocapd.inbox import ingest as ingest_module
from mocapd.inbox.ingest import (
    ingest,
    ingested_sidecar,
    move_without_following,
    remove_originals,
    still_in_inbox,
)
from mocapd.inbox.watcher import Candidate, refusal_for


def candidate_for(inbox: Path, name: str, sidecar: Path | None = None) -> Candidate:
    """The candidate the scanner would return for inbox/name (lstat, never following a link)."""
    path = inbox / name
    status = os.lstat(path)
    return Candidate(
        path=path,
        relative=name,
        size=status.st_size,
        mtime_ns=status.st_mtime_ns,
        sidecar=sidecar,
        refusal=refusal_for(status.st_mode, name),
        inode=status.st_ino,
    )


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_ingest_copies_and_verifies_and_the_originals_go_only_when_asked(inbox: Path, tmp_path: Path) -> None:
    content = os.urandom(3 * ingest_module.CHUNK_BYTES + 17)
    (inbox / "clip.mp4").write_bytes(content)
    (inbox / "clip.json").write_text('{"track_mode": "all"}')
    candidate = candidate_for(inbox, "clip.mp4", sidecar=inbox / "clip.json")
    input_dir = tmp_path / "state" / "jobs" / "7" / "input"
    copied = ingest(candidate, input_dir)
    assert copied == input_dir / "clip.mp4"
    assert copied.read_bytes() == content
    assert ingested_sidecar(candidate, input_dir) == input_dir / "clip.json"
    assert (input_dir / "clip.json").read_text() == '{"track_mode": "all"}'
    # The originals stay until the video check has decoded the copy (a stalled copy keeps its file).
    assert sorted(os.listdir(inbox)) == ["clip.json", "clip.mp4"]
    assert still_in_inbox(candidate)
    remove_originals(candidate)
    assert sorted(os.listdir(inbox)) == []
    assert sorted(os.listdir(input_dir)) == ["clip.json", "clip.mp4"]  # no staging file left behind


@pytest.mark.parametrize(
    "name", ["with space.mp4", "ünïcödé 動画.mov", 'quote\'s "double".mp4', "-leading-dash.mkv", "--.mp4"]
)
def test_ingest_handles_odd_names(inbox: Path, tmp_path: Path, name: str) -> None:
    (inbox / name).write_bytes(b"video bytes")
    copied = ingest(candidate_for(inbox, name), tmp_path / "input")
    assert copied.name == name and copied.read_bytes() == b"video bytes"
    assert (inbox / name).exists()  # removed only after the video check


def test_ingest_refuses_a_source_that_changed_after_it_was_seen(inbox: Path, tmp_path: Path) -> None:
    video = inbox / "clip.mp4"
    video.write_bytes(b"first part")
    candidate = candidate_for(inbox, "clip.mp4")
    with open(video, "ab") as more:
        more.write(b" and more")
    with pytest.raises(TransientError, match="changed after it was seen"):
        ingest(candidate, tmp_path / "input")
    assert video.read_bytes() == b"first part and more"
    assert os.listdir(tmp_path / "input") == []


def test_ingest_leaves_the_inbox_untouched_when_the_source_changes_during_the_copy(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = inbox / "clip.mp4"
    video.write_bytes(os.urandom(100_000))
    candidate = candidate_for(inbox, "clip.mp4")
    real_fsync = os.fsync
    appended: list[bool] = []

    def fsync_then_append(descriptor: int) -> None:
        # The copy is written; a late writer (another machine on the share) appends before the re-check.
        real_fsync(descriptor)
        if not appended:
            appended.append(True)
            with open(video, "ab") as late_writer:
                late_writer.write(b"late bytes")

    monkeypatch.setattr(os, "fsync", fsync_then_append)
    with pytest.raises(TransientError, match="changed while it was being copied"):
        ingest(candidate, tmp_path / "input")
    assert video.exists() and video.stat().st_size == 100_010
    assert os.listdir(tmp_path / "input") == []


def test_a_refused_symlink_is_moved_and_never_followed(inbox: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.mp4"
    target.write_bytes(b"somebody else's file")
    (inbox / "link.mp4").symlink_to(target)
    candidate = candidate_for(inbox, "link.mp4")
    assert candidate.refusal is not None
    moved = ingest(candidate, tmp_path / "input")
    assert moved.is_symlink() and os.readlink(moved) == str(target)
    assert target.read_bytes() == b"somebody else's file"
    assert not os.path.lexists(inbox / "link.mp4")


def test_a_refused_fifo_and_folder_are_moved_out_of_the_inbox(inbox: Path, tmp_path: Path) -> None:
    os.mkfifo(inbox / "pipe.mp4")
    (inbox / "folder.mp4").mkdir()
    (inbox / "folder.mp4" / "inside.txt").write_text("kept")
    input_dir = tmp_path / "input"
    moved_pipe = ingest(candidate_for(inbox, "pipe.mp4"), input_dir)  # opening it would block forever
    moved_folder = ingest(candidate_for(inbox, "folder.mp4"), input_dir)
    assert stat.S_ISFIFO(os.lstat(moved_pipe).st_mode)
    assert (moved_folder / "inside.txt").read_text() == "kept"
    assert os.listdir(inbox) == []


def test_moving_to_another_filesystem_recreates_links_fifos_and_folders(inbox: Path) -> None:
    """The inbox is usually a share and the state dir a local disk: rename fails with EXDEV there."""
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(inbox).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm)")
    (inbox / "link.mp4").symlink_to("/nonexistent/target.mp4")
    os.mkfifo(inbox / "pipe.mp4")
    (inbox / "folder.mp4").mkdir()
    (inbox / "folder.mp4" / "a.txt").write_text("a")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        other_filesystem = Path(other)
        for name in ("link.mp4", "pipe.mp4", "folder.mp4"):
            move_without_following(inbox / name, other_filesystem / name)
        assert os.readlink(other_filesystem / "link.mp4") == "/nonexistent/target.mp4"
        assert stat.S_ISFIFO(os.lstat(other_filesystem / "pipe.mp4").st_mode)
        assert (other_filesystem / "folder.mp4" / "a.txt").read_text() == "a"
    assert os.listdir(inbox) == []


def test_a_video_dropped_again_under_the_same_name_is_a_new_copy(inbox: Path, tmp_path: Path) -> None:
    (inbox / "clip.mp4").write_bytes(b"take one")
    first = ingest(candidate_for(inbox, "clip.mp4"), tmp_path / "jobs" / "1" / "input")
    (inbox / "clip.mp4").write_bytes(b"take two")
    second = ingest(candidate_for(inbox, "clip.mp4"), tmp_path / "jobs" / "2" / "input")
    assert first.read_bytes() == b"take one" and second.read_bytes() == b"take two"
