"""Job options: config defaults < folder mocapd.json files < the video's sidecar; errors name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mocapd.errors import JobError
from mocapd.options import FOLDER_OPTIONS_NAME, JobOptions, merge, read_json, resolve, sidecar_path


def test_merge_updates_only_the_given_keys() -> None:
    options = merge(JobOptions(), {"track_mode": "all", "fps": 30, "formats": ["bvh"]}, "clip.json")
    assert options.track_mode == "all" and options.fps == 30.0 and options.formats == ["bvh"]
    assert options.smoothing_strength == JobOptions().smoothing_strength


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trackmode": "all"}, "clip.json: unknown key 'trackmode'"),
        ({"track_mode": "everyone"}, "clip.json: 'track_mode' must be one of auto, single, all"),
        ({"smoothing_strength": 2}, "clip.json: 'smoothing_strength' must be between 0.0 and 1.0"),
        ({"fps": "thirty"}, "clip.json: 'fps' must be a number"),
        ({"track_id": 1.5}, "clip.json: 'track_id' must be an integer"),
        ({"foot_locking": "no"}, "clip.json: 'foot_locking' must be true or false"),
        ({"formats": []}, "clip.json: 'formats' must name at least one format"),
        ({"formats": ["fbx", "usd"]}, "clip.json: 'formats' must be one of fbx, bvh, glb"),
        ({"output_name": "../escape"}, "'output_name' '../escape' is not a plain file name"),
        ({"output_name": ".hidden"}, "is not a plain file name"),
        ({"output_name": "  "}, "is not a plain file name"),
        ({"output_name": "bad\nname"}, "has control characters or is too long"),
        ({"output_name": "x" * 201}, "has control characters or is too long"),
    ],
)
def test_bad_options_fail_the_job_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(JobError) as error:
        merge(JobOptions(), data, "clip.json")
    assert message in str(error.value)


def test_a_plain_output_name_with_spaces_and_unicode_is_fine() -> None:
    assert merge(JobOptions(), {"output_name": "Prise 2 – été"}, "clip.json").output_name == "Prise 2 – été"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "clip.json: not valid JSON"), ("[1, 2]", "clip.json: must hold a JSON object, got list")],
)
def test_read_json_refuses_what_is_not_a_json_object(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "clip.json"
    path.write_text(content)
    with pytest.raises(JobError, match=message):
        read_json(path)


def test_read_json_refuses_bytes_that_are_not_text(tmp_path: Path) -> None:
    path = tmp_path / "clip.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(JobError, match="not valid JSON"):
        read_json(path)


def test_sidecar_path_is_the_video_name_with_json() -> None:
    assert sidecar_path(Path("/in/take.2.mp4")) == Path("/in/take.2.json")


def test_resolve_applies_folders_from_the_inbox_down_then_the_sidecar(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    folder = inbox / "shoot" / "day1"
    folder.mkdir(parents=True)
    (inbox / FOLDER_OPTIONS_NAME).write_text(json.dumps({"formats": ["bvh"], "fps": 24, "track_mode": "all"}))
    (inbox / "shoot" / FOLDER_OPTIONS_NAME).write_text(json.dumps({"fps": 25, "foot_locking": False}))
    (folder / FOLDER_OPTIONS_NAME).write_text(json.dumps({"fps": 50}))
    video = folder / "take.mp4"
    sidecar = folder / "take.json"
    sidecar.write_text(json.dumps({"track_mode": "single", "track_id": 2}))
    defaults = JobOptions(smoothing_window=11)
    options = resolve(defaults, inbox, video, sidecar)
    assert options.formats == ["bvh"] and options.fps == 50.0 and options.foot_locking is False
    assert options.track_mode == "single" and options.track_id == 2 and options.smoothing_window == 11
    assert resolve(defaults, inbox, video, None).track_mode == "all"


def test_a_bad_folder_file_names_its_path_in_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "shoot").mkdir(parents=True)
    (inbox / "shoot" / FOLDER_OPTIONS_NAME).write_text(json.dumps({"smoothing": "high"}))
    with pytest.raises(JobError, match=r"shoot/mocapd.json: unknown key 'smoothing'"):
        resolve(JobOptions(), inbox, inbox / "shoot" / "take.mp4", None)


def test_every_bad_key_of_every_file_is_named(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "shoot").mkdir(parents=True)
    (inbox / "shoot" / FOLDER_OPTIONS_NAME).write_text(json.dumps({"fps": "thirty"}))
    video = inbox / "shoot" / "take.mp4"
    sidecar = sidecar_path(video)
    sidecar.write_text(json.dumps({"skeleton_preset": "maya", "smoothing_strength": 2}))
    with pytest.raises(JobError) as error:
        resolve(JobOptions(), inbox, video, sidecar)
    message = str(error.value)
    assert f"shoot/{FOLDER_OPTIONS_NAME}: 'fps' must be a number" in message
    assert "take.json: " in message
    assert "'skeleton_preset' must be one of smpl, mixamo, unreal, unreal5, got 'maya'" in message
    assert "'smoothing_strength' must be between 0.0 and 1.0, got 2" in message
