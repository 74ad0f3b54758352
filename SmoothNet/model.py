"""The SmoothNet architecture (Zeng et al., ECCV 2022), written for mocapd: a temporal MLP per channel.

Attribute names (encoder, res_blocks.<i>.linear1/linear2, decoder) follow the official checkpoints'
state_dict layout, so both the official files and ours load into this one class.
"""

from __future__ import annotations

import torch
from torch import nn

# Widths of the official SMPL models: the encoder maps a window to 512 features.
DEFAULT_HIDDEN = 512
DEFAULT_RES_HIDDEN = 16
DEFAULT_BLOCKS = 1


class ResidualBlock(nn.Module):
    """Linear(hidden->res_hidden), dropout, LeakyReLU(0.2), Linear(res_hidden->hidden), dropout, LeakyReLU, skip."""

    def __init__(self, hidden: int, res_hidden: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(hidden, res_hidden)
        self.linear2 = nn.Linear(res_hidden, hidden)
        self.activation = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        inner = self.activation(self.dropout(self.linear1(features)))
        inner = self.activation(self.dropout(self.linear2(inner)))
        return features + inner


class SmoothNet(nn.Module):
    """Maps each channel's window of W frames to W smoothed frames; input and output (batch, channels, W)."""

    def __init__(
        self,
        window: int,
        hidden: int = DEFAULT_HIDDEN,
        res_hidden: int = DEFAULT_RES_HIDDEN,
        blocks: int = DEFAULT_BLOCKS,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.window = window
        self.hidden = hidden
        self.res_hidden = res_hidden
        self.blocks = blocks
        self.encoder = nn.Sequential(nn.Linear(window, hidden), nn.LeakyReLU(0.1))
        self.res_blocks = nn.Sequential(*(ResidualBlock(hidden, res_hidden, dropout) for _ in range(blocks)))
        self.decoder = nn.Linear(hidden, window)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        if windows.shape[-1] != self.window:
            raise ValueError(f"SmoothNet expects windows of {self.window} frames, got {windows.shape[-1]}")
        result: torch.Tensor = self.decoder(self.res_blocks(self.encoder(windows.to(torch.float32))))
        return result
