"""Choosing the tracking backend: 4D-Humans where it is installed and a GPU has room, else the embedded model.

The choice and its reason are shown by `mocapd health` and in every job's report.
"""

from __future__ import annotations

from dataclasses import dataclass

from mocapd.backends import fourdhumans
from mocapd.config import Config, GpuSettings
from mocapd.service import gpu
from mocapd.service.gpu import GpuStatus

FOURDHUMANS = "4dhumans"
EMBEDDED = "mediapipe"


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs and why, in words for the report."""

    name: str
    reason: str


def gpu_problem(settings: GpuSettings, status: GpuStatus | None) -> str | None:
    """Why the configured GPU cannot take 4D-Humans now, or None when it can."""
    if status is None or not status.available:
        return f"no usable GPU ({status.reason if status is not None else 'not queried'})"
    device = next((device for device in status.devices if device.index == settings.device), None)
    if device is None:
        found = ", ".join(str(device.index) for device in status.devices) or "none"
        return f"GPU {settings.device} (gpu.device) does not exist (GPUs found: {found})"
    if device.memory_free_mb < settings.min_free_mb:
        return (
            f"GPU {device.index} ({device.name}) has {device.memory_free_mb:.0f} MB free, "
            f"{settings.min_free_mb:.0f} MB needed (gpu.min_free_mb)"
        )
    return None


def choose_backend(config: Config, gpu_status: GpuStatus | None) -> BackendChoice:
    """The backend for the next job per config.backend; auto falls back to the embedded model with a reason."""
    if config.backend == EMBEDDED:
        return BackendChoice(EMBEDDED, "backend = mediapipe in the configuration")
    if config.backend == FOURDHUMANS:
        return BackendChoice(FOURDHUMANS, "backend = 4dhumans in the configuration")
    installation = fourdhumans.installation_problem(config.fourdhumans)
    if installation is not None:
        return BackendChoice(
            EMBEDDED, f"auto: 4D-Humans is not installed ({installation}); embedded model used"
        )
    problem = gpu_problem(config.gpu, gpu_status)
    if problem is not None:
        return BackendChoice(EMBEDDED, f"auto: 4D-Humans is installed but {problem}; embedded model used")
    return BackendChoice(
        FOURDHUMANS, f"auto: 4D-Humans is installed and GPU {config.gpu.device} has enough free memory"
    )


def current_choice(config: Config) -> BackendChoice:
    """The backend a job would get now, the GPUs read through NVML (for the tracking step and `mocapd health`)."""
    status = None if config.backend == EMBEDDED else gpu.query_gpus()
    return choose_backend(config, status)
