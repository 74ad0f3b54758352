"""The configuration: etc/mocapd.toml documents every key at its default; load order and errors."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from mocapd import states
from mocapd.config import Config, ConfigError, RunnerSettings, TimeoutSettings, load

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "etc" / "mocapd.toml"
KEY_LINE = re.compile(r"^(#\s*)?([a-z_][a-z0-9_]*)\s*=")


def setting_keys(cls: type, prefix: str = "") -> list[str]:
    """Every leaf key of a settings dataclass, dotted ("limits.max_size_mb")."""
    hints = typing.get_type_hints(cls)
    keys = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            keys.extend(setting_keys(hint, f"{prefix}{field.name}."))  # type: ignore[arg-type]
        else:
            keys.append(prefix + field.name)
    return keys


def documented_keys(text: str) -> dict[str, tuple[bool, str]]:
    """Dotted key -> (commented out, the line above it) for each key line of the example file."""
    section = ""
    keys: dict[str, tuple[bool, str]] = {}
    previous = ""
    for line in text.splitlines():
        stripped = line.strip()
        header = re.match(r"^\[([a-z_]+)\]$", stripped)
        if header:
            section = header.group(1) + "."
        else:
            match = KEY_LINE.match(stripped)
            if match:
                keys[section + match.group(2)] = (match.group(1) is not None, previous)
        previous = stripped
    return keys


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mocapd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_holds_exactly_the_defaults() -> None:
    assert load(EXAMPLE, environment={}) == Config()


def test_the_example_file_documents_every_key_with_a_comment() -> None:
    documented = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    expected = setting_keys(Config)
    assert sorted(documented) == sorted(expected)
    for key in expected:
        commented_out, line_above = documented[key]
        assert line_above.startswith("#") and not KEY_LINE.match(line_above), f"{key} has no comment above it"
        default = dict(_flatten(dataclasses.asdict(Config())))[key]
        # TOML has no null: keys whose default is "unset" are shown commented out, with an example value.
        assert commented_out == (default is None), key


def test_the_commented_out_examples_are_valid_values(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"^#\s*([a-z_]+\s*=)", r"\1", text, flags=re.MULTILINE)
    config = load(write(tmp_path, uncommented), environment={})
    assert config.defaults.track_id == 1 and config.defaults.fps == 30.0
    assert config.defaults.output_name == "take_01"


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in data.items():
        if isinstance(value, dict):
            items.extend(_flatten(value, f"{prefix}{key}."))
        else:
            items.append((prefix + key, value))
    return items


def test_a_file_overrides_the_defaults_and_keeps_the_rest(tmp_path: Path) -> None:
    config = load(
        write(tmp_path, '[limits]\nmax_size_mb = 100\n[defaults]\nformats = ["bvh", "glb"]\n'), environment={}
    )
    assert config.limits.max_size_mb == 100.0 and isinstance(config.limits.max_size_mb, float)
    assert config.limits.max_duration_s == 120.0
    assert config.defaults.formats == ["bvh", "glb"] and config.defaults.track_mode == "auto"


def test_environment_overrides_the_file_and_the_command_line_overrides_both(tmp_path: Path) -> None:
    path = write(tmp_path, 'inbox = "/from/file"\n[limits]\nmax_size_mb = 100\nmax_duration_s = 60\n')
    environment = {
        "MOCAPD_LIMITS__MAX_SIZE_MB": "200",
        "MOCAPD_LIMITS__EXTENSIONS": '["mp4", "webm"]',
        "MOCAPD_INBOX": "/from/environment",
        "MOCAPD_CONFIG": "/ignored/as/a/setting.toml",
        "OTHER_VARIABLE": "not ours",
    }
    config = load(path, environment=environment)
    assert config.limits.max_size_mb == 200.0 and config.limits.max_duration_s == 60.0
    assert config.limits.extensions == ["mp4", "webm"]
    assert config.inbox == "/from/environment"
    config = load(
        path, environment=environment, overrides={"limits.max_size_mb": 300, "backend": "mediapipe"}
    )
    assert config.limits.max_size_mb == 300.0 and config.backend == "mediapipe"
    assert config.inbox == "/from/environment"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[watch]\npol_interval = 1\n", "unknown key 'watch.pol_interval'"),
        ("[gpus]\ndevice = 1\n", "unknown key 'gpus'"),
        ('[limits]\nmax_size_mb = "big"\n', "'limits.max_size_mb' must be a number"),
        ("[watch]\nstable_polls = 2.5\n", "'watch.stable_polls' must be an integer"),
        ("[defaults]\nenable_smoothing = 1\n", "'defaults.enable_smoothing' must be true or false"),
        ("[limits]\nextensions = \"mp4\"\n", "'limits.extensions' must be a list"),
        ("[limits]\nmax_duration_s = 0\n", "'limits.max_duration_s' must be between"),
        ("[runner]\nstop_grace_seconds = 0\n", "'runner.stop_grace_seconds' must be between"),
        ('backend = "gpu"\n', "'backend' must be one of auto, 4dhumans, mediapipe"),
        ('[defaults]\nformats = ["fbx", "obj"]\n', "'defaults.formats' must be one of"),
        ("watch = 3\n", "'watch' must be a table"),
    ],
)  # fmt: skip
def test_bad_values_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load(path, environment={})
    assert str(path) in str(error.value) and message in str(error.value)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[limits\nmax_size_mb = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path, environment={})


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(tmp_path / "absent.toml", environment={})


def test_a_bad_environment_variable_names_the_key() -> None:
    with pytest.raises(ConfigError, match="'limits.max_size_mb' must be a number"):
        load(environment={"MOCAPD_LIMITS__MAX_SIZE_MB": "lots"})
    with pytest.raises(ConfigError, match="unknown key 'limits.max_size'"):
        load(environment={"MOCAPD_LIMITS__MAX_SIZE": "1"})


def test_every_step_has_a_timeout_and_the_stop_grace_has_its_default() -> None:
    timeouts = TimeoutSettings()
    assert all(timeouts.for_step(step) > 0 for step in states.STEPS)
    with pytest.raises(KeyError):
        timeouts.for_step("painting")
    assert RunnerSettings().stop_grace_seconds == 300.0


def test_relative_folders_are_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = Config()
    assert config.inbox_path == tmp_path / "inbox"
    assert config.outbox_path == tmp_path / "outbox" and config.state_path == tmp_path / "state"
