"""The daemon: watches the inbox, makes jobs, and runs them one at a time in a worker thread.

The main thread scans the inbox (filesystem events only wake it early), takes new videos in, answers
signals and pings systemd's watchdog; the worker thread claims jobs and runs their steps.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mocapd import config as config_module
from mocapd import options
from mocapd.config import Config, ConfigError
from mocapd.errors import DiskFull, JobError, TransientError
from mocapd.inbox.ingest import (
    candidate_from_record,
    candidate_record,
    ingest,
    ingested_sidecar,
    ingested_video,
    remove_originals,
    still_in_inbox,
)
from mocapd.inbox.watcher import Candidate, InboxScanner, InboxWatcher
from mocapd.names import folder_name, shown
from mocapd.outbox import Outbox, allocate_name, write_atomic
from mocapd.service import farm, health, notify
from mocapd.service.health import BYTES_PER_MB
from mocapd.service.pause import EnvironmentPause
from mocapd.service.runner import DEFAULT_STAGE_PACKAGE, Runner, StopControl, warm_up, work_dir_for
from mocapd.service.scheduler import Scheduler
from mocapd.store import JobRecord, Store, StoreUnavailable, open_configured

__all__ = ["Daemon", "candidate_from_record", "candidate_record"]

log = logging.getLogger(__name__)

PID_NAME = "mocapd.pid"
LOCK_NAME = "mocapd.lock"
# The daemon's own view, in state_dir, for `mocapd health` when the job database cannot be reached.
HOST_STATUS_NAME = "host.json"
# Seconds between rewrites of a farm's index.html by its leader (other hosts' changes are not signalled).
FARM_INDEX_SECONDS = 3.0
# Seconds between looks at the GPUs for the host's row.
GPU_LOOK_SECONDS = 30.0
# Seconds between the daemon's heartbeat rows (what `mocapd status` reads).
HEARTBEAT_SECONDS = 2.0
# Longest time between two looks at the signals noted by the handlers.
SIGNAL_CHECK_SECONDS = 0.25
# Files and folders are created rw-r--r-- / rwxr-xr-x whoever starts the daemon (its umask is not kept).
UMASK = 0o022
# Key in a job's source record: how many tries at taking the file in began (a crash leaves it counted).
INGEST_TRIES = "ingest_tries"


class AlreadyRunning(RuntimeError):
    """Another daemon holds the state dir's lock."""


