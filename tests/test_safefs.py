"""Writing inside the daemon's folders without following links put there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mocapd import safefs


def test_a_link_in_place_of_a_folder_is_refused_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    root = tmp_path / "outbox"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "take").symlink_to(elsewhere)
    with pytest.raises(safefs.LinkRefused, match="symbolic link"):
        with safefs.folder(root, "take", create=True):
            pass
    with safefs.folder(root) as parent:
        assert safefs.is_link_or_not_folder(parent, "take")
        assert safefs.move_aside(parent, "take") == "take.link"
    with safefs.folder(root, "take", create=True) as folder:
        safefs.write_file(folder, "status.json", b"{}")
    assert (root / "take" / "status.json").read_bytes() == b"{}" and list(elsewhere.iterdir()) == []
    assert os.readlink(root / "take.link") == str(elsewhere)


def test_copy_refuses_a_link_and_leaves_no_staging_file(tmp_path: Path) -> None:
    source, target = tmp_path / "package", tmp_path / "out"
    source.mkdir()
    target.mkdir()
    (tmp_path / "secret").write_text("not a result")
    (source / "animation.fbx").symlink_to(tmp_path / "secret")
    (source / "report.txt").write_text("ok")
    with safefs.folder(source) as package, safefs.folder(target) as out:
        assert safefs.regular_files(package) == ["report.txt"]
        with pytest.raises(OSError):
            safefs.copy_file(package, "animation.fbx", out, "animation.fbx")
        safefs.copy_file(package, "report.txt", out, "report.txt")
    assert sorted(os.listdir(target)) == ["report.txt"]


def test_check_real_folder(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "1").mkdir(parents=True)
    safefs.check_real_folder(tmp_path / "jobs" / "1", tmp_path)
    (tmp_path / "jobs" / "2").symlink_to(tmp_path / "jobs" / "1")
    with pytest.raises(safefs.LinkRefused):
        safefs.check_real_folder(tmp_path / "jobs" / "2", tmp_path)
