"""Reading an SMPL model pickle without chumpy, and bone lengths from betas."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from mocapd.motion import extraction, smplmodel, tracklets, worldframe
from mocapd.skeleton import NUM_JOINTS, PARENTS, STANDARD_OFFSETS
from tests.fake_4dhumans.layout import LayoutBuilder, Person

SOLE_DEPTH = 0.05  # the template's lowest vertex lies this far below the lowest joint


def rest_joints() -> np.ndarray:
    """Joint positions of the standard skeleton in model coordinates (pelvis near SMPL's J0)."""
    joints = np.zeros((NUM_JOINTS, 3))
    joints[0] = [0.0018, -0.2233, 0.0282]
    for joint in range(1, NUM_JOINTS):
        joints[joint] = joints[PARENTS[joint]] + STANDARD_OFFSETS[joint]
    return joints


def write_model(path: Path, chumpy_arrays: bool = True, kintree_parents: tuple[int, ...] = PARENTS) -> None:
    """A tiny SMPL-like model: two vertices per joint, averaged by the regressor; beta 0 scales height."""
    joints = rest_joints()
    spread = np.array([0.01, 0.0, 0.0])
    vertices = np.concatenate(
        [joints - spread, joints + spread, [[0.0, joints[:, 1].min() - SOLE_DEPTH, 0.0]]]
    )
    count = vertices.shape[0]
    regressor = np.zeros((NUM_JOINTS, count))
    for joint in range(NUM_JOINTS):
        regressor[joint, [joint, joint + NUM_JOINTS]] = 0.5
    shapedirs = np.zeros((count, 3, 10))
    shapedirs[:, 1, 0] = 0.1 * vertices[:, 1]  # beta 0 = +1: 10 % taller
    kintree = np.array([[4294967295, *kintree_parents[1:]], list(range(NUM_JOINTS))], dtype=np.int64)
    module = types.ModuleType("chumpy.ch")

    class Ch:  # stands for chumpy's array class: pickled as its state dict with 'x'
        def __init__(self, value: np.ndarray) -> None:
            self.x = value

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch  # type: ignore[attr-defined]
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = module
    try:
        data = {
            "v_template": vertices,
            "shapedirs": Ch(shapedirs) if chumpy_arrays else shapedirs,
            "J_regressor": scipy.sparse.csc_matrix(regressor),
            "kintree_table": kintree,
            "weights": Ch(np.ones((count, NUM_JOINTS)) / NUM_JOINTS),
            "f": np.zeros((1, 3), dtype=np.uint32),
        }
        path.write_bytes(pickle.dumps(data, protocol=2))
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def test_a_model_with_chumpy_arrays_loads_without_chumpy(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    write_model(path)
    assert "chumpy" not in sys.modules
    model = smplmodel.load(path)
    assert np.allclose(model.joints(np.zeros(10)), rest_joints())
    offsets = model.offsets(np.zeros(10))
    assert np.allclose(offsets[1:], STANDARD_OFFSETS[1:])
    assert np.isclose(offsets[0, 1], rest_joints()[0, 1] - (rest_joints()[:, 1].min() - SOLE_DEPTH))
    taller = model.offsets(np.array([1.0] + [0.0] * 9))
    assert np.allclose(taller[1:, 1], 1.1 * STANDARD_OFFSETS[1:, 1])
    assert np.allclose(model.pelvis(np.zeros(10)), rest_joints()[0])


def test_unusable_model_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(smplmodel.SmplModelError, match="cannot read"):
        smplmodel.load(tmp_path / "absent.pkl")
    (tmp_path / "text.pkl").write_text("hello")
    with pytest.raises(smplmodel.SmplModelError, match="not a readable SMPL model pickle"):
        smplmodel.load(tmp_path / "text.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(smplmodel.SmplModelError, match="holds a list"):
        smplmodel.load(tmp_path / "list.pkl")
    (tmp_path / "partial.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(smplmodel.SmplModelError, match="lacks J_regressor, shapedirs, kintree_table"):
        smplmodel.load(tmp_path / "partial.pkl")
    wrong = tmp_path / "wrong.pkl"
    write_model(wrong, chumpy_arrays=False, kintree_parents=(-1,) + (0,) * 23)
    with pytest.raises(smplmodel.SmplModelError, match="not SMPL's 24-joint body"):
        smplmodel.load(wrong)


def test_extraction_takes_bone_lengths_and_pelvis_from_the_model(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    write_model(path)
    model = smplmodel.load(path)
    betas = np.array([1.0] + [0.0] * 9)

    def filmed(pelvis_offset: np.ndarray) -> tracklets.Tracklets:
        builder = LayoutBuilder(10, pelvis_offset=pelvis_offset)
        for frame in range(10):
            builder.add(frame, Person(tid=1, betas=betas))
        return tracklets.from_dict(builder.build())

    with_model = extraction.extract(filmed(model.pelvis(betas)), 1, 30.0, model).motion
    assert np.allclose(with_model.offsets[1:, 1], 1.1 * STANDARD_OFFSETS[1:, 1])
    standard = extraction.extract(filmed(worldframe.PELVIS_IN_SMPL_MODEL), 1, 30.0).motion
    assert np.allclose(standard.offsets, STANDARD_OFFSETS)
    # Standing in a T-pose, the taller actor's pelvis is 10 % higher above the floor.
    leg = -STANDARD_OFFSETS[[1, 4, 7, 10], 1].sum()
    assert np.allclose(with_model.trans[:, 1], 1.1 * leg) and np.allclose(standard.trans[:, 1], leg)
