"""`mocapd submit`: options from the command line (lists as a,b), the output name, a file already waiting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store

__all__ = ["folders", "store"]  # fixtures


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"video data")
    return path


def test_a_list_option_takes_comma_separated_values(
    folders: dict[str, Path], video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folders, "submit", str(video), "--option", "formats=bvh,glb", "--option", "fps=24") == 0
    assert json.loads((folders["inbox"] / "clip.json").read_text()) == {"formats": ["bvh", "glb"], "fps": 24}
    (folders["inbox"] / "clip.mp4").unlink()
    assert run(folders, "submit", str(video), "--option", "formats=bvh") == 0
    assert json.loads((folders["inbox"] / "clip.json").read_text()) == {"formats": ["bvh"]}
    (folders["inbox"] / "clip.mp4").unlink()
    assert run(folders, "submit", str(video), "--option", "formats=bvh,obj") == 1
    assert "'formats' must be one of fbx, bvh, glb, got 'obj'" in capsys.readouterr().err


def test_submit_prints_the_output_name_the_daemon_will_use(
    folders: dict[str, Path], store: Store, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "clip-2", states.PROCESSING)
    assert run(folders, "submit", str(video)) == 0
    assert "output name clip " in capsys.readouterr().out
    (folders["inbox"] / "clip.mp4").unlink()
    # An earlier result in the outbox and a job still running under the next name: the next free one.
    (folders["outbox"] / "clip").mkdir()
    assert run(folders, "submit", str(video)) == 0
    assert f"output name clip-3 (results in {folders['outbox'] / 'clip-3'})" in capsys.readouterr().out
    (folders["inbox"] / "clip.mp4").unlink()
    assert run(folders, "submit", str(video), "--option", "output_name=hero") == 0
    assert "output name hero " in capsys.readouterr().out


def test_a_file_already_waiting_in_the_inbox_is_a_no_op(
    folders: dict[str, Path], video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folders, "submit", str(video)) == 0
    capsys.readouterr()
    waiting = folders["inbox"] / "clip.mp4"
    before = waiting.stat()
    assert run(folders, "submit", str(video)) == 0  # the same content again
    assert "already in the inbox: nothing to do" in capsys.readouterr().out
    assert run(folders, "submit", str(waiting)) == 0  # the inbox's own file
    assert "nothing to do" in capsys.readouterr().out
    assert waiting.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(path.name for path in folders["inbox"].iterdir()) == ["clip.mp4"]
    other = tmp_path / "other" / "clip.mp4"
    other.parent.mkdir()
    other.write_bytes(b"another take")
    assert run(folders, "submit", str(other)) == 1  # the same name, other content: refused
    assert "another clip.mp4 is already waiting" in capsys.readouterr().err
    assert waiting.read_bytes() == b"video data"
