"""Reading FBX files with ufbx 0.0.5 without crashing the test process.

Its element objects (nodes, curves, evaluated scenes) do not keep the scene they point into alive,
and collecting them in a garbage-collection cycle crashed the process (seen in CI and reproduced:
"Garbage-collecting" in test_blender). So scenes are kept for the whole run, and a module that reads
them runs with the cyclic collector off, its objects frozen out of later collections. Test files are small.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SCENES: list[Any] = []


def keep(scene: Any) -> Any:
    """`scene`, referenced until the process ends."""
    _SCENES.append(scene)
    return scene


def load(path: Path) -> Any:
    """The ufbx scene of `path`, never freed during the run."""
    import ufbx

    return keep(ufbx.load_file(str(path)))


@pytest.fixture(scope="module")
def ufbx_objects_never_collected() -> Iterator[None]:
    """The cyclic collector off while a module reads FBX files; what they left is never examined again."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
