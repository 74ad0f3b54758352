"""The job database: peewee models for jobs, their steps and tracks, behind a small storage contract.

SQLite in WAL mode on a local disk; every write is an IMMEDIATE transaction. Claiming a job is one
UPDATE ... WHERE id = (SELECT ...) RETURNING statement with a lease, so the same contract can later be
served by PostgreSQL (where the sub-select would add FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DatabaseProxy,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)

from mocapd import states

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
BUSY_TIMEOUT_SECONDS = 30.0

database = DatabaseProxy()


class StoreError(RuntimeError):
    """The job database cannot be used (e.g. it lies on a network filesystem)."""


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
    lease_owner = CharField(null=True)
    lease_expires = FloatField(null=True)
    heartbeat = FloatField(null=True)
    cancel_requested = BooleanField(default=False)
    created = FloatField()
    started = FloatField(null=True)
    finished = FloatField(null=True)
    video_info = TextField(null=True)
    backend = CharField(default="")
    backend_reason = TextField(default="")
    current_step = CharField(null=True)
    progress = FloatField(default=0.0)
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
    started = FloatField(null=True)
    finished = FloatField(null=True)
    duration = FloatField(null=True)
    error = TextField(null=True)
    log_file = TextField(null=True)
    runs = IntegerField(default=0)

    class Meta:
        table_name = "steps"
        indexes = ((("job", "name"), True),)


class TrackRecord(BaseModel):
    """One person's track found in a job's video."""

    job = ForeignKeyField(JobRecord, backref="tracks", on_delete="CASCADE")
    tid = IntegerField()
    frames = IntegerField(default=0)
    share = FloatField(default=0.0)
    selected = BooleanField(default=False)
    quality = TextField(default="{}")

    class Meta:
        table_name = "tracks"
        indexes = ((("job", "tid"), True),)


class DaemonRecord(BaseModel):
    """The running daemon's heartbeat: what `mocapd status` shows besides the pid file."""

    pid = IntegerField()
    host = CharField()
    started = FloatField()
    heartbeat = FloatField()
    state = CharField()  # running, paused, stopping
    detail = TextField(default="{}")  # inbox health, disk, pause reason

    class Meta:
        table_name = "daemon"


MODELS = (JobRecord, StepRecord, TrackRecord, DaemonRecord)


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
    """A job taken by a worker: its id and the attempt number this claim counts as."""

    job_id: int
    attempts: int