def read_pid(state_dir: Path) -> int | None:
    """The pid of the daemon holding the state dir's lock, or None when no daemon runs there."""
    try:
        descriptor = os.open(state_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int((state_dir / PID_NAME).read_text().strip())
        except (OSError, ValueError):
            return -1  # the lock is held but the pid file is not written yet: never a pid to signal
    finally:
        os.close(descriptor)
    return None


class StateLock:
    """An flock on state_dir/mocapd.lock held for the daemon's life, and the pid file beside it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.descriptor: int | None = None

    def acquire(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(descriptor)
            raise AlreadyRunning(
                f"another mocapd (pid {read_pid(self.state_dir)}) uses {self.state_dir}"
            ) from error
        self.descriptor = descriptor
        pid_path = self.state_dir / PID_NAME
        staging = pid_path.with_name(f".{PID_NAME}.tmp")
        staging.write_text(f"{os.getpid()}\n")
        staging.replace(pid_path)

    def release(self) -> None:
        if self.descriptor is None:
            return
        try:
            (self.state_dir / PID_NAME).unlink(missing_ok=True)
        finally:
            os.close(self.descriptor)
            self.descriptor = None


class Daemon:
    """One daemon process over one state dir."""

    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        overrides: dict[str, Any] | None = None,
        stage_package: str = DEFAULT_STAGE_PACKAGE,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.overrides = overrides or {}
        self.stage_package = stage_package
        self.host = config.host_name
        self.owner = f"{self.host}:{os.getpid()}"
        self.capabilities: list[str] = []
        self.leading = not config.farm_mode  # one host alone does the once-per-farm work itself
        self.database_problem: str | None = None
        self.gpu: dict[str, Any] = {}
        self.control = StopControl()
        self.wake = threading.Event()
        self.work = threading.Event()
        self.pending_signals: list[int] = []
        self.disk_reason: str | None = None  # the periodic check: below limits.min_free_disk_mb
        self.store_problem: str | None = None  # the database is locked by another process
        self.pause = EnvironmentPause(config.runner.pause_retry_s)
        self._waiting: dict[int, str] = {}  # job id -> why its video waits (logged once)
        self.started = time.time()
        self.lock = StateLock(config.state_path)
        self.store: Store | None = None
        self.scanner = InboxScanner(config)
        self.watcher = InboxWatcher(config.inbox_path, self.wake)

    @property
    def paused_reason(self) -> str | None:
        """Why no video is taken in and no job claimed now, or None."""
        return self.disk_reason or self.pause.reason

    # -- signals ----------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Handlers only note the signal: taking a lock (an Event, logging) inside one can deadlock."""
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._note_signal)

    def _note_signal(self, signal_number: int, frame: Any) -> None:
        self.pending_signals.append(signal_number)

    def handle_signals(self) -> None:
        """Act on the signals noted since the last loop."""
        while self.pending_signals:
            number = self.pending_signals.pop(0)
            if number == signal.SIGHUP:
                self.reload()
                continue
            first = not self.control.stop_requested.is_set()
            self.control.request_stop(self.config.runner.stop_grace_seconds)
            self.work.set()
            if first:
                log.info(
                    "stopping: no new jobs; a running step may finish for up to %g s (send the signal again to abort it)",
                    self.config.runner.stop_grace_seconds,
                )
            else:
                log.info("stopping now: the running step is aborted and resumes at the next start")

    def reload(self) -> None:
        """Load the configuration again; an invalid one is logged and the running one kept."""
        try:
            new = config_module.load(self.config_path, overrides=self.overrides)
        except ConfigError as error:
            log.error("configuration not reloaded, keeping the old one: %s", error)
            return
        if new.state_path != self.config.state_path:
            log.warning("state_dir changed in the configuration: it takes effect at the next start only")
            new.state_dir = self.config.state_dir
        inbox_changed = new.inbox_path != self.config.inbox_path or new.watch != self.config.watch
        self.config = new
        self.outbox.config = new
        logging.getLogger().setLevel(new.log_level)
        if inbox_changed:
            self.watcher.stop()
            self.scanner = InboxScanner(new)
            self.watcher = InboxWatcher(new.inbox_path, self.wake)
            self.watcher.start()
        log.info("configuration reloaded from %s", self.config_path or "defaults")
        self.check_disk()  # the free-space limit may have changed

    # -- the main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped; the exit status."""
        os.umask(UMASK)  # before the first file: a caller's umask 000 must not make results world-writable
        self.lock.acquire()
        try:
            return self._run()
        finally:
            if self.store is not None:
                try:
                    self.store.clear_daemon(os.getpid(), self.host)
                    if self.config.farm_mode:
                        self.store.resign(self.owner)
                except StoreUnavailable as error:
                    log.warning("cannot remove this host from the farm's list: %s", error)
            self.lock.release()

    def _run(self) -> int:
        config = self.config
        self.store = store = open_configured(config)
        self.outbox = Outbox(store, config)
        # This daemon holds the state dir's lock: any job still marked processing by this host was left
        # by a dead daemon (a farm's other hosts hold their own leases).
        host = self.host if config.farm_mode else None
        resumed = store.expire_leases(time.time(), owners_other_than=self.owner, host=host)
        if resumed:
            log.info("%d job(s) left by a stopped daemon will resume at their first unfinished step", resumed)
        self.finish_interrupted_ingests()
        self.capabilities = farm.capabilities(config)
        self.gpu = farm.gpu_summary()
        self.watcher.start()
        self.runner = Runner(
            store,
            lambda: self.config,
            self.owner,
            self.outbox,
            self.stage_package,
            self.control,
            self.pause,
            host=self.host,
            capabilities=tuple(self.capabilities) if config.farm_mode else None,
        )
        self.scheduler = Scheduler(self)
        self.scheduler.start()
        worker = threading.Thread(target=self.work_loop, name="mocapd-worker", daemon=True)
        worker.start()
        notify.notify("READY=1")
        if config.farm_mode:
            log.info(
                "farm host %s (%s) on the shared queue, job folders in %s",
                self.host,
                ", ".join(self.capabilities),
                config.jobs_path,
            )
        log.info("mocapd %d watching %s, results in %s", os.getpid(), config.inbox_path, config.outbox_path)
        watchdog = notify.watchdog_interval()
        next_watchdog = time.monotonic()
        next_heartbeat = 0.0
        stopping_sent = False
        next_scan = 0.0
        next_gpu = time.monotonic() + GPU_LOOK_SECONDS
        next_farm_index = 0.0
        while True:
            self.handle_signals()
            now = time.monotonic()
            if self.control.stop_requested.is_set():
                if not stopping_sent:
                    notify.notify("STOPPING=1")
                    stopping_sent = True
                if not worker.is_alive():
                    break
            elif now >= next_scan or self.wake.is_set():
                self.wake.clear()
                self.watcher.ensure_watching()
                if self.pause.poll() is False and self.runner.current_job is None:
                    self.work.set()
                if self.database_problem is None:
                    self.take_in(self.scanner.scan())
                now = time.monotonic()
                next_scan = now + self.config.watch.poll_interval
            if watchdog is not None and now >= next_watchdog:
                notify.notify("WATCHDOG=1")
                next_watchdog = now + watchdog
            if now >= next_heartbeat:
                if now >= next_gpu:
                    self.gpu = farm.gpu_summary()
                    next_gpu = now + GPU_LOOK_SECONDS
                self.beat()
                next_heartbeat = now + HEARTBEAT_SECONDS
            if self.leading and self.database_problem is None:
                if self.config.farm_mode and now >= next_farm_index:
                    self.outbox.mark_index_dirty()
                    next_farm_index = now + FARM_INDEX_SECONDS
                self.flush_index()
            timeout = min(SIGNAL_CHECK_SECONDS, max(0.0, next_scan - time.monotonic()))
            if watchdog is not None:
                timeout = min(timeout, max(0.0, next_watchdog - time.monotonic()))
            if self.control.stop_requested.is_set():
                worker.join(SIGNAL_CHECK_SECONDS)
            else:
                self.wake.wait(timeout)
        self.scheduler.shutdown()
        self.watcher.stop()
        if self.leading:
            self.flush_index(force=True)
        log.info("mocapd stopped")
        return 0

    def flush_index(self, force: bool = False) -> None:
        try:
            self.outbox.flush_index(force=force)
        except StoreUnavailable as error:
            self.note_database(error)

    def note_database(self, error: StoreUnavailable | None) -> None:
        """Pause claiming and taking in while the job database cannot be reached; resume when it is back."""
        problem = str(error) if error is not None else None
        if problem == self.database_problem:
            return
        if problem is not None and self.database_problem is None:
            log.warning("paused: %s (the running step goes on)", problem)
        elif problem is None:
            log.info("the job database is back: taking jobs again")
            self.work.set()
        self.database_problem = problem

    def beat(self) -> None:
        """This host's heartbeat row (and, in a farm, the leader row); the state file health reads."""
        assert self.store is not None
        detail = {
            "inbox_problem": self.scanner.problem,
            "paused": self.paused_reason or self.database_problem,
            "database_problem": self.database_problem or self.store_problem,
            "current_job": self.runner.current_job,
            "current_step": self.runner.current_step,
            "gpu": self.gpu,
        }
        state = (
            "stopping"
            if self.control.stop_requested.is_set()
            else ("paused" if self.paused_reason or self.database_problem else "running")
        )
        now = time.time()
        try:
            self.store.daemon_heartbeat(
                os.getpid(), self.host, self.started, state, detail, now, capabilities=self.capabilities
            )
            if self.config.farm_mode:
                leading = self.store.lead(self.owner, farm.LEADER_SECONDS, now)
                if leading != self.leading:
                    log.info(
                        "%s the farm's cleanup, lease reaper and index.html",
                        "leading" if leading else "no longer leading",
                    )
                self.leading = leading
            self.note_database(None)
        except StoreUnavailable as error:
            self.note_database(error)
            detail.update(paused=str(error), database_problem=str(error))
            state = "paused"
        except Exception as error:  # a busy database must not stop the daemon
            log.debug("cannot write the daemon's heartbeat: %s", error)
        self.write_host_status(state, detail, now)

    def write_host_status(self, state: str, detail: dict[str, Any], now: float) -> None:
        """state_dir/host.json: what this daemon knows, readable without the database."""
        document = {"pid": os.getpid(), "host": self.host, "state": state, "time": now, **detail}
        try:
            write_atomic(self.config.state_path / HOST_STATUS_NAME, json.dumps(document).encode("utf-8"))
        except OSError as error:
            log.debug("cannot write %s: %s", HOST_STATUS_NAME, error)

    def work_loop(self) -> None:
        """The worker thread: claim and run jobs until the daemon stops."""
        try:
            warm_up(self.stage_package)
        except Exception:  # the first step starts it then
            log.exception("cannot start the step processes' forkserver ahead of the first job")
        while not self.control.stop_requested.is_set():
            job_id = None
            if self.paused_reason is None and self.database_problem is None:
                try:
                    job_id = self.runner.run_next()
                    self.store_problem = None
                except StoreUnavailable as error:
                    if str(error) != self.store_problem:
                        log.warning("no job claimed: %s", error)
                    self.store_problem = str(error)
                    self.note_database(error)
                except Exception:
                    log.exception("the runner failed; trying again shortly")
            if job_id is None:
                self.work.wait(self.config.watch.poll_interval)
                self.work.clear()

    # -- taking videos in ---------------------------------------------------------------------------
    def take_in(self, candidates: list[Candidate]) -> None:
        """Make a job for each new candidate, copy it into the job folder and resolve its options.

        Whatever one file does (its name, its sidecar, a bug), it fails that job with the reason and
        the others go on; a database locked elsewhere leaves the files for the next scan.
        """
        if not candidates:
            return
        assert self.store is not None
        for position, candidate in enumerate(candidates):
            if self.control.stop_requested.is_set() or self.paused_reason is not None:
                self.scanner.forget(candidate.identity)  # taken once the pause is over
                continue
            try:
                self.take_one(candidate)
                self.store_problem = None
            except StoreUnavailable as error:
                if self.store_problem is None:
                    log.warning("paused taking videos in: %s", error)
                self.store_problem = str(error)
                self.note_database(error)
                for waiting in candidates[position:]:
                    self.scanner.forget(waiting.identity)  # offered again once the database answers
                break
            except Exception as error:  # a bug must not stop the daemon, nor loop on the same file
                log.exception("cannot take %s in", shown(candidate.relative))
                self.fail_unexpected(candidate, error)
        self.work.set()

    def take_one(self, candidate: Candidate) -> None:
        assert self.store is not None
        # A new job's row already counts its first try at taking the file in (see count_ingest_try).
        source = candidate_record(candidate) | {INGEST_TRIES: 1}
        job_id, created = self.store.create_job(
            shown(candidate.identity),
            shown(candidate.relative),
            source,
            time.time(),
            ingest_owner=self.owner,
        )
        if not created:
            record = self.store.job(job_id)
            # Already taken in, or made by another farm host (which copies it in).
            if record is None or record.ingested or record.ingest_owner not in (None, self.owner):
                return
        self.ingest_job(job_id, candidate, counted=created)

    def fail_unexpected(self, candidate: Candidate, error: Exception) -> None:
        """Fail the candidate's job (when it has one) with the internal error; the file stays where it is."""
        assert self.store is not None
        try:
            record = JobRecord.get_or_none(JobRecord.source_identity == shown(candidate.identity))
            if record is not None and not record.ingested:
                self.fail_new_job(
                    record.id,
                    candidate,
                    f"internal error while taking it in: {type(error).__name__}: {error}",
                )
        except Exception:
            log.exception("cannot record the failure of %s", shown(candidate.relative))

    def finish_interrupted_ingests(self) -> None:
        """Redo the ingest of jobs whose copy did not finish before the last stop, never losing a video.

        A job whose ingest began max_attempts times without ending took the daemon down each time: it
        is failed with the reason instead of being tried again.
        """
        assert self.store is not None
        limit = self.config.runner.max_attempts
        host = self.host if self.config.farm_mode else None
        for record in self.store.not_ingested(host=host):
            source = json.loads(record.source)
            candidate = candidate_from_record(source)
            tries = int(source.get(INGEST_TRIES, 0))
            if tries >= limit:
                self.fail_new_job(
                    record.id,
                    candidate,
                    f"the daemon stopped {tries} times while taking {shown(candidate.relative)} in (copying "
                    "it or reading its options); it is not tried again: see the daemon's log. "
                    "The file stays in the inbox",
                    remove=False,
                )
                continue
            log.info("job %d: finishing the interrupted ingest of %s", record.id, shown(candidate.relative))
            self.ingest_job(record.id, candidate, resumed=True)

    def count_ingest_try(self, job_id: int, tries: int | None) -> None:
        """Note (durably, before the work) that a try at taking the job's file in begins; None: reset."""
        assert self.store is not None
        record = self.store.job(job_id)
        if record is None:
            return
        source = json.loads(record.source)
        source[INGEST_TRIES] = 0 if tries is None else int(source.get(INGEST_TRIES, 0)) + tries
        self.store.update_job(job_id, source=json.dumps(source))

    def space_problem(self, candidate: Candidate) -> str | None:
        """Why the candidate cannot be copied now (it would not fit on the state disk), or None."""
        if candidate.refusal is not None:
            return None
        free = health.free_mb(self.config.state_path)
        if free is None:
            return None
        size = candidate.size
        if candidate.sidecar is not None:
            try:
                size += os.lstat(candidate.sidecar).st_size
            except OSError:
                pass
        needed = size / BYTES_PER_MB + self.config.limits.min_free_disk_mb
        if free >= needed:
            return None
        return (
            f"waiting for space: {shown(candidate.relative)} needs {size / BYTES_PER_MB:.1f} MB and "
            f"{free:.1f} MB are free on the state disk ({self.config.state_path}, keeping "
            f"limits.min_free_disk_mb = {self.config.limits.min_free_disk_mb:g}); it is copied once it fits"
        )

    def wait_for_space(self, job_id: int, candidate: Candidate, reason: str) -> None:
        """The video stays in the inbox and its job shows why; logged once, looked at again each scan."""
        assert self.store is not None
        self.scanner.forget(candidate.identity)
        if self._waiting.get(job_id) == reason.split(" and ")[0]:
            return
        self._waiting[job_id] = reason.split(" and ")[0]
        log.warning("job %d: %s", job_id, reason)
        record = self.store.job(job_id)
        name = record.name if record is not None and record.name else None
        if name is None:
            base = folder_name(Path(candidate.relative).stem)
            name = allocate_name(self.config.outbox_path, base, self.store.names_in_use(base))
        self.store.update_job(job_id, name=name, error=reason)
        self.outbox.job_changed(job_id)

    def ingest_job(
        self, job_id: int, candidate: Candidate, resumed: bool = False, counted: bool = False
    ) -> None:
        assert self.store is not None
        config = self.config
        input_dir = work_dir_for(config, job_id) / "input"
        target = ingested_video(candidate, input_dir)
        sidecar_target = ingested_sidecar(candidate, input_dir)
        copied = (target.exists() or target.is_symlink()) and (
            sidecar_target is None or sidecar_target.exists()
        )
        if not (copied and resumed):
            problem = self.space_problem(candidate)
            if problem is not None:
                if counted:
                    self.count_ingest_try(job_id, None)  # waiting is not a try
                self.wait_for_space(job_id, candidate, problem)
                return
        self._waiting.pop(job_id, None)
        if not counted:
            self.count_ingest_try(job_id, 1)
        try:
            if not (copied and resumed):
                ingest(candidate, input_dir)
        except DiskFull as error:
            self.count_ingest_try(job_id, None)
            self.wait_for_space(job_id, candidate, f"waiting for space: {error}")
            return
        except TransientError as error:
            if resumed and not os.path.lexists(candidate.path):
                self.fail_new_job(
                    job_id,
                    candidate,
                    f"{shown(candidate.relative)} disappeared from the inbox before it was copied",
                )
                return
            # The file changed (or the copy failed): forget the job; the scanner offers the file again.
            log.warning("%s not taken yet: %s", shown(candidate.relative), error)
            self.store.delete_job(job_id)
            self.scanner.forget(candidate.identity)
            return
        except JobError as error:
            self.fail_new_job(job_id, candidate, str(error))
            return
        if candidate.refusal is not None:
            self.fail_new_job(job_id, candidate, candidate.refusal)
            return
        try:
            resolved = options.resolve(config.defaults, config.inbox_path, candidate.path, sidecar_target)
        except JobError as error:
            self.fail_new_job(job_id, candidate, f"options: {error}")
            return
        record = self.store.job(job_id)
        base = resolved.output_name or folder_name(Path(candidate.relative).stem)
        if record is not None and record.name and resolved.output_name is None:
            name = record.name  # named while it waited for space
        else:
            name = None
        name = self.store.mark_ingested(
            job_id,
            name or (lambda taken: allocate_name(config.outbox_path, base, taken)),
            asdict(resolved),
            wants=resolved.backend or "",
            name_base=base,
        )
        if record is not None and record.error:
            self.store.update_job(job_id, error=None)  # the wait for space is over
        log.info("job %d: %s queued as %s", job_id, shown(candidate.relative), name)
        self.outbox.job_changed(job_id)

    def fail_new_job(self, job_id: int, candidate: Candidate, reason: str, remove: bool = True) -> None:
        """A job refused at the door still gets its outbox folder with the reason.

        Its copy is in the job folder, so the original leaves the inbox (a moved refused entry already has).
        """
        assert self.store is not None
        record: JobRecord | None = self.store.job(job_id)
        name = record.name if record is not None and record.name else None
        if name is None:
            base = folder_name(Path(candidate.relative).stem)
            name = allocate_name(self.config.outbox_path, base, self.store.names_in_use(base))
        log.error("job %d (%s) failed: %s", job_id, shown(candidate.relative), reason)
        self.store.fail_job(job_id, reason, time.time(), name=name)
        self.outbox.job_changed(job_id)
        input_dir = work_dir_for(self.config, job_id) / "input"
        if remove and candidate.refusal is None and ingested_video(candidate, input_dir).exists():
            if still_in_inbox(candidate):
                remove_originals(candidate)

    # -- what the scheduler runs ---------------------------------------------------------------------
    def check_disk(self) -> None:
        """Pause taking in and claiming while the state disk is short of space."""
        problem = health.disk_problem(self.config)
        if problem != self.disk_reason:
            if problem:
                log.warning("paused: %s", problem)
            else:
                log.info("disk space is back: taking jobs again")
        self.disk_reason = problem
        if problem is None:
            self.work.set()

    def reap_leases(self) -> None:
        """End expired leases (once per farm: the leader); their jobs are claimed again."""
        assert self.store is not None
        if not self.leading:
            return
        try:
            if self.store.expire_leases(time.time()):
                self.work.set()
        except StoreUnavailable as error:
            self.note_database(error)
