"""Runs claimed jobs step by step, each step in a child process with its timeout, log and progress.

A crash or hang of a step cannot take the daemon down: the child is killed with its process group.
TransientError, timeouts and crashed children are retried up to runner.max_attempts; a smoothing
failure is a warning (the exporter reads the raw track); any other failure fails the job.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocapd import safefs, states
from mocapd.config import Config
from mocapd.inbox import ingest
from mocapd.job import Job, VideoInfo
from mocapd.logs import step_header
from mocapd.options import JobOptions
from mocapd.safefs import LinkRefused
from mocapd.service import health, stepchild
from mocapd.service.pause import EnvironmentPause
from mocapd.settings import build
from mocapd.store import Claim, JobRecord, LostLease, Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_STAGE_PACKAGE = "mocapd.steps"
# How often the runner looks at a running child (progress, lease, stop requests).
POLL_SECONDS = 0.2
# Seconds a child gets between SIGTERM and SIGKILL.
KILL_GRACE_SECONDS = 3.0
# Seconds between status.json rewrites for progress alone.
PROGRESS_WRITE_SECONDS = 2.0
# Seconds between tries to record a finished step while the job database cannot be reached.
STORE_RETRY_SECONDS = 1.0

STEP_LABELS = {
    states.VIDEO_UPLOAD: "video check",
    states.TRACKING: "tracking",
    states.TRACK_EXTRACTION: "track extraction",
    states.SMOOTHING: "smoothing",
    states.FBX_EXPORT: "export",
    states.PACKAGING: "packaging",
}

# Result kinds besides stepchild's.
TIMEOUT = "timeout"
CRASHED = "crashed"
ABORTED = "aborted"
CANCELLED = "cancelled"
LOST_LEASE = "lost_lease"
RETRYABLE = (stepchild.TRANSIENT, TIMEOUT, CRASHED)
# What a truncated copy is told (the original stays in the inbox).
INCOMPLETE = "the copy looks incomplete"

# Libraries most steps import, and the large ones of the tracking (mediapipe, which brings matplotlib's
# pyplot) and packaging (matplotlib) steps: loaded once in the forkserver so that each step's child
# starts with them (a 20 s clip's job: ~3 CPU s of imports saved over its six children). Where one is
# missing the forkserver skips it and the step that needs it fails as before.
PRELOADED_LIBRARIES = (
    "numpy",
    "scipy.sparse.linalg",
    "scipy.spatial.transform",
    "av",
    "cv2",
    "joblib",
    "mediapipe",
    "matplotlib.figure",
)

# mocapd's own modules the steps import, loaded in the forkserver as well: each step's module (its
# imports 0.03-0.05 CPU s a child) and the embedded tracker, which the tracking step imports when it
# runs (0.14 CPU s); 0.29 CPU s of a job, 0.17x of a 1.7 s clip's duration.
PRELOADED_MODULES = ("mocapd.backends.embedded.tracking",)

_context_lock = threading.Lock()
_context: Any = None


def child_context(stage_package: str = DEFAULT_STAGE_PACKAGE) -> Any:
    """The forkserver context: children fork from a clean process (none of the daemon's threads or locks), cheaply.

    multiprocessing re-runs the parent's main module in every child (`mocapd.cli` for the daemon);
    preloading it, the stage package and the shared libraries in the forkserver makes that a matter of
    cached imports.
    """
    global _context
    with _context_lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(preloaded(stage_package))
        return _context


def preloaded(stage_package: str = DEFAULT_STAGE_PACKAGE) -> list[str]:
    """The modules the forkserver imports before forking any step's child."""
    stages = [f"{stage_package}.{step}" for step in states.STEPS]
    return [
        "mocapd.service.stepchild",
        "mocapd.cli",
        stage_package,
        *stages,
        *PRELOADED_MODULES,
        *PRELOADED_LIBRARIES,
    ]


def warm_up(stage_package: str = DEFAULT_STAGE_PACKAGE) -> None:
    """Start the forkserver (its imports take seconds on a loaded host) before the first job is claimed,
    so that time is not spent inside a job's lease."""
    child_context(stage_package)
    from multiprocessing import forkserver

    forkserver.ensure_running()


def work_dir_for(config: Config, job_id: int) -> Path:
    """The job's folder: under state_dir, or in a farm's shared spool (config.jobs_path)."""
    return config.jobs_path / str(job_id)


def job_options(record: JobRecord) -> JobOptions:
    return build(JobOptions, json.loads(record.options or "{}"))


def job_from_record(record: JobRecord, config: Config) -> Job:
    """The Job a stage receives, rebuilt from the database; a job that asks for a backend gets it."""
    video = record.json("video_info")
    source = record.json("source") or {}
    options = job_options(record)
    if options.backend is not None:
        config = dataclasses.replace(config, backend=options.backend)
    return Job(
        id=record.id,
        name=record.name or Path(record.source_relative).stem,
        work_dir=work_dir_for(config, record.id),
        # The copy's name in input/ (a safe one for undecodable or very long names); older jobs: as dropped.
        source_name=str(source.get("input_name") or Path(record.source_relative).name),
        options=options,
        config=config,
        video_info=VideoInfo(**video) if video else None,
        backend=record.backend,
        selected_tracks=[int(tid) for tid in record.json("selected_tracks") or []],
    )


@dataclass
class StopControl:
    """What the daemon's signal handlers ask of the runner."""

    stop_requested: threading.Event = field(default_factory=threading.Event)
    abort_now: threading.Event = field(default_factory=threading.Event)
    grace_deadline: float | None = None

    def request_stop(self, grace_seconds: float) -> None:
        if not self.stop_requested.is_set():
            self.grace_deadline = time.monotonic() + grace_seconds
            self.stop_requested.set()
        else:
            self.abort_now.set()

    def must_abort(self) -> bool:
        if self.abort_now.is_set():
            return True
        return self.grace_deadline is not None and time.monotonic() > self.grace_deadline


@dataclass
class StepResult:
    kind: str
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0


class Listener:
    """What the runner tells about a job's changes (the outbox writes status.json, report.html)."""

    def job_changed(self, job_id: int, paused: str | None = None) -> None:
        """A state or step changed (`paused`: why the machine holds the job, when it does)."""

    def publish(self, job: Job) -> None:
        """The job's results are ready in its package folder: put them in the outbox."""


class Runner:
    """Claims jobs and runs them, one at a time."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        owner: str,
        listener: Listener | None = None,
        stage_package: str = DEFAULT_STAGE_PACKAGE,
        control: StopControl | None = None,
        pause: EnvironmentPause | None = None,
        host: str | None = None,
        capabilities: tuple[str, ...] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.owner = owner
        self.host = host or owner.partition(":")[0]
        self.capabilities = capabilities  # None: any job
        self.listener = listener or Listener()
        self.stage_package = stage_package
        self.control = control or StopControl()
        # Faults of the machine (full disk, outbox not writable) hold the job here, using no attempt;
        # without a pause (unit tests) they are retried like any transient failure.
        self.pause = pause
        self.current_job: int | None = None
        self.current_step: str | None = None
        self.store_problem: str | None = None  # why the last store call failed, while it keeps failing

    def until_stored(self, action: Callable[[], Any]) -> Any:
        """Run a store call, again and again while the database cannot be reached (the step's work is kept)."""
        while True:
            try:
                value = action()
            except StoreUnavailable as error:
                if self.store_problem is None:
                    log.warning("%s; keeping this job's results until it is back", error)
                self.store_problem = str(error)
                if self.control.abort_now.wait(STORE_RETRY_SECONDS):
                    raise
                continue
            if self.store_problem is not None:
                log.info("the job database is back")
                self.store_problem = None
            return value

    def run_next(self) -> int | None:
        """Claim the oldest job and run it until it finishes, fails, waits for a retry or is released."""
        config = self.config()
        claim = self.store.claim(self.owner, config.runner.lease_seconds, time.time(), self.capabilities)
        if claim is None:
            return None
        self.current_job = claim.job_id
        try:
            self.run_job(claim)
        except LostLease as error:
            log.warning("%s: its results are not recorded or published", error)
        except StoreUnavailable:
            raise  # only when aborting: the job resumes when its lease runs out
        except Exception as error:  # a bug in the runner: the job is retried, never left claimed
            log.exception("job %d: the runner failed", claim.job_id)
            if self.store.holds(claim.job_id, self.owner, claim.fence):
                self.store.reset_running_steps(claim.job_id)
                self.retry_or_fail(
                    claim.job_id,
                    claim,
                    config,
                    f"internal error in the daemon: {type(error).__name__}: {error}",
                )
        finally:
            self.current_job = None
            self.current_step = None
        return claim.job_id

    def check_held(self, claim: Claim) -> None:
        """LostLease when another host has taken the job since this claim (a newer fencing token)."""
        if not self.until_stored(lambda: self.store.holds(claim.job_id, self.owner, claim.fence)):
            raise LostLease(f"job {claim.job_id}: attempt {claim.fence} of {self.owner} lost its lease")

    def run_job(self, claim: Claim) -> None:
        job_id = claim.job_id
        config = self.config()
        record = self.store.job(job_id)
        if record is None:
            return
        steps = {step.name: step for step in self.store.steps(job_id)}
        if claim.attempts > config.runner.max_attempts:
            # Claimed again after its lease ran out, attempt after attempt: the daemon died during it.
            unfinished = next(
                (name for name in states.STEPS if steps[name].status not in states.FINISHED_STEP_STATES), ""
            )
            self.fail(
                job_id,
                f"gave up after {config.runner.max_attempts} attempts: the daemon stopped during {STEP_LABELS.get(unfinished, unfinished)} each time",
            )
            return
        log.info("job %d (%s): attempt %d", job_id, record.name, claim.attempts)
        self.listener.job_changed(job_id)
        for step in states.STEPS:
            if steps[step].status in states.FINISHED_STEP_STATES:
                continue
            if self.control.stop_requested.is_set():
                self.store.release(job_id, self.owner, give_back_attempt=True)
                log.info("job %d released before %s: the daemon is stopping", job_id, step)
                self.listener.job_changed(job_id)
                return
            record = self.store.job(job_id)
            if record is None:
                return
            self.check_held(claim)
            config = self.config()
            job = job_from_record(record, config)
            try:
                safefs.check_real_folder(job.work_dir, config.work_root)
            except LinkRefused as error:
                self.fail(
                    job_id,
                    f"{STEP_LABELS.get(step, step)}: {error.strerror}; nothing is read or written through it",
                )
                return
            except FileNotFoundError:
                pass  # made by the step
            self.current_step = step
            result = self.run_step(job, step, config, claim)
            while result.kind == stepchild.DISK_FULL and self.pause is not None:
                reason = f"the state disk is full during {STEP_LABELS.get(step, step)} of job {job_id} ({result.message})"
                if not self.wait_out(job_id, step, reason, lambda: disk_full_problem(self.config())):
                    return
                result = self.run_step(job, step, config, claim)
            if step == states.VIDEO_UPLOAD:
                result = self.settle_original(record, result)
            if result.kind != LOST_LEASE:
                self.check_held(claim)  # a host stopped while another took the job over records nothing
            handle = functools.partial(self.handle_result, job, step, result, claim, config)
            if not self.until_stored(handle):
                return
        self.current_step = None
        if not self.until_stored(lambda: self.publish(job_id, claim, record)):
            return
        log.info("job %d (%s): completed", job_id, record.name)
        self.listener.job_changed(job_id)

    def publish(self, job_id: int, claim: Claim, record: JobRecord) -> bool:
        """Put the results in the outbox, retried with a growing wait from this step alone; True when done."""
        failures = 0
        while True:
            config = self.config()
            try:
                self.publish_fenced(job_from_record(self.store.job(job_id) or record, config), claim)
            except LinkRefused as error:
                self.fail(job_id, f"cannot write the results to the outbox: {error.strerror}")
                return False
            except OSError as error:
                reason = f"cannot write the results to the outbox: {error}"
                failures += 1
                if self.pause is None:
                    self.retry_or_fail(job_id, claim, config, reason)
                    return False
                if health.writable(config.outbox_path) is None and failures >= config.runner.max_attempts:
                    # The outbox takes files, only this job's cannot be written: its own fault.
                    self.fail(job_id, f"{reason} (tried {failures} times)")
                    return False
                if not self.wait_out(job_id, None, reason, self.outbox_problem, failures):
                    return False
                continue
            if failures:
                note = f"writing the results to the outbox was retried {failures} time(s) before it worked"
                current = self.store.job(job_id)
                warnings = (current.json("warnings") if current else None) or []
                self.store.update_job(job_id, warnings=json.dumps(warnings + [note]))
            if self.pause is not None:
                self.pause.succeeded()
            return True

    def outbox_problem(self) -> str | None:
        return health.writable(self.config().outbox_path)

    def wait_out(
        self, job_id: int, step: str | None, reason: str, probe: Callable[[], str | None], tries: int = 1
    ) -> bool:
        """Hold the claimed job while the machine's fault lasts; False when the daemon stops meanwhile."""
        assert self.pause is not None
        self.pause.hold(reason, probe)
        try:
            if step is not None:
                self.store.update_step(job_id, step, status=states.PENDING, error=reason)
            self.store.update_job(job_id, progress_message=f"paused: {reason}")
        except StoreError as error:  # the database may sit on the full disk: the pause is in memory
            log.warning("job %d: cannot record the pause: %s", job_id, error)
        self.listener.job_changed(job_id, paused=reason)
        config = self.config()
        next_renewal = time.monotonic() + config.runner.heartbeat_seconds
        while self.pause.poll():
            if self.control.stop_requested.wait(POLL_SECONDS):
                break
            if time.monotonic() >= next_renewal:
                next_renewal = time.monotonic() + config.runner.heartbeat_seconds
                try:
                    self.store.renew_lease(job_id, self.owner, config.runner.lease_seconds, time.time())
                except StoreError:
                    pass
        if self.control.stop_requested.is_set():
            self.store.release(job_id, self.owner, give_back_attempt=True)
            log.info("job %d released while paused: the daemon is stopping", job_id)
            self.listener.job_changed(job_id)
            return False
        self.store.renew_lease(job_id, self.owner, config.runner.lease_seconds, time.time())
        self.store.update_job(job_id, progress_message="")
        return True

    def settle_original(self, record: JobRecord, result: StepResult) -> StepResult:
        """After the video check: the inbox's original goes, unless the copy looks cut short (it stays)."""
        try:
            candidate = ingest.candidate_from_record(json.loads(record.source))
        except (ValueError, KeyError, TypeError):
            return result
        if candidate.refusal is not None:
            return result
        if result.kind == stepchild.JOB_ERROR and (
            "truncated" in result.message or "corrupt" in result.message
        ):
            if ingest.still_in_inbox(candidate) or os.path.lexists(candidate.path):
                result.message = (
                    f"{INCOMPLETE} ({result.message}); {record.source_relative} stays in the inbox: "
                    "a copy that is still running is taken again once it has finished"
                )
                return result
        if result.kind in (stepchild.OK, stepchild.JOB_ERROR) and ingest.still_in_inbox(candidate):
            ingest.remove_originals(candidate)
        return result

    def publish_fenced(self, job: Job, claim: Claim) -> None:
        """Results into the outbox and the job completed, in one transaction that holds the job's row
        under this claim's fencing token: a host that lost the job cannot publish over a newer attempt."""
        with self.store.fenced(job.id, self.owner, claim.fence):
            self.listener.publish(job)
            self.store.update_job(
                job.id,
                state=states.COMPLETED,
                finished=time.time(),
                lease_owner=None,
                lease_expires=None,
                current_step=None,
                progress=1.0,
            )

    def handle_result(self, job: Job, step: str, result: StepResult, claim: Claim, config: Config) -> bool:
        """Store a step's result; True when the job goes on to its next step."""
        job_id = job.id
        now = time.time()
        label = STEP_LABELS.get(step, step)
        if result.kind == LOST_LEASE:
            log.warning("job %d: lost its lease during %s; another worker has it", job_id, step)
            return False
        if result.kind == ABORTED:
            self.store.update_step(
                job_id, step, status=states.PENDING, error="stopped with the daemon", finished=now
            )
            self.store.release(job_id, self.owner, give_back_attempt=True)
            log.info("job %d: %s stopped with the daemon; it resumes at the next start", job_id, label)
            self.listener.job_changed(job_id)
            return False
        if result.kind == CANCELLED:
            self.store.update_step(job_id, step, status=states.PENDING, error="cancelled", finished=now)
            self.store.update_job(
                job_id,
                state=states.CANCELLED,
                finished=now,
                lease_owner=None,
                lease_expires=None,
                error="cancelled",
            )
            log.info("job %d: cancelled during %s", job_id, label)
            self.listener.job_changed(job_id)
            return False
        record = self.store.job(job_id)
        assert record is not None
        warnings = record.json("warnings") or []
        if result.kind == stepchild.OK:
            warnings += result.warnings
            self.store_data(job_id, step, result.data, record)
            self.store.update_step(job_id, step, status=states.DONE, finished=now, duration=result.duration)
            self.store.update_job(job_id, warnings=json.dumps(warnings))
            self.listener.job_changed(job_id)
            return True
        if step == states.SMOOTHING:
            warning = f"smoothing failed ({result.message}); the raw motion is exported"
            shutil.rmtree(job.smoothed_dir, ignore_errors=True)
            self.store.update_step(
                job_id,
                step,
                status=states.WARNING,
                finished=now,
                duration=result.duration,
                error=result.message,
            )
            self.store.update_job(job_id, warnings=json.dumps(warnings + [warning]))
            log.warning("job %d: %s", job_id, warning)
            self.listener.job_changed(job_id)
            return True
        reason = f"{label}: {result.message}"
        if result.kind in RETRYABLE:
            self.store.update_step(
                job_id,
                step,
                status=states.PENDING,
                finished=now,
                duration=result.duration,
                error=result.message,
            )
            self.retry_or_fail(job_id, claim, config, reason, step)
            return False
        self.store.update_step(
            job_id,
            step,
            status=states.STEP_FAILED,
            finished=now,
            duration=result.duration,
            error=result.message,
        )
        self.fail(job_id, reason)
        return False

    def retry_or_fail(
        self, job_id: int, claim: Claim, config: Config, reason: str, step: str | None = None
    ) -> None:
        if claim.attempts >= config.runner.max_attempts:
            if step is not None:
                self.store.update_step(job_id, step, status=states.STEP_FAILED)
            self.fail(job_id, f"{reason} (gave up after {claim.attempts} attempts)")
            return
        log.warning(
            "job %d: %s; retrying (attempt %d of %d)",
            job_id,
            reason,
            claim.attempts + 1,
            config.runner.max_attempts,
        )
        self.store.update_job(job_id, state=states.QUEUED, error=reason, lease_owner=None, lease_expires=None)
        self.listener.job_changed(job_id)

    def fail(self, job_id: int, reason: str) -> None:
        log.error("job %d failed: %s", job_id, reason)
        self.store.fail_job(job_id, reason, time.time())
        self.listener.job_changed(job_id)

    def store_data(self, job_id: int, step: str, data: dict[str, Any], record: JobRecord) -> None:
        """Keep a step's data; the figures other steps need go to their own columns."""
        step_data = record.json("step_data") or {}
        step_data[step] = data
        fields: dict[str, Any] = {"step_data": json.dumps(step_data, default=str)}
        if step == states.VIDEO_UPLOAD and "video" in data:
            fields["video_info"] = json.dumps(data["video"])
        if step == states.TRACKING:
            fields["backend"] = str(data.get("backend", ""))
            fields["backend_reason"] = str(data.get("backend_reason", ""))
        if step == states.TRACK_EXTRACTION and "tracks" in data:
            tracks = data["tracks"]
            self.store.set_tracks(job_id, tracks)
            selected = data.get("selected")
            if selected is None:
                selected = [entry["tid"] for entry in tracks if entry.get("selected")]
            fields["selected_tracks"] = json.dumps([int(tid) for tid in selected])
        self.store.update_job(job_id, **fields)

    def run_step(self, job: Job, step: str, config: Config, claim: Claim | None = None) -> StepResult:
        """Run one step in a child process, watching its progress, timeout, lease and stop requests."""
        job.logs_dir.mkdir(parents=True, exist_ok=True)
        results_dir = job.work_dir / "steps"
        results_dir.mkdir(parents=True, exist_ok=True)
        result_path = results_dir / f"{step}.result.json"
        result_path.unlink(missing_ok=True)
        progress_path = job.progress_path(step)
        progress_path.unlink(missing_ok=True)
        log_path = job.log_path(step)
        started = time.time()
        self.store.start_step(job.id, step, str(log_path), started, host=self.host)
        self.listener.job_changed(job.id)
        with open(log_path, "a", encoding="utf-8") as header:
            header.write(step_header(step, job.id))
        timeout = config.timeouts.for_step(step)
        process = child_context(self.stage_package).Process(
            target=stepchild.child_main,
            args=(job, step, self.stage_package, str(log_path), str(result_path), list(sys.path)),
            name=f"mocapd-{step}-{job.id}",
        )
        process.start()
        begin = time.monotonic()
        next_heartbeat = begin  # at once: starting the child may have taken long on a loaded host
        last_progress_mtime = 0
        last_status_write = begin
        outcome_kind: str | None = None
        while True:
            if multiprocessing.connection.wait([process.sentinel], timeout=POLL_SECONDS):
                break
            now = time.monotonic()
            last_progress_mtime, wrote = self.read_progress(
                job.id, progress_path, last_progress_mtime, now - last_status_write
            )
            if wrote:
                last_status_write = now
            if now - begin > timeout:
                outcome_kind = TIMEOUT
            elif self.control.must_abort():
                outcome_kind = ABORTED
            elif now >= next_heartbeat:
                next_heartbeat = now + config.runner.heartbeat_seconds
                outcome_kind = self.heartbeat(job.id, config, claim)
            if outcome_kind is not None:
                kill_group(process)
                break
        process.join()
        kill_group(process, grace=0.0)  # anything the step left running in its group
        duration = time.time() - started
        if outcome_kind == TIMEOUT:
            return StepResult(TIMEOUT, f"timed out after {timeout:g} s (timeouts.{step})", duration=duration)
        if outcome_kind is not None:
            return StepResult(outcome_kind, duration=duration)
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            code = process.exitcode
            if code == stepchild.EXIT_DISK_FULL:
                return StepResult(
                    stepchild.DISK_FULL, "no space left for the step's result", duration=duration
                )
            how = (
                f"was killed by signal {-code}"
                if code is not None and code < 0
                else f"exited with code {code}"
            )
            return StepResult(
                CRASHED, f"the step's process {how} without a result (see {log_path.name})", duration=duration
            )
        return StepResult(
            kind=result["kind"],
            message=result.get("message", ""),
            warnings=list(result.get("warnings", [])),
            data=dict(result.get("data", {})),
            duration=duration,
        )

    def heartbeat(self, job_id: int, config: Config, claim: Claim | None) -> str | None:
        """Renew the lease while a step runs: LOST_LEASE, CANCELLED or None (go on).

        A database that cannot be reached keeps the step running; the lease is renewed once it is back.
        """
        fence = claim.fence if claim is not None else None
        try:
            renewed = self.store.renew_lease(
                job_id, self.owner, config.runner.lease_seconds, time.time(), fence
            )
            record = self.store.job(job_id) if renewed else None
        except StoreUnavailable as error:  # locked elsewhere, or a farm's server down: the lease still runs
            if self.store_problem is None:
                log.warning(
                    "job %d: lease not renewed this time: %s; the running step goes on", job_id, error
                )
            self.store_problem = str(error)
            return None
        if self.store_problem is not None:
            log.info("the job database is back")
            self.store_problem = None
        if not renewed:
            return LOST_LEASE
        return CANCELLED if record is not None and record.cancel_requested else None

    def read_progress(self, job_id: int, path: Path, last_mtime: int, since_write: float) -> tuple[int, bool]:
        """Store the step's progress when its file changed; (mtime seen, whether status.json was rewritten)."""
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return last_mtime, False
        if mtime == last_mtime:
            return last_mtime, False
        try:
            progress = json.loads(path.read_text(encoding="utf-8"))
            fraction = float(progress.get("fraction", 0.0))
        except (OSError, ValueError, AttributeError):
            return last_mtime, False
        try:
            self.store.update_job(
                job_id, progress=fraction, progress_message=str(progress.get("message", ""))
            )
        except StoreError:
            return last_mtime, False  # progress only: the next change is stored
        if since_write >= PROGRESS_WRITE_SECONDS:
            self.listener.job_changed(job_id)
            return mtime, True
        return mtime, False


def disk_full_problem(config: Config) -> str | None:
    """Why the state disk still counts as full, or None once a step may run again."""
    free = health.free_mb(config.state_path)
    needed = max(config.limits.min_free_disk_mb, health.FULL_DISK_MB)
    if free is None or free >= needed:
        return None
    return f"only {free:.1f} MB free on the state disk ({config.state_path}); {needed:g} MB needed"


def kill_group(process: Any, grace: float = KILL_GRACE_SECONDS) -> None:
    """Stop a step's child and everything in its process group: SIGTERM, then SIGKILL after `grace`."""
    if process.pid is None:
        return
    if grace > 0:
        _signal_group(process, signal.SIGTERM)
        process.join(grace)
    _signal_group(process, signal.SIGKILL)
    process.join()


def _signal_group(process: Any, signal_number: int) -> None:
    """Signal the child's process group; a child that has not made its group yet is signalled alone."""
    try:
        os.killpg(process.pid, signal_number)
        return
    except (ProcessLookupError, PermissionError):
        pass
    if process.exitcode is None:
        try:
            os.kill(process.pid, signal_number)
        except ProcessLookupError:
            pass
