"""A configured SmoothNet checkpoint as the joints' filter, blended with the raw motion by strength."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mocapd.rotations import angle_between
from mocapd.smoothing.learned import load_checkpoint
from tests.deepmimic import load_track
from tests.test_smoothnet import official_state_dict, write_official


def test_strength_blends_raw_and_network_output(tmp_path: Path) -> None:
    checkpoint = write_official(tmp_path / "checkpoint_8.pth.tar", official_state_dict(8, 512, 16, 1))
    local = load_track("kick").local_rotations()
    raw = load_checkpoint(checkpoint, strength=0.0).smoother(local)
    half = load_checkpoint(checkpoint, strength=0.5).smoother(local)
    full = load_checkpoint(checkpoint, strength=1.0)
    assert np.degrees(angle_between(raw, local)).max() < 1e-4
    distance_half = angle_between(half, local).mean()
    distance_full = angle_between(full.smoother(local), local).mean()
    assert 0.0 < distance_half < distance_full
    assert full.description == (
        "SmoothNet checkpoint checkpoint_8.pth.tar (window 8, width 512, residual width 16, 1 blocks)"
    )
