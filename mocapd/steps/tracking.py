"""Step 2: find and follow the people in the video with the chosen backend; write job.tracklets_path."""

from __future__ import annotations

import logging

from mocapd.backends import fourdhumans, selection
from mocapd.job import Job, StepOutcome
from mocapd.service import gpu

log = logging.getLogger(__name__)


def run(job: Job) -> StepOutcome:
    """Run 4D-Humans or the embedded model; the outcome says which ran and why."""
    config = job.config
    choice = selection.current_choice(config)
    log.info("job %d: tracking with %s (%s)", job.id, choice.name, choice.reason)
    job.backend = choice.name
    if choice.name == selection.FOURDHUMANS:
        if (
            config.backend == selection.FOURDHUMANS
            and fourdhumans.installation_problem(config.fourdhumans) is None
        ):
            # Chosen explicitly, 4D-Humans waits (up to gpu.wait_s) for the memory it needs.
            gpu.wait_for_free_memory(config.gpu, query=gpu.query_gpus)
        outcome = fourdhumans.track(job)
    else:
        # Imported here: the embedded model's libraries are large and a 4D-Humans run needs none of them.
        from mocapd.backends.embedded.tracking import track_video

        outcome = track_video(job)
    outcome.data["backend"] = choice.name
    outcome.data["backend_reason"] = choice.reason
    return outcome
