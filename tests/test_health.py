"""Health checks: levels and the overall verdict."""

from __future__ import annotations

from pathlib import Path

from mocapd.config import Config, load
from mocapd.service import health


def config_in(tmp_path: Path, **overrides: object) -> Config:
    values: dict[str, object] = {
        "inbox": str(tmp_path / "inbox"),
        "outbox": str(tmp_path / "outbox"),
        "state_dir": str(tmp_path / "state"),
    }
    values.update(overrides)
    return load(overrides=values)


def test_missing_folders_are_unhealthy(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    assert health.check_inbox(config).level == health.UNHEALTHY
    assert health.check_outbox(config).level == health.UNHEALTHY
    (tmp_path / "inbox").mkdir()
    (tmp_path / "outbox").mkdir()
    assert health.check_inbox(config).level == health.OK
    assert health.check_outbox(config).level == health.OK
    assert not list((tmp_path / "outbox").iterdir())  # the writability probe cleaned up


def test_low_disk_is_degraded(tmp_path: Path) -> None:
    config = config_in(tmp_path, **{"limits.min_free_disk_mb": 1e9})
    check = health.check_disk(config)
    assert check.level == health.DEGRADED and "limits.min_free_disk_mb" in check.message
    assert health.disk_problem(config_in(tmp_path, **{"limits.min_free_disk_mb": 0.0})) is None


def test_blender_missing_is_degraded(tmp_path: Path) -> None:
    check = health.check_blender(config_in(tmp_path, **{"blender.executable": "/nonexistent/blender"}))
    assert check.level == health.DEGRADED and "Blender not found" in check.message


def test_daemon_checks() -> None:
    assert health.check_daemon(None, None, None)[0].level == health.UNHEALTHY
    checks = health.check_daemon(42, None, {"inbox_problem": "inbox /x is missing", "paused": "disk low"})
    assert [check.level for check in checks] == [health.OK, health.UNHEALTHY, health.DEGRADED]


def test_overall_is_the_worst_level() -> None:
    ok = health.Check("a", health.OK, "")
    degraded = health.Check("b", health.DEGRADED, "")
    unhealthy = health.Check("c", health.UNHEALTHY, "")
    skipped = health.Check("d", health.NOT_CHECKED, "")
    assert health.overall([ok, skipped]) == health.OK
    assert health.overall([ok, degraded]) == health.DEGRADED
    assert health.overall([degraded, unhealthy, ok]) == health.UNHEALTHY


def test_the_backend_check_says_which_backend_runs_and_why(tmp_path: Path) -> None:
    check = health.check_backend(config_in(tmp_path))
    assert check.level == health.OK
    assert check.message.startswith("mediapipe (auto: 4D-Humans is not installed")
    forced = health.check_backend(config_in(tmp_path, **{"backend": "4dhumans"}))
    assert forced.level == health.DEGRADED and "not installed" in forced.message
