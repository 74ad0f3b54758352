"""The job database: peewee models for jobs, their steps and tracks, behind a small storage contract.

SQLite in WAL mode on a local disk (one host; every write an IMMEDIATE transaction), or PostgreSQL for a
farm of hosts (mocapd/store_postgres.py). Claiming a job is one UPDATE ... WHERE id = (SELECT ...)
RETURNING statement with a lease and a fencing token; PostgreSQL's sub-select adds FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    Database,
    DatabaseError,
    DatabaseProxy,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    Model,
    OperationalError,
    SqliteDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator, migrate

from mocapd import states
from mocapd.config import Config

DATABASE_NAME = "mocapd.db"
# Filesystems on which SQLite's WAL (shared memory, locks) is not safe.
NETWORK_FILESYSTEMS = (
    "nfs",
    "nfs4",
    "cifs",
    "smb",
    "smb2",
    "smb3",
    "smbfs",
    "fuse.sshfs",
    "9p",
    "afs",
    "ceph",
)
# Seconds a write waits for a lock another process holds before StoreBusy (the daemon then pauses the
# work and tries again; a command says so). Each try waits at most BUSY_TRY_SECONDS in the driver.
BUSY_TIMEOUT_SECONDS = 10.0
BUSY_TRY_SECONDS = 1.0

database = DatabaseProxy()


class StoreError(RuntimeError):
    """The job database cannot be used (e.g. it lies on a network filesystem)."""


class StoreUnavailable(StoreError):
    """The job database cannot be reached now (a farm's PostgreSQL server is down); try again later."""


class LostLease(RuntimeError):
    """This worker no longer holds the job: another one claimed it (a newer fencing token)."""


class StoreBusy(StoreUnavailable):
    """Another process holds the database's lock longer than the bound: try again later."""


class StoreFull(StoreUnavailable):
    """The disk holding the database is full: writes fail until there is space again."""


def is_busy(error: BaseException) -> bool:
    """True for a driver error that says the database is locked or busy (SQLite) or a lock timed out."""
    text = str(error).lower()
    return isinstance(error, OperationalError) and (
        "locked" in text or "busy" in text or "lock timeout" in text
    )


def explain(error: BaseException, where: str) -> StoreError:
    """A database error as one line a person can act on: busy, or corrupt with what to do."""
    if isinstance(error, StoreError):
        return error
    if "disk is full" in str(error).lower() or "no space left" in str(error).lower():
        return StoreFull(f"the disk holding the job database {where} is full ({error}); free space there")
    if is_busy(error):
        return StoreBusy(
            f"the job database {where} is locked by another process ({error}); "
            "the daemon waits and retries; close the other program (an open sqlite3 shell, a backup)"
        )
    return StoreError(
        f"the job database {where} cannot be read ({error}): it looks damaged; restore it from a "
        f"backup, or stop mocapd and move it aside (mv {where} {where}.broken): a new, empty one is made "
        "at the next start"
    )


# Times are seconds since the epoch in DoubleField (PostgreSQL's REAL, peewee's FloatField, keeps
# only 24 bits: 128-second steps in 2026).
class BaseModel(Model):
    class Meta:
        database = database


class JobRecord(BaseModel):
    """One job: a video taken from the inbox, its options, state, lease and results."""

    id = AutoField()
    name = CharField(null=True)  # output name, outbox/<name>/; set once the options are known
    source_relative = TextField()  # the video's path relative to the inbox, as dropped
    source_identity = TextField(unique=True)  # watcher.Candidate.identity: one job per dropped file
    source = TextField(default="{}")  # the candidate as JSON, to redo an interrupted ingest
    ingested = BooleanField(default=False)
    options = TextField(default="{}")
    state = CharField(default=states.QUEUED, index=True)
    error = TextField(null=True)
    attempts = IntegerField(default=0)
    lease_owner = CharField(null=True)  # "host:pid" of the daemon holding the job
    lease_expires = DoubleField(null=True)
    # The fencing token: raised by every claim, never lowered; a publish must carry the current one.
    fence = IntegerField(default=0)
    # A capability the claiming host must have (a tracking backend); "" lets any host take the job.
    wants = CharField(default="")
    ingest_owner = CharField(null=True)  # "host:pid" of the daemon copying the video in
    heartbeat = DoubleField(null=True)
    cancel_requested = BooleanField(default=False)
    created = DoubleField()
    started = DoubleField(null=True)
    finished = DoubleField(null=True)
    video_info = TextField(null=True)
    backend = CharField(default="")
    backend_reason = TextField(default="")
    current_step = CharField(null=True)
    progress = DoubleField(default=0.0)
    progress_message = TextField(default="")
    warnings = TextField(default="[]")
    step_data = TextField(default="{}")
    selected_tracks = TextField(default="[]")

    class Meta:
        table_name = "jobs"

    def json(self, column: str) -> Any:
        """A JSON column decoded."""
        text = getattr(self, column)
        return json.loads(text) if text else None


class StepRecord(BaseModel):
    """One pipeline step of a job."""

    id = AutoField()
    job = ForeignKeyField(JobRecord, backref="steps", on_delete="CASCADE")
    name = CharField()
    position = IntegerField()
    status = CharField(default=states.PENDING)
    started = DoubleField(null=True)
    finished = DoubleField(null=True)
    duration = DoubleField(null=True)
    error = TextField(null=True)
    log_file = TextField(null=True)
    runs = IntegerField(default=0)
    host = CharField(null=True)  # the host that ran (or runs) the step

    class Meta:
        table_name = "steps"
        indexes = ((("job", "name"), True),)


class TrackRecord(BaseModel):
    """One person's track found in a job's video."""

    job = ForeignKeyField(JobRecord, backref="tracks", on_delete="CASCADE")
    tid = IntegerField()
    frames = IntegerField(default=0)
    share = DoubleField(default=0.0)
    selected = BooleanField(default=False)
    quality = TextField(default="{}")

    class Meta:
        table_name = "tracks"
        indexes = ((("job", "tid"), True),)


class DaemonRecord(BaseModel):
    """A daemon's heartbeat, one row per host: what `mocapd status` and `mocapd hosts` show."""

    pid = IntegerField()
    host = CharField()
    started = DoubleField()
    heartbeat = DoubleField()
    state = CharField()  # running, paused, stopping
    detail = TextField(default="{}")  # inbox health, disk, pause reason, current job and step, GPU
    capabilities = TextField(default="[]")  # what the host can run, as claimed with

    class Meta:
        table_name = "daemon"


class LeaderRecord(BaseModel):
    """Who does the once-per-farm work (cleanup, lease reaper, index.html): a row with a lease."""

    role = CharField(unique=True)
    owner = CharField()
    expires = DoubleField()

    class Meta:
        table_name = "leader"


MODELS = (JobRecord, StepRecord, TrackRecord, DaemonRecord, LeaderRecord)
FARM_ROLE = "farm"


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str:
    """The filesystem type (from /proc/mounts) of the mount holding `path`; "" when unknown."""
    target = os.path.realpath(path)
    best, best_type = "", ""
    try:
        with open(mounts, encoding="utf-8") as table:
            for line in table:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount_point = fields[1].replace("\\040", " ")
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, best_type = mount_point, fields[2]
    except OSError:
        return ""
    return best_type


def check_local_disk(folder: Path) -> None:
    """Refuse a database folder on a network filesystem, where WAL locking is not safe."""
    kind = filesystem_type(folder)
    if kind in NETWORK_FILESYSTEMS or kind.startswith(("smb", "nfs", "fuse.sshfs")):
        raise StoreError(
            f"the state dir {folder} is on a network filesystem ({kind}); SQLite needs a local disk: "
            "set state_dir to a local folder"
        )


@dataclass
class Claim:
    """A job taken by a worker: its id, the attempt number this claim counts as, its fencing token."""

    job_id: int
    attempts: int
    fence: int = 0


def add_missing_columns(db: Database) -> None:
    """Columns added since a database was made (e.g. jobs.fence) are added to it, with their defaults."""
    migrator = SchemaMigrator.from_database(db)
    for model in MODELS:
        table = model._meta.table_name
        present = {column.name for column in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
        if missing:
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))


