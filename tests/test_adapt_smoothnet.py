"""tools/adapt_smoothnet.py as a user runs it: a subprocess, NPZ in, NPZ out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from mocapd import trackfile
from tests.deepmimic import load_track
from tests.jitter_model import add_jitter
from tests.test_smoothnet import official_state_dict, write_official

TOOL = Path(__file__).resolve().parents[1] / "tools" / "adapt_smoothnet.py"


def run_tool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *arguments], capture_output=True, text=True, timeout=120
    )


def test_smooths_a_track_file(tmp_path: Path) -> None:
    source, target = tmp_path / "track_1.npz", tmp_path / "out" / "track_1.npz"
    noisy = add_jitter(load_track("jump"), seed=9)
    trackfile.save(noisy, source)
    result = run_tool("--npz", str(source), "--out", str(target), "--strength", "0.5", "--ema", "0.2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["jitter_mm_per_frame2"]["after"] < report["jitter_mm_per_frame2"]["before"]
    smoothed = trackfile.load(target)
    assert smoothed.frame_count == noisy.frame_count
    assert not np.allclose(smoothed.R_body, noisy.R_body)


def test_uses_a_checkpoint_and_refuses_a_bad_one(tmp_path: Path) -> None:
    source = tmp_path / "track_1.npz"
    trackfile.save(load_track("punch"), source)
    good = write_official(tmp_path / "checkpoint_16.pth.tar", official_state_dict(16, 512, 16, 1))
    result = run_tool("--npz", str(source), "--out", str(tmp_path / "a.npz"), "--ckpt", str(good))
    assert result.returncode == 0, result.stderr
    assert "window 16" in json.loads(result.stdout)["method"]
    result = run_tool(
        "--npz", str(source), "--out", str(tmp_path / "b.npz"), "--ckpt", str(good), "--win", "9"
    )
    assert result.returncode == 2 and "window of 16 frames, but a window of 9" in result.stderr
    broken_state = official_state_dict(16, 512, 16, 1)
    broken_state["encoder.0.bias"] = torch.zeros(256)
    broken = write_official(tmp_path / "broken.pth.tar", broken_state)
    result = run_tool("--npz", str(source), "--out", str(tmp_path / "c.npz"), "--ckpt", str(broken))
    assert result.returncode == 2 and "encoder.0.bias" in result.stderr
    assert not (tmp_path / "c.npz").exists()
