"""Loading SmoothNet checkpoints (official or ours): the architecture is read from the state_dict's shapes.

A checkpoint that does not fit is refused with its reason (CheckpointError); nothing falls back silently.
Official files are `{'epoch', 'state_dict', 'performance', 'optimizer'}`; ours add `'architecture'`.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from mocapd.errors import JobError
from SmoothNet.model import SmoothNet

BLOCK_KEY = re.compile(r"^res_blocks\.(\d+)\.(linear1|linear2)\.(weight|bias)$")
# Channels of one SMPL pose in 6D: 24 joints x 6 numbers.
SMPL_6D_CHANNELS = 24 * 6


class CheckpointError(JobError):
    """A checkpoint that cannot be used, with the reason."""


@dataclass(frozen=True)
class Architecture:
    """The sizes that define a SmoothNet: window W, encoder width, residual width, residual block count."""

    window: int
    hidden: int
    res_hidden: int
    blocks: int


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The model weights in a checkpoint file (a training checkpoint or a bare state_dict)."""
    if not path.is_file():
        raise CheckpointError(f"SmoothNet checkpoint {path} does not exist")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError):
        # Official training checkpoints also pickle optimiser state and numpy scores, which the
        # weights-only reader refuses; the path comes from the operator's own configuration.
        try:
            content = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # any unreadable file gets the same clear refusal
            raise CheckpointError(f"SmoothNet checkpoint {path.name} cannot be read: {error}") from error
    except (OSError, EOFError, ValueError) as error:
        raise CheckpointError(f"SmoothNet checkpoint {path.name} cannot be read: {error}") from error
    state = content.get("state_dict", content) if isinstance(content, dict) else None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"SmoothNet checkpoint {path.name} holds no state_dict of tensors")
    # Weights saved from a DataParallel model carry a 'module.' prefix.
    return {key.removeprefix("module."): value for key, value in state.items()}


def architecture_of(state: dict[str, torch.Tensor], name: str = "checkpoint") -> Architecture:
    """The architecture that the state_dict's shapes describe; inconsistent shapes are refused."""
    for key in ("encoder.0.weight", "encoder.0.bias", "decoder.weight", "decoder.bias"):
        if key not in state:
            raise CheckpointError(f"{name}: not a SmoothNet state_dict, '{key}' is missing")
    hidden, window = state["encoder.0.weight"].shape
    block_indices = sorted({int(match.group(1)) for key in state if (match := BLOCK_KEY.match(key))})
    if block_indices != list(range(len(block_indices))):
        raise CheckpointError(f"{name}: residual blocks are not numbered 0..n-1: {block_indices}")
    res_hidden = int(state["res_blocks.0.linear1.weight"].shape[0]) if block_indices else 0
    expected = {
        "encoder.0.bias": (hidden,),
        "decoder.weight": (window, hidden),
        "decoder.bias": (window,),
    }
    for block in block_indices:
        prefix = f"res_blocks.{block}."
        expected[prefix + "linear1.weight"] = (res_hidden, hidden)
        expected[prefix + "linear1.bias"] = (res_hidden,)
        expected[prefix + "linear2.weight"] = (hidden, res_hidden)
        expected[prefix + "linear2.bias"] = (hidden,)
    for key, shape in expected.items():
        if key not in state:
            raise CheckpointError(f"{name}: '{key}' is missing")
        if tuple(state[key].shape) != shape:
            raise CheckpointError(
                f"{name}: '{key}' has shape {tuple(state[key].shape)}, expected {shape} "
                f"for window {window}, hidden {hidden}, residual width {res_hidden}"
            )
    unexpected = sorted(set(state) - set(expected) - {"encoder.0.weight"})
    if unexpected:
        raise CheckpointError(f"{name}: unexpected keys {', '.join(unexpected[:5])}")
    return Architecture(int(window), int(hidden), res_hidden, len(block_indices))


def load_model(path: Path, window: int | None = None) -> SmoothNet:
    """The SmoothNet in `path`, in eval mode; `window`, when given, must match the checkpoint's."""
    state = read_state_dict(path)
    architecture = architecture_of(state, path.name)
    if window is not None and window != architecture.window:
        raise CheckpointError(
            f"{path.name}: the checkpoint was trained for a window of {architecture.window} frames, "
            f"but a window of {window} was asked for"
        )
    model = SmoothNet(architecture.window, architecture.hidden, architecture.res_hidden, architecture.blocks)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path.name}: weights do not fit the model: {error}") from error
    model.eval()
    return model


def save_model(model: SmoothNet, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write `model` in the official layout plus its architecture (and any `extra` notes)."""
    architecture = Architecture(model.window, model.hidden, model.res_hidden, model.blocks)
    content: dict[str, Any] = {
        "epoch": 0,
        "state_dict": model.state_dict(),
        "performance": 0.0,
        "optimizer": {},
        "architecture": asdict(architecture),
    }
    content.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)
