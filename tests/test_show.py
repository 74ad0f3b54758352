"""`mocapd show`: a readable summary by default, the status document with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store

__all__ = ["folders", "store"]  # fixtures


def test_show_prints_a_readable_summary(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "take", states.FAILED, failed_step=states.TRACKING)
    store.update_job(
        job_id,
        options=json.dumps({"formats": ["bvh", "glb"], "skeleton_preset": "smpl"}),
        video_info=json.dumps(
            {"width": 640, "height": 480, "fps": 25.0, "duration": 4.0, "frame_count": 100, "codec": "h264"}
        ),
        warnings=json.dumps(["track 2: detected in 40% of its frames"]),
    )
    assert run(folders, "show", "take") == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"job {job_id} take (take.mp4): failed"
    assert "  error: tracking: it broke" in lines
    assert "  video: 640x480, 25 fps, 100 frames, 4.0 s, h264" in lines
    assert "  options: formats=['bvh', 'glb']" in lines  # only what differs from the defaults
    assert any(line.startswith("    video check") and "done" in line and "1.5 s" in line for line in lines)
    assert any(line.startswith("    tracking") and "failed" in line and "it broke" in line for line in lines)
    assert "  tracks: 1 (exported), 2" in text
    assert "  warning: track 2: detected in 40% of its frames" in lines
    assert " UTC, started " in text and "{" not in text  # times in UTC, no raw JSON
    assert len(lines) < 25


def test_show_json_is_the_status_document(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "take", states.COMPLETED)
    assert run(folders, "--json", "show", "take") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["id"] == job_id
        and shown["status"] == states.COMPLETED
        and shown["timings"]["created"].endswith("+00:00")
    )
    assert shown["overall"] is None  # not running
