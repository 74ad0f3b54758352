"""The step process's own settings: the malloc arena cap that keeps the tracking step's memory flat."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from mocapd.service import stepchild

# Eight threads each holding small blocks at once: glibc gives each its own arena unless capped.
THREADS_ALLOCATING = """
import ctypes, sys, threading
from mocapd.service import stepchild
if sys.argv[1] == "capped":
    stepchild.limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
together = threading.Barrier(8)
def work():
    blocks = [libc.malloc(1000) for _ in range(100)]
    together.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas(mode: str) -> int:
    finished = subprocess.run(
        [sys.executable, "-c", THREADS_ALLOCATING, mode], capture_output=True, text=True, check=True
    )
    return finished.stderr.count("Arena ")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_step_processes_allocate_from_at_most_two_arenas() -> None:
    assert arenas("default") > stepchild.MALLOC_ARENAS
    assert arenas("capped") == stepchild.MALLOC_ARENAS
