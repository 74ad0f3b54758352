"""systemd/mocapd.service: the settings the daemon relies on, read from the unit file itself."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mocapd.config import Config, RunnerSettings, load

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "mocapd.service"
# The exposure score `systemd-analyze security` gives the unit must stay below this (10 = fully exposed).
SECURITY_TARGET = 4.0


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
    # "-": a missing path does not stop the unit from starting.
    assert set(service["ReadWritePaths"].split()) == {"-/srv/mocapd", "-/var/lib/mocapd"}
    # PrivateDevices hides /dev/nvidia*; a device allow-list (DevicePolicy, DeviceAllow, or ProtectClock
    # which implies one) would have to name every NVIDIA node.
    for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
        assert key not in service, key


def test_hardening_that_costs_the_daemon_nothing(service: configparser.SectionProxy) -> None:
    assert service["CapabilityBoundingSet"] == "" and service["AmbientCapabilities"] == ""
    for key in ("RestrictNamespaces", "ProtectKernelLogs", "ProtectHostname", "PrivateMounts", "RemoveIPC"):
        assert service[key] == "yes", key
    assert service["SystemCallArchitectures"] == "native"
    assert service["SystemCallFilter"] == "@system-service" and service["SystemCallErrorNumber"] == "EPERM"
    # NVML reads /proc/driver/nvidia; a JIT needs writable executable memory.
    for key in ("ProcSubset", "MemoryDenyWriteExecute"):
        assert key not in service, key


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd; `make test` does)")
    return path


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    # verify insists that ExecStart's program exists: the copy runs a stand-in at a path that does.
    program = tmp_path / "mocapd"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/mocapd/.venv/bin/mocapd " in text
    copy = tmp_path / "mocapd.service"
    copy.write_text(text.replace("ExecStart=/opt/mocapd/.venv/bin/mocapd ", f"ExecStart={program} "))
    verified = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout + verified.stderr == ""


def test_the_security_exposure_score_is_below_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    analyze = systemd_analyze()
    report = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for mocapd.service: ([0-9.]+) (\w+)", report.stdout)
    assert found is not None, report.stdout + report.stderr
    score = float(found.group(1))
    with capsys.disabled():  # into the test log, passed or not
        print(
            f"\nsystemd-analyze security mocapd.service: {score} {found.group(2)} (target: under {SECURITY_TARGET})"
        )
    assert score < SECURITY_TARGET