class Store:
    """The storage contract: everything the daemon, runner and commands ask of the database."""

    backend = "sqlite"
    # The claim's sub-select suffix: PostgreSQL skips rows other hosts are claiming (store_postgres).
    claim_lock = ""
    # How publish locks the job's row: SQLite's IMMEDIATE transaction already excludes other writers.
    row_lock = ""

    def __init__(self, db: Database, busy_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.db = db
        self.busy_seconds = busy_seconds

    @property
    def where(self) -> str:
        """The database, for messages."""
        return str(self.db.database)

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taken at its start (IMMEDIATE) so readers never upgrade and deadlock.

        A lock held by another process is waited for, retrying, for at most busy_seconds; then StoreBusy.
        """
        deadline = time.monotonic() + self.busy_seconds
        try:
            with ExitStack() as stack:
                while True:
                    try:
                        stack.enter_context(self.db.atomic("IMMEDIATE"))
                        break
                    except DatabaseError as error:
                        if not is_busy(error) or time.monotonic() >= deadline:
                            raise
                        time.sleep(0.05)
                yield
        except IntegrityError:
            raise
        except DatabaseError as error:  # also at COMMIT (a full disk): one clear StoreError
            raise explain(error, self.where) from error

    def lock_problem(self) -> str | None:
        """Why a write cannot start now (another process holds the lock), or None; waits about a second."""
        saved, self.busy_seconds = self.busy_seconds, 0.0
        try:
            with self.write():
                pass
        except StoreBusy as error:
            return str(error)
        finally:
            self.busy_seconds = saved
        return None

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    # -- jobs --------------------------------------------------------------------------------
    def create_job(
        self,
        identity: str,
        relative: str,
        source: dict[str, Any],
        now: float,
        ingest_owner: str | None = None,
    ) -> tuple[int, bool]:
        """The job for a dropped file, made once: (id, True) when new, (existing id, False) when seen before."""
        try:
            return self._create_job(identity, relative, source, now, ingest_owner)
        except IntegrityError:
            # Another host made the job for the same file between our look and our insert.
            existing = JobRecord.get_or_none(JobRecord.source_identity == identity)
            if existing is None:
                raise
            return existing.id, False

    def _create_job(
        self, identity: str, relative: str, source: dict[str, Any], now: float, ingest_owner: str | None
    ) -> tuple[int, bool]:
        with self.write():
            existing = JobRecord.get_or_none(JobRecord.source_identity == identity)
            if existing is not None:
                return existing.id, False
            record = JobRecord.create(
                source_relative=relative,
                source_identity=identity,
                source=json.dumps(source),
                created=now,
                ingest_owner=ingest_owner,
            )
            StepRecord.insert_many(
                [
                    {"job": record.id, "name": step, "position": index}
                    for index, step in enumerate(states.STEPS)
                ]
            ).execute()
            return record.id, True

    def delete_job(self, job_id: int) -> None:
        with self.write():
            StepRecord.delete().where(StepRecord.job == job_id).execute()
            TrackRecord.delete().where(TrackRecord.job == job_id).execute()
            JobRecord.delete().where(JobRecord.id == job_id).execute()

    def job(self, job_id: int) -> JobRecord | None:
        return JobRecord.get_or_none(JobRecord.id == job_id)

    def steps(self, job_id: int) -> list[StepRecord]:
        return list(StepRecord.select().where(StepRecord.job == job_id).order_by(StepRecord.position))

    def tracks(self, job_id: int) -> list[TrackRecord]:
        return list(TrackRecord.select().where(TrackRecord.job == job_id).order_by(TrackRecord.tid))

    def jobs(
        self,
        states_wanted: tuple[str, ...] | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[JobRecord]:
        query = JobRecord.select()
        if states_wanted is not None:
            query = query.where(JobRecord.state.in_(states_wanted))
        query = query.order_by(JobRecord.id.desc() if newest_first else JobRecord.id)
        if limit is not None:
            query = query.limit(limit)
        return list(query)

    def count(self, states_wanted: tuple[str, ...] | None = None) -> int:
        query = JobRecord.select()
        if states_wanted is not None:
            query = query.where(JobRecord.state.in_(states_wanted))
        return int(query.count())

    def not_ingested(self, host: str | None = None) -> list[JobRecord]:
        """Jobs whose ingest was interrupted (a crash between the job's row and the verified copy).

        `host`: only those a daemon of that host was copying (a farm's other hosts may be copying theirs).
        """
        condition = (JobRecord.ingested == False) & (JobRecord.state == states.QUEUED)  # noqa: E712
        if host is not None:
            condition &= JobRecord.ingest_owner.startswith(f"{host}:") | JobRecord.ingest_owner.is_null()
        return list(JobRecord.select().where(condition).order_by(JobRecord.id))

    def names_in_use(self, base: str | None = None) -> set[str]:
        """Output names of jobs that may still write to the outbox; with `base`, only `base` and `base-N`.

        `base` keeps a burst of drops linear: each new job reads the few names it could clash with, not
        every queued job's.
        """
        condition = JobRecord.name.is_null(False) & JobRecord.state.not_in(states.FINISHED_JOB_STATES)
        if base is not None:
            # LIKE treats % and _ as wildcards and ignores case: a superset, which allocate_name only skips.
            condition &= (JobRecord.name == base) | JobRecord.name.startswith(f"{base}-")
        return {record.name for record in JobRecord.select(JobRecord.name).where(condition) if record.name}

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self.write():
            JobRecord.update(**fields).where(JobRecord.id == job_id).execute()

    def mark_ingested(
        self,
        job_id: int,
        choose_name: str | Callable[[set[str]], str],
        options: dict[str, Any],
        wants: str = "",
        name_base: str | None = None,
    ) -> str:
        """The verified copy is in the job folder and the options are known: the job may be claimed.

        `choose_name(names in use)` picks the output name inside the transaction, so two hosts never
        give two jobs one outbox folder; the name chosen.
        """
        with self.write():
            self.lock_names()
            name = choose_name if isinstance(choose_name, str) else choose_name(self.names_in_use(name_base))
            JobRecord.update(ingested=True, name=name, options=json.dumps(options), wants=wants).where(
                JobRecord.id == job_id
            ).execute()
        return name

    def lock_names(self) -> None:
        """Serialise the choice of output names between hosts (SQLite's write lock already does)."""

    def fail_job(self, job_id: int, reason: str, now: float, name: str | None = None) -> None:
        fields: dict[str, Any] = {
            "state": states.FAILED,
            "error": reason,
            "finished": now,
            "lease_owner": None,
            "lease_expires": None,
            "ingested": True,
        }
        if name is not None:
            fields["name"] = name
        self.update_job(job_id, **fields)

    # -- claiming and leases -------------------------------------------------------------------
    def claim(
        self, owner: str, lease_seconds: float, now: float, capabilities: tuple[str, ...] | None = None
    ) -> Claim | None:
        """Take the oldest claimable job in one statement: queued, or processing with an expired lease.

        `capabilities`: what this host can run; a job that wants something else is left to other hosts
        (None: take any job). Every claim raises the job's fencing token.
        """
        parameter = self.db.param
        claimable = (
            f"ingested = TRUE AND cancel_requested = FALSE AND "
            f"(state = '{states.QUEUED}' OR (state = '{states.PROCESSING}' AND lease_expires < {parameter}))"
        )
        wants: tuple[str, ...] = ()
        if capabilities is not None:
            wants = ("", *capabilities)
            claimable += f" AND wants IN ({', '.join([parameter] * len(wants))})"
        sql = (
            f"UPDATE jobs SET state = '{states.PROCESSING}', lease_owner = {parameter}, "
            f"lease_expires = {parameter}, heartbeat = {parameter}, attempts = attempts + 1, "
            f"fence = fence + 1, started = COALESCE(started, {parameter}), error = NULL "
            f"WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY id LIMIT 1{self.claim_lock}) "
            f"AND {claimable} RETURNING id, attempts, fence"
        )
        parameters = (owner, now + lease_seconds, now, now, now, *wants, now, *wants)
        with self.write():
            row = self.db.execute_sql(sql, parameters).fetchone()
        return Claim(job_id=row[0], attempts=row[1], fence=row[2]) if row else None

    def renew_lease(
        self, job_id: int, owner: str, lease_seconds: float, now: float, fence: int | None = None
    ) -> bool:
        """Extend the lease; False when this owner lost it (another worker took the job)."""
        condition = (JobRecord.id == job_id) & (JobRecord.lease_owner == owner)
        if fence is not None:
            condition &= JobRecord.fence == fence
        with self.write():
            changed = (
                JobRecord.update(lease_expires=now + lease_seconds, heartbeat=now).where(condition).execute()
            )
        return bool(changed)

    def holds(self, job_id: int, owner: str, fence: int) -> bool:
        """Whether this owner still holds the job under this fencing token."""
        query = JobRecord.select(JobRecord.id).where(
            (JobRecord.id == job_id) & (JobRecord.lease_owner == owner) & (JobRecord.fence == fence)
        )
        return bool(query.exists())

    @contextmanager
    def fenced(self, job_id: int, owner: str, fence: int) -> Iterator[None]:
        """A transaction in which the job's row is locked and held by (owner, fence); LostLease if not.

        Nobody can claim the job while it is open, so what is done inside (publishing the results,
        marking the job completed) cannot race a newer attempt.
        """
        with self.write():
            row = self.db.execute_sql(
                f"SELECT lease_owner, fence, state FROM jobs WHERE id = {self.db.param}{self.row_lock}",
                (job_id,),
            ).fetchone()
            if row is None or (row[0], row[1], row[2]) != (owner, fence, states.PROCESSING):
                holder = row[0] if row is not None else None
                raise LostLease(
                    f"job {job_id}: attempt {fence} of {owner} is no longer the job's (held by {holder})"
                )
            yield

    def release(self, job_id: int, owner: str, give_back_attempt: bool) -> None:
        """Put a job back in the queue (daemon stopping); an orderly stop does not use up an attempt."""
        fields: dict[str, Any] = {"state": states.QUEUED, "lease_owner": None, "lease_expires": None}
        if give_back_attempt:
            fields["attempts"] = JobRecord.attempts - 1
        with self.write():
            JobRecord.update(**fields).where(
                (JobRecord.id == job_id) & (JobRecord.lease_owner == owner)
            ).execute()
            StepRecord.update(status=states.PENDING).where(
                (StepRecord.job == job_id) & (StepRecord.status == states.RUNNING)
            ).execute()

    def expire_leases(self, now: float, owners_other_than: str | None = None, host: str | None = None) -> int:
        """End the leases of processing jobs (expired ones, or all of other owners'); their running steps are pending again.

        `host` with `owners_other_than`: only the leases of that host's earlier daemons (a farm's other
        hosts are alive and hold their own).
        """
        condition = JobRecord.state == states.PROCESSING
        if owners_other_than is None:
            condition &= JobRecord.lease_expires < now
        else:
            condition &= (JobRecord.lease_owner != owners_other_than) | JobRecord.lease_owner.is_null()
            if host is not None:
                condition &= JobRecord.lease_owner.startswith(f"{host}:") | JobRecord.lease_owner.is_null()
        with self.write():
            ids = [record.id for record in JobRecord.select(JobRecord.id).where(condition)]
            if not ids:
                return 0
            JobRecord.update(lease_expires=0.0).where(JobRecord.id.in_(ids)).execute()
            StepRecord.update(status=states.PENDING).where(
                StepRecord.job.in_(ids) & (StepRecord.status == states.RUNNING)
            ).execute()
        return len(ids)

    # -- steps ------------------------------------------------------------------------------
    def update_step(self, job_id: int, step: str, **fields: Any) -> None:
        with self.write():
            StepRecord.update(**fields).where(
                (StepRecord.job == job_id) & (StepRecord.name == step)
            ).execute()

    def start_step(self, job_id: int, step: str, log_file: str, now: float, host: str | None = None) -> None:
        with self.write():
            StepRecord.update(
                host=host,
                status=states.RUNNING,
                started=now,
                finished=None,
                duration=None,
                error=None,
                log_file=log_file,
                runs=StepRecord.runs + 1,
            ).where((StepRecord.job == job_id) & (StepRecord.name == step)).execute()
            JobRecord.update(current_step=step, progress=0.0, progress_message="").where(
                JobRecord.id == job_id
            ).execute()

    def reset_running_steps(self, job_id: int) -> None:
        with self.write():
            StepRecord.update(status=states.PENDING).where(
                (StepRecord.job == job_id) & (StepRecord.status == states.RUNNING)
            ).execute()

    def reset_steps_from(self, job_id: int, step: str) -> None:
        """Make `step` and every later step pending again (retry, re-export)."""
        position = states.STEPS.index(step)
        with self.write():
            StepRecord.update(
                status=states.PENDING, error=None, started=None, finished=None, duration=None
            ).where((StepRecord.job == job_id) & (StepRecord.position >= position)).execute()

    def requeue(self, job_id: int, from_step: str, options: dict[str, Any] | None = None) -> None:
        """A finished job back in the queue from `from_step`, with fresh attempts."""
        self.reset_steps_from(job_id, from_step)
        fields: dict[str, Any] = {
            "state": states.QUEUED,
            "error": None,
            "attempts": 0,
            "finished": None,
            "lease_owner": None,
            "lease_expires": None,
            "cancel_requested": False,
            "current_step": None,
            "progress": 0.0,
        }
        if options is not None:
            fields["options"] = json.dumps(options)
        self.update_job(job_id, **fields)

    def set_tracks(self, job_id: int, tracks: list[dict[str, Any]]) -> None:
        with self.write():
            TrackRecord.delete().where(TrackRecord.job == job_id).execute()
            for entry in tracks:
                TrackRecord.create(
                    job=job_id,
                    tid=int(entry["tid"]),
                    frames=int(entry.get("frames", 0)),
                    share=float(entry.get("share", 0.0)),
                    selected=bool(entry.get("selected", False)),
                    quality=json.dumps(entry.get("quality", {})),
                )

    # -- the daemon's heartbeat ---------------------------------------------------------------
    def daemon_heartbeat(
        self,
        pid: int,
        host: str,
        started: float,
        state: str,
        detail: dict[str, Any],
        now: float,
        capabilities: list[str] | None = None,
    ) -> None:
        """This host's row (one per host name: an earlier daemon of the same host is replaced)."""
        fields: dict[str, Any] = {"heartbeat": now, "state": state, "detail": json.dumps(detail)}
        if capabilities is not None:
            fields["capabilities"] = json.dumps(capabilities)
        with self.write():
            DaemonRecord.delete().where((DaemonRecord.host == host) & (DaemonRecord.pid != pid)).execute()
            updated = (
                DaemonRecord.update(**fields)
                .where((DaemonRecord.host == host) & (DaemonRecord.pid == pid))
                .execute()
            )
            if not updated:
                DaemonRecord.create(pid=pid, host=host, started=started, **fields)

    def daemon_record(self, host: str | None = None) -> DaemonRecord | None:
        """The newest heartbeat row (of `host` when given)."""
        query = DaemonRecord.select()
        if host is not None:
            query = query.where(DaemonRecord.host == host)
        return query.order_by(DaemonRecord.heartbeat.desc()).first()

    def hosts(self) -> list[DaemonRecord]:
        """Every host's row, by name."""
        return list(DaemonRecord.select().order_by(DaemonRecord.host))

    def clear_daemon(self, pid: int, host: str | None = None) -> None:
        condition = DaemonRecord.pid == pid
        if host is not None:
            condition &= DaemonRecord.host == host
        with self.write():
            DaemonRecord.delete().where(condition).execute()

    # -- once per farm --------------------------------------------------------------------------
    def lead(self, owner: str, seconds: float, now: float) -> bool:
        """Take or keep the farm's leader row for `seconds`; whether `owner` leads now."""
        with self.write():
            LeaderRecord.insert(
                role=FARM_ROLE, owner=owner, expires=now + seconds
            ).on_conflict_ignore().execute()
            LeaderRecord.update(owner=owner, expires=now + seconds).where(
                (LeaderRecord.role == FARM_ROLE)
                & ((LeaderRecord.owner == owner) | (LeaderRecord.expires < now))
            ).execute()
            record = LeaderRecord.get(LeaderRecord.role == FARM_ROLE)
        return bool(record.owner == owner)

    def resign(self, owner: str) -> None:
        with self.write():
            LeaderRecord.delete().where(LeaderRecord.owner == owner).execute()

    def leader(self) -> LeaderRecord | None:
        return LeaderRecord.get_or_none(LeaderRecord.role == FARM_ROLE)


def open_sqlite(
    path: Path, check_filesystem: bool = True, busy_seconds: float = BUSY_TIMEOUT_SECONDS
) -> Store:
    """The store in the SQLite file `path` (created with its tables); refused on a network filesystem.

    A damaged file or a lock held past `busy_seconds` is a StoreError of one line saying what to do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if check_filesystem:
        check_local_disk(path.parent)
    db = SqliteDatabase(
        str(path),
        timeout=min(busy_seconds, BUSY_TRY_SECONDS),
        pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1},
    )
    database.initialize(db)
    store = Store(db, busy_seconds)
    deadline = time.monotonic() + busy_seconds
    while True:
        try:
            db.connect(reuse_if_open=True)
            current = schema_is_current(db)
            break
        except DatabaseError as error:
            db.close()
            if not is_busy(error) or time.monotonic() >= deadline:
                raise explain(error, str(path)) from error
            time.sleep(0.05)
    if not current:  # only a new or older database needs the write lock: commands never wait for one
        with store.write():
            db.create_tables(MODELS, safe=True)
            add_missing_columns(db)
    return store


def schema_is_current(db: Database) -> bool:
    """Whether every table and column exists already (read only)."""
    for model in MODELS:
        table = model._meta.table_name
        if not db.table_exists(table):
            return False
        present = {column.name for column in db.get_columns(table)}
        if any(f.column_name not in present for f in model._meta.sorted_fields):
            return False
    return True


def open_store(
    state_dir: Path, url: str = "", schema: str = "", busy_seconds: float = BUSY_TIMEOUT_SECONDS
) -> Store:
    """The daemon's store: PostgreSQL at `url` (a farm), else SQLite in its state dir."""
    if url:
        from mocapd.store_postgres import open_postgres

        return open_postgres(url, schema)
    return open_sqlite(state_dir / DATABASE_NAME, busy_seconds=busy_seconds)


def database_path() -> str:
    """The open database, for messages."""
    opened = database.obj
    return str(getattr(opened, "database", "")) if opened is not None else "(not opened)"


def open_configured(config: Config, busy_seconds: float | None = None) -> Store:
    """The store the configuration names ([store] url, else SQLite in state_dir)."""
    busy = config.runner.database_busy_s if busy_seconds is None else busy_seconds
    return open_store(config.state_path, config.store.url, config.store.schema, busy)


def store_exists(config: Config) -> bool:
    """Whether there is a database to read (a farm's server always counts: commands then say if it is down)."""
    return config.farm_mode or (config.state_path / DATABASE_NAME).exists()


def now() -> float:
    return time.time()
