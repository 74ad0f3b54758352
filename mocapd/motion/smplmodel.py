"""The SMPL body model file, read for its skeleton only: joint positions as a function of shape (betas).

SMPL_NEUTRAL.pkl (licence-gated, supplied by the studio) is a Python 2 pickle whose arrays are partly
chumpy objects. chumpy is not needed: its classes are replaced while unpickling by a stand-in that
keeps the pickled state, whose 'x' entry is the plain array.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mocapd.skeleton import NUM_JOINTS, PARENTS

REQUIRED_KEYS = ("J_regressor", "v_template", "shapedirs", "kintree_table")
SHAPE_COEFFICIENTS = 10


class SmplModelError(ValueError):
    """The SMPL model file cannot be used; the message says why."""


class _PickledState:
    """Stands in for any chumpy class: keeps what was pickled so the array can be taken out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _PickledState
        # Old pickles name scipy's sparse classes by modules that newer scipy only keeps as aliases.
        if module.startswith("scipy.sparse"):
            import scipy.sparse

            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _as_array(value: Any, key: str) -> np.ndarray:
    if isinstance(value, _PickledState):
        state = value.state
        if isinstance(state, dict) and "x" in state:
            return np.asarray(state["x"], dtype=np.float64)
        raise SmplModelError(f"'{key}' is a chumpy expression, not a stored array")
    if hasattr(value, "toarray"):  # scipy sparse matrix
        return np.asarray(value.toarray(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


@dataclass
class SmplModel:
    """What mocapd needs from SMPL: the template, shape directions and the joint regressor."""

    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, B)
    joint_regressor: np.ndarray  # (24, V)

    def joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest-pose joint positions (24, 3) in model coordinates for a shape."""
        count = min(betas.shape[-1], self.shapedirs.shape[-1])
        vertices = self.v_template + self.shapedirs[..., :count] @ betas[:count]
        return self.joint_regressor @ vertices

    def rest_vertices(self, betas: np.ndarray) -> np.ndarray:
        count = min(betas.shape[-1], self.shapedirs.shape[-1])
        return self.v_template + self.shapedirs[..., :count] @ betas[:count]

    def offsets(self, betas: np.ndarray) -> np.ndarray:
        """Skeleton offsets (24, 3) as in mocapd.skeleton: each joint from its parent; the root's
        entry is the pelvis height above the lowest vertex (the soles) in the rest pose."""
        joints = self.joints(betas)
        result = np.empty((NUM_JOINTS, 3))
        for joint in range(1, NUM_JOINTS):
            result[joint] = joints[joint] - joints[PARENTS[joint]]
        sole = self.rest_vertices(betas)[:, 1].min()
        result[0] = [0.0, joints[0, 1] - sole, 0.0]
        return result

    def pelvis(self, betas: np.ndarray) -> np.ndarray:
        """The pelvis joint (J0) in model coordinates for a shape."""
        return self.joints(betas)[0]


def load(path: Path) -> SmplModel:
    """Read an SMPL model pickle; SmplModelError says what is wrong with it."""
    try:
        with open(path, "rb") as handle:
            data = _Unpickler(handle, encoding="latin1").load()
    except OSError as error:
        raise SmplModelError(f"cannot read {path}: {error.strerror or error}") from error
    except Exception as error:  # any unpickling failure means the file is not an SMPL model
        raise SmplModelError(
            f"{path.name} is not a readable SMPL model pickle ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(data, dict):
        raise SmplModelError(f"{path.name} holds a {type(data).__name__}, not an SMPL model dict")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise SmplModelError(f"{path.name} lacks {', '.join(missing)}: not an SMPL model file")
    v_template = _as_array(data["v_template"], "v_template")
    shapedirs = _as_array(data["shapedirs"], "shapedirs")
    regressor = _as_array(data["J_regressor"], "J_regressor")
    kintree = _as_array(data["kintree_table"], "kintree_table").astype(np.int64)
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise SmplModelError(f"{path.name}: v_template has shape {v_template.shape}, expected (V, 3)")
    vertex_count = v_template.shape[0]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (vertex_count, 3):
        raise SmplModelError(
            f"{path.name}: shapedirs has shape {shapedirs.shape}, expected ({vertex_count}, 3, B)"
        )
    if regressor.shape != (NUM_JOINTS, vertex_count):
        raise SmplModelError(
            f"{path.name}: J_regressor has shape {regressor.shape}, expected ({NUM_JOINTS}, {vertex_count})"
        )
    parents = tuple(int(parent) for parent in kintree[0])
    if len(parents) != NUM_JOINTS or parents[1:] != PARENTS[1:]:
        raise SmplModelError(f"{path.name}: its joint hierarchy (kintree_table) is not SMPL's 24-joint body")
    return SmplModel(v_template=v_template, shapedirs=shapedirs, joint_regressor=regressor)


def load_or_explain(path: str, warnings: list[str]) -> SmplModel | None:
    """The model at `path` (the fourdhumans.smpl_model setting), or None: not set, or unreadable with
    the reason added to `warnings` (bone lengths then come from the standard skeleton)."""
    if not path:
        return None
    try:
        return load(Path(path))
    except SmplModelError as error:
        warnings.append(f"fourdhumans.smpl_model: {error}; bone lengths from the standard skeleton")
        return None
