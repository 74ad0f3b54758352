"""The NVIDIA GPUs through NVML (nvidia-ml-py): what is there, and waiting for enough free memory.

No driver means "no GPU", never an error: the embedded backend runs without one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mocapd.config import GpuSettings
from mocapd.errors import JobError, TransientError

log = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024


@dataclass
class GpuDevice:
    index: int
    name: str
    memory_total_mb: float
    memory_free_mb: float
    utilization_percent: int | None  # None where the board does not report it
    temperature_c: int | None


@dataclass
class GpuStatus:
    available: bool
    reason: str  # why no GPU is available, or a one-line summary of what is
    devices: list[GpuDevice] = field(default_factory=list)


def query_gpus() -> GpuStatus:
    """The GPUs NVML sees; never raises (a missing driver or library is available=False with the reason)."""
    try:
        import pynvml
    except ImportError:
        return GpuStatus(False, "nvidia-ml-py is not installed (module pynvml)")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        return GpuStatus(False, "no NVIDIA driver (NVML not found)")
    except pynvml.NVMLError_DriverNotLoaded:
        return GpuStatus(False, "NVIDIA driver not loaded")
    except pynvml.NVMLError as error:
        return GpuStatus(False, f"NVML cannot start: {error}")
    try:
        devices = [_device(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as error:
        return GpuStatus(False, f"NVML error: {error}")
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
    if not devices:
        return GpuStatus(False, "the NVIDIA driver sees no GPU")
    summary = ", ".join(f"GPU {device.index} {device.name}" for device in devices)
    return GpuStatus(True, summary, devices)


def _device(pynvml: Any, index: int) -> GpuDevice:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = pynvml.nvmlDeviceGetName(handle)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return GpuDevice(
        index=index,
        name=str(name),
        memory_total_mb=memory.total / BYTES_PER_MB,
        memory_free_mb=memory.free / BYTES_PER_MB,
        utilization_percent=_optional(lambda: int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu), pynvml),
        temperature_c=_optional(
            lambda: int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)), pynvml
        ),
    )


def _optional(read: Callable[[], int], pynvml: Any) -> int | None:
    """A reading some boards do not support (MIG slices, some data-centre parts): None then."""
    try:
        return read()
    except pynvml.NVMLError:
        return None


def wait_for_free_memory(
    settings: GpuSettings,
    poll: float = 5.0,
    query: Callable[[], GpuStatus] = query_gpus,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once GPU `settings.device` has `settings.min_free_mb` free; TransientError after `wait_s`."""
    waited = 0.0
    while True:
        status = query()
        if not status.available:
            raise TransientError(f"no GPU to run on: {status.reason}")
        device = next((device for device in status.devices if device.index == settings.device), None)
        if device is None:
            raise JobError(
                f"GPU {settings.device} does not exist (gpu.device); found {len(status.devices)}: {status.reason}"
            )
        if device.memory_free_mb >= settings.min_free_mb:
            return
        if waited >= settings.wait_s:
            raise TransientError(
                f"GPU {device.index} has {device.memory_free_mb:.0f} MB free, needs {settings.min_free_mb:.0f} MB "
                f"(gpu.min_free_mb); waited {waited:.0f} s"
            )
        if waited == 0.0:
            log.info(
                "GPU %d has %.0f MB free, needs %.0f MB: waiting up to %.0f s",
                device.index,
                device.memory_free_mb,
                settings.min_free_mb,
                settings.wait_s,
            )
        pause = min(poll, settings.wait_s - waited)
        sleep(pause)
        waited += pause
