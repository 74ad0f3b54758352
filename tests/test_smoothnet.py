"""SmoothNet: our architecture, loading official-layout checkpoints, refusals, sliding-window inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mocapd.rotations import angle_between
from SmoothNet.checkpoint import CheckpointError, architecture_of, load_model, read_state_dict, save_model
from SmoothNet.inference import smooth_channels, smooth_rotations
from SmoothNet.model import SmoothNet
from tests.deepmimic import load_track


def official_state_dict(window: int, hidden: int, res_hidden: int, blocks: int) -> dict[str, torch.Tensor]:
    """A state_dict with the official key names and shapes (as in checkpoint_<W>.pth.tar), random values."""
    generator = torch.Generator().manual_seed(0)

    def random(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * 0.05

    state = {"encoder.0.weight": random(hidden, window), "encoder.0.bias": random(hidden)}
    for block in range(blocks):
        state[f"res_blocks.{block}.linear1.weight"] = random(res_hidden, hidden)
        state[f"res_blocks.{block}.linear1.bias"] = random(res_hidden)
        state[f"res_blocks.{block}.linear2.weight"] = random(hidden, res_hidden)
        state[f"res_blocks.{block}.linear2.bias"] = random(hidden)
    state["decoder.weight"] = random(window, hidden)
    state["decoder.bias"] = random(window)
    return state


def write_official(path: Path, state: dict[str, torch.Tensor]) -> Path:
    torch.save({"epoch": 10, "state_dict": state, "performance": 7.4, "optimizer": {"state": {}}}, path)
    return path


def test_official_pw3d_layout_loads_and_runs(tmp_path: Path) -> None:
    # pw3d_spin_3D: W 32, encoder width 512, residual width 16, one block.
    path = write_official(tmp_path / "checkpoint_32.pth.tar", official_state_dict(32, 512, 16, 1))
    model = load_model(path)
    assert (model.window, model.hidden, model.res_hidden, model.blocks) == (32, 512, 16, 1)
    motion = load_track("dance_a")
    smoothed = smooth_rotations(model, motion.local_rotations())
    assert smoothed.shape == (motion.frame_count, 24, 3, 3)
    assert np.allclose(smoothed @ np.swapaxes(smoothed, -1, -2), np.eye(3), atol=1e-6)
    assert np.allclose(np.linalg.det(smoothed), 1.0)


def test_h36m_layout_with_dataparallel_prefix_loads(tmp_path: Path) -> None:
    state = {"module." + key: value for key, value in official_state_dict(8, 512, 128, 5).items()}
    model = load_model(write_official(tmp_path / "checkpoint_8.pth.tar", state))
    assert (model.window, model.res_hidden, model.blocks) == (8, 128, 5)


def test_wrong_shapes_are_refused_with_the_reason(tmp_path: Path) -> None:
    state = official_state_dict(32, 512, 16, 1)
    state["decoder.weight"] = torch.zeros(16, 512)  # a decoder for another window
    path = write_official(tmp_path / "checkpoint_32.pth.tar", state)
    with pytest.raises(
        CheckpointError, match=r"'decoder.weight' has shape \(16, 512\), expected \(32, 512\)"
    ):
        load_model(path)


def test_a_block_of_another_width_is_refused(tmp_path: Path) -> None:
    state = official_state_dict(16, 512, 16, 2)
    state["res_blocks.1.linear1.weight"] = torch.zeros(128, 512)
    with pytest.raises(CheckpointError, match="res_blocks.1.linear1.weight"):
        architecture_of(state)


def test_a_window_that_differs_from_the_checkpoint_is_refused(tmp_path: Path) -> None:
    path = write_official(tmp_path / "checkpoint_32.pth.tar", official_state_dict(32, 512, 16, 1))
    with pytest.raises(CheckpointError, match="window of 32 frames, but a window of 9"):
        load_model(path, window=9)


def test_unreadable_and_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pth.tar")
    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_state_dict(garbage)
    foreign = tmp_path / "foreign.pth"
    torch.save({"state_dict": {"conv.weight": torch.zeros(3, 3)}}, foreign)
    with pytest.raises(CheckpointError, match="not a SmoothNet state_dict"):
        load_model(foreign)


def test_our_checkpoints_round_trip(tmp_path: Path) -> None:
    model = SmoothNet(16, hidden=64, res_hidden=8, blocks=2)
    save_model(model, tmp_path / "ours.pth.tar")
    loaded = load_model(tmp_path / "ours.pth.tar")
    windows = torch.randn(5, 144, 16)
    assert torch.allclose(model.eval()(windows), loaded(windows))


class Identity(SmoothNet):
    """Returns its window unchanged: isolates the sliding-window bookkeeping."""

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return windows.to(torch.float32)


class WindowMean(SmoothNet):
    """Replaces each window by its mean."""

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return windows.mean(dim=-1, keepdim=True).expand_as(windows).to(torch.float32)


@pytest.mark.parametrize("frames", [5, 8, 37])
def test_sliding_windows_cover_every_frame_once_averaged(frames: int) -> None:
    values = np.random.default_rng(0).normal(size=(frames, 6))
    assert np.allclose(smooth_channels(Identity(8), values, stride=3), values, atol=1e-6)


def test_overlaps_are_averaged() -> None:
    values = np.zeros((20, 1))
    values[10] = 8.0
    result = smooth_channels(WindowMean(4), values)[:, 0]
    # Frame 10 lies in four windows, each averaging 8 over 4 frames: 2 each.
    assert result[10] == pytest.approx(2.0)
    assert result[:7].max() == 0.0 and result.sum() == pytest.approx(8.0, rel=0.3)


def test_renormalised_rotations_stay_close_to_the_input_for_an_identity_model() -> None:
    motion = load_track("walk")
    smoothed = smooth_rotations(Identity(8), motion.local_rotations())
    assert np.degrees(angle_between(smoothed, motion.local_rotations())).max() < 1e-3
