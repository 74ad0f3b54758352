"""`mocapd reexport`: earlier results kept unless --replace, intermediate/ consistent, several tracks or all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store
from tests.stages import write_script
from tests.stages.harness import Daemon, Setup, drop, wait_for

__all__ = ["folders", "store"]  # fixtures


def header(path: Path) -> bytes:
    return path.read_bytes().split(b"\n", 1)[0]


def completed(setup: Setup, name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status = setup.status(name)
        return status if status is not None and status["status"] == states.COMPLETED else None

    result: dict[str, Any] = wait_for(done, 30, f"{name} to complete")
    return result


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    running = setup.start()
    yield setup, running
    running.stop()


def test_reexports_keep_the_earlier_results_and_take_several_tracks_or_all(
    daemon: tuple[Setup, Daemon],
) -> None:
    setup, _ = daemon
    drop(setup.inbox / "take.json", json.dumps({"keep_intermediate": True}).encode())
    drop(setup.inbox / "take.mp4", b"video")
    completed(setup, "take")
    first = listing(setup.outbox / "take")
    assert "intermediate/track_1.npz" in first and b"tracks=[1] preset=smpl" in header(
        setup.outbox / "take" / "animation.fbx"
    )
    # Several ids: a new folder, numbered; the first one untouched.
    reexport = setup.cli("reexport", "take", "--track", "1", "2")
    assert reexport.returncode == 0, reexport.stderr
    assert (
        f"results in {setup.outbox / 'take-2'}" in reexport.stdout
        and "earlier results stay" in reexport.stdout
    )
    status = completed(setup, "take-2")
    assert status["options"]["track_ids"] == [1, 2]
    assert [track["tid"] for track in status["tracks"] if track["selected"]] == [1, 2]
    assert b"tracks=[1, 2] preset=smpl" in header(setup.outbox / "take-2" / "animation.fbx")
    assert {"intermediate/track_1.npz", "intermediate/track_2.npz"} <= set(listing(setup.outbox / "take-2"))
    assert listing(setup.outbox / "take") == first
    assert json.loads((setup.outbox / "take" / "status.json").read_text())["options"]["track_ids"] is None
    # One track by the job's earlier name, replacing: intermediate/ then holds that track only.
    reexport = setup.cli("reexport", "take", "--track", "2", "--replace")
    assert reexport.returncode == 0, reexport.stderr
    assert "replacing the earlier results" in reexport.stdout
    wait_for(
        lambda: b"tracks=[2]" in header(setup.outbox / "take-2" / "animation.fbx"), 30, "the replacement"
    )
    completed(setup, "take-2")
    replaced = listing(setup.outbox / "take-2")
    assert "intermediate/track_2.npz" in replaced and "intermediate/track_1.npz" not in replaced
    assert "intermediate/smoothed/track_1.npz" not in replaced
    # all: every track of at least min_track_frames.
    reexport = setup.cli("reexport", "take-2", "--track", "all")
    assert reexport.returncode == 0, reexport.stderr
    status = completed(setup, "take-3")
    assert status["options"]["track_mode"] == "all"
    assert b"tracks=[1, 2] preset=smpl" in header(setup.outbox / "take-3" / "animation.fbx")
    assert b"tracks=[1] preset=smpl" in header(setup.outbox / "take" / "animation.fbx")


def test_an_intermediate_folder_not_asked_for_again_is_removed_on_replace(
    daemon: tuple[Setup, Daemon],
) -> None:
    setup, _ = daemon
    drop(setup.inbox / "take.json", json.dumps({"keep_intermediate": True}).encode())
    drop(setup.inbox / "take.mp4", b"video")
    completed(setup, "take")
    assert (setup.outbox / "take" / "intermediate" / "track_1.npz").is_file()
    job_id = setup.jobs()[0]["id"]
    reexport = setup.cli(
        "reexport", str(job_id), "--skeleton-preset", "mixamo", "--keep-intermediate", "off", "--replace"
    )
    assert reexport.returncode == 0, reexport.stderr
    wait_for(lambda: b"preset=mixamo" in header(setup.outbox / "take" / "animation.fbx"), 30, "the re-export")
    completed(setup, "take")
    assert not (setup.outbox / "take" / "intermediate").exists()  # it would describe the earlier export
    assert sorted(path.name for path in (setup.outbox / "take").iterdir()) == [
        "animation.fbx",
        "report.html",
        "status.json",
    ]


def test_bad_track_choices_are_refused(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "take", states.COMPLETED)
    assert run(folders, "reexport", "take", "--track", "1", "9") == 1
    assert "has no track 9" in capsys.readouterr().err
    assert run(folders, "reexport", "take", "--track", "all", "2") == 1
    assert "cannot be given with track ids" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(folders, "reexport", "take", "--track", "everyone")
    assert "expected a track id or 'all'" in capsys.readouterr().err
    record = store.job(1)
    assert record is not None and record.state == states.COMPLETED  # nothing queued
