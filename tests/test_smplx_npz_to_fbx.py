"""The Blender-side tool: a track file to an FBX with the package's code, numpy only (as in Blender's Python)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mocapd import trackfile
from tests import ufbx_scenes
from tests.deepmimic import load_track
from tests.ufbx_scenes import ufbx_objects_never_collected  # noqa: F401 (a fixture)

ufbx = pytest.importorskip("ufbx")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ufbx_objects_never_collected")]

TOOL = Path(__file__).resolve().parents[1] / "tools" / "blender" / "smplx_npz_to_fbx.py"
# Blender's bundled Python has numpy but not scipy: the tool must not need it at the track's own rate.
WITHOUT_SCIPY = "import runpy, sys; sys.modules['scipy'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def test_tool_writes_an_fbx_like_blender_would_run_it(tmp_path: Path) -> None:
    track = load_track("walk", cycles=2)
    track.fps = 30.0
    track.time = np.arange(track.frame_count) / 30.0
    npz = tmp_path / "track_1.npz"
    trackfile.save(track, npz)
    out = tmp_path / "walk.fbx"
    arguments = [
        str(TOOL),
        "--",
        "--npz",
        str(npz),
        "--out",
        str(out),
        "--fps",
        "30",
        "--with-root-motion",
        "--cam-scale",
        "1.0",
    ]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SCIPY, *arguments], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{track.frame_count} frames at 30 fps" in result.stdout
    scene = ufbx_scenes.load(out)
    nodes = list(scene.nodes)
    bones = [node for node in nodes if node.bone is not None]
    assert len(bones) == 24
    assert scene.settings.frames_per_second == pytest.approx(30.0)
    stacks = list(scene.anim_stacks)
    assert stacks[0].time_end == pytest.approx((track.frame_count - 1) / 30.0, abs=1e-6)
