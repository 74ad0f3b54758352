"""systemd/mocapd.service: the settings the daemon relies on, read from the unit file itself."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from mocapd.config import Config, RunnerSettings, load

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "mocapd.service"


@pytest.fixture(scope="module")
def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    assert parser.sections() == ["Unit", "Service", "Install"]
    return parser["Service"]


def seconds(value: str) -> float:
    """A systemd time span in plain seconds ("420", "7min" are both accepted here)."""
    if value.endswith("min"):
        return float(value[:-3]) * 60
    return float(value.rstrip("s"))


def test_the_service_runs_the_daemon_under_notify_with_a_watchdog(service: configparser.SectionProxy) -> None:
    assert service["Type"] == "notify"
    assert service["ExecStart"] == "/opt/mocapd/.venv/bin/mocapd run --config /etc/mocapd/mocapd.toml"
    assert service["Restart"] == "on-failure"
    assert seconds(service["WatchdogSec"]) == 60
    assert service["User"] == "mocapd" and service["Group"] == "mocapd"
    assert service["KillMode"] == "mixed"  # SIGTERM to the daemon only: it stops its steps itself


def test_stopping_waits_longer_than_the_daemon_waits_for_a_step(service: configparser.SectionProxy) -> None:
    stop_timeout = seconds(service["TimeoutStopSec"])
    example = load(REPO / "etc" / "mocapd.toml", environment={})
    assert stop_timeout > RunnerSettings().stop_grace_seconds
    assert stop_timeout > example.runner.stop_grace_seconds
    # Room to checkpoint and exit after the grace period.
    assert stop_timeout - Config().runner.stop_grace_seconds >= 60


def test_hardening_keeps_the_gpu_devices_reachable(service: configparser.SectionProxy) -> None:
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert set(service["ReadWritePaths"].split()) == {"/srv/mocapd", "/var/lib/mocapd"}
    # PrivateDevices hides /dev/nvidia*; a device allow-list (DevicePolicy, DeviceAllow, or ProtectClock
    # which implies one) would have to name every NVIDIA node.
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
        assert key not in service, key