class Store:
    """The storage contract: everything the daemon, runner and commands ask of the database."""

    backend = "sqlite"

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taken at its start (IMMEDIATE) so readers never upgrade and deadlock."""
        with self.db.atomic("IMMEDIATE"):
            yield

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    # -- jobs --------------------------------------------------------------------------------
    def create_job(
        self, identity: str, relative: str, source: dict[str, Any], now: float
    ) -> tuple[int, bool]:
        """The job for a dropped file, made once: (id, True) when new, (existing id, False) when seen before."""
        with self.write():
            existing = JobRecord.get_or_none(JobRecord.source_identity == identity)
            if existing is not None:
                return existing.id, False
            record = JobRecord.create(
                source_relative=relative,
                source_identity=identity,
                source=json.dumps(source),
                created=now,
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

    def not_ingested(self) -> list[JobRecord]:
        """Jobs whose ingest was interrupted (a crash between the job's row and the verified copy)."""
        return list(
            JobRecord.select()
            .where((JobRecord.ingested == False) & (JobRecord.state == states.QUEUED))  # noqa: E712
            .order_by(JobRecord.id)
        )

    def names_in_use(self) -> set[str]:
        """Output names of jobs that may still write to the outbox."""
        query = JobRecord.select(JobRecord.name).where(
            JobRecord.name.is_null(False) & JobRecord.state.not_in(states.FINISHED_JOB_STATES)
        )
        return {record.name for record in query if record.name}

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self.write():
            JobRecord.update(**fields).where(JobRecord.id == job_id).execute()

    def mark_ingested(self, job_id: int, name: str, options: dict[str, Any]) -> None:
        """The verified copy is in the job folder and the options are known: the job may be claimed."""
        with self.write():
            JobRecord.update(ingested=True, name=name, options=json.dumps(options)).where(
                JobRecord.id == job_id
            ).execute()

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
    def claim(self, owner: str, lease_seconds: float, now: float) -> Claim | None:
        """Take the oldest claimable job in one statement: queued, or processing with an expired lease."""
        parameter = self.db.param
        claimable = (
            f"ingested = TRUE AND cancel_requested = FALSE AND "
            f"(state = '{states.QUEUED}' OR (state = '{states.PROCESSING}' AND lease_expires < {parameter}))"
        )
        sql = (
            f"UPDATE jobs SET state = '{states.PROCESSING}', lease_owner = {parameter}, "
            f"lease_expires = {parameter}, heartbeat = {parameter}, attempts = attempts + 1, "
            f"started = COALESCE(started, {parameter}), error = NULL "
            f"WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY id LIMIT 1) AND {claimable} "
            f"RETURNING id, attempts"
        )
        with self.write():
            cursor = self.db.execute_sql(sql, (owner, now + lease_seconds, now, now, now, now))
            row = cursor.fetchone()
        return Claim(job_id=row[0], attempts=row[1]) if row else None

    def renew_lease(self, job_id: int, owner: str, lease_seconds: float, now: float) -> bool:
        """Extend the lease; False when this owner lost it (another worker took the job)."""
        with self.write():
            changed = (
                JobRecord.update(lease_expires=now + lease_seconds, heartbeat=now)
                .where((JobRecord.id == job_id) & (JobRecord.lease_owner == owner))
                .execute()
            )
        return bool(changed)

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

    def expire_leases(self, now: float, owners_other_than: str | None = None) -> int:
        """End the leases of processing jobs (expired ones, or all of other owners'); their running steps are pending again."""
        condition = JobRecord.state == states.PROCESSING
        if owners_other_than is None:
            condition &= JobRecord.lease_expires < now
        else:
            condition &= (JobRecord.lease_owner != owners_other_than) | JobRecord.lease_owner.is_null()
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

    def start_step(self, job_id: int, step: str, log_file: str, now: float) -> None:
        with self.write():
            StepRecord.update(
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
        self, pid: int, host: str, started: float, state: str, detail: dict[str, Any], now: float
    ) -> None:
        with self.write():
            DaemonRecord.delete().where(DaemonRecord.pid != pid).execute()
            updated = (
                DaemonRecord.update(heartbeat=now, state=state, detail=json.dumps(detail))
                .where(DaemonRecord.pid == pid)
                .execute()
            )
            if not updated:
                DaemonRecord.create(
                    pid=pid, host=host, started=started, heartbeat=now, state=state, detail=json.dumps(detail)
                )

    def daemon_record(self) -> DaemonRecord | None:
        return DaemonRecord.select().order_by(DaemonRecord.heartbeat.desc()).first()

    def clear_daemon(self, pid: int) -> None:
        with self.write():
            DaemonRecord.delete().where(DaemonRecord.pid == pid).execute()


def open_sqlite(path: Path, check_filesystem: bool = True) -> Store:
    """The store in the SQLite file `path` (created with its tables); refused on a network filesystem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if check_filesystem:
        check_local_disk(path.parent)
    db = SqliteDatabase(
        str(path),
        timeout=BUSY_TIMEOUT_SECONDS,
        pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1},
    )
    database.initialize(db)
    db.connect(reuse_if_open=True)
    with db.atomic("IMMEDIATE"):
        db.create_tables(MODELS, safe=True)
    return Store(db)


def open_store(state_dir: Path) -> Store:
    """The daemon's store in its state dir."""
    return open_sqlite(state_dir / DATABASE_NAME)


def now() -> float:
    return time.time()
