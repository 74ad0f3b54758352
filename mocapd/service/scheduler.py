"""The daemon's periodic work (APScheduler 3.x): clean-up, the disk-space check and the lease reaper.

In a farm, clean-up and the reaper run on every host's scheduler but act only on the leader's.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from mocapd.config import Config
from mocapd.service.cleanup import cleanup
from mocapd.store import Store

log = logging.getLogger(__name__)

CLEANUP_ID = "cleanup"
DISK_ID = "disk-check"
REAPER_ID = "lease-reaper"
DISK_CHECK_SECONDS = 30.0


class Host(Protocol):
    """What the scheduled work needs from the daemon."""

    config: Config
    store: Store | None
    leading: bool  # this host does the once-per-farm work

    def check_disk(self) -> None: ...

    def reap_leases(self) -> None: ...


class Scheduler:
    """A BackgroundScheduler with one job per periodic task, each with an explicit id."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        )

    def start(self) -> None:
        config = self.host.config
        self.host.check_disk()  # before the first job is claimed
        self.scheduler.add_job(
            self.run_cleanup,
            "interval",
            minutes=config.cleanup.interval_minutes,
            id=CLEANUP_ID,
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.host.check_disk, "interval", seconds=DISK_CHECK_SECONDS, id=DISK_ID, replace_existing=True
        )
        self.scheduler.add_job(
            self.host.reap_leases,
            "interval",
            seconds=max(1.0, config.runner.lease_seconds / 2),
            id=REAPER_ID,
            replace_existing=True,
        )
        self.scheduler.start()

    def run_cleanup(self) -> None:
        store = self.host.store
        if store is None or not self.host.leading:
            return
        try:
            cleanup(store, self.host.config, time.time())
        except Exception:
            log.exception("cleanup failed")

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
