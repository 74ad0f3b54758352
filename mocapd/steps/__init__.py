"""Pipeline steps: one module per step, each exposing `run(job: Job) -> StepOutcome`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mocapd import states
from mocapd.job import Job, StepOutcome

Stage = Callable[[Job], StepOutcome]


def load_stage(step: str, package: str = __name__) -> Stage:
    """The `run` function of `package.<step>`; `package` lets tests run the runner on their own stages."""
    if step not in states.STEPS:
        raise KeyError(f"unknown step {step!r}")
    module = importlib.import_module(f"{package}.{step}")
    stage: Stage = module.run
    return stage
