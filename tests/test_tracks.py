"""`mocapd tracks`: each track with its frames, first and last frame and time in the video."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store

__all__ = ["folders", "store"]  # fixtures


def test_tracks_show_the_first_and_last_frame_and_time(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "take", states.COMPLETED)
    listed = [
        {"tid": 1, "frames": 10, "share": 1.0, "first_frame": 0, "last_frame": 99},
        {"tid": 2, "frames": 5, "share": 0.5, "first_frame": 50, "last_frame": 74},
    ]
    store.update_job(
        job_id,
        step_data=json.dumps({states.TRACK_EXTRACTION: {"tracks": listed}}),
        video_info=json.dumps(
            {"width": 64, "height": 48, "fps": 25.0, "duration": 4.0, "frame_count": 100, "codec": "h264"}
        ),
    )
    assert run(folders, "tracks", "take") == 0
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == ["track", "frames", "share", "first", "last", "from", "to", "exported"]
    assert first.split() == ["1", "10", "1.00", "0", "99", "0.00", "s", "3.96", "s", "yes"]
    assert second.split() == ["2", "5", "0.50", "50", "74", "2.00", "s", "2.96", "s", "no"]
    assert run(folders, "tracks", "take", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1] | {"quality": {}} == {
        "tid": 2,
        "frames": 5,
        "share": 0.5,
        "first_frame": 50,
        "last_frame": 74,
        "first_time": 2.0,
        "last_time": 2.96,
        "selected": False,
        "quality": {},
    }


def test_tracks_without_a_recorded_span_show_dashes(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "take", states.COMPLETED)
    assert run(folders, "tracks", "take") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3:7] == ["-", "-", "-", "-"]
