"""GPU status through NVML; the waiting logic with an injected query (no GPU on the build machine)."""

from __future__ import annotations

import sys
import types

import pytest

from mocapd.config import GpuSettings
from mocapd.errors import JobError, TransientError
from mocapd.service.gpu import GpuDevice, GpuStatus, query_gpus, wait_for_free_memory


def test_query_gpus_never_raises_and_is_consistent() -> None:
    status = query_gpus()
    if status.available:  # a machine with a driver (e.g. the studio's GPU box)
        assert status.devices
        for device in status.devices:
            assert device.name and 0 < device.memory_free_mb <= device.memory_total_mb
            assert device.utilization_percent is None or 0 <= device.utilization_percent <= 100
            assert device.temperature_c is None or 0 < device.temperature_c < 120
    else:
        assert status.devices == []
        assert status.reason  # e.g. "no NVIDIA driver (NVML not found)"


def device(free_mb: float, index: int = 0) -> GpuDevice:
    return GpuDevice(index, "Test GPU", 24000.0, free_mb, 50, 60)


class Queries:
    """Answers one status per call, the last one repeated."""

    def __init__(self, *answers: GpuStatus) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> GpuStatus:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_wait_returns_at_once_when_enough_memory_is_free() -> None:
    sleeps: list[float] = []
    query = Queries(GpuStatus(True, "GPU 0", [device(9000.0)]))
    wait_for_free_memory(GpuSettings(min_free_mb=8000.0), query=query, sleep=sleeps.append)
    assert sleeps == [] and query.calls == 1


def test_wait_polls_until_memory_is_freed() -> None:
    sleeps: list[float] = []
    busy, free = GpuStatus(True, "GPU 0", [device(2000.0)]), GpuStatus(True, "GPU 0", [device(12000.0)])
    query = Queries(busy, busy, busy, free)
    wait_for_free_memory(
        GpuSettings(min_free_mb=8000.0, wait_s=600.0), poll=5.0, query=query, sleep=sleeps.append
    )
    assert sleeps == [5.0, 5.0, 5.0] and query.calls == 4


def test_wait_gives_up_after_wait_s_with_a_clear_message() -> None:
    sleeps: list[float] = []
    query = Queries(GpuStatus(True, "GPU 0", [device(2100.0)]))
    with pytest.raises(TransientError) as error:
        wait_for_free_memory(
            GpuSettings(min_free_mb=8000.0, wait_s=12.0), poll=5.0, query=query, sleep=sleeps.append
        )
    assert str(error.value) == "GPU 0 has 2100 MB free, needs 8000 MB (gpu.min_free_mb); waited 12 s"
    assert sleeps == [5.0, 5.0, 2.0]


def test_wait_watches_the_configured_device() -> None:
    query = Queries(GpuStatus(True, "2 GPUs", [device(100.0, 0), device(20000.0, 1)]))
    wait_for_free_memory(
        GpuSettings(device=1, min_free_mb=8000.0, wait_s=0.0), query=query, sleep=lambda _: None
    )
    with pytest.raises(JobError, match=r"GPU 3 does not exist \(gpu.device\)"):
        wait_for_free_memory(GpuSettings(device=3), query=query, sleep=lambda _: None)


def test_wait_without_a_gpu_is_a_transient_error_naming_the_reason() -> None:
    query = Queries(GpuStatus(False, "no NVIDIA driver (NVML not found)"))
    with pytest.raises(TransientError, match="no NVIDIA driver"):
        wait_for_free_memory(GpuSettings(), query=query, sleep=lambda _: None)


class FakeNvml:
    """Stands in for the pynvml module on a machine without a GPU: two boards, one without sensors."""

    class NVMLError(Exception):
        pass

    class NVMLError_LibraryNotFound(NVMLError):  # pynvml's own names
        pass

    class NVMLError_DriverNotLoaded(NVMLError):
        pass

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, fail_init: type[Exception] | None = None) -> None:
        self.fail_init = fail_init
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.fail_init is not None:
            raise self.fail_init()

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return b"NVIDIA H200" if handle == 0 else "NVIDIA A100 MIG 1g.10gb"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(total=24 * 1024**3, free=(20 - handle * 10) * 1024**3)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return types.SimpleNamespace(gpu=37, memory=5)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return 41


def test_query_gpus_reads_every_board_and_tolerates_missing_sensors(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    status = query_gpus()
    assert status.available and status.reason == "GPU 0 NVIDIA H200, GPU 1 NVIDIA A100 MIG 1g.10gb"
    first, second = status.devices
    assert (first.name, first.memory_total_mb, first.memory_free_mb) == ("NVIDIA H200", 24576.0, 20480.0)
    assert (first.utilization_percent, first.temperature_c) == (37, 41)
    assert (second.memory_free_mb, second.utilization_percent, second.temperature_c) == (10240.0, None, None)
    assert fake.shutdowns == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (FakeNvml.NVMLError_LibraryNotFound, "no NVIDIA driver (NVML not found)"),
        (FakeNvml.NVMLError_DriverNotLoaded, "NVIDIA driver not loaded"),
        (FakeNvml.NVMLError, "NVML cannot start"),
    ],
)
def test_query_gpus_without_a_driver_says_why(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], reason: str
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(fail_init=error))
    status = query_gpus()
    assert not status.available and status.devices == [] and status.reason.startswith(reason)
