"""Backend selection: auto, explicit choices, and the reasons given."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mocapd.backends.selection import EMBEDDED, FOURDHUMANS, choose_backend, current_choice
from mocapd.config import Config, FourDHumansSettings
from mocapd.service import gpu
from mocapd.service.gpu import GpuDevice, GpuStatus, query_gpus

FAKE_CHECKOUT = Path(__file__).resolve().parent / "fake_4dhumans"


def installed(backend: str = "auto", device: int = 0) -> Config:
    config = Config(backend=backend)
    config.fourdhumans = FourDHumansSettings(python=sys.executable, checkout=str(FAKE_CHECKOUT))
    config.gpu.device = device
    return config


def status(*free_mb: float) -> GpuStatus:
    devices = [
        GpuDevice(index, f"Test GPU {index}", 24000.0, free, None, None) for index, free in enumerate(free_mb)
    ]
    return GpuStatus(True, "test GPUs", devices)


def test_auto_without_4dhumans_configured_uses_the_embedded_model() -> None:
    choice = choose_backend(Config(), status(20000.0))
    assert choice.name == EMBEDDED
    assert "4D-Humans is not installed" in choice.reason and "fourdhumans.python" in choice.reason


def test_auto_with_a_missing_track_py_says_where_it_looked(tmp_path: Path) -> None:
    config = Config()
    config.fourdhumans = FourDHumansSettings(python=sys.executable, checkout=str(tmp_path))
    choice = choose_backend(config, status(20000.0))
    assert choice.name == EMBEDDED and str(tmp_path / "track.py") in choice.reason


def test_auto_with_4dhumans_and_a_free_gpu_uses_it() -> None:
    choice = choose_backend(installed(device=1), status(100.0, 20000.0))
    assert choice.name == FOURDHUMANS and "GPU 1" in choice.reason


def test_auto_falls_back_when_the_gpu_is_short_of_memory_or_absent() -> None:
    busy = choose_backend(installed(), status(3000.0))
    assert busy.name == EMBEDDED and "3000 MB free, 8000 MB needed (gpu.min_free_mb)" in busy.reason
    missing = choose_backend(installed(device=2), status(20000.0))
    assert missing.name == EMBEDDED and "GPU 2 (gpu.device) does not exist" in missing.reason
    none = choose_backend(installed(), GpuStatus(False, "no NVIDIA driver (NVML not found)"))
    assert none.name == EMBEDDED and "no NVIDIA driver" in none.reason


def test_this_machine_without_a_gpu_gets_the_embedded_model_with_the_reason() -> None:
    gpus = query_gpus()
    choice = choose_backend(installed(), gpus)
    if gpus.available and any(device.memory_free_mb >= 8000 for device in gpus.devices[:1]):
        assert choice.name == FOURDHUMANS
    else:
        assert choice.name == EMBEDDED and gpus.reason in choice.reason


def test_explicit_backends_are_taken_as_configured() -> None:
    assert choose_backend(installed("mediapipe"), status(20000.0)).name == EMBEDDED
    explicit = choose_backend(Config(backend="4dhumans"), None)
    assert explicit.name == FOURDHUMANS and "backend = 4dhumans" in explicit.reason


def test_current_choice_reads_the_gpus_only_when_4dhumans_may_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def query() -> GpuStatus:
        calls.append(1)
        return status(20000.0)

    monkeypatch.setattr(gpu, "query_gpus", query)
    assert current_choice(installed("mediapipe")).name == EMBEDDED and not calls
    assert current_choice(installed()).name == FOURDHUMANS and calls == [1]
